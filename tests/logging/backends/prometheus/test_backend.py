"""PrometheusBackend: series from metric(), record counts, health, push and scrape."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import hft
from hft.logging import (
    HFTLogger,
    LoggingPipeline,
    LoggingTimer,
    PrometheusBackend,
    create_backend_from_config,
)
from hft.logging.backends.prometheus._names import kind_of, label_name, metric_name
from hft.logging.testing import CapturingBackend
from tests.servers import Pushgateway, free_port, http_get, wait_until

_SRC = str(Path(hft.__file__).resolve().parents[1])
_FAILING = "prometheus push failing; retrying every interval"
_pipelines: list[LoggingPipeline] = []


@pytest.fixture(autouse=True)
def _close_pipelines() -> Iterator[None]:
    """Every pipeline a test started is closed (its backends with it) after the test."""
    yield
    while _pipelines:
        _pipelines.pop().close()


def _run(backend: PrometheusBackend) -> tuple[HFTLogger, CapturingBackend]:
    capture = CapturingBackend()
    pipeline = LoggingPipeline([backend, capture]).start()
    _pipelines.append(pipeline)
    return HFTLogger(pipeline, "strategy.arb", ["arb"]), capture


def _shutdown() -> None:
    """Close the newest pipeline and its backends, as the container does at shutdown."""
    _pipelines.pop().close()


def _value(backend: PrometheusBackend, name: str, /, **labels: str) -> float | None:
    return backend.registry.get_sample_value(name, labels)


def _rejected(backend: PrometheusBackend, metric: str, reason: str, /) -> float | None:
    return _value(backend, "hft_prometheus_rejected_samples_total", metric=metric, reason=reason)


@pytest.fixture
def local() -> Iterator[PrometheusBackend]:
    """A backend that neither pushes nor serves: its registry is read directly."""
    backend = PrometheusBackend(push_gateway_url="")
    yield backend
    backend.close()


class TestNames:
    def test_metric_name_is_sanitised(self) -> None:
        """Dots, dashes and a leading digit become underscores."""
        assert metric_name("orders.placed-total") == "orders_placed_total"
        assert metric_name("5xx_count") == "_5xx_count"

    def test_label_name_avoids_reserved_forms(self) -> None:
        """Colons are invalid in labels, ``__`` is reserved, ``le`` belongs to histograms."""
        assert label_name("a:b") == "a_b"
        assert label_name("__x") == "_x"
        assert label_name("le") == "le_"

    @pytest.mark.parametrize(
        ("name", "kind"),
        [
            ("orders_total", "counter"),
            ("fills_count", "counter"),
            ("tick_to_trade_us", "histogram"),
            ("rest_call_ms", "histogram"),
            ("order_latency", "histogram"),
            ("spread_bps", "gauge"),
        ],
    )
    def test_kind_from_suffix(self, name: str, kind: str) -> None:
        """Counts are counters, units and latencies histograms, anything else a gauge."""
        assert kind_of(name, {}) == kind

    def test_configured_kind_wins(self) -> None:
        """``metric_types`` overrides the guess, by raw or sanitised name."""
        assert kind_of("orders_total", {"orders_total": "gauge"}) == "gauge"
        assert kind_of("a.b_us", {"a_b_us": "gauge"}) == "gauge"


class TestSamples:
    def test_counter_adds_gauge_sets_histogram_observes(self, local: PrometheusBackend) -> None:
        """Values add up in counters, replace in gauges and fill microsecond buckets."""
        logger, _ = _run(local)
        for _ in range(3):
            logger.metric("orders_total", 2, tags={"symbol": "BTCUSDT"})
            logger.metric("spread_bps", 1.5)
            logger.metric("tick_to_trade_us", 42)
        logger.flush()
        assert _value(local, "orders_total", symbol="BTCUSDT") == 6
        assert _value(local, "spread_bps") == 1.5
        assert _value(local, "tick_to_trade_us_bucket", le="50.0") == 3
        assert _value(local, "tick_to_trade_us_bucket", le="20.0") == 0

    def test_names_and_tags_are_sanitised(self, local: PrometheusBackend) -> None:
        """A dotted name and a dashed tag key still make a valid series."""
        logger, _ = _run(local)
        logger.metric("book.depth", 7, tags={"order-side": "bid"})
        logger.flush()
        assert _value(local, "book_depth", order_side="bid") == 7

    def test_configured_kind_is_used(self) -> None:
        """``metric_types`` makes a ``_total`` name a gauge."""
        backend = PrometheusBackend(push_gateway_url="", metric_types={"open_total": "gauge"})
        logger, _ = _run(backend)
        logger.metric("open_total", 5)
        logger.metric("open_total", 3)
        logger.flush()
        assert _value(backend, "open_total") == 3
        backend.close()

    def test_changed_label_set_is_counted_and_warned_once(self, local: PrometheusBackend) -> None:
        """A later sample with other tags is rejected, counted each time, warned about once."""
        logger, capture = _run(local)
        logger.metric("depth", 1, tags={"symbol": "BTC"})
        for _ in range(3):
            logger.metric("depth", 2, tags={"venue": "mexc"})
        logger.flush()
        logger.flush()
        assert _value(local, "depth", symbol="BTC") == 1
        rejected = _value(
            local, "hft_prometheus_rejected_samples_total", metric="depth", reason="labels"
        )
        assert rejected == 3
        assert capture.messages().count("prometheus metric sample rejected") == 1

    def test_bad_values_do_not_stop_the_dispatcher(self, local: PrometheusBackend) -> None:
        """A non-number and a negative counter increment are rejected; later samples count."""
        logger, _ = _run(local)
        logger.metric("orders_total", "many")  # type: ignore[arg-type]
        logger.metric("orders_total", -1)
        logger.metric("orders_total", 1)
        logger.flush()
        assert _value(local, "orders_total") == 1
        assert _rejected(local, "orders_total", "value") == 1
        assert _rejected(local, "orders_total", "negative") == 1

    def test_user_names_are_kept(self, local: PrometheusBackend) -> None:
        """metric() and LoggingTimer names stay the application's, units included."""
        logger, _ = _run(local)
        with LoggingTimer(logger, "ws_connection"):
            pass
        logger.metric("tick_to_trade_us", 42)
        logger.flush()
        assert _value(local, "ws_connection_duration_us_count") == 1
        assert _value(local, "tick_to_trade_us_bucket", le="50.0") == 1

    def test_grouping_key_tags_become_exported_labels(self) -> None:
        """Tags named job, instance, pid or a configured key label are exported_<label>."""
        backend = PrometheusBackend(push_gateway_url="", grouping_key={"bot": "b"})
        logger, _ = _run(backend)
        tags = {"job": "j", "instance": "i", "pid": "p", "bot": "x", "symbol": "BTC"}
        logger.metric("fills_total", 2, tags=tags)
        logger.flush()
        exported = {"exported_job": "j", "exported_instance": "i", "exported_pid": "p",
                    "exported_bot": "x", "symbol": "BTC"}  # fmt: skip
        assert _value(backend, "fills_total", **exported) == 2
        backend.close()

    def test_reserved_names_are_refused(self, local: PrometheusBackend) -> None:
        """A user metric cannot shadow the backend's own ``hft_logging_`` series."""
        logger, _ = _run(local)
        logger.metric("hft_logging_queue_depth", 99)
        logger.flush()
        assert _value(local, "hft_logging_queue_depth") == 0
        assert _rejected(local, "hft_logging_queue_depth", "name") == 1


