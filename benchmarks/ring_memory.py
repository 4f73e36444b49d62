"""Bytes per ring slot: what one waiting record of the benchmark's call costs in memory.

Run: ``python -m benchmarks.ring_memory``. The pipeline is not started, so every record stays
in the ring; tracemalloc counts what the records (tuple, fields dict, float values) allocate.
The message, logger and field-name strings are shared by all records and not counted.
"""

from __future__ import annotations

import tracemalloc

from hft.logging import HFTLogger, LoggingPipeline
from hft.logging.testing import CapturingBackend

SLOTS = 10_000


def bytes_per_slot(slots: int = SLOTS) -> float:
    """Average bytes held per record waiting in a ring of *slots* records."""
    pipeline = LoggingPipeline([CapturingBackend()], ring_buffer_size=slots)
    logger = HFTLogger(pipeline, "exchange.mexc.orders", ["mexc", "orders"])
    logger.info("order placed", symbol="BTCUSDT", price=123.45, qty=0.5)  # warm caches
    pipeline.ring.clear()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i in range(slots):
        logger.info("order placed", symbol="BTCUSDT", price=123.45 + i, qty=0.5)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    pipeline.close()
    return grown / slots


def main() -> None:
    """Print the figure, and what a full default ring holds."""
    per_slot = bytes_per_slot()
    print(f"{per_slot:.0f} bytes per ring slot (benchmark record: 3 fields, 2 floats)")
    print(f"a full ring of {SLOTS:,} slots holds {per_slot * SLOTS / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
