"""The pipeline's own health: latencies, throughput, drops, backend counts."""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

_WINDOW_S: Final = 10.0
LATENCY_SAMPLES: Final = 4096  #: the window of latency samples the summaries are made of

#: Upper bounds (ns) of the call-site latency histogram's buckets: 100 ns to 10 ms, 1-2.5-5 steps
#: (a call site takes about a microsecond; a page fault or a full ring, milliseconds).
CALL_BUCKETS_NS: Final = (
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
)  # fmt: skip


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
class HistogramSnapshot:
    """Cumulative counts of latency samples: ``counts[i]`` fell at or under ``bounds_s[i]``
    and above the bound before; the last count is above every bound (``+Inf``)."""

    bounds_s: tuple[float, ...] = ()
    counts: tuple[int, ...] = (0,)
    sum_s: float = 0.0

    @property
    def count(self) -> int:
        """How many samples there were in all."""
        return sum(self.counts)


class CallSamples:
    """Sampled call-site latencies (ns), for the window and for a histogram.

    A timed call appends to ``fresh`` (one deque append, nothing else on the call site); the
    dispatcher moves each sample, once, into the window (the summaries of :class:`LoggingMetrics`)
    and into cumulative bucket counts (Prometheus' ``hft_logging_call_duration_seconds``).
    """

    __slots__ = ("_counts", "_lock", "_sum_ns", "fresh", "window")

    def __init__(self) -> None:
        self.fresh: deque[int] = deque()
        self.window: deque[int] = deque(maxlen=LATENCY_SAMPLES)
        self._counts = [0] * (len(CALL_BUCKETS_NS) + 1)
        self._sum_ns = 0
        self._lock = threading.Lock()  # the dispatcher's move against a reader, never a call site

    def take(self) -> None:
        """Move the fresh samples into the window and the histogram (dispatcher thread)."""
        fresh, window, counts = self.fresh, self.window, self._counts
        with self._lock:
            while fresh:
                ns = fresh.popleft()
                window.append(ns)
                counts[bisect_left(CALL_BUCKETS_NS, ns)] += 1
                self._sum_ns += ns

    def recent(self) -> list[int]:
        """The window and the samples not yet moved."""
        with self._lock:
            return [*self.window, *self.fresh]

    def histogram(self) -> HistogramSnapshot:
        """The bucket counts so far, in seconds."""
        with self._lock:
            counts, sum_ns = tuple(self._counts), self._sum_ns
        return HistogramSnapshot(tuple(b / 1e9 for b in CALL_BUCKETS_NS), counts, sum_ns / 1e9)


@dataclass(frozen=True, slots=True)
class BackendStats:
    """What happened to one backend's share of the records.

    ``written + failed_over + lost + dropped + pending == routed``: every record routed to the
    backend was written, sent to the fallback, lost (no fallback, or the fallback failed too),
    dropped (a best-effort sink, the console or syslog, whose destination stopped taking data:
    its own bound was full), or is still held or queued. ``state`` is ``healthy``, ``retrying``
    or ``unhealthy``.
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
    dropped: int = 0
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
    #: Every sampled call-site latency since start, in buckets (for Prometheus).
    call_histogram: HistogramSnapshot = field(default_factory=HistogramSnapshot)

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
    calls_taken: CallSamples,
    delivery_ns: Iterable[int],
    rate: RateMeter,
    backend_stats: Iterable[BackendStats],
    *,
    logged: int,
    processed: int,
    dropped: int,
    depth: int,
    capacity: int,
) -> LoggingMetrics:
    """A pipeline's :class:`LoggingMetrics` from its samples, meters and counts."""
    calls = LatencySummary.of_ns(calls_taken.recent())
    delivery = LatencySummary.of_ns(list(delivery_ns))
    stats = {stat.name: stat for stat in backend_stats}
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
        call_histogram=calls_taken.histogram(),
    )