class TestRecordsAndHealth:
    def test_log_records_are_counted_by_logger_and_level(self, local: PrometheusBackend) -> None:
        """``hft_log_records_total{logger,level}`` counts each call once, at the call site."""
        logger, _ = _run(local)
        logger.info("a")
        logger.info("b")
        logger.error("c")
        logger.flush()
        assert _value(local, "hft_log_records_total", logger="strategy.arb", level="INFO") == 2
        assert _value(local, "hft_log_records_total", logger="strategy.arb", level="ERROR") == 1

    def test_level_setting_filters_counted_records(self) -> None:
        """Calls below the backend's level are not exported; metrics still are."""
        backend = PrometheusBackend(push_gateway_url="", level="WARNING")
        logger, _ = _run(backend)
        logger.info("quiet")
        logger.metric("x", 1)
        logger.flush()
        assert _value(backend, "hft_log_records_total", logger="strategy.arb", level="INFO") is None
        assert _value(backend, "x") == 1
        backend.close()

    def test_pipeline_health_is_exported(self, local: PrometheusBackend) -> None:
        """Queue capacity, processed records and per-backend counts come from the pipeline."""
        logger, _ = _run(local)
        for i in range(10):
            logger.info("m", i=i)
        logger.flush()
        assert _value(local, "hft_logging_queue_capacity") == 10_000
        processed = _value(local, "hft_logging_records_processed_total")
        assert processed is not None
        assert processed >= 10
        assert _value(local, "hft_logging_records_dropped_total") == 0
        assert _value(local, "hft_logging_backend_healthy", backend="capture") == 1
        assert _value(local, "hft_logging_delivery_latency_seconds_count") is not None

    def test_timed_calls_fill_the_call_histogram_once_each(self, local: PrometheusBackend) -> None:
        """Every sampled call is one observation of hft_logging_call_duration_seconds, the same
        samples the windowed LoggingMetrics figures are made of."""
        logger, _ = _run(local)
        for _ in range(5):
            logger.pipeline._loggers.arm_sampling(force=True)
            logger.info("timed")
            logger.info("not timed")
        logger.flush()
        wait_until(lambda: not logger.pipeline.call_samples.fresh, what="samples moved")
        metrics = logger.get_performance_metrics()
        assert metrics.latency_samples == 5
        assert _value(local, "hft_logging_call_duration_seconds_count") == 5
        assert _value(local, "hft_logging_call_duration_seconds_bucket", le="+Inf") == 5
        total = _value(local, "hft_logging_call_duration_seconds_sum")
        assert total == pytest.approx(metrics.avg_latency_us * 5 / 1e6)

    def test_own_series_follow_prometheus_conventions(self, local: PrometheusBackend) -> None:
        """Latencies are histograms in seconds; no abbreviated unit, rate or quantile gauge."""
        logger, _ = _run(local)
        logger.info("a")
        logger.flush()
        families = {f.name: f.type for f in local.registry.collect() if f.name.startswith("hft_")}
        assert families["hft_logging_call_duration_seconds"] == "histogram"
        assert families["hft_logging_delivery_latency_seconds"] == "histogram"
        assert families["hft_logging_queue_utilization_ratio"] == "gauge"
        for name, kind in families.items():
            assert not name.endswith(("_us", "_ms", "_per_sec")), name
            assert kind != "gauge" or not re.search("latency|duration|throughput|_p[0-9]", name)
        assert not [n for n in families if "call_latency" in n or "throughput" in n]

    def test_built_from_settings(self) -> None:
        """The registry builds it from the settings section (every key is a parameter)."""
        from hft.config import PrometheusBackendSettings

        settings = PrometheusBackendSettings(enabled=True, push_gateway_url="")
        backend = create_backend_from_config("prometheus", settings, max_field_chars=10)
        assert isinstance(backend, PrometheusBackend)
        backend.close()


