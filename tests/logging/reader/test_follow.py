"""Following a live file: appends, a rotation (rename and a new file), a cut, a late file."""

from __future__ import annotations

import os
from pathlib import Path

from hft.logging.reader.follow import Follower


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
