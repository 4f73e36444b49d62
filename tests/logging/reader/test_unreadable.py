"""A torn or corrupt compressed file, or one that cannot be opened: said once on stderr, the
other files (and a torn gzip's records before the tear) still printed, exit status 1."""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from hft.logging.backends import rotated as rotated_module
from hft.logging.reader import files
from hft.logging.reader.command import Chooser, cat
from hft.logging.reader.files import Skips, batches, find_logs
from hft.logging.reader.filters import Query
from hft.logging.reader.output import Output
from tests.logging.reader.cli import hft_logs
from tests.logging.reader.logfiles import T0, numbered, write

DAY_NS = 86_400 * 1_000_000_000


def _torn_log(folder: Path) -> tuple[Path, list[bytes], list[bytes], list[bytes]]:
    """hft.log with a torn .gz, a garbage .zst and a live file; (live, gz lines, the gz lines
    before the tear, live lines)."""
    gz_lines = numbered(20_000)
    gz = write(folder / "hft.log.2026-12-05.gz", gz_lines, mtime_ns=T0 - 2 * DAY_NS)
    whole = gz.read_bytes()
    gz.write_bytes(whole[: len(whole) // 2])  # torn: a kill during a copy, say
    os.utime(gz, ns=(T0 - 2 * DAY_NS, T0 - 2 * DAY_NS))
    decoded = zlib.decompressobj(wbits=31).decompress(gz.read_bytes())
    before = [line + b"\n" for line in decoded.split(b"\n")[:-1]]
    assert 0 < len(before) < len(gz_lines)
    zst = folder / "hft.log.2026-12-06.zst"
    zst.write_bytes(b"no zstd frame here\n" * 10)
    os.utime(zst, ns=(T0 - DAY_NS, T0 - DAY_NS))
    live_lines = numbered(5, start=100_000)
    live = write(folder / "hft.log", live_lines)
    return live, gz_lines, before, live_lines


def _said(stderr: bytes) -> list[str]:
    return [line for line in stderr.decode().splitlines() if line.startswith("hft logs:")]


class TestUnreadable:
    def test_cat_prints_every_readable_record_once_and_exits_1(self, tmp_path: Path) -> None:
        """The gz's records up to the tear, nothing of the .zst, the live file whole."""
        live, gz_lines, before, live_lines = _torn_log(tmp_path)
        done = hft_logs("cat", "--format", "json", live)
        assert done.returncode == 1, done.stderr
        assert done.stdout.splitlines(keepends=True) == before + live_lines
        assert before == gz_lines[: len(before)]
        said = _said(done.stderr)
        assert len(said) == 2, done.stderr
        gz, zst = tmp_path / "hft.log.2026-12-05.gz", tmp_path / "hft.log.2026-12-06.zst"
        assert said[0].startswith(f"hft logs: unreadable: {gz} (EOFError: ")
        assert said[1].startswith(f"hft logs: unreadable: {zst} (ZstdError: ")
        assert "Traceback" not in done.stderr.decode()

    def test_merged_cat_too(self, tmp_path: Path) -> None:
        """--merge (entries parsed) reads the same records, says the same files."""
        live, _, before, live_lines = _torn_log(tmp_path)
        done = hft_logs("cat", "--merge", "--format", "json", live)
        assert done.returncode == 1, done.stderr
        assert done.stdout.splitlines(keepends=True) == before + live_lines
        assert len(_said(done.stderr)) == 2

    def test_tail_into_the_unreadable_files(self, tmp_path: Path) -> None:
        """tail going back past the live file reads the torn gz's records before the tear."""
        live, _, before, live_lines = _torn_log(tmp_path)
        done = hft_logs("tail", "-n", "8", "--format", "json", live)
        assert done.returncode == 1, done.stderr
        assert done.stdout.splitlines(keepends=True) == before[-3:] + live_lines
        assert len(_said(done.stderr)) == 2

    def test_all_readable_exits_0(self, tmp_path: Path) -> None:
        """No file unreadable: exit status 0, nothing said."""
        write(tmp_path / "hft.log.2026-12-06.gz", numbered(3), mtime_ns=T0 - DAY_NS)
        live = write(tmp_path / "hft.log", numbered(2, start=3))
        done = hft_logs("cat", "--format", "json", live)
        assert (done.returncode, done.stdout.count(b"\n"), _said(done.stderr)) == (0, 5, [])

    def test_batches_count_the_file(self, tmp_path: Path) -> None:
        """batches gives the lines before the tear and counts the file, raising nothing."""
        _, _, before, _ = _torn_log(tmp_path)
        skips = Skips()
        torn = tmp_path / "hft.log.2026-12-05.gz"
        got = [line for batch in batches(torn, skips) for line in batch]
        assert got == before
        assert skips.unreadable == 1

    def test_permission_denied_on_open_is_caught(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An open refused (as a test run as root cannot make it) is said like a torn file."""
        rotated = write(tmp_path / "hft.log.2026-12-06", numbered(3), mtime_ns=T0 - DAY_NS)
        live_lines = numbered(2, start=3)
        live = write(tmp_path / "hft.log", live_lines)
        real = rotated_module.read_rotated

        def refusing(path: Path, *args: object, **kwargs: object) -> Iterator[bytes]:
            if path == rotated:
                raise PermissionError(13, "Permission denied", str(path))
            return real(path, *args, **kwargs)  # type: ignore[arg-type]  # passed on as given

        monkeypatch.setattr(files, "read_rotated", refusing)
        out = io.BytesIO()
        chooser = Chooser(Query(), Output(out, pretty=False, colour=False), parse_all=False)
        cat(find_logs([str(live)]), chooser, merged=False)
        chooser.flush()
        assert out.getvalue().splitlines(keepends=True) == live_lines
        assert chooser.skips.unreadable == 1
