"""Correctness of the benchmark suite: counts, loss detection, statistics and the report.

Nothing here asserts a timing; the figures themselves are the benchmark's business.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from benchmarks import contenders, harness, report, suite
from benchmarks.contenders import DEFAULT, load, unavailable
from benchmarks.contenders.testing import DROP_EVERY

AVAILABLE = [name for name in DEFAULT if unavailable(name) is None]


def _quiet(_: str) -> None:
    return None


class TestPercentile:
    def test_nearest_rank_of_one_to_a_thousand(self) -> None:
        """Nearest-rank p50, p99, p99.9 and p100 of 1..1000 are 500, 990, 999 and 1000."""
        ordered = list(range(1, 1001))
        got = [harness.percentile(ordered, q) for q in (50, 99, 99.9, 100)]
        assert got == [500, 990, 999, 1000]

    def test_single_sample_is_every_percentile(self) -> None:
        """One sample is its own p0, p50 and max."""
        assert {harness.percentile([7], q) for q in (0, 50, 100)} == {7}

    def test_no_samples_is_an_error(self) -> None:
        """An empty sample list raises rather than reporting a zero latency."""
        with pytest.raises(ValueError, match="no samples"):
            harness.percentile([], 50)

    def test_summarize_ignores_input_order(self) -> None:
        """summarize sorts for itself: mean, percentiles and max of shuffled 1..1000."""
        samples = list(range(1, 1001))
        random.Random(1).shuffle(samples)
        stats = harness.summarize(samples)
        assert (stats.mean, stats.p50, stats.p99, stats.p999, stats.max) == (
            500.5, 500, 990, 999, 1000,
        )  # fmt: skip

    def test_calls_over_two_ms_are_counted(self) -> None:
        """Calls strictly slower than 2 ms are counted; exactly 2 ms is not."""
        stats = harness.summarize([100, 2_000_000, 2_000_001, 30_000_000])
        assert stats.over_2ms == 2


class TestFileChecks:
    def test_count_lines_counts_an_unterminated_last_line(self, tmp_path: Path) -> None:
        """A final line without a newline counts; an empty file has no lines."""
        path = tmp_path / "f"
        path.write_bytes(b"a\nb\nc")
        empty = tmp_path / "e"
        empty.write_bytes(b"")
        assert (harness.count_lines(path), harness.count_lines(empty)) == (3, 0)

    def test_payload_found_in_nested_records(self) -> None:
        """A loguru-style record with the fields nested under extra carries the payload."""
        fields = {"symbol": "BTCUSDT", "price": 123.45, "qty": 0.5}
        record = {"record": {"message": "order placed", "extra": fields}}
        assert harness.has_payload(orjson.dumps(record))

    def test_payload_missing_field_or_not_json(self) -> None:
        """A line missing qty, or not JSON at all, fails the payload check."""
        partial = {"msg": "order placed", "symbol": "BTCUSDT", "price": 123.45}
        assert not harness.has_payload(orjson.dumps(partial))
        assert not harness.has_payload(b"order placed BTCUSDT 123.45 0.5")

    def test_a_trailing_line_of_the_loggers_own_is_not_a_bad_payload(self, tmp_path: Path) -> None:
        """The last line checked is the last benchmark record, not a logger's closing report;
        a file whose records all lack a field still fails."""
        good = {"msg": "order placed", "symbol": "BTCUSDT", "price": 123.45, "qty": 0.5}
        report = {"msg": "log records dropped", "dropped": 7}
        path = tmp_path / "log"
        path.write_bytes(orjson.dumps(good) + b"\n" + orjson.dumps(report) + b"\n")
        assert harness.check_file(path, 2)["payload_ok"]
        partial = {"msg": "order placed", "symbol": "BTCUSDT"}
        path.write_bytes(orjson.dumps(good) + b"\n" + orjson.dumps(partial) + b"\n")
        assert not harness.check_file(path, 2)["payload_ok"]

    def test_missing_file_is_total_loss(self, tmp_path: Path) -> None:
        """check_file on a file that was never written reports every record lost."""
        check = harness.check_file(tmp_path / "absent", 10)
        assert (check["lines"], check["lost"], check["payload_ok"]) == (0, 10, False)


class TestLossDetection:
    def test_lossy_fake_is_caught_in_process(self, tmp_path: Path) -> None:
        """The throughput measurement reports exactly the records the lossy fake dropped."""
        result = harness.measure_throughput(load("lossy"), tmp_path / "l.jsonl", 1000)
        assert result["check"]["lost"] == 1000 // DROP_EVERY

    def test_lossy_fake_is_caught_through_a_child(self, tmp_path: Path) -> None:
        """Loss measured in a child process reaches the parent intact."""
        result = harness.run_child("throughput", "lossy", 1000, tmp_path)
        assert result["check"]["lost"] == 1000 // DROP_EVERY

    def test_baseline_loses_nothing(self, tmp_path: Path) -> None:
        """The lossless baseline's file has every record after close."""
        result = harness.measure_throughput(load("baseline"), tmp_path / "b.jsonl", 5000)
        assert result["check"]["lost"] == 0
        assert result["check"]["payload_ok"]


