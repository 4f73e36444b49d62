"""The paced mode's correctness: schedule arithmetic, counts, loss detection; never a timing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from benchmarks import contenders, paced
from benchmarks.contenders.testing import DROP_EVERY
from benchmarks.harness import WARMUP_CALLS, run_child


def _quiet(_: str) -> None:
    return None


class TestSchedule:
    def test_due_times_are_exact_integers(self) -> None:
        """At 3/s the calls are due at 0, 333,333,333, 666,666,666 and 1e9 ns after the start."""
        assert [paced.due_ns(0, i, 3) for i in range(4)] == [0, 333_333_333, 666_666_666, 10**9]

    @pytest.mark.parametrize("rate", [3, 7, 20_000, 100_000])
    def test_schedule_never_drifts(self, rate: int) -> None:
        """Call rate*k is due exactly k seconds after the start, however long the run."""
        assert paced.due_ns(5, rate * 3600, rate) == 5 + 3600 * 10**9

    def test_calls_for_seconds(self) -> None:
        """2 s at 20,000/s and 100,000/s are 40,000 and 200,000 calls; a sliver is one call."""
        got = [paced.calls_for(2, 20_000), paced.calls_for(2, 100_000), paced.calls_for(1e-9, 10)]
        assert got == [40_000, 200_000, 1]

    def test_no_call_is_early_and_every_call_is_made(self) -> None:
        """paced_calls makes warmup + calls calls, each at or after its due time, and times the
        last *calls*; so the achieved rate cannot exceed calls over (calls - 1) periods."""
        stamps: list[int] = []

        def log(msg: str, /, **fields: Any) -> None:
            stamps.append(time.perf_counter_ns())

        rate, calls, warmup = 5_000, 300, 50
        run = paced.paced_calls(log, calls, rate, warmup)
        assert len(stamps) == warmup + calls
        assert len(run["samples"]) == calls
        assert all(sample > 0 for sample in run["samples"])
        start = run["start_ns"]
        assert all(stamp >= paced.due_ns(start, i, rate) for i, stamp in enumerate(stamps))
        assert run["achieved_rate"] <= rate * calls / (calls - 1)
        assert run["max_lag_ns"] >= 0


class TestStats:
    def test_counts_over_100us_and_1ms_are_strict(self) -> None:
        """Exactly 100 us and exactly 1 ms are not over; one ns more is."""
        stats = paced.paced_stats([50, 100_000, 100_001, 1_000_000, 1_000_001, 5_000_000])
        assert (stats["over_100us"], stats["over_1ms"]) == (4, 2)
        assert stats["max"] == 5_000_000

    def test_percentiles_of_one_to_a_thousand(self) -> None:
        """Nearest-rank p50, p99, p99.9 of 1..1000 (in reverse order) are 500, 990 and 999."""
        stats = paced.paced_stats(list(range(1000, 0, -1)))
        assert (stats["p50"], stats["p99"], stats["p999"]) == (500, 990, 999)


class TestChildren:
    def test_baseline_offers_and_writes_every_record(self, tmp_path: Path) -> None:
        """A paced baseline child counts warm-up + timed calls offered, and all are in the file."""
        result = run_child("paced", "baseline", 500, tmp_path, extra=("2000",))
        offered = 500 + min(WARMUP_CALLS, 500)
        assert result["offered"] == offered
        assert result["check"]["expected"] == offered
        assert result["check"]["lines"] == offered
        assert result["check"]["lost"] == 0
        lines = (tmp_path / "baseline-paced.jsonl").read_bytes().splitlines()
        assert len(lines) == offered
        assert orjson.loads(lines[-1])["msg"] == "order placed"

    def test_loss_is_detected(self, tmp_path: Path) -> None:
        """The lossy fake's dropped records (every tenth) show as lost, counted from the file."""
        result = run_child("paced", "lossy", 1000, tmp_path, extra=("5000",))
        assert result["check"]["lost"] == result["offered"] // DROP_EVERY

    def test_floor_has_no_file_check(self, tmp_path: Path) -> None:
        """The floor writes no file: its result has the figures and no loss check."""
        result = run_child("paced", "floor", 200, tmp_path, extra=("2000",))
        assert "check" not in result
        assert result["stats"]["p50"] > 0

    def test_hft_defaults_lose_nothing(self, tmp_path: Path) -> None:
        """hft with the shipped defaults (writer process) has every offered record in the file."""
        from hft.logging import native_paths

        if not all(native_paths().values()):
            pytest.skip("no C build: paced hft children are refused, as the harness tests show")
        result = run_child("paced", "hft", 1000, tmp_path, extra=("5000",))
        assert result["check"]["lines"] == result["offered"] == 1000 + min(WARMUP_CALLS, 1000)
        assert result["check"]["lost"] == 0
        assert all(result["hft"]["native"].values())


