"""What the backtrace costs at the call site and in memory (not a test).

Run: ``.venv/bin/python -m benchmarks.live_backtrace``. One running pipeline per case, the
file (INFO, in its writer process) as its only backend, so the calls are what a trading
process pays: an enabled INFO call (the byte lane), a DEBUG call kept by the backtrace
(capacity 2000, kept full: each call also drops the oldest record), the no-op (DEBUG with the
backtrace off), and an ERROR call with the backtrace on, its ring empty and full (2000 kept
records to flush). Calls are timed in batches (per call: the batch's time / its calls);
each figure is the median of the batch medians of ``REPEATS`` rounds, with their range. The
pipeline is flushed between batches, untimed. Memory: the bytes one kept record holds, by
tracemalloc (:func:`kept_bytes`), and so the ring at capacity 2000.
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hft.logging import INFO, HFTLogger
from hft.logging.factory import create_pipeline_from_config
from hft.logging.native import native_paths
from hft.logging.pipeline.pipeline import LoggingPipeline
from hft.logging.testing import CapturingBackend

CAPACITY = 2000
BATCH = 1000
BATCHES = 15
REPEATS = 5
FULL_FLUSHES = 30  #: ERROR calls timed one by one, each with a full ring to flush
MEMORY_RECORDS = 100_000


def _pipeline(folder: Path, name: str, backtrace: bool) -> LoggingPipeline:
    settings = {
        "backends": {
            "console": {"enabled": False},
            "file": {"file_path": str(folder / f"{name}.log"), "level": "INFO"},
        },
        "backtrace": {"enabled": backtrace, "capacity": CAPACITY},
    }
    return create_pipeline_from_config(settings).start()


def _call(method: Callable[..., None]) -> Callable[[int], None]:
    def call(n: int) -> None:
        method("book update", symbol="BTCUSDT", bid=101.25, ask=101.5, n=n)

    return call


def per_call_ns(call: Callable[[int], None], flush: Callable[[], Any]) -> float:
    """Median over batches of ns per call."""
    clock, samples = time.perf_counter_ns, []
    for _ in range(BATCHES):
        start = clock()
        for n in range(BATCH):
            call(n)
        samples.append((clock() - start) / BATCH)
        flush()
    return statistics.median(samples)


def flush_ns(log: HFTLogger, fill: Callable[[int], None]) -> float:
    """Median ns of one ERROR call that flushes a full ring (refilled, untimed, before each)."""
    clock, samples = time.perf_counter_ns, []
    for _ in range(FULL_FLUSHES):
        for n in range(CAPACITY):
            fill(n)
        start = clock()
        log.error("order rejected", order_id="o-1", reason="post only")
        samples.append(clock() - start)
        log.pipeline.flush()
    return statistics.median(samples)


def kept_bytes(records: int = MEMORY_RECORDS) -> float:
    """Bytes one kept record holds: its tuples, its seq, ts and ``n`` ints, two fresh floats.

    A ring of *records* is filled from empty (tracemalloc counts what it then holds): large,
    so that the interpreter's free lists (2000 tuples of a size) hardly count; the strings
    (message, names, symbol) are the call's own, shared by every record.
    """
    pipeline = LoggingPipeline([CapturingBackend(INFO)], backtrace=records)  # never started
    debug = HFTLogger(pipeline, "exchange.mexc.book", ["mexc"]).debug
    debug("book update", symbol="BTCUSDT", bid=1.5, ask=2.5, n=10**6)  # warm caches
    backtrace = pipeline.backtrace
    assert backtrace is not None
    backtrace.ring.clear()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for n in range(records):
        debug("book update", symbol="BTCUSDT", bid=101.25 + n / 100, ask=101.5 + n / 100, n=n)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    pipeline.close()
    return sum(s.size_diff for s in after.compare_to(before, "filename")) / records


def one_round(folder: Path, round_no: int) -> dict[str, float]:
    """Every figure once, on fresh pipelines."""
    on = _pipeline(folder, f"on-{round_no}", backtrace=True)
    off = _pipeline(folder, f"off-{round_no}", backtrace=False)
    log_on = HFTLogger(on, "exchange.mexc.book", ["mexc"])
    log_off = HFTLogger(off, "exchange.mexc.book", ["mexc"])
    assert log_on.debug is not log_off.debug  # kept, and the no-op
    flush_on, flush_off = on.flush, off.flush
    keep = _call(log_on.debug)
    for n in range(CAPACITY):
        keep(n)  # the ring full, as in a long session
    figures = {
        "info (enabled, lane)": per_call_ns(_call(log_on.info), flush_on),
        "debug kept (backtrace)": per_call_ns(keep, flush_on),
        "debug no-op (off)": per_call_ns(_call(log_off.debug), flush_off),
        "error, backtrace off": per_call_ns(_call(log_off.error), flush_off),
    }
    if on.backtrace is not None:
        on.backtrace.ring.clear()
    figures["error, ring empty"] = per_call_ns(_call(log_on.error), flush_on)
    figures["error, 2000 kept"] = flush_ns(log_on, keep)
    on.close()
    off.close()
    return figures


def main() -> int:
    """Print each figure's median and range over the rounds, and the memory per record."""
    print(f"paths: {native_paths()}  batch {BATCH} x {BATCHES}, {REPEATS} rounds")
    with tempfile.TemporaryDirectory() as folder:
        rounds = [one_round(Path(folder), r) for r in range(REPEATS)]
    for name in rounds[0]:
        values = [r[name] for r in rounds]
        print(
            f"{name:<24} median {statistics.median(values):9.0f} ns"
            f"   range {min(values):.0f}-{max(values):.0f} ns"
        )
    ratios = [r["debug kept (backtrace)"] / r["info (enabled, lane)"] for r in rounds]
    print(f"kept debug / info        median {statistics.median(ratios):.2f}"
          f"   range {min(ratios):.2f}-{max(ratios):.2f}")  # fmt: skip
    size = kept_bytes()
    whole = size * CAPACITY / 1024
    print(f"kept record: {size:.0f} bytes; ring at capacity {CAPACITY}: {whole:.0f} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
