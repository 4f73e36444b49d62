"""``python -m benchmarks.live_context``: what a task context costs an enabled call (not a test).

One running pipeline with a JSON file (the writer process, the byte lane), one logger, and, timed
in the same run, timeit-style (``REPEATS`` runs of ``CALLS`` calls, each between flushes,
untimed; median and range per call, in ns):

- ``nop``: ``log.debug`` with DEBUG off (the C no-op);
- ``info, no context read``: the same call site built without the context variable (what the
  call site was before the task context existed), the baseline;
- ``info, context unset``: today's call site, no context set (outside any task, and inside a
  running asyncio task, where the interpreter has a context to look in);
- ``info, 1 field`` / ``info, 2 fields``: inside ``with context(...)``, in an asyncio task.

The machine may be shared: read the figures as ranges, with the host beside them.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hft.logging import (
    INFO,
    HFTLogger,
    LoggingPipeline,
    context,
    create_backend_from_config,
    native_paths,
)
from hft.logging.pipeline import callsites

CALLS = 20_000
REPEATS = 9
Case = tuple[Callable[..., None], dict[str, Any]]  # the call, and the context it runs in


def time_calls(call: Callable[..., None], fields: dict[str, Any]) -> float:
    """Nanoseconds per call of *call*, inside a context of *fields* (none: no context)."""
    with context(**fields):
        start = time.perf_counter_ns()
        for n in range(CALLS):
            call("order.placed", n=n, symbol="BTCUSDT", qty=1.5)
        return (time.perf_counter_ns() - start) / CALLS


def rounds(cases: dict[str, Case], flush: Callable[[], Any]) -> dict[str, list[float]]:
    """Each case timed ``REPEATS`` times, round-robin (no case always first), between flushes."""
    runs: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(REPEATS):
        for name, (call, fields) in cases.items():
            flush()
            runs[name].append(time_calls(call, fields))
    return runs


def without_context(logger: HFTLogger) -> Callable[..., None]:
    """The INFO call site of *logger* built without the context variable (the baseline)."""
    saved = callsites.CONTEXT
    callsites.CONTEXT = None  # type: ignore[assignment]  # Emitter(context=None): no read
    try:
        return callsites.make_emit(logger.pipeline, INFO, logger._source, exc=False)
    finally:
        callsites.CONTEXT = saved


def cases(logger: HFTLogger, in_task: bool) -> dict[str, Case]:
    """What is timed: the no-op, the baseline, and the call with 0, 1 and 2 context fields."""
    where = " (task)" if in_task else ""
    timed: dict[str, Case] = {
        f"nop (debug off){where}": (logger.debug, {}),
        f"info, no context read{where}": (without_context(logger), {}),
        f"info, context unset{where}": (logger.info, {}),
    }
    if in_task:
        timed["info, 1 field (task)"] = (logger.info, {"order_id": 12345})
        timed["info, 2 fields (task)"] = (logger.info, {"order_id": 12345, "strategy": "mm"})
    return timed


async def in_task(logger: HFTLogger) -> dict[str, list[float]]:
    """The cases timed inside a running asyncio task."""
    return rounds(cases(logger, in_task=True), logger.flush)


def measure(folder: Path) -> dict[str, list[float]]:
    """Every case, in one pipeline: outside any task, then inside one."""
    settings = {"file_path": str(folder / "hft.log"), "rotation": "none"}
    backend = create_backend_from_config("file", settings)  # in the writer process
    pipeline = LoggingPipeline([backend], ring_buffer_size=4 * CALLS).start()
    logger = HFTLogger(pipeline, "strategy.mm", ["mm"])
    logger.info("warm", n=0, symbol="", qty=0.0)
    figures = rounds(cases(logger, in_task=False), logger.flush)
    figures.update(asyncio.run(in_task(logger)))
    lane = pipeline.rings.lane
    pushed = 0 if lane is None else lane.lane.pushed
    pipeline.close()
    print(f"records on the byte lane: {pushed} of {1 + REPEATS * CALLS * 6}")
    return figures


def main() -> int:
    """Print each case's median and range per call, and the host."""
    with tempfile.TemporaryDirectory() as folder:
        figures = measure(Path(folder))
    print(f"{'case':30} {'median ns':>9} {'range ns':>15} {'/ baseline':>10}")
    for name, runs in figures.items():
        where = " (task)" if name.endswith(" (task)") else ""
        base = statistics.median(figures[f"info, no context read{where}"])  # same phase's
        median = statistics.median(runs)
        spread = f"{min(runs):.0f}-{max(runs):.0f}"
        print(f"{name:30} {median:9.0f} {spread:>15} {median / base:10.2f}")
    print(
        f"host: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, paths {native_paths()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
