"""Rings: waking waiters as a slice is taken, and drop accounting."""

from __future__ import annotations

import threading

from hft.logging import HFTLogger, LoggingPipeline
from hft.logging.levels import AUDIT, INFO
from hft.logging.pipeline.rings import OverflowPolicy, Rings
from hft.logging.record import Record, Source
from hft.logging.testing import CapturingBackend

_SOURCE = Source.create("t", (), {})


def _rings(capacity: int = 100, policy: OverflowPolicy = "block") -> Rings:
    return Rings(capacity, policy, gc_threshold=0.8, running=lambda: True)


def _record(rings: Rings, level: int = INFO) -> Record:
    return (rings.next_seq(), 0, level, _SOURCE, "m", {})


class TestTake:
    def test_taking_audit_records_wakes_waiters_under_drop_oldest(self) -> None:
        """A call site blocked on a full audit ring is woken as soon as audit records are taken."""
        rings = _rings(policy="drop_oldest")
        notified: list[bool] = []

        class Spy(threading.Condition):
            def notify_all(self) -> None:
                notified.append(True)
                super().notify_all()

        rings._audit_gate.cond = Spy(threading.Lock())
        rings.audit_ring.append(_record(rings, AUDIT))
        rings._audit_gate.waiters = 1  # as if an audit call site were waiting for room
        rings.take(10)
        rings._audit_gate.waiters = 0
        assert notified == [True]


class TestDropped:
    def test_pending_audit_records_are_not_counted_dropped(self) -> None:
        """Audit records waiting in their own ring are pending, not dropped."""
        pipeline = LoggingPipeline([CapturingBackend()])
        logger = HFTLogger(pipeline, "ops")
        logger.audit("a")
        logger.info("b")
        assert pipeline.dropped == 0
        pipeline.close()
        assert pipeline.dropped == 0
