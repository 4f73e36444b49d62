"""The performance monitor: thresholds from config, injected logger, the anyio task."""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio
import pytest

from hft.config import LoggingSettings
from hft.logging import (
    ConfigurablePerformanceMonitor,
    LoggingMetrics,
    monitor_hft_logging_performance,
    validate_hft_logging_compliance,
)
from hft.logging.testing import capture_logs

_CONFIG: dict[str, Any] = {
    "hft_settings": {"max_latency_us": 1000, "warning_threshold_us": 500},
    "performance": {
        "monitor_interval_s": 0.01,
        "thresholds": {
            "max_avg_latency_us": 2000.0,
            "max_p99_latency_us": 5000.0,
            "min_throughput_msgs_per_sec": 0.0,
            "max_dropped": 0,
            "max_queue_utilization": 0.8,
        },
    },
}


@pytest.fixture
def anyio_backend() -> str:
    """The monitor task runs on asyncio here; it only needs anyio's sleep."""
    return "asyncio"


class TestValidate:
    def test_fast_logger_is_compliant_and_silent(self) -> None:
        """Below every threshold: True, nothing logged."""
        with capture_logs() as (logger, capture):
            monitor = ConfigurablePerformanceMonitor(_CONFIG, logger)
            assert monitor.validate_logging_performance(LoggingMetrics(avg_latency_us=3.0))
        assert capture.logs() == []

    def test_latency_above_max_is_an_error(self) -> None:
        """Above ``max_latency_us``: False and one error naming actual and limit."""
        with capture_logs() as (logger, capture):
            monitor = ConfigurablePerformanceMonitor(_CONFIG, logger)
            assert not monitor.validate_logging_performance(LoggingMetrics(avg_latency_us=1500))
        (record,) = capture.logs()
        assert record.level == "ERROR"
        assert record.msg == "Logging latency exceeds configuration threshold"
        assert record.fields == {"threshold": "max_latency_us", "actual": 1500, "limit": 1000}

    def test_latency_above_warning_is_a_warning_only(self) -> None:
        """Between warning and max: True, one warning."""
        with capture_logs() as (logger, capture):
            monitor = ConfigurablePerformanceMonitor(_CONFIG, logger)
            assert monitor.validate_logging_performance(LoggingMetrics(avg_latency_us=700))
        assert [(r.level, r.fields["threshold"]) for r in capture.logs()] == [
            ("WARNING", "warning_threshold_us")
        ]

    def test_verdict_lists_every_violated_threshold(self) -> None:
        """p99, drops, queue fill and throughput thresholds from ``performance`` count too."""
        thresholds = {**_CONFIG["performance"]["thresholds"], "min_throughput_msgs_per_sec": 10.0}
        config = {**_CONFIG, "performance": {"thresholds": thresholds}}
        metrics = LoggingMetrics(p99_latency_us=9000, dropped=3, queue_depth=9, queue_capacity=10)
        verdict = ConfigurablePerformanceMonitor(config).evaluate(metrics)
        assert not verdict.compliant
        assert {v.threshold for v in verdict.errors} == {
            "max_p99_latency_us",
            "max_dropped",
            "max_queue_utilization",
            "min_throughput_msgs_per_sec",
        }

    def test_settings_model_is_accepted(self) -> None:
        """The ``LoggingSettings`` model works as well as its dict."""
        monitor = ConfigurablePerformanceMonitor(LoggingSettings())
        assert monitor.interval_s == 10.0
        assert monitor.evaluate(LoggingMetrics()).violations == ()

    def test_no_logger_means_no_logging(self) -> None:
        """Without an injected logger the check still answers."""
        monitor = ConfigurablePerformanceMonitor(_CONFIG)
        assert not monitor.validate_logging_performance(LoggingMetrics(avg_latency_us=5000))


class TestCompliance:
    def test_reads_the_given_logger_or_pipeline(self) -> None:
        """The logger's own pipeline is checked; logging goes to the given logger."""
        with capture_logs() as (logger, capture):
            logger.info("warm up")
            assert validate_hft_logging_compliance(logger, _CONFIG, logger)
            assert validate_hft_logging_compliance(logger._pipeline, _CONFIG)
        assert capture.messages() == ["warm up"]


class TestMonitorTask:
    @pytest.mark.anyio
    async def test_emits_metrics_each_interval_and_stops_on_cancel(self) -> None:
        """The task emits the spec's three metrics per check and ends with its task group."""
        with capture_logs() as (logger, capture):
            async with anyio.create_task_group() as group:
                group.start_soon(monitor_hft_logging_performance, logger._pipeline, _CONFIG, logger)
                while len(capture.metrics()) < 6:
                    logger.flush()
                    await anyio.sleep(0.01)
                group.cancel_scope.cancel()
        names = [r.msg for r in capture.metrics()[:3]]
        assert names == [
            "logging_performance_compliant",
            "logging_latency_us",
            "logging_throughput_msgs_per_sec",
        ]
        assert capture.metrics()[0].fields["value"] == 1

    @pytest.mark.anyio
    async def test_a_lasting_violation_is_logged_once(self) -> None:
        """A threshold broken at every check is logged when it starts, not at each check."""
        config = {**_CONFIG, "performance": {"thresholds": {"min_throughput_msgs_per_sec": 1e9}}}
        with capture_logs() as (logger, capture):
            async with anyio.create_task_group() as group:
                task = partial(monitor_hft_logging_performance, interval_s=0.01)
                group.start_soon(task, logger, config, logger)
                while len(capture.metrics()) < 9:
                    logger.flush()
                    await anyio.sleep(0.01)
                group.cancel_scope.cancel()
        errors = [r for r in capture.logs() if r.level == "ERROR"]
        assert len(errors) == 1
        assert [m.fields["value"] for m in capture.metrics()[::3]][:3] == [0, 0, 0]