def _run(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    entry = contenders._Entry("hft_logger:setup", "hft_not_a_module.logging")
    monkeypatch.setitem(contenders.REGISTRY, "hft", entry)
    names = ["floor", "baseline", "lossy", "hft"]
    return paced.run_paced(names, {2000: 300, 5000: 500}, rounds=2, note=_quiet)


class TestRunPaced:
    def test_rounds_are_summed_and_skips_reported(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Two rounds at two rates: offered and found are both rounds' counts, the fake's loss
        is every tenth record of both, and a contender whose library is missing is skipped."""
        results = _run(monkeypatch)
        rows = results["contenders"]
        assert results["skipped"].keys() == {"hft"}
        assert rows.keys() == {"floor", "baseline", "lossy"}
        for rate, calls in ((2000, 300), (5000, 500)):
            offered = 2 * 2 * calls  # warm-up = calls here, two rounds
            baseline, lossy = rows["baseline"][str(rate)], rows["lossy"][str(rate)]
            assert baseline["offered"] == offered
            assert baseline["check"] == {"expected": offered, "found": offered, "lost": 0}
            assert lossy["check"]["lost"] == offered // DROP_EVERY
            assert rows["floor"][str(rate)]["check"] is None
            assert len(baseline["rounds"]) == 2

    def test_aggregate_takes_worst_and_sums(self) -> None:
        """Max of max, summed slow-call counts, the lowest achieved rate and the largest lag."""

        def one(p50: int, top: int, slow: int, achieved: float, lag: int) -> dict[str, Any]:
            stats = {"mean": p50, "p50": p50, "p99": p50, "p999": p50, "max": top,
                     "over_100us": slow, "over_1ms": slow}  # fmt: skip
            check = {"expected": 10, "lines": 10, "lost": 0}
            return {"stats": stats, "calls": 5, "offered": 10, "check": check,
                    "achieved_rate": achieved, "max_lag_ns": lag}  # fmt: skip

        row = paced.aggregate([one(1, 9, 2, 99.0, 5), one(3, 4, 1, 98.0, 7), {"error": "boom"}])
        assert row["stats"]["max"] == 9
        assert (row["stats"]["over_100us"], row["stats"]["over_1ms"]) == (3, 3)
        assert row["stats"]["p50"] == 2
        assert (row["achieved_rate"], row["max_lag_ns"]) == (98.0, 7)
        assert row["check"] == {"expected": 20, "found": 20, "lost": 0}
        assert row["errors"] == ["boom"]


class TestCommand:
    def test_paced_prints_facts_then_tables_and_writes_json(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`python -m benchmarks paced` prints the host facts first, the tables, and writes
        paced.json carrying the facts, the rates and every contender's row."""
        from benchmarks.__main__ import main

        argv = ["paced", "--rates", "1000,3000", "--calls", "200", "--rounds", "1",
                "--contenders", "floor,baseline", "--out", str(tmp_path)]  # fmt: skip
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert out.index("Host: ") < out.index("paced round") < out.index("Ratio to floor")
        results = orjson.loads((tmp_path / "paced.json").read_bytes())
        assert {"getppid_ns", "event_wakeup", "busy_share", "nproc"} <= results["meta"][
            "host"
        ].keys()
        assert results["meta"]["rates"] == [1000, 3000]
        assert results["contenders"]["baseline"]["3000"]["check"]["lost"] == 0

    @pytest.mark.parametrize("rates", ["0", "fast", ""])
    def test_bad_rates_are_refused(self, rates: str, capsys: pytest.CaptureFixture[str]) -> None:
        """--rates must be positive integers: anything else exits 2 naming --rates."""
        from benchmarks.__main__ import main

        with pytest.raises(SystemExit) as exit_:
            main(["paced", "--rates", rates])
        assert exit_.value.code == 2
        assert "--rates" in capsys.readouterr().err
