"""benchmarks.ranges: the ranges of hft's figures over several full runs, with host facts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from benchmarks import ranges


def _stats(mean: float, p50: int, p999: int, over_2ms: int = 0) -> dict[str, Any]:
    return {"mean": mean, "p50": p50, "p999": p999, "over_2ms": over_2ms}


def _run(folder: Path, hft_rate: float, baseline_rate: float, over_1ms: int) -> Path:
    folder.mkdir()
    host = {"getppid_ns": 300.0, "time_ns_ns": 90.0, "busy_share": {"ratio": 0.9},
            "event_wakeup": {"median_ns": 20_000, "p99_ns": 60_000}}  # fmt: skip
    hft = {"throughput": {"rate": hft_rate, "lost": 0},
           "latency": {"stats": _stats(300, 200, 3000, 1), "filtered": _stats(90, 80, 100),
                       "lost": 0}}  # fmt: skip
    suite = {"meta": {"host": host}, "contenders": {
        "floor": {"latency": {"stats": _stats(1000, 250, 15000, 12)}},
        "baseline": {"throughput": {"rate": baseline_rate}}, "hft": hft}}  # fmt: skip
    paced_stats = {"over_1ms": over_1ms, "over_100us": 50, "p999": 3000, "p50": 200}
    floor_stats = {"over_1ms": 0, "over_100us": 55, "p999": 10000, "p50": 250}
    paced = {"contenders": {"hft": {"100000": {"stats": paced_stats, "check": {"lost": 0}}},
                            "floor": {"100000": {"stats": floor_stats}}}}  # fmt: skip
    (folder / "latest.json").write_bytes(orjson.dumps(suite))
    (folder / "paced.json").write_bytes(orjson.dumps(paced))
    return folder


def test_ranges_and_medians_over_the_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each figure shows lowest-highest and the median of the runs; every run's host facts."""
    runs = [
        _run(tmp_path / "a", 1_000_000, 500_000, 0),
        _run(tmp_path / "b", 1_300_000, 500_000, 1),
        _run(tmp_path / "c", 1_100_000, 550_000, 0),
    ]
    assert ranges.main([str(run) for run in runs]) == 0
    out = capsys.readouterr().out.splitlines()
    line = {row.split("  ")[0]: row for row in out}
    assert "1,000,000-1,300,000" in line["hft rec/s"]
    assert line["hft rec/s"].endswith("median 1,100,000")
    assert "2.00-2.60" in line["x baseline (rec/s)"]
    assert line["x baseline (rec/s)"].endswith("median 2.00")
    assert "0-1" in line["paced 100000/s >1ms hft"]
    assert line["paced 100000/s >1ms hft"].endswith("median 0")
    assert line["call p50 / floor"].split()[-3] == "0.80"
    assert sum("getppid 300 ns" in row for row in out) == 3


def test_a_folder_without_results_is_refused(tmp_path: Path) -> None:
    """A run folder with no ``latest.json`` is an error (exit 2), not a silent gap."""
    assert ranges.main([str(tmp_path)]) == 2


def test_shipped_rows_against_hft_where_a_run_has_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """hft-prod's rate and call are divided by hft's, paced slow calls and loss are listed; a
    run without the row adds nothing to its figures."""
    with_prod, without = _run(tmp_path / "a", 1_000_000, 500_000, 0), _run(tmp_path / "b", 1, 1, 0)
    suite_run = orjson.loads((with_prod / "latest.json").read_bytes())
    suite_run["contenders"]["hft-prod"] = {
        "throughput": {"rate": 250_000, "lost": 0},
        "latency": {"stats": _stats(900, 900, 7500), "lost": 0},
    }
    (with_prod / "latest.json").write_bytes(orjson.dumps(suite_run))
    paced_run = orjson.loads((with_prod / "paced.json").read_bytes())
    stats = {"over_1ms": 4, "over_100us": 90, "p999": 5000, "p50": 900}
    paced_run["contenders"]["hft-prod"] = {"100000": {"stats": stats, "check": {"lost": 0}}}
    (with_prod / "paced.json").write_bytes(orjson.dumps(paced_run))
    assert ranges.main([str(with_prod), str(without)]) == 0
    line = {row.split("  ")[0]: row for row in capsys.readouterr().out.splitlines()}
    assert line["hft-prod / hft (rec/s)"].endswith("median 0.25")
    assert line["hft-prod call p50 / hft"].endswith("median 4.50")
    assert line["hft-prod call p99.9 / hft"].endswith("median 2.50")
    assert line["paced 100000/s >1ms hft-prod"].endswith("median 4")
    assert line["paced 100000/s p99.9 / floor hft-prod"].endswith("median 0.50")
    assert "hft-dev rec/s" not in line
