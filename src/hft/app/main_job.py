"""``hft run``: the application logging through injected loggers for a while."""

from __future__ import annotations

import math
import random
import time

from hft.containers import Application
from hft.logging import HFTLoggerInterface, LoggingMetrics, LoggingPipeline

_TICK_S = 0.02


class MarketTicker:
    """A stand-in for market data: books from two exchanges, spreads from one strategy."""

    def __init__(
        self,
        exchange_loggers: dict[str, HFTLoggerInterface],
        strategy_logger: HFTLoggerInterface,
        seed: int = 7,
    ) -> None:
        self._exchanges = exchange_loggers
        self._strategy = strategy_logger
        self._random = random.Random(seed)
        self._mid = dict.fromkeys(exchange_loggers, 65_000.0)

    def tick(self, n: int) -> None:
        """One round: a book update per exchange, and a spread every fifth round."""
        for name, logger in self._exchanges.items():
            self._mid[name] *= math.exp(self._random.gauss(0, 2e-4))
            mid = self._mid[name]
            logger.debug(
                "book update", symbol="BTCUSDT", bid=round(mid - 0.5, 2), ask=round(mid + 0.5, 2)
            )
        if n % 5 == 0:
            mexc, gateio = self._mid.get("mexc", 0.0), self._mid.get("gateio", 0.0)
            spread_bps = (gateio - mexc) / mexc * 1e4 if mexc else 0.0
            self._strategy.info("spread", symbol="BTCUSDT", spread_bps=round(spread_bps, 3))
            self._strategy.metric("spread_bps", spread_bps, tags={"symbol": "BTCUSDT"})


def run_main_job(application: Application, duration_s: float) -> LoggingMetrics:
    """Start the application, log for *duration_s*, shut down, return the pipeline's metrics."""
    application.init_resources()
    pipeline: LoggingPipeline = application.logging.pipeline()
    try:
        system = application.logging.exchange_logger(
            exchange_name="system", component_type="startup"
        )
        system.info("hft started", environment=application.settings().environment)
        ticker = MarketTicker(
            {
                name: application.logging.exchange_logger(exchange_name=name, component_type="ws")
                for name in ("mexc", "gateio")
            },
            application.logging.strategy_logger(
                strategy_path="arbitrage.spread", tags=["arbitrage"]
            ),
        )
        deadline = time.monotonic() + duration_s
        n = 0
        while time.monotonic() < deadline:
            ticker.tick(n)
            n += 1
            time.sleep(_TICK_S)
        system.info("hft stopping", ticks=n)
    finally:
        application.shutdown_resources()
    return pipeline.metrics()
