"""The paced-latency mode: a busy caller thread offers a fixed rate, and every call is timed.

The caller keeps an absolute schedule: call *i* is due at ``start + i * 1e9 // rate`` ns, so a
late call does not push the later ones back (the caller catches up, as a strategy's event loop
must). Between calls it spins on a little arithmetic, the way an event loop stays busy; it never
sleeps through a due time, so the logger's threads get the GIL only when the caller lets it go.
Each call is timed alone with ``perf_counter_ns``; the first ``WARMUP_CALLS`` (at the same rate)
are not counted in the figures but are in the file. Every contender runs in a fresh
interpreter (:func:`benchmarks.harness.run_child`), interleaved per round as the suite does.
"""

from __future__ import annotations

import bisect
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.contenders import LogCall, Setup
from benchmarks.harness import WARMUP_CALLS, check_file, percentile, run_child

__all__ = [
    "DEFAULT",
    "aggregate",
    "calls_for",
    "due_ns",
    "measure_paced",
    "paced_calls",
    "paced_stats",
    "run_paced",
]

NS_PER_S = 1_000_000_000
OVER_100US, OVER_1MS = 100_000, 1_000_000
START_DELAY_NS = 1_000_000  #: the schedule starts this long after the loop is entered
DEFAULT: tuple[str, ...] = (
    "floor", "baseline", "picologging-queue", "structlog", "hft", "hft-prod", "hft-dev",
)  # fmt: skip
Note = Callable[[str], None]


def due_ns(start: int, i: int, rate: int) -> int:
    """When call *i* (from 0) is due: integer arithmetic, so the schedule never drifts."""
    return start + i * NS_PER_S // rate


def calls_for(seconds: float, rate: int) -> int:
    """The calls that fill *seconds* at *rate* per second (at least one)."""
    return max(1, round(seconds * rate))


def paced_calls(log: LogCall, calls: int, rate: int, warmup: int = 0) -> dict[str, Any]:
    """Make ``warmup + calls`` calls on schedule; time the last *calls* of them.

    Returns the samples (ns per call), the achieved rate over the timed calls (their count over
    the time from the first one's due time to the end of the last), the worst lag of a call's
    start behind its due time, and the schedule's start (``perf_counter_ns``).
    """
    clock = time.perf_counter_ns
    samples = [0] * calls
    total, acc, max_lag = warmup + calls, 0, 0
    start = clock() + START_DELAY_NS
    end = start
    for i in range(total):
        due = start + i * NS_PER_S // rate
        while clock() < due:
            acc = (acc * 31 + i) & 0xFFFF  # the event loop's own work between calls
        begin = clock()
        log("order placed", symbol="BTCUSDT", price=123.45, qty=0.5)
        end = clock()
        if i >= warmup:
            samples[i - warmup] = end - begin
            max_lag = max(max_lag, begin - due)
    span = end - due_ns(start, warmup, rate)
    achieved = calls * NS_PER_S / span
    return {"samples": samples, "achieved_rate": achieved, "max_lag_ns": max_lag, "start_ns": start}


def paced_stats(samples: list[int]) -> dict[str, Any]:
    """Mean, nearest-rank p50/p99/p99.9, max, and the calls strictly over 100 us and 1 ms."""
    ordered = sorted(samples)
    return {
        "mean": statistics.fmean(ordered),
        "p50": percentile(ordered, 50),
        "p99": percentile(ordered, 99),
        "p999": percentile(ordered, 99.9),
        "max": ordered[-1],
        "over_100us": len(ordered) - bisect.bisect_right(ordered, OVER_100US),
        "over_1ms": len(ordered) - bisect.bisect_right(ordered, OVER_1MS),
    }


