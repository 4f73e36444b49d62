"""The containers: the monitor provider (the rest is exercised through the logging tests)."""

from __future__ import annotations

from dependency_injector import providers

from hft.config import LoggingSettings
from hft.containers import LoggingContainer
from hft.logging import ConfigurablePerformanceMonitor, HFTLogger, LoggingMetrics
from hft.logging.testing import CapturingBackend


class TestMonitorProvider:
    def test_monitor_logs_through_the_pipeline_as_system_performance(self) -> None:
        """``monitor()`` is configured from the container and logs on its pipeline."""
        container = LoggingContainer()
        container.config.from_dict(LoggingSettings().model_dump())
        capture = CapturingBackend()
        with container.backends.override(providers.Object([capture])):
            container.init_resources()
            monitor = container.monitor()
            assert isinstance(monitor, ConfigurablePerformanceMonitor)
            assert isinstance(monitor.logger, HFTLogger)
            assert not monitor.validate_logging_performance(LoggingMetrics(avg_latency_us=1e6))
            container.shutdown_resources()
        sources = {(r.logger, r.tags) for r in capture.logs()}
        assert sources == {("exchange.system.performance", ("system", "performance"))}
