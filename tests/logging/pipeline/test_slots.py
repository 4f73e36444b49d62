"""BackendSlot: the retry, failover and recovery state machine, step by step on a fake clock."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from hft.logging.pipeline.slots import BackendSlot
from hft.logging.record import Record, Source
from hft.logging.testing import FailingBackend

_SOURCE = Source.create("t", (), {})


def _records(start: int, n: int) -> list[Record]:
    return [(i, 0, 20, _SOURCE, "m", {"i": i}) for i in range(start, start + n)]


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class ListFallback:
    """Keeps what it is given; fails while ``broken``."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.broken = False

    def write(self, records: Sequence[Record]) -> None:
        if self.broken:
            raise OSError("fallback down too")
        self.records.extend(records)


class Harness:
    """A slot around a FailingBackend, with its clock, fallback and warnings."""

    def __init__(self, failures: int | None, *, retries: int = 3, failover: bool = True) -> None:
        self.backend = FailingBackend(failures=failures)
        self.clock = Clock()
        self.fallback = ListFallback()
        self.warnings: list[tuple[str, dict[str, Any]]] = []
        self.slot = BackendSlot(
            self.backend,
            max_retry_attempts=retries,
            enable_failover=failover,
            fallback=self.fallback,
            warn=lambda msg, **fields: self.warnings.append((msg, fields)),
            backoff_s=0.005,
            probe_interval_s=1.0,
            max_pending=100,
            clock=self.clock,
        )

    def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        self.slot.tick(self.clock.now)

    def written(self) -> list[object]:
        return [r.fields["i"] for r in self.backend.records]

    def assert_accounted(self) -> None:
        s = self.slot.stats()
        assert s.written + s.failed_over + s.lost + s.pending == s.routed


class TestHealthy:
    def test_batches_are_written_at_once(self) -> None:
        """A healthy backend gets every batch on delivery, nothing is held."""
        h = Harness(failures=0)
        h.slot.deliver(_records(0, 5))
        assert h.written() == [0, 1, 2, 3, 4]
        assert h.slot.stats().state == "healthy"
        h.assert_accounted()


class TestRetrying:
    def test_failed_batch_is_held_not_retried_at_once(self) -> None:
        """A failing write holds the batch; no retry happens before the backoff is over."""
        h = Harness(failures=None)
        h.slot.deliver(_records(0, 3))
        assert h.backend.attempts == 1
        assert h.slot.stats().retrying
        assert h.slot.pending == 3
        h.advance(0.001)
        assert h.backend.attempts == 1
        h.assert_accounted()

    def test_backoff_doubles_between_retries(self) -> None:
        """Retries come after 5 ms, then 10 ms more, then 20 ms more."""
        h = Harness(failures=None, retries=5)
        h.slot.deliver(_records(0, 1))
        attempts = []
        for _ in range(40):
            h.advance(0.001)
            attempts.append(h.backend.attempts)
        assert [attempts.index(n) + 1 for n in (2, 3, 4)] == [5, 15, 35]

    def test_transient_failure_recovers_in_order_without_warning(self) -> None:
        """Held batches and newer ones are written in order by the retry that works."""
        h = Harness(failures=2)
        h.slot.deliver(_records(0, 3))
        h.slot.deliver(_records(3, 2))
        h.advance(0.005)  # retry 1 fails
        h.advance(0.010)  # retry 2 works
        assert h.written() == [0, 1, 2, 3, 4]
        assert h.slot.healthy
        assert h.warnings == []
        stats = h.slot.stats()
        assert (stats.write_errors, stats.retries, stats.written) == (2, 2, 5)
        h.assert_accounted()

    def test_too_much_held_gives_up_early(self) -> None:
        """More than ``max_pending`` held records sends them, and what follows, to the fallback."""
        h = Harness(failures=None)
        for n in range(0, 110, 10):
            h.slot.deliver(_records(n, 10))
        assert h.slot.stats().unhealthy
        assert len(h.fallback.records) == 110
        h.slot.deliver(_records(110, 10))
        assert len(h.fallback.records) == 120
        assert len(h.warnings) == 1
        h.assert_accounted()


