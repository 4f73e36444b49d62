"""Call-site cost of ``logger.audit`` against ``logger.info`` (not a test).

Both calls go through one running pipeline, with a JSON file backend for ``info`` and the
audit backend (fsync every batch) for ``audit``. Only the calls are timed, in bursts smaller
than the ring so that the common case is measured (a free slot), not the disk: between bursts
the pipeline is flushed, untimed. Run: ``.venv/bin/python benchmarks/audit_callsite.py``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hft.logging import AuditBackend, FileBackend, HFTLogger, LoggingPipeline

BURST = 1_000
BURSTS = 50


def per_call_ns(call: Callable[..., None], flush: Callable[[], Any]) -> float:
    """Median over bursts of the time per call, in nanoseconds."""
    samples = []
    for burst in range(BURSTS):
        start = time.perf_counter_ns()
        for n in range(BURST):
            call("order.placed", n=n, symbol="BTCUSDT", qty=1.5, burst=burst)
        samples.append((time.perf_counter_ns() - start) / BURST)
        flush()
    return statistics.median(samples)


def main() -> int:
    """Print the per-call time of each and their ratio."""
    with tempfile.TemporaryDirectory() as folder:
        backends = [
            FileBackend(file_path=Path(folder) / "hft.log", rotation="none"),
            AuditBackend(file_path=Path(folder) / "audit.log"),
        ]
        pipeline = LoggingPipeline(backends, ring_buffer_size=10 * BURST).start()
        logger = HFTLogger(pipeline, "strategy.arb", ["arb"])
        info = per_call_ns(logger.info, logger.flush)
        audit = per_call_ns(logger.audit, logger.flush)
        pipeline.close()
    print(f"logger.info : {info:8.0f} ns per call")
    print(f"logger.audit: {audit:8.0f} ns per call")
    print(f"ratio audit/info: {audit / info:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
