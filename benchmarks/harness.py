"""Timing, statistics, output checks, and the child processes that run one measurement each.

Design: every measurement of every contender runs in a fresh child interpreter
(``python -m benchmarks _child KIND NAME N DIR``), and the parent (:mod:`benchmarks.suite`) only
orchestrates and aggregates. That buys three things: peak RSS (``ru_maxrss``) is the contender's
own, since nothing else ran in that process; no contender inherits another's threads, global
configuration (loguru and structlog configure module-level state), heap fragmentation or warmed
caches; and a contender that crashes or hangs costs one row, not the run. The price, an
interpreter start per measurement, is paid outside every timed region. The child reports one
JSON object on its last stdout line; exit status 3 means "skipped" with the reason in ``skip``.
The child's entry point, which picks the measurement, is :mod:`benchmarks.child`.

The garbage collector stays on: a collection triggered by a contender's own allocations (records
piling up in a queue, say) is part of what that contender costs at the call site.
"""

from __future__ import annotations

import bisect
import importlib.util
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from benchmarks.contenders import LogCall, Setup, unavailable

__all__ = [
    "ALLOW_PURE_ENV",
    "CURVE_PERCENTILES",
    "REFUSED_STATUS",
    "SKIP_STATUS",
    "WARMUP_CALLS",
    "LatencyStats",
    "check_file",
    "count_lines",
    "has_payload",
    "hft_build",
    "measure_latency",
    "measure_throughput",
    "percentile",
    "probe_hft",
    "refusal",
    "run_child",
    "summarize",
    "time_calls",
]

SKIP_STATUS = 3
REFUSED_STATUS = 4  #: an hft child found its C paths missing and was not allowed to go on
#: Set (to "1") by ``--allow-pure-python``: hft rows may then be measured without the C paths.
ALLOW_PURE_ENV = "HFT_BENCH_ALLOW_PURE_PYTHON"
WARMUP_CALLS = 2_000
SLOW_CALL_NS = 2_000_000  #: a call slower than this counts in the ">2ms" column
MESSAGE = "order placed"
PAYLOAD: tuple[object, ...] = (MESSAGE, "BTCUSDT", 123.45, 0.5)
CURVE_PERCENTILES: tuple[float, ...] = (
    *range(1, 100),
    99.5, 99.7, 99.8, 99.9, 99.95, 99.97, 99.99, 100.0,
)  # fmt: skip
_REPO_ROOT = Path(__file__).resolve().parents[1]

# Statistics


def percentile(ordered: list[int], q: float) -> int:
    """Nearest-rank percentile of an ascending list: the smallest value >= q% of the samples."""
    if not ordered:
        raise ValueError("percentile of no samples")
    rank = math.ceil(round(q * len(ordered) / 100, 9))  # round: 99.9% of 1000 is 999, not 999.0..1
    return ordered[min(max(rank, 1), len(ordered)) - 1]


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """Per-call latency in ns: mean, p50, p99, p99.9, max, and how many calls took over 2 ms."""

    mean: float
    p50: int
    p99: int
    p999: int
    max: int
    over_2ms: int


def summarize(samples: list[int]) -> LatencyStats:
    """Mean and nearest-rank percentiles of *samples* (in any order)."""
    ordered = sorted(samples)
    return LatencyStats(
        mean=statistics.fmean(ordered),
        p50=percentile(ordered, 50),
        p99=percentile(ordered, 99),
        p999=percentile(ordered, 99.9),
        max=ordered[-1],
        over_2ms=len(ordered) - bisect.bisect_right(ordered, SLOW_CALL_NS),
    )


def curve(samples: list[int]) -> list[int]:
    """The latency at each of :data:`CURVE_PERCENTILES`, for the chart."""
    ordered = sorted(samples)
    return [percentile(ordered, q) for q in CURVE_PERCENTILES]


def timer_overhead_ns(calls: int = 100_000) -> int:
    """Median cost of the two clock reads that bracket every timed call."""
    clock = time.perf_counter_ns
    return statistics.median_low([-clock() + clock() for _ in range(calls)])


