"""The pipeline's own health: latencies, throughput, drops, backend counts."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from hft.logging._slots import BackendSlot

_WINDOW_S: Final = 10.0


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Mean and percentiles of a set of latency samples, in microseconds."""

    count: int = 0
    avg_us: float = 0.0
    p50_us: float = 0.0
    p99_us: float = 0.0
    max_us: float = 0.0

    @classmethod
    def of_ns(cls, samples_ns: Iterable[int]) -> LatencySummary:
        """Summarise samples given in nanoseconds."""
        values = sorted(s / 1000.0 for s in samples_ns)
        if not values:
            return cls()
        return cls(
            count=len(values),
            avg_us=sum(values) / len(values),
            p50_us=percentile(values, 0.50),
            p99_us=percentile(values, 0.99),
            max_us=values[-1],
        )


@dataclass(frozen=True, slots=True)
class BackendStats:
    """What happened to one backend's share of the records.

    ``written + failed_over + lost + pending == routed``: every record routed to the backend
    was written, sent to the fallback, lost (no fallback, or the fallback failed too), or is
    still held for a retry. ``state`` is ``healthy``, ``retrying`` or ``unhealthy``.
    """

    name: str
    written: int = 0
    write_errors: int = 0
    retries: int = 0
    failed_over: int = 0
    lost: int = 0
    routed: int = 0
    pending: int = 0
    state: str = "healthy"
    #: The backend's own numbers (its optional ``stats()``), e.g. a syslog connection's state.
    extra: Mapping[str, float] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        """True while batches go straight to the backend."""
        return self.state == "healthy"

    @property
    def retrying(self) -> bool:
        """True while a failed batch waits in the slot for its next retry."""
        return self.state == "retrying"

    @property
    def unhealthy(self) -> bool:
        """True while records go to the fallback (the backend is probed now and then)."""
        return self.state == "unhealthy"


@dataclass(frozen=True, slots=True)
class LoggingMetrics:
    """A snapshot of a pipeline's performance (``LoggingMetrics``).

    Call-site latency is sampled (a few calls per second are timed, never every call);
    delivery latency is the time from a record's timestamp to its hand-over to the backends.
    """

    avg_latency_us: float = 0.0
    p50_latency_us: float = 0.0
    p99_latency_us: float = 0.0
    max_latency_us: float = 0.0
    latency_samples: int = 0
    delivery_avg_us: float = 0.0
    delivery_p99_us: float = 0.0
    throughput_msgs_per_sec: float = 0.0
    records_logged: int = 0
    records_processed: int = 0
    dropped: int = 0
    queue_depth: int = 0
    queue_capacity: int = 0
    backend_errors: int = 0
    failovers: int = 0
    lost: int = 0
    backends: Mapping[str, BackendStats] = field(default_factory=dict)

    @property
    def queue_utilization(self) -> float:
        """Fill ratio of the ring (0.0 to 1.0)."""
        return self.queue_depth / self.queue_capacity if self.queue_capacity else 0.0


class RateMeter:
    """Events per second over the last ten seconds, fed from one thread."""

    __slots__ = ("_marks",)

    def __init__(self) -> None:
        self._marks: deque[tuple[float, int]] = deque()

    def add(self, total: int, now: float | None = None) -> None:
        """Record that *total* events had happened by *now* (monotonic seconds)."""
        now = time.monotonic() if now is None else now
        marks = self._marks
        if marks and now - marks[-1][0] < 0.1:
            marks[-1] = (marks[-1][0], total)
            return
        marks.append((now, total))
        while len(marks) > 2 and now - marks[1][0] > _WINDOW_S:
            marks.popleft()

    def rate(self) -> float:
        """Events per second between the oldest and newest mark kept."""
        if len(self._marks) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._marks[0], self._marks[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0


def snapshot(
    call_ns: Iterable[int],
    delivery_ns: Iterable[int],
    rate: RateMeter,
    slots: Iterable[BackendSlot],
    *,
    logged: int,
    processed: int,
    dropped: int,
    depth: int,
    capacity: int,
) -> LoggingMetrics:
    """A pipeline's :class:`LoggingMetrics` from its samples, meters and counts."""
    calls = LatencySummary.of_ns(list(call_ns))
    delivery = LatencySummary.of_ns(list(delivery_ns))
    stats = {s.backend.name: s.stats() for s in slots}
    return LoggingMetrics(
        avg_latency_us=calls.avg_us,
        p50_latency_us=calls.p50_us,
        p99_latency_us=calls.p99_us,
        max_latency_us=calls.max_us,
        latency_samples=calls.count,
        delivery_avg_us=delivery.avg_us,
        delivery_p99_us=delivery.p99_us,
        throughput_msgs_per_sec=rate.rate(),
        records_logged=logged,
        records_processed=processed,
        dropped=dropped,
        queue_depth=depth,
        queue_capacity=capacity,
        backend_errors=sum(s.write_errors for s in stats.values()),
        failovers=sum(s.failed_over for s in stats.values()),
        lost=sum(s.lost for s in stats.values()),
        backends=stats,
    )
