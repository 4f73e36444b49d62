"""The logger's own health, read from the pipeline each time the registry is collected.

A custom collector, so the numbers are as fresh as the push or scrape that reads them and the
dispatcher does no work for them between reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hft.logging._metrics import LoggingMetrics

if TYPE_CHECKING:
    from hft.logging.backends.prometheus._push import Pusher

_PREFIX = "hft_logging_"

#: ``LoggingMetrics`` attribute → (metric name, help) exported as gauges.
_GAUGES = {
    "queue_depth": ("queue_depth", "Records waiting in the ring buffer."),
    "queue_capacity": ("queue_capacity", "Capacity of the ring buffer."),
    "queue_utilization": ("queue_utilization", "Fill ratio of the ring buffer (0 to 1)."),
    "throughput_msgs_per_sec": ("throughput_msgs_per_sec", "Records per second, last 10 s."),
    "avg_latency_us": ("call_latency_avg_us", "Mean sampled call-site latency (us)."),
    "p50_latency_us": ("call_latency_p50_us", "Median sampled call-site latency (us)."),
    "p99_latency_us": ("call_latency_p99_us", "99th percentile call-site latency (us)."),
    "max_latency_us": ("call_latency_max_us", "Largest sampled call-site latency (us)."),
    "delivery_avg_us": ("delivery_latency_avg_us", "Mean call-to-backend latency (us)."),
    "delivery_p99_us": ("delivery_latency_p99_us", "99th percentile call-to-backend (us)."),
}
#: ``LoggingMetrics`` attribute → (metric name, help) exported as counters.
_COUNTERS = {
    "records_logged": ("records_logged", "Records handed a sequence number by call sites."),
    "records_processed": ("records_processed", "Records taken out of the ring."),
    "dropped": ("records_dropped", "Records that will never reach a backend."),
    "backend_errors": ("backend_write_errors", "Failed backend writes, all backends."),
    "failovers": ("backend_failovers", "Records sent to the fallback, all backends."),
}
#: ``BackendStats`` attribute → (metric name, help), one series per backend.
_PER_BACKEND = {
    "written": ("backend_records_written", "Records written, per backend."),
    "write_errors": ("backend_errors", "Failed writes, per backend."),
    "failed_over": ("backend_records_failed_over", "Records failed over, per backend."),
    "lost": ("backend_records_lost", "Records lost, per backend."),
}


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


def _backend_extras(metrics: LoggingMetrics) -> Iterator[Metric]:
    """A backend's own numbers (``BackendStats.extra``) as ``hft_<backend>_<name>`` gauges."""
    for backend, stats in metrics.backends.items():
        for key, value in stats.extra.items():
            yield GaugeMetricFamily(
                f"hft_{backend}_{key}", f"{backend} backend: {key.replace('_', ' ')}.", value=value
            )