# Timing


def time_calls(log: LogCall, calls: int) -> list[int]:
    """Time each of *calls* benchmark calls with ``perf_counter_ns`` around the call alone."""
    samples = [0] * calls
    clock = time.perf_counter_ns
    for i in range(calls):
        start = clock()
        log("order placed", symbol="BTCUSDT", price=123.45, qty=0.5)
        samples[i] = clock() - start
    return samples


def _rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# Output checks


def _leaves(value: object) -> Iterator[object]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def has_payload(line: bytes) -> bool:
    """Whether *line* is a JSON object carrying the message and the three fields' values."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    leaves = list(_leaves(record)) if isinstance(record, dict) else []
    return all(expected in leaves for expected in PAYLOAD)


def count_lines(path: Path) -> int:
    """Lines in *path*, counting a final line without its newline."""
    count, last = 0, b"\n"
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _edge_lines(path: Path) -> list[bytes]:
    """The first line and the last one with the benchmark's message (a logger may end its
    file with a line of its own, such as hft's report of what a lossy policy dropped)."""
    with path.open("rb") as file:
        first = file.readline()
        file.seek(max(0, path.stat().st_size - (1 << 16)))
        tail = file.read().rstrip(b"\n").split(b"\n")
    ours = [line for line in tail if MESSAGE.encode() in line]
    return [first, (ours or tail)[-1]]


def count_records(path: Path) -> int:
    """The benchmark's records in *path*: the lines that carry its message (a logger may add
    lines of its own, such as hft's warning that a console dropped what it could not show)."""
    needle = MESSAGE.encode()
    with path.open("rb") as file:
        return sum(needle in line for line in file)


def check_file(path: Path, expected: int) -> dict[str, Any]:
    """Line count, loss against *expected* (the benchmark's records, counted by its message),
    and whether the first and last lines are well formed."""
    lines = count_lines(path) if path.exists() else 0
    records = count_records(path) if lines else 0
    payload_ok = lines > 0 and all(has_payload(line) for line in _edge_lines(path))
    return {
        "expected": expected,
        "lines": lines,
        "lost": expected - records,
        "payload_ok": payload_ok,
    }


# Measurements (run inside a child)


def measure_latency(setup: Setup, path: Path, calls: int) -> dict[str, Any]:
    """Warm up, time *calls* calls and *calls* filtered calls, close, and check the file."""
    rss_before = _rss_peak_mb()
    contender = setup(path)
    time_calls(contender.log, WARMUP_CALLS)
    samples = time_calls(contender.log, calls)
    filtered = time_calls(contender.log_filtered, calls) if contender.log_filtered else None
    contender.close()
    result: dict[str, Any] = {
        "stats": asdict(summarize(samples)),
        "curve": curve(samples),
        "filtered": asdict(summarize(filtered)) if filtered else None,
        "rss_growth_mb": _rss_peak_mb() - rss_before,
    }
    if contender.writes_file:
        result["check"] = check_file(path, WARMUP_CALLS + calls)
    return result


def measure_throughput(setup: Setup, path: Path, records: int) -> dict[str, Any]:
    """Log *records* flat out, close, count; rate is records / (first call to file closed)."""
    rss_before = _rss_peak_mb()
    contender = setup(path)
    if not contender.writes_file:
        contender.close()
        return {"na": "writes no file"}
    log = contender.log
    start = time.perf_counter()
    for _ in range(records):
        log("order placed", symbol="BTCUSDT", price=123.45, qty=0.5)
    contender.close()
    seconds = time.perf_counter() - start
    check = check_file(path, records)
    rss = _rss_peak_mb() - rss_before
    return {"seconds": seconds, "rate": records / seconds, "rss_growth_mb": rss, "check": check}


def log_then_exit(setup: Setup, path: Path, records: int) -> dict[str, Any]:
    """Log *records* and return WITHOUT closing: whatever is written happens at interpreter exit."""
    log = setup(path).log
    first = time.monotonic_ns()
    for _ in range(records):
        log("order placed", symbol="BTCUSDT", price=123.45, qty=0.5)
    return {"t_first_ns": first, "t_logged_ns": time.monotonic_ns()}