class TestHftBuild:
    def test_child_reports_where_hft_came_from_and_its_c_paths(self, tmp_path: Path) -> None:
        """An hft child's result names the package it imported and which C paths it loaded."""
        import hft
        from hft.logging import native_paths

        if not all(native_paths().values()):
            pytest.skip("this tree has no C build: the refusal test below covers it")
        result = harness.run_child("throughput", "hft", 500, tmp_path)
        assert result["hft"]["origin"] == str(Path(hft.__file__).parent)
        assert result["hft"]["native"] == dict.fromkeys(native_paths(), True)
        assert result["check"]["lost"] == 0

    def test_child_refuses_hft_without_its_c_paths(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without the C paths an hft child measures nothing and says how to build them."""
        monkeypatch.setenv("HFT_PURE_PYTHON", "1")
        result = harness.run_child("throughput", "hft", 500, tmp_path)
        assert result.keys() == {"error"}
        assert "without its C paths" in result["error"]
        assert "--allow-pure-python" in result["error"]

    def test_pure_python_is_measured_when_asked(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """--allow-pure-python (its variable) lets the child measure, and it says what it ran."""
        monkeypatch.setenv("HFT_PURE_PYTHON", "1")
        monkeypatch.setenv(harness.ALLOW_PURE_ENV, "1")
        result = harness.run_child("throughput", "hft", 500, tmp_path)
        assert not any(result["hft"]["native"].values())
        assert result["check"]["lost"] == 0
        assert "NOT loaded (pure Python): callsite" in report.build_line(result["hft"])

    def test_the_suite_refuses_before_running_anything(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`python -m benchmarks` exits 2 with the reason before any round when hft lacks C."""
        from benchmarks.__main__ import main

        monkeypatch.setenv("HFT_PURE_PYTHON", "1")
        assert main(["--quick", "--contenders", "floor,hft"]) == 2
        captured = capsys.readouterr()
        assert "refused" in captured.err
        assert "round" not in captured.out


class TestContenders:
    @pytest.mark.parametrize("name", AVAILABLE)
    def test_one_line_per_call_none_per_filtered_call(self, name: str, tmp_path: Path) -> None:
        """Each contender writes one well-formed line per info call and none per filtered call."""
        path = tmp_path / f"{name}.jsonl"
        contender = load(name)(path)
        harness.time_calls(contender.log, 100)
        if contender.log_filtered:
            harness.time_calls(contender.log_filtered, 100)
        contender.close()
        if contender.writes_file:
            assert harness.check_file(path, 100) == {
                "expected": 100, "lines": 100, "lost": 0, "payload_ok": True,
            }  # fmt: skip

    def test_missing_library_is_a_reason_not_a_crash(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A contender whose library is absent is reported unavailable with the module named."""
        entry = contenders._Entry("hft_logger:setup", "hft_not_a_module.logging")
        monkeypatch.setitem(contenders.REGISTRY, "hft", entry)
        assert unavailable("hft") == "hft_not_a_module.logging is not importable"


def _suite(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    entry = contenders._Entry("hft_logger:setup", "hft_not_a_module.logging")
    monkeypatch.setitem(contenders.REGISTRY, "hft", entry)
    return suite.run_suite(["floor", "baseline", "lossy", "hft"], 2000, 2000, 2, note=_quiet)


class TestSuite:
    def test_quick_suite_rows_loss_and_skip(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A small run has every row: n/a floor throughput, LOST for the fake, hft skipped."""
        results = _suite(monkeypatch)
        figures = report.suite_table(results).split("Ratio to ")[0]
        rows = {line.split()[0]: line for line in figures.splitlines()[1:] if line}
        assert {"floor", "baseline", "lossy", "hft"} <= rows.keys()
        assert "LOST 200" in rows["lossy"]
        assert "n/a" in rows["floor"]
        assert "skipped" in rows["hft"]
        assert results["contenders"]["baseline"]["throughput"]["lost"] == 0

    def test_aggregate_keeps_worst_loss_and_max(self) -> None:
        """Across rounds the worst loss and the worst max survive; rates take the median."""
        check = {"lost": 0, "payload_ok": True}
        rounds = [
            {"kind": "throughput", "rate": r, "rss_growth_mb": 1.0, "check": {**check, "lost": k}}
            for r, k in ((1.0, 0), (3.0, 7), (2.0, 0))
        ]
        throughput = suite.aggregate(rounds)["throughput"]
        assert (throughput["rate"], throughput["lost"]) == (2.0, 7)


def _row(p50: int, rate: float | None) -> dict[str, Any]:
    stats = {"mean": p50, "p50": p50, "p99": p50, "p999": p50, "max": p50}
    latency = {"stats": stats, "filtered": None, "curve": [p50] * len(harness.CURVE_PERCENTILES),
               "rss_growth_mb": 1.0, "lost": 0}  # fmt: skip
    throughput = None if rate is None else {"rate": rate, "lost": 0, "payload_ok": True,
                                            "rss_growth_mb": 2.0}  # fmt: skip
    return {"latency": latency, "throughput": throughput, "errors": []}


class TestReport:
    RESULTS: dict[str, Any] = {  # noqa: RUF012  # read-only fixture data
        "meta": {
            "python": "3.11",
            "platform": "x",
            "calls": 1,
            "records": 1,
            "rounds": 1,
            "timer_overhead_ns": 50,
        },
        "contenders": {
            "floor": _row(100, None),
            "hft": _row(200, 1000.0),
            "stdlib-queue": _row(500, 250.0),
        },
        "skipped": {},
    }

    def test_ratios_to_floor_and_hft(self) -> None:
        """stdlib's p50 is 5.00x the floor's and 2.50x hft's; its rate is 0.25x hft's."""
        sections = report.suite_table(self.RESULTS).split("Ratio to ")
        floor_row = next(r for r in sections[1].splitlines() if r.startswith("stdlib"))
        hft_row = next(r for r in sections[2].splitlines() if r.startswith("stdlib"))
        assert floor_row.split()[2] == "5.00x"
        assert hft_row.split()[2] == "2.50x"
        assert hft_row.split()[9] == "0.25x"

    def test_no_hft_ratio_table_without_hft(self) -> None:
        """Without an hft row there is a floor ratio table and no hft one."""
        results = {**self.RESULTS, "contenders": dict(self.RESULTS["contenders"])}
        del results["contenders"]["hft"]
        table = report.suite_table(results)
        assert "Ratio to floor" in table
        assert "Ratio to hft" not in table

    def test_json_and_png_are_written(self, tmp_path: Path) -> None:
        """write_json round-trips and plot_latency writes a PNG."""
        report.write_json(self.RESULTS, tmp_path / "r.json")
        report.plot_latency(self.RESULTS, tmp_path / "l.png")
        assert orjson.loads((tmp_path / "r.json").read_bytes()) == self.RESULTS
        assert (tmp_path / "l.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    def test_exit_and_memory_tables_note_skips(self) -> None:
        """A skipped contender keeps its row in the exit and memory tables, its reason in a note."""
        rows = {"hft": {"skip": "hft.logging is not importable"}}
        exit_table = report.exit_table({"contenders": rows})
        memory_table = report.memory_table({"meta": {"records": 1}, "contenders": rows})
        for table in (exit_table, memory_table):
            assert table.splitlines()[2].startswith("hft ")
            assert "hft: skipped (hft.logging is not importable)" in table


class TestCountRecords:
    def test_lines_of_the_loggers_own_are_not_records(self, tmp_path: Path) -> None:
        """A warning line hft adds (a console that dropped lines) is neither a record nor a
        loss; a message split across two reads is counted once."""
        path = tmp_path / "x.jsonl"
        filler = b"x" * ((1 << 20) - 5)  # the next message straddles the first 1 MiB read
        path.write_bytes(
            filler
            + b'{"msg":"order placed"}\n{"msg":"log sink not taking data"}\n'
            + b'{"msg":"order placed"}\n'
        )
        assert harness.count_records(path) == 2
        assert harness.count_lines(path) == 3
