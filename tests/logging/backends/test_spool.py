"""The on-disk spool: order, bounds, confirmation and a restart in the middle."""

from __future__ import annotations

from pathlib import Path

from hft.logging.backends._spool import Spool


def _read_all(spool: Spool) -> list[bytes]:
    messages = []
    while (chunk := spool.read(64)) is not None:
        messages += chunk.messages
        spool.confirm(chunk)
    return messages


class TestOrder:
    def test_fifo_across_segments(self, tmp_path: Path) -> None:
        """Messages come back in the order appended, across several segment files."""
        spool = Spool(tmp_path, 1 << 20, segment_bytes=40)
        sent = [b"m%03d" % i for i in range(30)]
        for i in range(0, 30, 3):
            spool.append(sent[i : i + 3])
        assert len(list(tmp_path.glob("*.spool"))) > 1
        assert _read_all(spool) == sent
        assert spool.size == 0
        assert list(tmp_path.glob("*.spool")) == []

    def test_prepend_goes_first(self, tmp_path: Path) -> None:
        """Prepended messages are read before everything already spooled."""
        spool = Spool(tmp_path, 1 << 20)
        spool.append([b"later"])
        spool.prepend([b"first", b"second"])
        assert _read_all(spool) == [b"first", b"second", b"later"]


class TestBounds:
    def test_refuses_what_does_not_fit(self, tmp_path: Path) -> None:
        """Appending beyond max_bytes takes a prefix and says how many fitted."""
        spool = Spool(tmp_path, 20)
        assert spool.append([b"12345678", b"abcdefgh", b"zzzzzzzz"]) == 2
        assert spool.size == 20
        assert _read_all(spool) == [b"12345678", b"abcdefgh"]


class TestConfirmation:
    def test_rewind_rereads_unconfirmed(self, tmp_path: Path) -> None:
        """What was read but not confirmed is read again after a rewind."""
        spool = Spool(tmp_path, 1 << 20)
        spool.append([b"a", b"b"])
        chunk = spool.read()
        assert chunk is not None
        assert spool.read() is None
        spool.rewind()
        assert _read_all(spool) == [b"a", b"b"]

    def test_restart_resumes_after_confirmed(self, tmp_path: Path) -> None:
        """A new spool on the same folder skips what the last one confirmed."""
        spool = Spool(tmp_path, 1 << 20)
        spool.append([b"a", b"b"])
        first = spool.read(4)
        assert first is not None
        assert first.messages == [b"a"]
        spool.confirm(first)
        spool.close()
        again = Spool(tmp_path, 1 << 20)
        assert again.size == 3
        assert _read_all(again) == [b"b"]

    def test_torn_last_frame_is_skipped(self, tmp_path: Path) -> None:
        """A frame cut by a crash mid-write is dropped, not read forever."""
        spool = Spool(tmp_path, 1 << 20)
        spool.append([b"ok"])
        spool.close()
        (segment,) = tmp_path.glob("*.spool")
        segment.write_bytes(segment.read_bytes() + b"9 cut")
        assert _read_all(Spool(tmp_path, 1 << 20)) == [b"ok"]
