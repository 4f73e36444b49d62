"""A log's files found and ordered; lines streamed from plain, gzip and zstd files; tails."""

from __future__ import annotations

import gzip
import io
import tracemalloc
from pathlib import Path

import pytest

from hft.logging.reader import files
from hft.logging.reader.command import Chooser, last_of
from hft.logging.reader.files import Log, Skips, batches, find_logs, last_lines, log_batches
from hft.logging.reader.filters import Query
from hft.logging.reader.output import Output
from tests.logging.reader.logfiles import hft_line, numbered, write

S = 1_000_000_000
DAY1, DAY2, SIZE1 = "hft.log.2026-12-05", "hft.log.2026-12-06", "hft.log.20261207T010203.123456Z"


def _lines(path_or_folder: Path) -> list[bytes]:
    skips = Skips()
    return [
        line
        for log in find_logs([str(path_or_folder)])
        for b in log_batches(log, skips)
        for line in b
    ]


class TestFindLogs:
    def test_rotated_files_by_mtime_then_live(self, tmp_path: Path) -> None:
        """Rotated files oldest first by mtime (then name), compressed or not; the live one last."""
        write(tmp_path / DAY2, [b"2\n"], mtime_ns=2 * S)
        write(tmp_path / f"{DAY1}.gz", [b"1\n"], mtime_ns=1 * S)
        write(tmp_path / f"{SIZE1}.zst", [b"3\n"], mtime_ns=3 * S)
        write(tmp_path / "hft.log.2026-12-06.1", [b"2b\n"], mtime_ns=2 * S)
        write(tmp_path / "hft.log", [b"4\n"])
        (log,) = find_logs([str(tmp_path / "hft.log")])
        names = [p.name for p in log.files]
        assert names == [f"{DAY1}.gz", DAY2, "hft.log.2026-12-06.1", f"{SIZE1}.zst", "hft.log"]
        assert log.live == tmp_path / "hft.log"

    def test_tmp_files_and_half_compressed_copies_are_not_read(self, tmp_path: Path) -> None:
        """`.gz.tmp` is never read; a rotated file whose `.gz` exists too is read once, plain."""
        write(tmp_path / f"{DAY1}.gz.tmp", [b"x\n"])
        write(tmp_path / DAY2, [b"2\n"], mtime_ns=2 * S)
        write(tmp_path / f"{DAY2}.gz", [b"2\n"], mtime_ns=3 * S)
        write(tmp_path / "hft.log", [b"4\n"])
        (log,) = find_logs([str(tmp_path / "hft.log")])
        assert [p.name for p in log.files] == [DAY2, "hft.log"]

    def test_other_logs_are_not_siblings(self, tmp_path: Path) -> None:
        """`hft.log.old` or `hft.log.2` are no rotated files of hft.log."""
        write(tmp_path / "hft.log.old", [b"x\n"])
        write(tmp_path / "hft.log", [b"4\n"])
        (log,) = find_logs([str(tmp_path / "hft.log")])
        assert [p.name for p in log.files] == ["hft.log"]

    def test_folder_groups_by_log(self, tmp_path: Path) -> None:
        """A folder gives each of its logs, by name, with its rotated files; a log whose live
        file is gone still gives its rotated files."""
        write(tmp_path / "b.log", [b"b\n"])
        write(tmp_path / "b.log.2026-12-06.gz", [b"b0\n"])
        write(tmp_path / "a.log", [b"a\n"])
        write(tmp_path / "gone.log.2026-12-06", [b"g\n"])
        write(tmp_path / "x.log.zst.tmp", [b"t\n"])
        logs = find_logs([str(tmp_path)])
        assert [(log.name.rpartition("/")[2], len(log.files)) for log in logs] == [
            ("a.log", 1),
            ("b.log", 2),
            ("gone.log", 2),
        ]
        assert _lines(tmp_path) == [b"a\n", b"b0\n", b"b\n", b"g\n"]

    def test_one_rotated_or_compressed_file_alone(self, tmp_path: Path) -> None:
        """Naming a rotated file reads that file only."""
        write(tmp_path / "hft.log", [b"live\n"])
        write(tmp_path / f"{DAY1}.zst", [b"old\n"])
        (log,) = find_logs([str(tmp_path / f"{DAY1}.zst")])
        assert log.live is None
        assert _lines(tmp_path / f"{DAY1}.zst") == [b"old\n"]

    def test_missing_path_is_an_error(self, tmp_path: Path) -> None:
        """A path that names no file and no rotated file: FileNotFoundError."""
        with pytest.raises(FileNotFoundError, match="no such log"):
            find_logs([str(tmp_path / "nope.log")])
        with pytest.raises(FileNotFoundError, match="no such file"):
            find_logs([str(tmp_path / "nope.log.gz")])


