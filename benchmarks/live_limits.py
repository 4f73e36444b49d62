"""What a rate-limited call costs, against an enabled INFO call and the no-op (not a test).

``python -m benchmarks.live_limits [--repeats N] [--number N]`` times, in one process and one
run, through one pipeline with the file backend in its writer process (the shipped path):

- ``nop``: a filtered DEBUG call (the floor);
- ``info``: an enabled INFO call, the reference (C call site, byte lane);
- ``held (kept)`` / ``passed (kept)``: a call through a limited logger kept in a variable, held
  back or let through;
- ``held (inline)`` / ``passed (inline)``: ``log.limit(per_s=...).info(...)`` written at the call,
  so the call site's look-up is in the figure.

Each figure is the median, and the range, of ``--repeats`` timings of ``--number`` calls, in ns a
call; between timings the pipeline is flushed, untimed, so the lane never fills. Prints which C
paths were taken, and the host.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from hft.logging import HFTLogger, create_pipeline_from_config, native_paths

HELD_FOREVER = {"per_s": 0.001, "interval_s": 1000}  # one record a window, then held
NEVER_HELD = {"per_s": 1e6, "interval_s": 1000}  # a budget no run reaches


def timed(
    call: Callable[[int], None], number: int, repeats: int, flush: Callable[[], object]
) -> list[float]:
    """ns a call over *number* calls, *repeats* times (flushed between, untimed)."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        call(number)
        samples.append((time.perf_counter_ns() - start) / number)
        flush()
    return samples


def loops(log: HFTLogger) -> dict[str, Callable[[int], None]]:
    """The calls timed, each as a loop of *n* calls (the loop's own cost is in every figure)."""
    held, passed = log.limit(**HELD_FOREVER), log.limit(**NEVER_HELD)
    held.info("first")  # the one record of its window: every later call is held

    def nop(n: int) -> None:
        debug = log.debug
        for i in range(n):
            debug("book gap", i=i, px=1.5)

    def info(n: int) -> None:
        call = log.info
        for i in range(n):
            call("book gap", i=i, px=1.5)

    def held_kept(n: int) -> None:
        call = held.info
        for i in range(n):
            call("book gap", i=i, px=1.5)

    def passed_kept(n: int) -> None:
        call = passed.info
        for i in range(n):
            call("book gap", i=i, px=1.5)

    def held_inline(n: int) -> None:
        log.limit(**HELD_FOREVER).info("first")
        for i in range(n):
            log.limit(per_s=0.001, interval_s=1000).info("book gap", i=i, px=1.5)

    def passed_inline(n: int) -> None:
        for i in range(n):
            log.limit(per_s=1e6, interval_s=1000).info("book gap", i=i, px=1.5)

    return {
        "nop": nop, "info": info, "held (kept)": held_kept, "passed (kept)": passed_kept,
        "held (inline)": held_inline, "passed (inline)": passed_inline,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Print each call's median and range, and its ratio to the enabled INFO call."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--number", type=int, default=2000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        file = {"file_path": str(Path(folder) / "hft.log"), "rotation": "none", "level": "INFO"}
        config = {"backends": {"file": file}, "hft_settings": {"ring_buffer_size": 100_000}}
        pipeline = create_pipeline_from_config(config).start()
        log = HFTLogger(pipeline, "exchange.mexc.book", ["mexc"])
        results = {
            name: timed(call, args.number, args.repeats, pipeline.flush)
            for name, call in loops(log).items()
        }
        pipeline.close()
    info = statistics.median(results["info"])
    print(f"C paths: {native_paths()}; Python {platform.python_version()}; {os.cpu_count()} CPUs")
    print(f"{'call':16} {'median ns':>10} {'range ns':>14} {'/ info':>7}")
    for name, samples in results.items():
        median = statistics.median(samples)
        spread = f"{min(samples):.0f}-{max(samples):.0f}"
        print(f"{name:16} {median:10.0f} {spread:>14} {median / info:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
