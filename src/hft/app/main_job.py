"""``hft run``: the trading app, wired through the container, then its summary's numbers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio

from hft.app import trading
from hft.app.trading import TradingStats
from hft.containers import Application
from hft.logging import ConfigurablePerformanceMonitor, LoggingMetrics, LoggingPipeline

#: Decides whether a run met the ``logging`` section's performance requirements.
ComplianceCheck = Callable[[LoggingMetrics, Mapping[str, Any]], bool]


def monitor_verdict(metrics: LoggingMetrics, logging_config: Mapping[str, Any]) -> bool:
    """The performance monitor's verdict on every configured threshold (nothing logged)."""
    return ConfigurablePerformanceMonitor(logging_config).evaluate(metrics).compliant


@dataclass(frozen=True, slots=True)
class RunReport:
    """Everything the summary prints."""

    metrics: LoggingMetrics
    trading: TradingStats
    compliant: bool
    interrupted: bool = False


def run_trading_app(
    application: Application,
    duration_s: float,
    compliance: ComplianceCheck = monitor_verdict,
) -> RunReport:
    """Wire, start the resources, trade for *duration_s* (or until Ctrl-C), shut down."""
    application.wire(modules=[trading])
    stats, interrupted = TradingStats(), False
    try:
        application.init_resources()
        pipeline: LoggingPipeline = application.logging.pipeline()
        try:
            anyio.run(partial(trading.trade, duration_s, stats=stats))
        except KeyboardInterrupt:
            interrupted = True
        finally:
            application.shutdown_resources()
    finally:
        application.unwire()
    metrics = pipeline.metrics()
    verdict = compliance(metrics, application.config.logging())
    return RunReport(metrics, stats, verdict, interrupted)


def run_main_job(application: Application, duration_s: float) -> LoggingMetrics:
    """The pipeline's metrics after a run of the trading app (kept for existing callers)."""
    return run_trading_app(application, duration_s).metrics
