"""The three runs: the interleaved suite, the exit-without-shutdown run and the memory run.

Rounds are round-robin: every round runs each contender's latency child, then each contender's
throughput child, and the starting contender rotates each round, so a noisy minute on the shared
cores lands on everyone alike rather than on whoever happened to run then.
"""

from __future__ import annotations

import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    WARMUP_CALLS,
    count_lines,
    count_records,
    run_child,
    timer_overhead_ns,
)

__all__ = ["aggregate", "run_exit", "run_memory", "run_suite"]

Note = Callable[[str], None]
_MEDIAN_STATS = ("mean", "p50", "p99", "p999")


def _rotated(names: Sequence[str], by: int) -> list[str]:
    shift = by % len(names) if names else 0
    return [*names[shift:], *names[:shift]]


def _meta(**settings: int) -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "timer_overhead_ns": timer_overhead_ns(),
        "warmup_calls": WARMUP_CALLS,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **settings,
    }


def _one_round(
    names: list[str], counts: dict[str, int], workdir: Path, runs: dict[str, list[dict[str, Any]]]
) -> None:
    for kind in ("latency", "throughput"):
        for name in names:
            result = run_child(kind, name, counts[kind], workdir)
            result["kind"] = kind
            runs[name].append(result)
            (workdir / f"{name}-{kind}.jsonl").unlink(missing_ok=True)


def run_suite(
    names: Sequence[str], calls: int, records: int, rounds: int, note: Note = print
) -> dict[str, Any]:
    """Run *rounds* interleaved rounds and return the aggregated results with their metadata."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    active, skipped = list(names), {}
    with tempfile.TemporaryDirectory(prefix="hft-bench-") as tmp:
        for round_ in range(rounds):
            note(f"round {round_ + 1}/{rounds}: {', '.join(_rotated(active, round_))}")
            _one_round(_rotated(active, round_), {"latency": calls, "throughput": records},
                       Path(tmp), runs)  # fmt: skip
            for name in list(active):
                if reason := _skip_reason(runs[name]):
                    note(f"  skipping {name}: {reason}")
                    skipped[name] = reason
                    active.remove(name)
    contenders = {name: aggregate(runs[name]) for name in names if name not in skipped}
    meta = _meta(calls=calls, records=records, rounds=rounds)
    return {"meta": meta, "contenders": contenders, "skipped": skipped}


def _skip_reason(results: list[dict[str, Any]]) -> str | None:
    reasons = [str(r["skip"]) for r in results if "skip" in r]
    return reasons[0] if reasons else None


# Aggregation


def _median_stats(stats: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not stats:
        return None
    merged = {key: statistics.median(s[key] for s in stats) for key in _MEDIAN_STATS}
    over = sum(s.get("over_2ms", 0) for s in stats)  # all rounds' calls, not a median
    return {**merged, "max": max(s["max"] for s in stats), "over_2ms": over}


def _aggregate_latency(results: list[dict[str, Any]]) -> dict[str, Any]:
    curves = [r["curve"] for r in results]
    return {
        "stats": _median_stats([r["stats"] for r in results]),
        "filtered": _median_stats([r["filtered"] for r in results if r["filtered"]]),
        "curve": [statistics.median(points) for points in zip(*curves, strict=True)],
        "rss_growth_mb": statistics.median(r["rss_growth_mb"] for r in results),
        "lost": max((r["check"]["lost"] for r in results if "check" in r), default=0),
    }


def _aggregate_throughput(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not results or any("na" in r for r in results):
        return None
    return {
        "rate": statistics.median(r["rate"] for r in results),
        "lost": max(r["check"]["lost"] for r in results),
        "payload_ok": all(r["check"]["payload_ok"] for r in results),
        "rss_growth_mb": statistics.median(r["rss_growth_mb"] for r in results),
    }


def aggregate(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over rounds (max of max; worst loss) for one contender's per-round results."""
    ok = [r for r in results if "error" not in r]
    errors = [r["error"] for r in results if "error" in r]
    latency = [r for r in ok if r["kind"] == "latency"]
    throughput = [r for r in ok if r["kind"] == "throughput"]
    return {
        "latency": _aggregate_latency(latency) if latency else None,
        "throughput": _aggregate_throughput(throughput),
        "errors": errors,
        "rounds": [{k: v for k, v in r.items() if k != "curve"} for r in results],
    }


# Exit and memory runs


def _exit_row(name: str, records: int, workdir: Path) -> dict[str, Any]:
    exited = run_child("exit", name, records, workdir)
    if "skip" in exited or "error" in exited:
        return exited
    path = workdir / f"{name}-exit.jsonl"
    lines = count_lines(path) if path.exists() else 0
    found = count_records(path) if lines else 0
    path.unlink(missing_ok=True)
    steady = run_child("throughput", name, records, workdir)
    return {
        "records": records,
        "lines": lines,
        "lost": records - found,
        "logging_s": (exited["t_logged_ns"] - exited["t_first_ns"]) / 1e9,
        "exit_drain_s": (exited["t_exited_ns"] - exited["t_logged_ns"]) / 1e9,
        "exit_total_s": (exited["t_exited_ns"] - exited["t_first_ns"]) / 1e9,
        "steady_total_s": steady.get("seconds"),
        "hft": exited.get("hft"),
    }


def run_exit(names: Sequence[str], records: int, note: Note = print) -> dict[str, Any]:
    """Per contender: log *records*, return from main without shutdown, count what reached disk."""
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="hft-bench-exit-") as tmp:
        for name in names:
            note(f"exit: {name}")
            rows[name] = _exit_row(name, records, Path(tmp))
    return {"meta": _meta(records=records), "contenders": rows}


def run_memory(names: Sequence[str], records: int, note: Note = print) -> dict[str, Any]:
    """Per contender: log *records* in a loop and sample RSS after the first (warm-up) slice."""
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="hft-bench-mem-") as tmp:
        for name in names:
            note(f"memory: {name}")
            rows[name] = run_child("memory", name, records, Path(tmp))
    return {"meta": _meta(records=records), "contenders": rows}
