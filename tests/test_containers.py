"""The Application container: overrides before first use, shutdown order, the stdlib bridge."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from dependency_injector import providers

from hft.config import ConfigError, LoggingSettings
from hft.containers import LoggingContainer, create_application
from hft.exchanges import ExchangeFactory
from hft.logging import (
    ConfigurablePerformanceMonitor,
    HFTBridgeHandler,
    HFTLogger,
    LoggingMetrics,
    LoggingPipeline,
)
from hft.logging.testing import CapturingBackend
from tests._apps import REPO_SETTINGS, dev_app
from tests.config.spies import count_validations


class TestDevApplication:
    def test_loggers_write_to_the_overridden_backend(self) -> None:
        """With ``backends`` overridden before init, every logger writes to the fake."""
        capture = CapturingBackend()
        app = dev_app(capture)
        app.init_resources()
        app.logging.exchange_logger(exchange_name="mexc", component_type="ws").info("hello")
        app.logging.strategy_logger(strategy_path="arb", tags=["a"]).info("world")
        app.shutdown_resources()
        assert capture.messages() == ["hello", "world"]

    def test_shutdown_drains_the_pipeline_before_closing_backends(self, tmp_path: Path) -> None:
        """With the real backends Resource, every record is in the file after shutdown.

        Were the file backend closed before the pipeline drained, the tail would be missing.
        """
        path = tmp_path / "hft.log"
        app = create_application("dev", REPO_SETTINGS, env={})
        app.config.logging.backends.console.enabled.override(False)
        app.config.logging.backends.file.file_path.override(str(path))
        app.init_resources()
        logger = app.logging.logger(name="bulk")
        for i in range(5000):
            logger.info("m", i=i)
        pipeline: LoggingPipeline = app.logging.pipeline()
        app.shutdown_resources()
        assert not pipeline.running
        bulk = [line for line in path.read_bytes().splitlines() if b'"bulk"' in line]
        assert len(bulk) == 5000
        assert pipeline.metrics().backends["file"].lost == 0

    def test_overridden_backend_gets_everything_logged_before_shutdown(self) -> None:
        """Overridden by a fake, the backend still receives every record by shutdown's end."""
        capture = CapturingBackend()
        app = dev_app(capture)
        app.init_resources()
        logger = app.logging.logger(name="bulk")
        for i in range(5000):
            logger.info("m", i=i)
        app.shutdown_resources()
        assert len(capture.logs()) == 5000

    def test_one_pipeline_per_application(self) -> None:
        """Loggers from the container share one pipeline."""
        app = dev_app(CapturingBackend())
        app.init_resources()
        a = app.logging.logger(name="a")
        b = app.logging.exchange_logger(exchange_name="mexc", component_type="x")
        assert a.pipeline is b.pipeline
        app.shutdown_resources()

    def test_factory_is_a_singleton(self) -> None:
        """The exchange factory is built once per application."""
        app = dev_app(CapturingBackend())
        app.init_resources()
        factory = app.exchanges.factory()
        assert isinstance(factory, ExchangeFactory)
        assert app.exchanges.factory() is factory
        assert factory.known_exchanges == ("gateio", "mexc")
        app.shutdown_resources()


class TestStdlibBridge:
    def test_installed_while_running_and_removed_after(self) -> None:
        """The bridge is on the root logger between init and shutdown, and routes records."""
        capture = CapturingBackend()
        app = dev_app(capture)
        root = logging.getLogger()
        level = root.level
        app.init_resources()
        bridges = [h for h in root.handlers if isinstance(h, HFTBridgeHandler)]
        assert len(bridges) == 1
        logging.getLogger("somelib").info("from a library")
        app.shutdown_resources()
        assert not [h for h in root.handlers if isinstance(h, HFTBridgeHandler)]
        assert root.level == level
        [record] = [r for r in capture.logs() if r.logger == "somelib"]
        assert (record.level, record.msg) == ("INFO", "from a library")


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


class TestValidatedOnce:
    def test_the_container_validates_its_logging_config_once(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Starting the app validates the logging config once; backends, pipeline, loggers and
        the monitor take that model."""
        app = dev_app(CapturingBackend())
        counts = count_validations(monkeypatch)
        app.init_resources()
        app.logging.logger(name="x").info("hello")
        app.logging.monitor()
        app.shutdown_resources()
        assert counts == {"logging": 1, "rules": 1}

    def test_the_real_backends_are_built_from_the_validated_model(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With the real backends (here the audit trail alone), no section is validated again."""
        app = create_application("dev", REPO_SETTINGS, env={})
        for name in ("console", "file"):
            app.config.logging.backends[name].enabled.override(False)
        app.config.logging.backends.audit.enabled.override(True)
        app.config.logging.backends.audit.file_path.override(str(tmp_path / "audit.log"))
        counts = count_validations(monkeypatch)
        app.init_resources()
        app.shutdown_resources()
        assert counts == {"logging": 1, "rules": 1}

    def test_the_writer_process_takes_the_validated_sections(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With dev's real console and file (one writer process hosting both), no section is
        validated again in this process."""
        app = create_application("dev", REPO_SETTINGS, env={})
        app.config.logging.backends.file.file_path.override(str(tmp_path / "hft.log"))
        app.config.logging.backends.console.stream.override("stdout")
        app.config.logging.hft_settings.spill_dir.override(str(tmp_path / "spill"))
        counts = count_validations(monkeypatch)
        app.init_resources()
        app.logging.logger(name="x").info("hello")
        app.shutdown_resources()
        assert counts == {"logging": 1, "rules": 1}

    def test_an_override_is_validated_when_the_resources_start(self) -> None:
        """A bad override made after loading is the loader's one-line error, at start."""
        app = dev_app(CapturingBackend())
        app.config.logging.hft_settings.ring_buffer_size.override(10)
        with pytest.raises(ConfigError) as caught:
            app.init_resources()
        app.shutdown_resources()
        assert str(caught.value) == (
            "logging.hft_settings.ring_buffer_size: 10 is too small for HFT operations "
            "(at least 1000)"
        )
