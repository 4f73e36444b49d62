"""The shipped-settings contenders, ``hft-prod`` and ``hft-dev``: wired in, complete files, paths
kept in the work folder. Small counts; nothing here asserts a timing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks import __main__ as command
from benchmarks import harness, paced, paced_report, report, suite
from benchmarks.contenders import DEFAULT, REGISTRY, load
from benchmarks.contenders.hft_shipped import (
    PROD_VARIABLES,
    SETTINGS_DIR,
    build_dev,
    path_variables,
)

SHIPPED = ["hft-prod", "hft-dev"]


def _quiet(_: str) -> None:
    return None


def _needs_c_paths() -> None:
    from hft.logging import native_paths

    if not all(native_paths().values()):
        pytest.skip("no C build: hft children are refused, as the harness tests show")


class TestWiring:
    def test_every_default_list_runs_them(self) -> None:
        """Both are registered and in the suite's, the paced, the exit and the memory defaults."""
        for defaults in (REGISTRY, DEFAULT, paced.DEFAULT, command.EXIT_DEFAULT,
                         command.MEMORY_DEFAULT):  # fmt: skip
            assert set(SHIPPED) <= set(defaults)

    def test_prod_is_prod_yaml_with_the_file_at_info(self, tmp_path: Path) -> None:
        """base + prod as loaded: file at INFO, audit and Prometheus on without a push, no
        console, and every path under the work folder."""
        from hft.config import load_settings

        env = {**path_variables(tmp_path / "f.jsonl"), **PROD_VARIABLES}
        backends = load_settings("prod", SETTINGS_DIR, env).logging.backends
        assert backends.enabled_names() == ("file", "prometheus", "audit")
        assert (backends.file.level, backends.prometheus.push_gateway_url) == ("INFO", "")
        assert not backends.prometheus.scrape_enabled
        paths = [value for key, value in env.items() if key.endswith(("PATH", "DIR"))]
        assert all(Path(path).is_relative_to(tmp_path) for path in paths)


class TestFiles:
    @pytest.mark.parametrize("name", SHIPPED)
    def test_nothing_is_written_outside_the_work_folder(
        self, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Run from an empty folder, the contender writes its file and side folder only there."""
        cwd, work = tmp_path / "cwd", tmp_path / "work"
        cwd.mkdir()
        work.mkdir()
        monkeypatch.chdir(cwd)
        contender = load(name)(work / f"{name}.jsonl")
        harness.time_calls(contender.log, 50)
        contender.close()
        assert not list(cwd.iterdir())
        assert harness.check_file(work / f"{name}.jsonl", 50)["lost"] == 0

    def test_prod_keeps_its_audit_trail_in_the_side_folder(self, tmp_path: Path) -> None:
        """prod's audit trail (on, as shipped) opens beside the benchmark's file."""
        contender = load("hft-prod")(tmp_path / "p.jsonl")
        contender.close()
        assert (tmp_path / "p-paths" / "audit.log").exists()

    @pytest.mark.parametrize("name", SHIPPED)
    def test_a_throughput_child_has_every_record_on_disk(self, name: str, tmp_path: Path) -> None:
        """In a child, as the suite runs it: every record in the file, well formed."""
        _needs_c_paths()
        result = harness.run_child("throughput", name, 2000, tmp_path)
        assert result["check"] == {"expected": 2000, "lines": 2000, "lost": 0, "payload_ok": True}


class TestDevConsole:
    def test_the_console_prints_every_call_and_the_file_the_info_ones(self, tmp_path: Path) -> None:
        """The drained pipe counts the info and the debug lines; the file has the info ones."""
        contender, console = build_dev(tmp_path / "d.jsonl")
        assert contender.log_filtered is not None
        harness.time_calls(contender.log, 100)
        harness.time_calls(contender.log_filtered, 30)
        contender.close()
        assert console.lines == 130
        assert harness.check_file(tmp_path / "d.jsonl", 100)["lost"] == 0

    def test_stderr_is_given_back(self, tmp_path: Path) -> None:
        """After close (twice: idempotent), descriptor 2 is the file it was before."""

        def where() -> tuple[int, int]:
            stat = os.fstat(2)
            return stat.st_dev, stat.st_ino

        before = where()
        contender, _ = build_dev(tmp_path / "d.jsonl")
        assert where() != before
        contender.close()
        contender.close()
        assert where() == before


class TestTables:
    def test_suite_and_paced_tables_print_both_rows(self) -> None:
        """A small suite and a small paced run print both rows, the suite's with ratios to hft."""
        _needs_c_paths()
        names = ["floor", "hft", *SHIPPED]
        results = suite.run_suite(names, 300, 1000, 1, note=_quiet)
        figures, _, by_hft = report.suite_table(results).partition("Ratio to hft")
        for name in SHIPPED:
            assert any(line.startswith(f"{name} ") for line in figures.splitlines())
            assert any(line.startswith(f"{name} ") for line in by_hft.splitlines())
            assert results["contenders"][name]["throughput"]["lost"] == 0
        paced_results = paced.run_paced(names, {2000: 300}, 1, note=_quiet)
        table = paced_report.paced_table(paced_results)
        assert all(any(line.startswith(f"{n} ") for line in table.splitlines()) for n in SHIPPED)
