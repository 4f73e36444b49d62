"""The application's declarative containers, and nothing else.

``settings → Application.config → LoggingContainer (backends → pipeline → loggers)
→ ExchangesContainer``. Build one with :func:`create_application`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dependency_injector import containers, providers

from hft.config import LoggingConfigManager
from hft.logging import (
    ConfigurablePerformanceMonitor,
    HFTLogger,
    LoggingBackend,
    LoggingPipeline,
)
from hft.logging._factory import (
    create_backends_from_config,
    exchange_logger,
    pipeline_settings,
    strategy_logger,
)


def open_backends(config: Mapping[str, Any]) -> Iterator[list[LoggingBackend]]:
    """Resource: the enabled backends of a ``logging`` section, closed at shutdown."""
    backends = create_backends_from_config(config)
    try:
        yield backends
    finally:
        for backend in backends:
            backend.close()


def run_pipeline(
    backends: list[LoggingBackend], config: Mapping[str, Any]
) -> Iterator[LoggingPipeline]:
    """Resource: the started pipeline; shutdown drains it (the backends close after)."""
    pipeline = LoggingPipeline(backends, **pipeline_settings(config)).start()
    try:
        yield pipeline
    finally:
        pipeline.close(close_backends=False)


class LoggingContainer(containers.DeclarativeContainer):
    """Backends, the pipeline that feeds them, and logger factories on that pipeline."""

    config = providers.Configuration(strict=True)

    # Backends (a Resource of its own, passed directly to the pipeline so that shutdown
    # drains the pipeline before it closes the backends)
    backends = providers.Resource(open_backends, config=config)

    # Pipeline
    pipeline = providers.Resource(run_pipeline, backends=backends, config=config)

    # Loggers: cheap views on the one pipeline
    logger = providers.Factory(HFTLogger, pipeline=pipeline)
    exchange_logger = providers.Factory(exchange_logger, pipeline=pipeline)
    strategy_logger = providers.Factory(strategy_logger, pipeline=pipeline)

    # Monitoring: the spec's performance monitor, logging as exchange.system.performance
    monitor = providers.Factory(
        ConfigurablePerformanceMonitor,
        logging_config=config,
        logger=providers.Factory(
            exchange_logger, exchange_name="system", component_type="performance"
        ),
    )


class ExchangesContainer(containers.DeclarativeContainer):
    """Exchanges and their connection strategies, given the logging container."""

    config = providers.Configuration(strict=True)
    logging = providers.DependenciesContainer()


class Application(containers.DeclarativeContainer):
    """The root container: configuration, logging, exchanges."""

    config = providers.Configuration(strict=True)
    settings = providers.Dependency(instance_of=LoggingConfigManager)

    logging = providers.Container(LoggingContainer, config=config.logging)
    exchanges = providers.Container(ExchangesContainer, config=config.exchanges, logging=logging)


def create_application(
    environment: str | None = None,
    settings_dir: str | Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Application:
    """Load and validate the settings for *environment* and build the container.

    The container's configuration is the base settings; the environment (its file and
    ``HFT_…`` variables) is applied on top as a configuration override, so nothing mutates
    the base after the fact.
    """
    manager = LoggingConfigManager(environment, settings_dir, env)
    application = Application(settings=providers.Object(manager))
    application.config.from_dict(manager.base_dict())
    application.config.override(manager.settings.model_dump())
    return application