class TestScrape:
    def test_metrics_are_served_on_loopback(self) -> None:
        """``/metrics`` on the configured address shows the samples."""
        backend = PrometheusBackend(push_gateway_url="", scrape_enabled=True, scrape_port=0)
        logger, _ = _run(backend)
        logger.metric("spread_bps", 3.25, tags={"symbol": "ETHUSDT"})
        logger.flush()
        assert backend.scrape_url is not None
        assert backend.scrape_url.startswith("http://127.0.0.1:")
        assert 'spread_bps{symbol="ETHUSDT"} 3.25' in http_get(backend.scrape_url)
        backend.close()


def _pushing(gateway_url: str, **settings: object) -> PrometheusBackend:
    options: dict[str, object] = {"push_interval": 0.05, "push_timeout": 1.0, **settings}
    return PrometheusBackend(push_gateway_url=gateway_url, job_name="hft_test", **options)  # type: ignore[arg-type]


class TestPush:
    def test_values_and_labels_reach_the_gateway(self, pushgateway: Pushgateway) -> None:
        """Samples arrive under the job with host and pid as the grouping key."""
        backend = _pushing(pushgateway.url)
        logger, _ = _run(backend)
        logger.metric("orders_total", 4, tags={"symbol": "BTCUSDT"})
        logger.info("hello")
        logger.flush()
        key = {"job": "hft_test", "instance": socket.gethostname(), "pid": str(os.getpid())}
        wait_until(lambda: pushgateway.value("orders_total", **key) == 4, what="pushed value")
        labels, _ = pushgateway.samples("orders_total")[0]
        assert labels == {**key, "symbol": "BTCUSDT"}
        records = pushgateway.value("hft_log_records_total", level="INFO", logger="strategy.arb")
        assert records == 1
        assert pushgateway.value("hft_logging_queue_capacity", **key) == 10_000
        backend.close()

    def test_first_push_is_at_start_not_one_interval_later(self, pushgateway: Pushgateway) -> None:
        """With an hour's interval the pipeline's own series still reach the gateway at start."""
        backend = _pushing(pushgateway.url, push_interval=3600)
        _run(backend)
        key = {"job": "hft_test", "instance": socket.gethostname(), "pid": str(os.getpid())}
        wait_until(lambda: pushgateway.value("hft_logging_queue_capacity", **key) == 10_000,
                   what="push at start")  # fmt: skip
        assert backend.pusher is not None
        wait_until(lambda: backend.pusher.pushes >= 1, what="the push counted")  # after the reply

    def test_a_wrong_gateway_is_told_at_start(self) -> None:
        """No gateway there: one warning soon after start, though the interval is an hour, and
        the backend is reported unhealthy."""
        backend = _pushing(f"http://127.0.0.1:{free_port()}", push_interval=3600)
        logger, capture = _run(backend)
        wait_until(lambda: logger.flush() and _FAILING in capture.messages(), what=_FAILING)
        assert capture.messages().count(_FAILING) == 1
        assert logger.get_performance_metrics().backends["prometheus"].unhealthy

    def test_health_follows_the_last_push(self, pushgateway: Pushgateway) -> None:
        """Healthy while pushes work, unhealthy once one fails, healthy again when one works."""
        backend = _pushing(pushgateway.url)
        logger, _ = _run(backend)

        def unhealthy() -> bool:
            return logger.get_performance_metrics().backends["prometheus"].unhealthy

        assert backend.pusher is not None
        wait_until(lambda: backend.pusher.pushes >= 1, what="a push")
        assert not unhealthy()
        pushgateway.stop()
        wait_until(unhealthy, what="unhealthy after a failed push")
        pushgateway.start()
        wait_until(lambda: not unhealthy(), what="healthy after a push that works")

    def test_close_pushes_last_values(self, pushgateway: Pushgateway) -> None:
        """A value logged just before shutdown is pushed by close(), interval or not."""
        backend = _pushing(pushgateway.url, push_interval=3600)
        logger, _ = _run(backend)
        logger.metric("last_gauge", 9)
        _shutdown()
        assert pushgateway.value("last_gauge", job="hft_test") == 9

    def test_delete_on_shutdown_removes_the_group(self, pushgateway: Pushgateway) -> None:
        """With ``delete_on_shutdown`` the group is gone after close()."""
        backend = _pushing(
            pushgateway.url, delete_on_shutdown=True, grouping_key={"bot": "a"}, push_timeout=5.0
        )  # a gateway slow to answer on a loaded machine: the delete waits, never skips
        logger, _ = _run(backend)
        logger.metric("g", 1)
        logger.flush()
        wait_until(lambda: pushgateway.value("g", bot="a") == 1, what="pushed value")
        _shutdown()
        assert pushgateway.value("g", bot="a") is None

    def test_configured_grouping_key_fills_placeholders(self, pushgateway: Pushgateway) -> None:
        """``{host}`` in a configured key becomes the host name; no pid unless asked."""
        backend = _pushing(pushgateway.url, grouping_key={"instance": "{host}", "bot": "b"})
        logger, _ = _run(backend)
        logger.metric("g", 2)
        _shutdown()
        ((labels, value),) = pushgateway.samples("g")
        assert (labels, value) == ({"job": "hft_test", "instance": socket.gethostname(),
                                    "bot": "b"}, 2)  # fmt: skip

    def test_two_processes_keep_both_groups(self, pushgateway: Pushgateway) -> None:
        """Two processes pushing to one gateway (pushadd, own pid) leave both groups there."""
        script = (
            "import sys\n"
            "from hft.logging import HFTLogger, LoggingPipeline, PrometheusBackend\n"
            "backend = PrometheusBackend(push_gateway_url=sys.argv[1], job_name='hft_test')\n"
            "pipeline = LoggingPipeline([backend]).start()\n"
            "HFTLogger(pipeline, 'bot', []).metric('orders_total', float(sys.argv[2]))\n"
            "pipeline.close()\n"
            "print(__import__('os').getpid())\n"
        )
        env = {**os.environ, "PYTHONPATH": _SRC}
        pids = {
            subprocess.run(
                [sys.executable, "-c", script, pushgateway.url, str(n)],
                env=env, check=True, capture_output=True, text=True,
            ).stdout.strip(): float(n)
            for n in (3, 5)
        }  # fmt: skip
        found = {labels["pid"]: value for labels, value in pushgateway.samples("orders_total")}
        assert found == pids


