"""Following a live file: appends, a rotation (rename and a new file), a cut, a late file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hft.logging.backends.compress import Compressor
from hft.logging.backends.rotated import SUFFIXES, Compression
from hft.logging.reader import files, follow
from hft.logging.reader.follow import Follower
from tests.logging.reader.logfiles import T0, write

DAY_NS = 86_400 * 1_000_000_000


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as stream:
        stream.write(data)


class TestFollower:
    def test_new_complete_lines_only(self, tmp_path: Path) -> None:
        """Lines appended after the offset come once; a line without its newline waits."""
        path = tmp_path / "hft.log"
        path.write_bytes(b"old\n")
        follower = Follower(path, path.stat().st_size)
        assert follower.poll() == []
        _append(path, b"1\n2")
        assert follower.poll() == [b"1\n"]
        _append(path, b"2\n")
        assert follower.poll() == [b"22\n"]
        follower.close()

    def test_across_a_rotation(self, tmp_path: Path) -> None:
        """The old file is read to its end, then the new one from its start."""
        path = tmp_path / "hft.log"
        path.write_bytes(b"")
        follower = Follower(path, 0)
        _append(path, b"1\n")
        assert follower.poll() == [b"1\n"]
        _append(path, b"2\n")
        os.replace(path, tmp_path / "hft.log.2026-12-06")
        assert follower.poll() == [b"2\n"]  # renamed, no new file yet: still the old one
        path.write_bytes(b"3\n")
        assert follower.poll() == [b"3\n"]
        _append(path, b"4\n")
        assert follower.poll() == [b"4\n"]
        follower.close()

    def test_cut_shorter_reads_from_the_start(self, tmp_path: Path) -> None:
        """A file truncated under the reader is read again from its start."""
        path = tmp_path / "hft.log"
        path.write_bytes(b"1\n2\n")
        follower = Follower(path, path.stat().st_size)
        path.write_bytes(b"3\n")
        assert follower.poll() == [b"3\n"]
        follower.close()

    def test_waits_for_a_file_not_there_yet(self, tmp_path: Path) -> None:
        """A missing live file is picked up when it appears, from its start."""
        path = tmp_path / "hft.log"
        follower = Follower(path, 0)
        assert follower.poll() == []
        path.write_bytes(b"1\n")
        assert follower.poll() == [b"1\n"]
        follower.close()

    def test_a_torn_line_left_behind_is_counted(self, tmp_path: Path) -> None:
        """Bytes without a newline in a file rotated away are counted as torn."""
        path = tmp_path / "hft.log"
        path.write_bytes(b"")
        follower = Follower(path, 0)
        _append(path, b"1\n2")
        os.replace(path, tmp_path / "hft.log.2026-12-06")
        path.write_bytes(b"3\n")
        assert follower.poll() == [b"1\n", b"3\n"]
        assert follower.torn == 1
        follower.close()


WAIT_S = 60.0  # bound on every wait; never a measure of speed


def _rotate(path: Path, suffix: str, day: int) -> Path:
    """The live file renamed as the file backend does, its mtime a distinct day."""
    rotated = path.with_name(f"{path.name}.{suffix}")
    os.replace(path, rotated)
    os.utime(rotated, ns=(T0 + day * DAY_NS, T0 + day * DAY_NS))
    return rotated


def _compress(path: Path, method: Compression, *originals: Path) -> None:
    """*originals* compressed by the file backend's own worker (twin written, original gone)."""
    compressor = Compressor(path, method)
    try:
        for original in originals:
            compressor.submit(original)
        assert compressor.wait(WAIT_S)
    finally:
        compressor.close()
    for original in originals:
        assert not original.exists()
        assert original.with_name(original.name + SUFFIXES[method]).exists()


