"""The application's declarative containers, and nothing else.

``settings → Application.config → LoggingContainer (settings → backends → pipeline → loggers)
→ ExchangesContainer``. Build one with :func:`create_application`.

The ``logging`` configuration (base.yaml, the environment's override and any a test adds) is
validated once, by the ``settings`` resource; the backends, the pipeline and the monitor take
that typed ``LoggingSettings`` and validate nothing again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from dependency_injector import containers, providers

from hft.config import LoggingConfigManager, LoggingSettings, logging_settings
from hft.exchanges import (
    ExchangeFactory,
    GateioUnifiedExchange,
    MexcUnifiedExchange,
    SimulatedTransport,
    build_connection_strategy,
)
from hft.logging import (
    ConfigurablePerformanceMonitor,
    HFTLogger,
    LoggingBackend,
    LoggingPipeline,
    exchange_logger,
    install_stdlib_bridge,
    settings_secrets,
    strategy_logger,
)
from hft.logging.control import levels_from
from hft.logging.factory import backends_for, pipeline_for


def open_backends(settings: LoggingSettings) -> Iterator[list[LoggingBackend]]:
    """Resource: the backends validated *settings* enable, closed at shutdown.

    The pipeline closes them first, after its drain (closing is idempotent); this teardown
    is the safety net for backends built but never handed to a pipeline.
    """
    backends = backends_for(settings)
    try:
        yield backends
    finally:
        for backend in backends:
            backend.close()


def run_pipeline(
    backends: list[LoggingBackend],
    settings: LoggingSettings,
    secrets: tuple[str, ...] = (),
    source: LoggingConfigManager | None = None,
) -> Iterator[LoggingPipeline]:
    """Resource: the started pipeline; shutdown drains it, then closes its backends.

    The pipeline closes the backends itself rather than trusting the order of resource
    teardown: dependency-injector orders shutdown by the *original* providers, so a test
    that overrides ``backends`` with another Resource would otherwise see its backends
    closed before the drain. *secrets* (the settings' ``SecretStr`` values) are masked in
    every record. SIGHUP re-reads the ``levels`` of *source*'s files (None: none to read).
    """
    reload = None if source is None else levels_from(source)
    pipeline = pipeline_for(settings, backends, secrets, reload).start()
    try:
        yield pipeline
    finally:
        pipeline.close()


class LoggingContainer(containers.DeclarativeContainer):
    """Backends, the pipeline that feeds them, and logger factories on that pipeline."""

    config = providers.Configuration(strict=True)
    #: The values of every ``SecretStr`` in the settings (exchange API keys…): masked in text.
    secrets = providers.Dependency(instance_of=tuple, default=())
    #: Where the settings came from (the files SIGHUP re-reads ``levels`` from); None: none.
    source: providers.Dependency[LoggingConfigManager | None] = providers.Dependency(
        default=providers.Object(None)
    )

    # Settings: ``config`` validated once, when the resources start (after any override)
    settings = providers.Resource(logging_settings, config)

    # Backends (a Resource of its own, passed directly to the pipeline so that shutdown
    # drains the pipeline before it closes the backends)
    backends = providers.Resource(open_backends, settings=settings)

    # Pipeline
    pipeline = providers.Resource(
        run_pipeline, backends=backends, settings=settings, secrets=secrets, source=source
    )

    # Loggers: cheap views on the one pipeline
    logger = providers.Factory(HFTLogger, pipeline=pipeline)
    exchange_logger = providers.Factory(exchange_logger, pipeline=pipeline)
    strategy_logger = providers.Factory(strategy_logger, pipeline=pipeline)

    # Third-party libraries' stdlib logging, routed into the pipeline until shutdown (it
    # depends on the pipeline directly, so it is removed before the pipeline drains)
    stdlib_bridge = providers.Resource(install_stdlib_bridge, pipeline=pipeline, level="INFO")

    # Monitoring: the performance monitor, logging as exchange.system.performance
    monitor = providers.Factory(
        ConfigurablePerformanceMonitor,
        logging_config=settings,
        logger=providers.Factory(
            exchange_logger, exchange_name="system", component_type="performance"
        ),
    )


class ExchangesContainer(containers.DeclarativeContainer):
    """Exchanges and their connection strategies, given the logging container."""

    config = providers.Configuration(strict=True)  # the ``exchanges`` section
    hft_settings = providers.Dependency(instance_of=dict)  # ``logging.hft_settings``
    logging = providers.DependenciesContainer()

    # Connections: a simulated socket under each strategy (override ``transport`` in tests)
    transport = providers.Factory(SimulatedTransport)
    connection = providers.Factory(
        build_connection_strategy,
        logger_factory=logging.strategy_logger.provider,
        transport_factory=transport.provider,
        hft_settings=hft_settings,
    )

    # Exchanges: one provider each, handed to the factory as providers so an override of
    # one (a fake exchange in a test) is what the factory builds
    mexc = providers.Factory(MexcUnifiedExchange)
    gateio = providers.Factory(GateioUnifiedExchange)
    factory = providers.Singleton(
        ExchangeFactory,
        config=config,
        logger_factory=logging.exchange_logger.provider,
        hft_settings=hft_settings,
        builders=providers.Dict(mexc=mexc.provider, gateio=gateio.provider),
        connection_factory=connection.provider,
    )


class Application(containers.DeclarativeContainer):
    """The root container: configuration, logging, exchanges."""

    config = providers.Configuration(strict=True)
    settings = providers.Dependency(instance_of=LoggingConfigManager)

    logging = providers.Container(
        LoggingContainer,
        config=config.logging,
        secrets=providers.Callable(settings_secrets, config),
        source=settings,
    )
    exchanges = providers.Container(
        ExchangesContainer,
        config=config.exchanges,
        hft_settings=config.logging.hft_settings,
        logging=logging,
    )


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