def measure_paced(setup: Setup, path: Path, calls: int, rate: int) -> dict[str, Any]:
    """In a child: set up, make the paced calls, close, and count the lines in the file."""
    contender = setup(path)
    warmup = min(WARMUP_CALLS, calls)
    run = paced_calls(contender.log, calls, rate, warmup)
    contender.close()
    result: dict[str, Any] = {
        "rate": rate,
        "calls": calls,
        "offered": warmup + calls,
        "stats": paced_stats(run["samples"]),
        "achieved_rate": run["achieved_rate"],
        "max_lag_ns": run["max_lag_ns"],
    }
    if contender.writes_file:
        result["check"] = check_file(path, warmup + calls)
    return result


# Orchestration (parent side)


def _rotated(names: Sequence[str], by: int) -> list[str]:
    shift = by % len(names) if names else 0
    return [*names[shift:], *names[:shift]]


def _one_round(
    names: list[str], calls: dict[int, int], workdir: Path, runs: dict[str, dict[int, list[Any]]]
) -> None:
    for rate, count in calls.items():
        for name in names:
            result = run_child("paced", name, count, workdir, extra=(str(rate),))
            runs[name][rate].append(result)
            (workdir / f"{name}-paced.jsonl").unlink(missing_ok=True)


def run_paced(
    names: Sequence[str], calls: dict[int, int], rounds: int, note: Note = print
) -> dict[str, Any]:
    """*rounds* interleaved rounds of every contender at every rate (*calls*: rate -> calls)."""
    runs: dict[str, dict[int, list[Any]]] = {name: {rate: [] for rate in calls} for name in names}
    active, skipped = list(names), {}
    with tempfile.TemporaryDirectory(prefix="hft-bench-paced-") as tmp:
        for round_ in range(rounds):
            note(f"paced round {round_ + 1}/{rounds}: {', '.join(_rotated(active, round_))}")
            _one_round(_rotated(active, round_), calls, Path(tmp), runs)
            for name in list(active):
                reasons = [r["skip"] for rs in runs[name].values() for r in rs if "skip" in r]
                if reasons:
                    note(f"  skipping {name}: {reasons[0]}")
                    skipped[name] = str(reasons[0])
                    active.remove(name)
    rows = {
        name: {str(rate): aggregate(results) for rate, results in runs[name].items()}
        for name in names
        if name not in skipped
    }
    meta = {"rates": list(calls), "calls": {str(r): c for r, c in calls.items()}, "rounds": rounds}
    return {"meta": meta, "contenders": rows, "skipped": skipped}


def _check_sums(results: list[dict[str, Any]]) -> dict[str, int] | None:
    checks = [r["check"] for r in results if "check" in r]
    if not checks:
        return None
    found = sum(c["lines"] for c in checks)
    return {"expected": sum(c["expected"] for c in checks), "found": found,
            "lost": sum(c["lost"] for c in checks)}  # fmt: skip


def aggregate(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One contender at one rate over the rounds: medians of p50/p99/p99.9 and mean, max of
    max, calls over 100 us / 1 ms summed over all rounds, offered/found/lost summed, the worst
    (lowest) achieved rate and the worst lag."""
    ok = [r for r in results if "stats" in r]
    errors = [str(r["error"]) for r in results if "error" in r]
    if not ok:
        return {"stats": None, "errors": errors, "rounds": results}
    stats = [r["stats"] for r in ok]
    merged = {
        key: statistics.median(s[key] for s in stats) for key in ("mean", "p50", "p99", "p999")
    }
    return {
        "stats": {
            **merged,
            "max": max(s["max"] for s in stats),
            "over_100us": sum(s["over_100us"] for s in stats),
            "over_1ms": sum(s["over_1ms"] for s in stats),
        },
        "calls": sum(r["calls"] for r in ok),
        "offered": sum(r["offered"] for r in ok),
        "check": _check_sums(ok),
        "achieved_rate": min(r["achieved_rate"] for r in ok),
        "max_lag_ns": max(r["max_lag_ns"] for r in ok),
        "errors": errors,
        "rounds": results,
    }
