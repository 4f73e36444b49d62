"""benchmarks.logs_read: the file it times, and that every command it times runs."""

from __future__ import annotations

import shutil
from pathlib import Path

from benchmarks import logs_read
from hft.logging.reader import parse
from tests.needs import cannot


class TestLogsRead:
    def test_file_is_hft_lines_one_in_ten_a_warning(self, tmp_path: Path) -> None:
        """N lines the reader parses, in time order, a tenth of them WARNING."""
        path = tmp_path / "hft.log"
        logs_read.write_file(path, 100)
        entries = [parse(line) for line in path.read_bytes().splitlines(keepends=True)]
        assert all(entries)
        assert sum(e.level == 30 for e in entries if e) == 10
        stamps = [e.ts_ns for e in entries if e]
        assert stamps == sorted(stamps)

    def test_every_command_runs(self) -> None:
        """One small round gives a rate for hft logs' three commands and jq's two."""
        if shutil.which("jq") is None:
            cannot("jq is not on PATH: apt-get install jq")
        rates = logs_read.run(200, 1)
        assert list(rates) == list(logs_read.commands(Path("x")))
        assert all(len(values) == 1 and values[0] > 0 for values in rates.values())