class TestMissedRotations:
    @pytest.mark.parametrize("method", ["gzip", "zstd"])
    @pytest.mark.parametrize("both", [False, True], ids=["r1-compressed", "both-compressed"])
    def test_the_file_left_compressed_before_the_poll(
        self, tmp_path: Path, method: Compression, both: bool
    ) -> None:
        """Two rotations between polls and the file left compressed meanwhile: its rest, the
        file rotated after it, then the new one, each line once."""
        path = tmp_path / "hft.log"
        path.write_bytes(b"")
        follower = Follower(path, 0)
        _append(path, b"1\n")
        r1 = _rotate(path, "2026-12-05", 1)
        path.write_bytes(b"2\n")
        r2 = _rotate(path, "2026-12-06", 2)
        path.write_bytes(b"3\n")
        _compress(path, method, *((r1, r2) if both else (r1,)))
        assert follower.poll() == [b"1\n", b"2\n", b"3\n"]
        _append(path, b"4\n")
        assert follower.poll() == [b"4\n"]
        follower.close()

    @pytest.mark.parametrize("method", ["gzip", "zstd"])
    def test_the_file_left_read_before_it_was_compressed(
        self, tmp_path: Path, method: Compression
    ) -> None:
        """The old file's lines already read, then rotated, compressed: not read again."""
        path = tmp_path / "hft.log"
        path.write_bytes(b"")
        follower = Follower(path, 0)
        _append(path, b"1\n")
        assert follower.poll() == [b"1\n"]
        r1 = _rotate(path, "2026-12-05", 1)
        path.write_bytes(b"2\n")
        r2 = _rotate(path, "2026-12-06", 2)
        path.write_bytes(b"3\n")
        _compress(path, method, r1, r2)
        assert follower.poll() == [b"2\n", b"3\n"]
        follower.close()

    def test_a_rotation_while_the_path_was_missing_at_the_start(self, tmp_path: Path) -> None:
        """Nothing open: the rotations made since the start are read, the older ones not."""
        path = tmp_path / "hft.log"
        old = write(tmp_path / "hft.log.2026-12-04", [b"old\n"], mtime_ns=T0)
        follower = Follower(path, 0)
        assert follower.poll() == []
        path.write_bytes(b"1\n")
        _rotate(path, "2026-12-05", 1)
        path.write_bytes(b"2\n")
        _compress(path, "gzip", old)  # the old one changes name meanwhile: still not new
        assert follower.poll() == [b"1\n", b"2\n"]
        follower.close()

    def test_a_listed_rotation_gone_is_no_start(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A rotated file listed but gone when looked at (no identity) is never taken for the
        one left: older files are not printed again."""
        path = tmp_path / "hft.log"
        write(tmp_path / "hft.log.2026-12-03", [b"older\n"], mtime_ns=T0)
        gone = tmp_path / "hft.log.2026-12-02"
        real = files.rotated_files
        monkeypatch.setattr(follow, "rotated_files", lambda log: [gone, *real(log)])
        follower = Follower(path, 0)
        path.write_bytes(b"1\n")
        _rotate(path, "2026-12-05", 1)
        path.write_bytes(b"2\n")
        assert follower.poll() == [b"1\n", b"2\n"]
        follower.close()

    def test_a_missed_file_that_cannot_be_read_is_counted(self, tmp_path: Path) -> None:
        """A corrupt compressed rotation among those missed is counted, the rest read."""
        path = tmp_path / "hft.log"
        path.write_bytes(b"")
        follower = Follower(path, 0)
        _append(path, b"1\n")
        r1 = _rotate(path, "2026-12-05", 1)
        path.write_bytes(b"2\n")
        r2 = _rotate(path, "2026-12-06", 2)
        r2.with_name(r2.name + ".zst").write_bytes(b"no zstd frame\n")
        os.utime(r2.with_name(r2.name + ".zst"), ns=(T0 + 2 * DAY_NS, T0 + 2 * DAY_NS))
        r2.unlink()
        path.write_bytes(b"3\n")
        assert r1.exists()
        assert follower.poll() == [b"1\n", b"3\n"]
        assert follower.unreadable == 1
        follower.close()


class TestStreamed:
    def test_the_rest_of_the_file_left_and_a_missed_one_in_batches(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Neither the old file's rest nor a missed file is held whole: batches of about the
        read size come (a line longer than one read included)."""
        monkeypatch.setattr(follow, "READ_BYTES", 64)
        monkeypatch.setattr(files, "BATCH_BYTES", 64)
        path = tmp_path / "hft.log"
        path.write_bytes(b"")
        follower = Follower(path, 0)
        rest = [b"%03d\n" % i for i in range(100)] + [b"x" * 200 + b"\n"]
        missed = [b"%03d\n" % i for i in range(100, 200)]
        _append(path, b"".join(rest))
        _rotate(path, "2026-12-05", 1)
        path.write_bytes(b"".join(missed))
        _rotate(path, "2026-12-06", 2)
        path.write_bytes(b"new\n")
        got = list(follower.batches())
        assert [line for batch in got for line in batch] == [*rest, *missed, b"new\n"]
        assert len(got) > 10
        assert max(len(b"".join(batch)) for batch in got) <= 64 + 200
        follower.close()
