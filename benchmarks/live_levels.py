"""Levels per logger: what a call costs when ``levels`` filters it, and what a change costs.

Run: ``python -m benchmarks.live_levels``. In one run, against a real file pipeline (writer
process, byte lane): an enabled INFO call, a DEBUG call a ``levels`` entry switched on, a DEBUG
call ``levels`` filters out (the module ``nop``), ``nop`` called directly; then
``set_level`` with 1,000 loggers registered, for a prefix covering all of them and for one
covering one logger. Each figure is the median of several repeats, with their range.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

from hft.logging import HFTLogger, LoggingPipeline, nop
from hft.logging.factory import create_pipeline_from_config

CALLS = 20_000  #: calls per repeat
REPEATS = 9
CHANGES = 20  #: set_level calls per repeat


def per_call_ns(call: Callable[[], None], calls: int = CALLS) -> list[float]:
    """ns per call of *call*, one figure per repeat (the loop's own cost included)."""
    figures = []
    for _ in range(REPEATS):
        start = time.perf_counter_ns()
        for _ in range(calls):
            call()
        figures.append((time.perf_counter_ns() - start) / calls)
    return figures


def pipeline_in(folder: Path) -> LoggingPipeline:
    file = {"file_path": str(folder / "hft.log"), "level": "DEBUG", "rotation": "none"}
    config = {"backends": {"file": file}, "levels": {"": "INFO", "exchange.mexc": "DEBUG"},
              "control": {"enabled": False}}  # fmt: skip
    return create_pipeline_from_config(config).start()


def call_figures(pipeline: LoggingPipeline) -> dict[str, list[float]]:
    """The call-site figures, interleaved so that a busy moment hits them alike."""
    gate, book = HFTLogger(pipeline, "exchange.gateio.book"), HFTLogger(pipeline, "exchange.mexc")
    assert gate.debug is nop
    assert book.debug is not nop
    cases: dict[str, Callable[[], None]] = {
        "enabled INFO call": lambda: gate.info("order placed", qty=1),
        "DEBUG enabled by levels": lambda: book.debug("order placed", qty=1),
        "DEBUG filtered by levels": lambda: gate.debug("order placed", qty=1),
        "nop called directly": lambda: nop("order placed", qty=1),
    }
    figures: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(3):
        for name, call in cases.items():
            figures[name] += per_call_ns(call)
            pipeline.flush(30)
    return figures


def change_figures(pipeline: LoggingPipeline) -> dict[str, list[float]]:
    """µs per ``set_level`` with 1,000 loggers registered."""
    loggers = [HFTLogger(pipeline, f"strategy.s{n}.leg") for n in range(1000)]
    made = per_call_ns(lambda: loggers.append(HFTLogger(pipeline, "strategy.extra")), CHANGES)
    figures = {"a new logger (one bind)": [ns / 1000 for ns in made]}
    for label, prefix in (("set_level, 1,000 loggers affected", "strategy"),
                          ("set_level, 1 of 1,000 affected", "strategy.s7")):  # fmt: skip
        levels = iter(["DEBUG", "WARNING"] * REPEATS * CHANGES)
        change = partial(flip, pipeline, prefix, levels)
        figures[label] = [ns / 1000 for ns in per_call_ns(change, CHANGES)]
    del loggers[1000:]
    return figures


def flip(pipeline: LoggingPipeline, prefix: str, levels: Iterator[str]) -> None:
    pipeline.set_level(prefix, next(levels))


def main() -> None:
    """Print the figures (median and range) and the host they were measured on."""
    with tempfile.TemporaryDirectory() as folder:
        pipeline = pipeline_in(Path(folder))
        calls, changes = call_figures(pipeline), change_figures(pipeline)
        pipeline.close()
    for name, values in calls.items():
        low, mid, high = min(values), statistics.median(values), max(values)
        print(f"{name:36s} median {mid:7.1f} ns/call  range {low:7.1f} - {high:7.1f}")
    for name, values in changes.items():
        low, mid, high = min(values), statistics.median(values), max(values)
        print(f"{name:36s} median {mid:7.1f} µs/call   range {low:7.1f} - {high:7.1f}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    cpus = f"{os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable)"
    print(f"host: {platform.machine()}, {cpus}, load {load}; Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