class TestUnhealthy:
    def _fail(self, h: Harness) -> None:
        h.slot.deliver(_records(0, 4))
        for delay in (0.005, 0.010, 0.020):
            h.advance(delay)

    def test_exhausted_retries_fail_over_with_one_warning(self) -> None:
        """After max_retry_attempts failed retries, held records go to the fallback; one warning."""
        h = Harness(failures=None)
        self._fail(h)
        assert h.slot.stats().unhealthy
        assert [r[0] for r in h.fallback.records] == [0, 1, 2, 3]
        h.slot.deliver(_records(4, 2))
        assert [w[0] for w in h.warnings] == ["logging backend failed"]
        assert h.warnings[0][1]["error"] == "OSError: [Errno 28] No space left on device"
        assert h.slot.stats().failed_over == 6
        h.assert_accounted()

    def test_no_probe_before_the_interval(self) -> None:
        """While unhealthy the backend is not tried until the probe interval has passed."""
        h = Harness(failures=None)
        self._fail(h)
        attempts = h.backend.attempts
        h.clock.now += 0.5
        h.slot.deliver(_records(4, 1))
        assert h.backend.attempts == attempts

    def test_probe_recovers_and_warns_once(self) -> None:
        """A probe that works makes the backend healthy again, with one recovery warning."""
        h = Harness(failures=None)
        self._fail(h)
        h.backend.failures = 0
        h.clock.now += 1.0
        h.slot.deliver(_records(4, 2))
        h.slot.deliver(_records(6, 1))
        assert h.written() == [4, 5, 6]
        assert [w[0] for w in h.warnings] == ["logging backend failed", "logging backend recovered"]
        assert h.warnings[1][1]["failed_over"] == 4
        assert h.slot.healthy
        h.assert_accounted()

    def test_failed_probe_waits_another_interval(self) -> None:
        """A probe that fails fails over its batch and the next probe is an interval later."""
        h = Harness(failures=None)
        self._fail(h)
        h.clock.now += 1.0
        before = h.backend.attempts
        h.slot.deliver(_records(4, 1))
        h.slot.deliver(_records(5, 1))
        assert h.backend.attempts == before + 1
        assert h.slot.stats().failed_over == 6
        h.assert_accounted()


class TestWithoutFailover:
    def test_records_are_lost_counted_and_warned_once(self) -> None:
        """With failover disabled, records of a failed backend are counted lost, one warning."""
        h = Harness(failures=None, failover=False)
        h.slot.deliver(_records(0, 4))
        for delay in (0.005, 0.010, 0.020):
            h.advance(delay)
        h.slot.deliver(_records(4, 3))
        stats = h.slot.stats()
        assert (stats.lost, stats.failed_over, len(h.fallback.records)) == (7, 0, 0)
        assert len(h.warnings) == 1
        h.assert_accounted()

    def test_zero_retries_give_up_at_once(self) -> None:
        """``max_retry_attempts: 0`` goes straight from the failed write to the fallback."""
        h = Harness(failures=None, retries=0)
        h.slot.deliver(_records(0, 2))
        assert h.slot.stats().unhealthy
        assert len(h.fallback.records) == 2

    def test_fallback_failing_too_counts_lost(self) -> None:
        """When the fallback also raises, the records are counted lost, not failed over."""
        h = Harness(failures=None, retries=0)
        h.fallback.broken = True
        h.slot.deliver(_records(0, 2))
        assert (h.slot.stats().lost, h.slot.stats().failed_over) == (2, 0)
        h.assert_accounted()


class TestSettle:
    @pytest.mark.parametrize(("failures", "written", "failed_over"), [(1, 3, 0), (None, 0, 3)])
    def test_nothing_stays_held_at_shutdown(
        self, failures: int | None, written: int, failed_over: int
    ) -> None:
        """Settling tries held records once more, then fails them over; none stay pending."""
        h = Harness(failures=failures)
        h.slot.deliver(_records(0, 3))
        h.slot.settle()
        stats = h.slot.stats()
        assert (stats.written, stats.failed_over, stats.pending) == (written, failed_over, 0)
        h.assert_accounted()
