"""Rings: what a slice takes first, where a resized ring's records go, and drop accounting."""

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
    def test_audit_records_come_first_then_retired_rings_then_the_main_ring(self) -> None:
        """A slice takes the audit ring first, then rings a resize retired (oldest records),
        then the main ring; an emptied retired ring is let go."""
        rings = _rings()
        old = _record(rings)
        rings.ring.append(old)
        rings.resize(200)
        new, audit = _record(rings), _record(rings, AUDIT)
        rings.ring.append(new)
        rings.audit_ring.append(audit)
        assert rings.take(10) == [audit, old, new]
        assert (rings.retired, rings.capacity, rings.front) == ([], 200, new[0])

    def test_a_slice_takes_at_most_its_limit(self) -> None:
        """``take`` pops no more than *limit* records; the rest wait for the next slice."""
        rings = _rings()
        records = [_record(rings) for _ in range(5)]
        rings.ring.extend(records)
        assert (rings.take(3), list(rings.ring)) == (records[:3], records[3:])

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

    def test_a_refused_number_is_dropped_and_a_taken_one_is_not(self) -> None:
        """Every number handed out is taken, waiting, or dropped: a refused one is dropped."""
        rings = _rings()
        taken, refused, waiting = _record(rings), _record(rings), _record(rings)
        rings.ring.append(taken)
        rings.take(1)
        rings.drops.take(1, taken[0])
        rings.note_refused(refused[0])
        rings.ring.append(waiting)
        assert (rings.issued(), rings.dropped()) == (3, 1)
