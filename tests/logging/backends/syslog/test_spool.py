"""The on-disk spool: order, bounds, confirmation and a restart in the middle."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from hft.logging.backends.syslog._spool import Spool, SpoolError

_KEY = "logging.backends.syslog.spool_dir"


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


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The common umask while the test runs (restored after)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _modes(folder: Path) -> set[int]:
    return {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}


class TestFilesAreOurs:
    def test_symlinked_folder_refused(self, tmp_path: Path) -> None:
        """spool_dir itself a symbolic link: refused naming the key; the target is untouched."""
        target = tmp_path / "elsewhere"
        target.mkdir()
        (tmp_path / "spool").symlink_to(target)
        with pytest.raises(SpoolError, match=f"{_KEY}: .*symbolic link"):
            Spool(tmp_path / "spool", 1 << 20)
        assert list(target.iterdir()) == []

    def test_symlinked_segment_refused_at_start(self, tmp_path: Path) -> None:
        """A segment that is a link to another file: the spool refuses to start, the other
        file is neither read nor changed."""
        victim = tmp_path / "victim"
        victim.write_bytes(b"5 hello")
        spool_dir = tmp_path / "spool"
        spool_dir.mkdir()
        (spool_dir / f"{10**15:020d}.spool").symlink_to(victim)
        with pytest.raises(SpoolError, match=f"{_KEY}: .*symbolic link"):
            Spool(spool_dir, 1 << 20)
        assert victim.read_bytes() == b"5 hello"

    def test_symlink_planted_at_the_next_segment_refused(self, tmp_path: Path) -> None:
        """A link planted where the next segment goes: the append fails naming the key and
        the link's target keeps its content."""
        victim = tmp_path / "victim"
        victim.write_bytes(b"keep")
        spool = Spool(tmp_path / "spool", 1 << 20)
        (tmp_path / "spool" / f"{10**15:020d}.spool").symlink_to(victim)
        with pytest.raises(SpoolError, match=f"{_KEY}: .*symbolic link"):
            spool.append([b"secret"])
        assert victim.read_bytes() == b"keep"

    def test_hard_link_refused(self, tmp_path: Path) -> None:
        """A segment with a second hard link (another file's content) is refused too."""
        spool_dir = tmp_path / "spool"
        spool_dir.mkdir()
        other = tmp_path / "other"
        other.write_bytes(b"2 ab")
        os.link(other, spool_dir / f"{10**15:020d}.spool")
        with pytest.raises(SpoolError, match=_KEY):
            Spool(spool_dir, 1 << 20)

    def test_fifo_refused_without_hanging(self, tmp_path: Path) -> None:
        """A FIFO where a segment should be is refused at once, not read (which would hang)."""
        os.mkfifo(tmp_path / f"{10**15:020d}.spool")
        with pytest.raises(SpoolError, match=f"{_KEY}: .*not a regular file"):
            Spool(tmp_path, 1 << 20)

    @pytest.mark.usefixtures("umask_022")
    @pytest.mark.parametrize("mode", [0o600, 0o640, 0o660])
    def test_every_file_has_the_mode(self, tmp_path: Path, mode: int) -> None:
        """Appended and prepended segments and the position file all get file_mode exactly,
        whatever the umask."""
        spool = Spool(tmp_path, 1 << 20, segment_bytes=8, file_mode=mode)
        spool.append([b"a", b"b", b"c"])
        spool.append([b"d"])
        spool.prepend([b"first"])
        assert len(list(tmp_path.glob("*.spool"))) == 3
        assert _modes(tmp_path) == {mode}
        for _ in range(2):  # the prepended segment, then part of the next one
            chunk = spool.read(4)
            assert chunk is not None
            spool.confirm(chunk)
        spool.close()
        assert len(list(tmp_path.glob("*.pos"))) == 1
        assert _modes(tmp_path) == {mode}

    @pytest.mark.usefixtures("umask_022")
    def test_earlier_segments_take_the_new_mode(self, tmp_path: Path) -> None:
        """Segments left by a run with another mode are brought to this run's mode."""
        first = Spool(tmp_path, 1 << 20, file_mode=0o640)
        first.append([b"a"])
        first.close()
        again = Spool(tmp_path, 1 << 20, file_mode=0o600)
        again.append([b"b"])
        again.close()
        assert _modes(tmp_path) == {0o600}
