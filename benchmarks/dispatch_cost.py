"""The dispatcher's own cost per record: scan, sort/finish and routing to a backend that
does nothing, for plain records, bound context, a redacted field and the settings' secrets.

Run: ``python -m benchmarks.dispatch_cost``. The pipeline is not started; one 50-record slice
(the default ``batch_size``) is dispatched again and again, and the best of 400 rounds of 20
slices is kept (the least disturbed by other processes).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from hft.logging import HFTLogger, LoggingPipeline
from hft.logging.backends.base import BaseBackend
from hft.logging.record import Record

#: Two secrets of typical API-key lengths.
SECRETS = ("sk-" + "A" * 29, "B" * 40)
FIELDS = {"symbol": "BTCUSDT", "price": 123.45, "qty": 0.5}
CASES: list[tuple[str, bool, tuple[str, ...], dict[str, Any]]] = [
    ("plain", False, (), {}),
    ("plain, 2 settings secrets", False, SECRETS, {}),
    ("plain + 60-char field", False, (), {"note": "x" * 60}),
    ("plain + 60-char field, 2 secrets", False, SECRETS, {"note": "x" * 60}),
    ("bound context", True, (), {}),
    ("bound context, 2 secrets", True, SECRETS, {}),
    ("redacted field (signature=)", False, (), {"signature": "0123456789abcdef0123"}),
    ("redacted field, 2 secrets", False, SECRETS, {"signature": "0123456789abcdef0123"}),
]


class NullBackend(BaseBackend):
    """Takes every record and does nothing with it."""

    name = "null"

    def write(self, records: Sequence[Record]) -> None:
        """Nothing."""


def ns_per_record(bind: bool, secrets: tuple[str, ...], extra: dict[str, Any]) -> float:
    """The best time per record of dispatching one 50-record slice of this case."""
    pipeline = LoggingPipeline([NullBackend()], secrets=secrets)
    logger = HFTLogger(pipeline, "bench", ["a"])
    if bind:
        logger = logger.bind(venue="mexc")
    for _ in range(50):
        logger.info("order placed", **FIELDS, **extra)
    batch = list(pipeline.ring)
    pipeline.ring.clear()
    dispatch = pipeline._dispatcher.dispatch
    dispatch(batch)  # the harmless-names memo learns the field names
    best = float("inf")
    for _ in range(400):
        start = time.perf_counter_ns()
        for _ in range(20):
            dispatch(batch)
        best = min(best, (time.perf_counter_ns() - start) / (20 * len(batch)))
    pipeline.close()
    return best


def main() -> None:
    """Print one line per case."""
    for label, bind, secrets, extra in CASES:
        print(f"{label:36s} {ns_per_record(bind, secrets, extra):8.1f} ns/record")


if __name__ == "__main__":
    main()