class TestGatewayTrouble:
    def test_outage_is_survived_reported_once_and_caught_up(self, pushgateway: Pushgateway) -> None:
        """Gateway down: logging goes on, failures count, one warning; back: values return."""
        backend = _pushing(pushgateway.url, grouping_key={"bot": "c"})
        logger, capture = _run(backend)
        logger.metric("g", 1)
        logger.flush()
        wait_until(lambda: pushgateway.value("g", bot="c") == 1, what="first push")
        pushgateway.stop()
        assert backend.pusher is not None
        failures_before = backend.pusher.failures
        for i in range(2000):
            logger.info("still trading", i=i)
        wait_until(lambda: backend.pusher.failures >= failures_before + 3, what="failed pushes")
        assert logger.flush()
        assert len([m for m in capture.messages() if m == "still trading"]) == 2000
        assert logger.get_performance_metrics().dropped == 0
        pushgateway.start()
        logger.metric("g", 2)
        wait_until(lambda: pushgateway.value("g", bot="c") == 2, what="catch-up push")
        failures = pushgateway.value("hft_prometheus_push_failures_total", bot="c")
        assert failures is not None
        assert failures >= 3
        recovered = "prometheus push recovered"  # queued by a backend flush, sent next batch
        wait_until(lambda: logger.flush() and recovered in capture.messages(), what=recovered)
        assert capture.messages().count(_FAILING) == 1
        assert capture.messages().count(recovered) == 1
        _shutdown()

    def test_slow_gateway_does_not_hold_the_dispatcher(self) -> None:
        """While a push hangs on a gateway that never answers, records keep being delivered."""
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen()
            url = f"http://127.0.0.1:{silent.getsockname()[1]}"
            backend = _pushing(url, push_timeout=30)
            logger, capture = _run(backend)
            logger.info("first")
            connection, _ = silent.accept()  # the pusher is now waiting for an answer
            assert backend.pusher is not None
            wait_until(lambda: backend.pusher.in_flight, what="push in flight")
            for i in range(500):
                logger.info("during push", i=i)
            assert logger.flush()
            assert backend.pusher.in_flight
            assert threading.current_thread().name != "hft-prometheus"
            assert capture.messages().count("during push") == 500
            connection.close()
        _shutdown()

    def test_unused_port_never_raises_into_the_logger(self) -> None:
        """Pushing to a closed port fails quietly (counted), and close() still returns."""
        backend = _pushing(f"http://127.0.0.1:{free_port()}")
        logger, capture = _run(backend)
        logger.metric("g", 1)
        assert backend.pusher is not None
        wait_until(lambda: backend.pusher.failures >= 2, what="failed pushes")
        logger.flush()
        logger.flush()
        _shutdown()
        assert capture.messages().count(_FAILING) == 1
