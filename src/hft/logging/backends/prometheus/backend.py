"""Metrics for Prometheus: ``metric()`` samples, record counts and the logger's own health.

Log records never reach it (``takes_logs = False``): their counts are kept at the call site and
read by a collector (``_calls``) when the registry is pushed or scraped, so the levels it
counts stay on the byte lane, or are count-only call sites when no other backend takes them.
Everything else here runs on the dispatcher thread except the network: the registry is pushed to a
Pushgateway by a small thread of the backend's own (:mod:`._prom_push`) and/or served on
``/metrics`` by prometheus-client's HTTP server. The registry is the backend's, never the
process-global one, so two backends (or tests) never see each other's series.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from hft.logging.backends.base import BackendContext, BaseBackend, Say
from hft.logging.backends.prometheus._calls import CallCountCollector
from hft.logging.backends.prometheus._health import HealthCollector
from hft.logging.backends.prometheus._names import (
    DELIVERY_BUCKETS,
    GROUPING_LABELS,
    Kind,
    buckets_for,
    kind_of,
    label_name,
    metric_name,
)
from hft.logging.backends.prometheus._push import Pusher, grouping_key
from hft.logging.levels import METRIC, parse_level
from hft.logging.record import Record

if TYPE_CHECKING:
    import threading


#: The performance monitor's own metrics are levels, whatever their suffix says.
DEFAULT_KINDS: Final[Mapping[str, Kind]] = {
    "logging_latency_us": "gauge",
    "logging_throughput_msgs_per_sec": "gauge",
    "logging_performance_compliant": "gauge",
}
_RESERVED_PREFIXES: Final = ("hft_logging_", "hft_prometheus_", "hft_log_records")
_KINDS: Final = {"counter": Counter, "gauge": Gauge, "histogram": Histogram}


def _drop(msg: str, **fields: Any) -> None:
    """A warning before the backend joins a pipeline: there is no one to tell yet."""
    del msg, fields


@dataclass(frozen=True, slots=True)
class _Series:
    """A user metric: its prometheus-client object, kind and the tag keys it was made with."""

    metric: Any
    kind: Kind
    keys: tuple[str, ...]


class PrometheusBackend(BaseBackend):
    """Turns metric records into Prometheus series and exports the logging calls by logger and
    level, counted at the call site (it takes no log record)."""

    name = "prometheus"
    takes_metrics = True
    takes_audit = False
    takes_logs = False
    extra_settings = ()

    def __init__(
        self,
        *,
        level: int | str = "DEBUG",
        push_gateway_url: str = "http://127.0.0.1:9091",
        job_name: str = "hft_arbitrage",
        push_interval: float = 10,
        push_timeout: float = 2.0,
        grouping_key: Mapping[str, str] | None = None,
        delete_on_shutdown: bool = False,
        scrape_enabled: bool = False,
        scrape_address: str = "127.0.0.1",
        scrape_port: int = 9464,
        metric_types: Mapping[str, Kind] | None = None,
    ) -> None:
        self.level = parse_level(level)
        self.registry = CollectorRegistry()
        self._kinds = {**DEFAULT_KINDS, **(metric_types or {})}
        self._series: dict[str, _Series | None] = {}
        self._warned: set[tuple[str, str]] = set()
        self._say: Say = _drop  # until attached: nobody to tell
        self._delete_on_shutdown = delete_on_shutdown
        self._push_failing_reported = False
        self._closed = False
        self._own_metrics()
        self._taken_labels = GROUPING_LABELS | frozenset(grouping_key or {})
        self.pusher = self._make_pusher(
            push_gateway_url, job_name, push_interval, push_timeout, grouping_key or {}
        )
        self._server: tuple[WSGIServer, threading.Thread] | None = None
        self._scrape_address = scrape_address
        if scrape_enabled:
            self._server = start_http_server(scrape_port, scrape_address, registry=self.registry)

    def _own_metrics(self) -> None:
        self._rejected = Counter(
            "hft_prometheus_rejected_samples",
            "metric() samples not exported (bad value, changed labels, name clash).",
            ["metric", "reason"],
            registry=self.registry,
        )
        self._delivery = Histogram(
            "hft_logging_delivery_latency_seconds",
            "Time from a batch's oldest call to its hand-over to this backend.",
            buckets=DELIVERY_BUCKETS,
            registry=self.registry,
        )

    def _make_pusher(
        self, url: str, job: str, interval: float, timeout: float, key: Mapping[str, str]
    ) -> Pusher | None:
        if not url:
            return None  # scrape only
        return Pusher(
            self.registry,
            url=url,
            job=job,
            key=grouping_key(key),
            interval=interval,
            timeout=timeout,
        )

    @property
    def scrape_url(self) -> str | None:
        """``http://host:port/metrics`` of the scrape endpoint, if one is served."""
        if self._server is None:
            return None
        return f"http://{self._scrape_address}:{self._server[0].server_port}/metrics"

    # -- pipeline side -----------------------------------------------------------------------

    def attach(self, context: BackendContext) -> None:
        """Export the pipeline's health and call counts; report push failures through
        *context*."""
        self._say = context.warn
        self.registry.register(HealthCollector(context.metrics, lambda: self.pusher))
        self.registry.register(CallCountCollector(context.record_counts, self.level))
        self._start_pusher()

    @property
    def healthy(self) -> bool:
        """False while the last push failed: the slot then reports this backend ``unhealthy``
        (samples are still kept and go out with the next push that works)."""
        return self.pusher is None or self.pusher.consecutive_failures == 0

    def _start_pusher(self) -> None:
        if self.pusher is not None and not self._closed:
            self.pusher.start()

    def write(self, records: Sequence[Record]) -> None:
        """Apply metric samples (dispatcher thread; no I/O). Log records are not routed here."""
        self._start_pusher()
        for _seq, _ts, level, _source, msg, fields in records:
            if level == METRIC:
                self._sample(msg, fields)
        if records:
            self._delivery.observe((time.time_ns() - records[0][1]) / 1e9)

    def flush(self) -> None:
        """Report a push outage (or its end) once; the pusher thread cannot log itself."""
        pusher = self.pusher
        if pusher is None:
            return
        failing = pusher.consecutive_failures > 0
        if failing and not self._push_failing_reported:
            self._push_failing_reported = True
            self._warn(
                "prometheus push failing; retrying every interval",
                url=pusher.url,
                job=pusher.job,
                error=pusher.last_error,
                failures=pusher.failures,
            )
        elif not failing and self._push_failing_reported:
            self._push_failing_reported = False
            self._warn("prometheus push recovered", url=pusher.url, failures=pusher.failures)

    def close(self) -> None:
        """Final push (or delete the group when configured), stop the pusher and the server."""
        if self._closed:
            return
        self._closed = True
        if self.pusher is not None:
            delete = self._delete_on_shutdown
            self.pusher.stop(final_push=not delete, delete=delete)
        if self._server is not None:
            server, thread = self._server
            server.shutdown()
            server.server_close()
            thread.join()

    def _warn(self, msg: str, **fields: Any) -> None:
        self._say(msg, **fields)

    # -- metric samples ----------------------------------------------------------------------

    def _sample(self, name: str, fields: Any) -> None:
        series = self._series[name] if name in self._series else self._create(name, fields)
        if series is None:
            self._reject(name, "name")
            return
        tags: Mapping[str, Any] = fields.get("tags") or {}
        keys = tuple(sorted(tags))
        if keys != series.keys:
            self._reject(name, "labels", expected=list(series.keys), got=list(keys))
            return
        try:
            value = float(fields["value"])
        except (KeyError, TypeError, ValueError):
            self._reject(name, "value", value=repr(fields.get("value")))
            return
        child = series.metric.labels(*(str(tags[k]) for k in keys)) if keys else series.metric
        self._apply(name, series.kind, child, value)

    def _apply(self, name: str, kind: Kind, child: Any, value: float) -> None:
        if kind == "gauge":
            child.set(value)
        elif kind == "histogram":
            child.observe(value)
        elif value >= 0:
            child.inc(value)
        else:
            self._reject(name, "negative", value=value)

    def _create(self, name: str, fields: Any) -> _Series | None:
        """Register the series for *name*, shaped by its first sample; None if impossible."""
        clean = metric_name(name)
        keys = tuple(sorted(fields.get("tags") or {}))
        kind = kind_of(name, self._kinds)
        series: _Series | None = None
        if not clean.startswith(_RESERVED_PREFIXES):
            try:
                series = _Series(self._make(name, clean, kind, keys), kind, keys)
            except ValueError as exc:  # a clash with another series, or two tags made one
                self._warn_once(name, "name", error=str(exc))
        self._series[name] = series
        return series

    def _make(self, name: str, clean: str, kind: Kind, keys: tuple[str, ...]) -> Any:
        doc = f"hft metric {name!r} ({kind})"
        labels = [label_name(k, self._taken_labels) for k in keys]
        if kind == "histogram":
            return Histogram(clean, doc, labels, buckets=buckets_for(clean), registry=self.registry)
        return _KINDS[kind](clean, doc, labels, registry=self.registry)

    def _reject(self, name: str, reason: str, **details: Any) -> None:
        self._rejected.labels(metric_name(name), reason).inc()
        self._warn_once(name, reason, **details)

    def _warn_once(self, name: str, reason: str, **details: Any) -> None:
        if (name, reason) not in self._warned:
            self._warned.add((name, reason))
            self._warn("prometheus metric sample rejected", metric=name, reason=reason, **details)
