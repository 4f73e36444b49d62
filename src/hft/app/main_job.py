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
from hft.logging import LoggingMetrics, LoggingPipeline

#: Decides whether a run met the latency budget; swap in the performance monitor's check.
ComplianceCheck = Callable[[LoggingMetrics, Mapping[str, Any]], bool]


def p99_within_budget(metrics: LoggingMetrics, hft_settings: Mapping[str, Any]) -> bool:
    """Compliant when the sampled p99 call latency is within ``max_latency_us``."""
    return metrics.p99_latency_us <= float(hft_settings["max_latency_us"])


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
    compliance: ComplianceCheck = p99_within_budget,
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
    verdict = compliance(metrics, application.config.logging.hft_settings())
    return RunReport(metrics, stats, verdict, interrupted)


def run_main_job(application: Application, duration_s: float) -> LoggingMetrics:
    """The pipeline's metrics after a run of the trading app (kept for existing callers)."""
    return run_trading_app(application, duration_s).metrics
