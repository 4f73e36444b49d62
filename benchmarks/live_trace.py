"""``python -m benchmarks.live_trace``: what reading the OpenTelemetry span costs an enabled
call (``logging.trace_context: true``; not a test).

One running pipeline with trace_context on and a JSON file (the writer process, the byte lane),
one logger, real spans of the OpenTelemetry SDK, and, timed in the same run, timeit-style
(``REPEATS`` runs of ``CALLS`` calls, each between flushes, untimed; median and range per call,
in ns):

- ``nop``: ``log.debug`` with DEBUG off (the C no-op);
- ``info, trace_context off``: the call site a pipeline with trace_context off binds (the
  baseline: the call site as it was before tracing existed);
- ``info, on, no span``: the traced call site outside any span;
- ``info, on, same span``: inside one span (the common case: many records per span);
- ``info, on, new span each call``: each call in another span (its ids asked once), and
  ``info, off, same loop``, its baseline: the loop sets OpenTelemetry's context variable to
  another span's context before each call, in both.

The machine may be shared: read the figures as ranges, with the host beside them.
"""

from __future__ import annotations

import contextvars
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from hft.logging import INFO, HFTLogger, LoggingPipeline, create_backend_from_config, native_paths
from hft.logging.pipeline import callsites
from hft.logging.trace_context import load_trace_spec

CALLS = 20_000
REPEATS = 9
#: The call, the span it runs in (None: none), and the contexts to switch to per call (or None).
Case = tuple[Callable[..., None], Any, Sequence[Any] | None]


def time_calls(call: Callable[..., None], span: Any, contexts: Sequence[Any] | None) -> float:
    """Nanoseconds per call of *call*: inside *span*, or each in the next of *contexts*."""

    def loop() -> float:
        var = load_trace_spec().var
        if contexts is not None and var is not None:
            start = time.perf_counter_ns()
            for n in range(CALLS):
                var.set(contexts[n])
                call("order.placed", n=n, symbol="BTCUSDT", qty=1.5)
            return (time.perf_counter_ns() - start) / CALLS
        start = time.perf_counter_ns()
        for n in range(CALLS):
            call("order.placed", n=n, symbol="BTCUSDT", qty=1.5)
        return (time.perf_counter_ns() - start) / CALLS

    if span is None:
        return contextvars.copy_context().run(loop)  # a switched context stays in the copy
    with trace.use_span(span):
        return loop()


def rounds(cases: dict[str, Case], flush: Callable[[], Any]) -> dict[str, list[float]]:
    """Each case timed ``REPEATS`` times, round-robin (no case always first), between flushes."""
    runs: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(REPEATS):
        for name, (call, span, contexts) in cases.items():
            flush()
            runs[name].append(time_calls(call, span, contexts))
    return runs


def untraced(logger: HFTLogger) -> Callable[..., None]:
    """The INFO call site *logger* has with trace_context off (the baseline)."""
    pipeline = logger.pipeline
    saved, pipeline.trace = pipeline.trace, None
    try:
        return callsites.make_emit(pipeline, INFO, logger._source, exc=False)
    finally:
        pipeline.trace = saved


def cases(logger: HFTLogger, tracer: trace.Tracer) -> dict[str, Case]:
    """What is timed: the no-op, the baseline, and the traced call without, in one, and in a
    new span each call (with that loop's own baseline)."""
    span = tracer.start_span("order")
    others = [trace.set_span_in_context(tracer.start_span(f"s{n}")) for n in range(CALLS)]
    off = untraced(logger)
    return {
        "nop (debug off)": (logger.debug, None, None),
        "info, trace_context off": (off, None, None),
        "info, on, no span": (logger.info, None, None),
        "info, on, same span": (logger.info, span, None),
        "info, off, same loop": (off, None, others),
        "info, on, new span each call": (logger.info, None, others),
    }


def measure(folder: Path) -> dict[str, list[float]]:
    """Every case, in one pipeline."""
    settings = {"file_path": str(folder / "hft.log"), "rotation": "none"}
    backend = create_backend_from_config("file", settings)  # in the writer process
    pipeline = LoggingPipeline([backend], ring_buffer_size=4 * CALLS, trace_context=True).start()
    logger = HFTLogger(pipeline, "strategy.mm", ["mm"])
    logger.info("warm", n=0, symbol="", qty=0.0)
    figures = rounds(cases(logger, TracerProvider().get_tracer("bench")), logger.flush)
    lane = pipeline.rings.lane
    pushed = 0 if lane is None else lane.lane.pushed
    pipeline.close()
    print(f"records on the byte lane: {pushed} of {1 + REPEATS * CALLS * 5}")
    return figures


def main() -> int:
    """Print each case's median and range per call, and the host."""
    with tempfile.TemporaryDirectory() as folder:
        figures = measure(Path(folder))
    print(f"{'case':30} {'median ns':>9} {'range ns':>15} {'/ baseline':>10}")
    for name, runs in figures.items():
        loop = name in ("info, off, same loop", "info, on, new span each call")
        base = statistics.median(
            figures["info, off, same loop" if loop else "info, trace_context off"]
        )
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