def _rss_now_mb() -> float:
    resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def measure_memory(setup: Setup, path: Path, records: int, samples: int = 20) -> dict[str, Any]:
    """Log *records* in *samples* slices, sampling RSS after each; slice 1 is the warm-up.

    The loop logs flat out, so an unbounded queue whose writer is slower than the caller shows its
    backlog here as growth; a bounded ring should stay flat (and show any drops as LOST).
    """
    contender = setup(path)
    log, per_slice, rss = contender.log, max(records // samples, 1), []
    for _ in range(samples):
        for _ in range(per_slice):
            log("order placed", symbol="BTCUSDT", price=123.45, qty=0.5)
        rss.append(_rss_now_mb())
    contender.close()
    check = check_file(path, per_slice * samples) if contender.writes_file else None
    path.unlink(missing_ok=True)
    growth = rss[-1] - rss[0]
    return {"rss_mb": rss, "growth_mb": growth, "peak_mb": max(rss), "check": check}


def hft_build() -> dict[str, Any]:
    """Where ``hft`` was imported from and which of its C fast paths this process loaded."""
    import hft
    from hft.logging import native_paths

    paths = native_paths()
    missing = [name for name, loaded in paths.items() if not loaded]
    return {"origin": str(Path(hft.__file__).parent), "native": paths, "missing": missing}


def _refusal(build: dict[str, Any]) -> str | None:
    if not build["missing"] or os.environ.get(ALLOW_PURE_ENV) == "1":
        return None
    return (
        f"hft from {build['origin']} runs without its C paths ({', '.join(build['missing'])}):"
        " build them (`pip install -e .` or `python setup.py build_ext --inplace`), or pass"
        " --allow-pure-python to measure the pure-Python paths on purpose"
    )


# Orchestration (parent side)


def _child_env() -> dict[str, str]:
    """The parent's environment, with this checkout importable as ``benchmarks``.

    hft comes from wherever this interpreter finds it (an installed wheel, an editable install
    with its C paths built in place); only when it finds none does the checkout's ``src/``
    serve, and the child then reports whether that tree has its C paths built.
    """
    paths = [str(_REPO_ROOT)]
    if importlib.util.find_spec("hft") is None:
        paths.append(str(_REPO_ROOT / "src"))
    paths.append(os.environ.get("PYTHONPATH", ""))
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def probe_hft() -> dict[str, Any]:
    """What an hft child would run: ``hft_build()`` in a fresh interpreter, or ``{"error": …}``."""
    argv = [sys.executable, "-m", "benchmarks", "_build"]
    proc = subprocess.run(argv, capture_output=True, env=_child_env(), check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-3:]
        return {"error": f"hft does not import: {' | '.join(tail)}"}
    build: dict[str, Any] = orjson.loads(lines[-1])
    return build


def refusal(build: dict[str, Any]) -> str | None:
    """Why hft must not be reported with *build* (its C paths missing, not allowed), or None."""
    return build.get("error") or _refusal(build)


def run_child(
    kind: str, name: str, count: int, workdir: Path, extra: Sequence[str] = ()
) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; the result, or ``{"skip"|"error": reason}``."""
    if reason := unavailable(name):
        return {"skip": reason}
    argv = [sys.executable, "-m", "benchmarks", "_child", kind, name, str(count), str(workdir),
            *extra]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, env=_child_env(), check=False)
    finished = time.monotonic_ns()
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == REFUSED_STATUS and lines:
        refused: dict[str, Any] = orjson.loads(lines[-1])
        return refused
    if proc.returncode not in (0, SKIP_STATUS) or not lines:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-3:]
        return {"error": f"exit status {proc.returncode}: {' | '.join(tail)}"}
    result: dict[str, Any] = orjson.loads(lines[-1])
    result["t_exited_ns"] = finished
    return result
