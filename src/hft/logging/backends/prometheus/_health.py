"""The logger's own health, read from the pipeline each time the registry is collected.

A custom collector, so the numbers are as fresh as the push or scrape that reads them and the
dispatcher does no work for them between reads. The names follow Prometheus' conventions: base
units (seconds, bytes), ``_total`` on counters, latencies as histograms a fleet can aggregate
(``histogram_quantile(0.99, sum by (le) (rate(..._bucket[1m])))``), and no gauge that
``rate()`` of a counter already gives (the pipeline's windowed averages and percentiles stay in
``LoggingMetrics``, for the performance monitor).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import accumulate
from typing import TYPE_CHECKING, Final

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from hft.logging.pipeline.metrics import HistogramSnapshot, LoggingMetrics

if TYPE_CHECKING:
    from hft.logging.backends.prometheus._push import Pusher

_PREFIX: Final = "hft_logging_"

#: ``LoggingMetrics`` attribute → (metric name, help) exported as gauges (levels).
_GAUGES: Final = {
    "queue_depth": ("queue_depth", "Records waiting in the ring buffer."),
    "queue_capacity": ("queue_capacity", "Capacity of the ring buffer."),
    "queue_utilization": ("queue_utilization_ratio", "Fill ratio of the ring buffer (0 to 1)."),
}
#: ``LoggingMetrics`` attribute → (metric name, help) exported as counters (``_total`` added).
_COUNTERS: Final = {
    "records_logged": ("records_logged", "Records handed a sequence number by call sites."),
    "records_processed": ("records_processed", "Records taken out of the ring."),
    "dropped": ("records_dropped", "Records that will never reach a backend."),
    "backend_errors": ("backend_write_errors", "Failed backend writes, all backends."),
    "failovers": ("backend_failovers", "Records sent to the fallback, all backends."),
}
#: ``BackendStats`` attribute → (metric name, help), one counter series per backend.
_PER_BACKEND: Final = {
    "written": ("backend_records_written", "Records written, per backend."),
    "write_errors": ("backend_errors", "Failed writes, per backend."),
    "failed_over": ("backend_records_failed_over", "Records failed over, per backend."),
    "lost": ("backend_records_lost", "Records lost, per backend."),
    "dropped": (
        "backend_records_dropped",
        "Records a best-effort sink (console, syslog) dropped: its destination took no data.",
    ),
}
#: Figures of a backend's ``stats()`` that go up and down (gauges); every other figure only
#: grows and is a counter, ``hft_<backend>_<name>_total``.
LEVEL_STATS: Final = frozenset(
    {"connected", "queued", "spool_bytes", "chain_head_seq", "checkpoint_seq",
     "writer_unacked_frames"}
)  # fmt: skip


class HealthCollector(Collector):
    """Exports a :class:`LoggingMetrics` snapshot and the pusher's counts."""

    def __init__(
        self, snapshot: Callable[[], LoggingMetrics], pusher: Callable[[], Pusher | None]
    ) -> None:
        self._snapshot = snapshot
        self._pusher = pusher

    def collect(self) -> Iterator[Metric]:
        """Families for the pipeline's health, read now."""
        metrics = self._snapshot()
        for attr, (name, doc) in _GAUGES.items():
            yield GaugeMetricFamily(_PREFIX + name, doc, value=getattr(metrics, attr))
        for attr, (name, doc) in _COUNTERS.items():
            yield CounterMetricFamily(_PREFIX + name, doc, value=getattr(metrics, attr))
        yield histogram_family(
            _PREFIX + "call_duration_seconds",
            "Sampled call-site latency: a few calls a second are timed, never every call.",
            metrics.call_histogram,
        )
        yield from self._per_backend(metrics)
        yield from _backend_extras(metrics)
        yield from self._push_counts()

    @staticmethod
    def _per_backend(metrics: LoggingMetrics) -> Iterator[Metric]:
        for attr, (name, doc) in _PER_BACKEND.items():
            family = CounterMetricFamily(_PREFIX + name, doc, labels=["backend"])
            for backend, stats in metrics.backends.items():
                family.add_metric([backend], getattr(stats, attr))
            yield family
        healthy = GaugeMetricFamily(
            _PREFIX + "backend_healthy", "1 if the backend's last write worked.", labels=["backend"]
        )
        for backend, stats in metrics.backends.items():
            healthy.add_metric([backend], 1.0 if stats.healthy else 0.0)
        yield healthy

    def _push_counts(self) -> Iterator[Metric]:
        pusher = self._pusher()
        if pusher is None:
            return
        yield CounterMetricFamily(
            "hft_prometheus_pushes", "Successful pushes to the gateway.", value=pusher.pushes
        )
        yield CounterMetricFamily(
            "hft_prometheus_push_failures",
            "Failed pushes to the gateway (retried on the next interval).",
            value=pusher.failures,
        )


def histogram_family(name: str, doc: str, histogram: HistogramSnapshot) -> Metric:
    """*histogram* as a Prometheus histogram family (cumulative ``le`` buckets)."""
    bounds = [repr(b) for b in histogram.bounds_s] + ["+Inf"]
    buckets = list(zip(bounds, accumulate(histogram.counts), strict=True))
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=histogram.sum_s)


def _backend_extras(metrics: LoggingMetrics) -> Iterator[Metric]:
    """A backend's own numbers (``BackendStats.extra``) as ``hft_<backend>_<name>``: counters
    (``_total``) for counts, gauges for the levels in :data:`LEVEL_STATS`."""
    for backend, stats in metrics.backends.items():
        for key, value in stats.extra.items():
            name, doc = f"hft_{backend}_{key}", f"{backend} backend: {key.replace('_', ' ')}."
            if key in LEVEL_STATS:
                yield GaugeMetricFamily(name, doc, value=value)
            else:
                yield CounterMetricFamily(name, doc, value=value)