class TestBatches:
    @pytest.mark.parametrize("name", ["hft.log", "hft.log.2026-12-06.gz", "hft.log.2026-12-06.zst"])
    def test_lines_as_written(self, tmp_path: Path, name: str) -> None:
        """Plain, gzip and zstd files give their lines byte for byte."""
        lines = numbered(3000)
        path = write(tmp_path / name, lines)
        skips = Skips()
        assert [line for batch in batches(path, skips) for line in batch] == lines
        assert skips.count == 0

    def test_torn_last_line_is_skipped_and_counted(self, tmp_path: Path) -> None:
        """A last line without its newline (a write torn by a kill) is no line: counted."""
        path = write(tmp_path / "hft.log", [hft_line(), b'{"ts":"2026'])
        skips = Skips()
        assert [line for batch in batches(path, skips) for line in batch] == [hft_line()]
        assert skips.count == 1

    @pytest.mark.parametrize("name", ["hft.log", "hft.log.2026-12-06.gz", "hft.log.2026-12-06.zst"])
    def test_lines_across_chunks(
        self, tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Read 8 bytes at a time: lines shorter and longer than a chunk, and a torn tail, come
        out as written (the tail counted)."""
        monkeypatch.setattr(files, "BATCH_BYTES", 8)
        lines = [b"a\n", b"\n", b"0123456789abcdefghij\n", b"bc\n", b"01234567\n", b"x\n"]
        path = write(tmp_path / name, [*lines, b"torn"])
        skips = Skips()
        assert [line for batch in batches(path, skips) for line in batch] == lines
        assert skips.count == 1

    @pytest.mark.parametrize("name", ["hft.log", "hft.log.2026-12-06.gz", "hft.log.2026-12-06.zst"])
    def test_memory_stays_flat(self, tmp_path: Path, name: str) -> None:
        """Reading four times the lines takes no more memory at peak (within a small constant):
        files are streamed, never loaded whole."""
        small = write(tmp_path / "small" / name, numbered(20_000))
        large = write(tmp_path / "large" / name, numbered(80_000))
        assert large.stat().st_size > 3 * small.stat().st_size
        peaks = [_peak(small), _peak(large)]
        assert peaks[1] < peaks[0] + 512 * 1024, peaks


def _peak(path: Path) -> int:
    skips = Skips()
    tracemalloc.start()
    try:
        count = sum(len(batch) for batch in batches(path, skips))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        assert count > 0


class TestLastLines:
    def test_reads_backwards_across_chunks(self, tmp_path: Path) -> None:
        """The last N lines, with lines longer than a chunk, in file order."""
        lines = [b"%d %s\n" % (i, b"x" * (i * 9000)) for i in range(20)]
        path = write(tmp_path / "hft.log", lines)
        size = path.stat().st_size
        assert last_lines(path, size, 5, lambda _line: True) == lines[-5:]
        assert last_lines(path, size, 100, lambda _line: True) == lines

    def test_torn_tail_and_choice(self, tmp_path: Path) -> None:
        """Bytes after the last newline are no line; only lines the chooser wants count."""
        path = write(tmp_path / "hft.log", [b"a1\n", b"b2\n", b"a3\n", b"b4\n", b"a5"])
        size = path.stat().st_size
        assert last_lines(path, size, 2, lambda line: line.startswith(b"a")) == [b"a1\n", b"a3\n"]

    def test_stops_at_the_size_given(self, tmp_path: Path) -> None:
        """What was appended after the size was taken is left for following."""
        path = write(tmp_path / "hft.log", [b"1\n", b"2\n"])
        size = path.stat().st_size
        with path.open("ab") as more:
            more.write(b"3\n")
        assert last_lines(path, size, 5, lambda _line: True) == [b"1\n", b"2\n"]

    def test_a_gzip_member_per_batch_reads_through(self, tmp_path: Path) -> None:
        """A gzip file of several members (appended compressions) reads as one stream."""
        path = tmp_path / "hft.log.2026-12-06.gz"
        path.write_bytes(gzip.compress(b"1\n") + gzip.compress(b"2\n"))
        assert [line for batch in batches(path, Skips()) for line in batch] == [b"1\n", b"2\n"]


@pytest.mark.parametrize("suffix", [".gz", ".zst"])
class TestCompressedWhileReading:
    def _log(self, folder: Path, suffix: str) -> tuple[Log, list[bytes]]:
        """A log listed while its oldest rotation is between the worker's rename and its
        delete (original and compressed copy both there), then that original deleted."""
        lines = numbered(30)
        write(folder / DAY1, lines[:10], mtime_ns=1 * S)
        write(folder / f"{DAY1}{suffix}", lines[:10], mtime_ns=1 * S)
        write(folder / DAY2, lines[10:20], mtime_ns=2 * S)
        write(folder / "hft.log", lines[20:])
        (log,) = find_logs([str(folder / "hft.log")])
        assert [p.name for p in log.files] == [DAY1, DAY2, "hft.log"]
        (folder / DAY1).unlink()  # the worker's last step, after listing, before reading
        return log, lines

    def test_cat_reads_it_from_the_compressed_copy_once(self, tmp_path: Path, suffix: str) -> None:
        """Every record once, in order: the deleted original's from its compressed copy."""
        log, lines = self._log(tmp_path, suffix)
        skips = Skips()
        assert [line for batch in log_batches(log, skips) for line in batch] == lines
        assert skips.count == 0

    def test_tail_reads_it_from_the_compressed_copy(self, tmp_path: Path, suffix: str) -> None:
        """tail -n 25 reaches into the deleted original: its lines from the compressed copy."""
        log, lines = self._log(tmp_path, suffix)
        chooser = Chooser(
            Query(), Output(io.BytesIO(), pretty=False, colour=False), parse_all=False
        )
        assert last_of(log, 25, chooser, (tmp_path / "hft.log").stat().st_size) == lines[-25:]

    def test_a_rotation_pruned_in_every_form_reads_as_nothing(
        self, tmp_path: Path, suffix: str
    ) -> None:
        """Pruned by retention after listing (both forms gone): left out, no error."""
        log, lines = self._log(tmp_path, suffix)
        (tmp_path / f"{DAY1}{suffix}").unlink()
        assert [line for batch in log_batches(log, Skips()) for line in batch] == lines[10:]


def test_a_log_whose_name_holds_glob_characters(tmp_path: Path) -> None:
    """A log named ``hft[1].log``: its rotated files are found by name, not as a pattern."""
    write(tmp_path / "hft[1].log.2026-12-05.gz", [b"1\n"], mtime_ns=1 * S)
    write(tmp_path / "hft[1].log.2026-12-06", [b"2\n"], mtime_ns=2 * S)
    write(tmp_path / "hft1.log.2026-12-06", [b"x\n"], mtime_ns=2 * S)
    write(tmp_path / "hft[1].log", [b"3\n"])
    assert _lines(tmp_path / "hft[1].log") == [b"1\n", b"2\n", b"3\n"]


def test_a_live_file_named_through_a_symlink_is_read(tmp_path: Path) -> None:
    """A path the user names may be a symbolic link (read as ``cat`` would); one among the
    rotated files is left out."""
    write(tmp_path / "real.log", [b"1\n"])
    (tmp_path / "hft.log").symlink_to(tmp_path / "real.log")
    (tmp_path / "hft.log.2026-12-06").symlink_to(tmp_path / "real.log")
    assert _lines(tmp_path / "hft.log") == [b"1\n"]
