"""The trading app: two stub exchanges, their books, a spread strategy, simulated orders."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import anyio
from dependency_injector.wiring import Provide, Provider, inject

from hft.app._wiring import ensure_wired
from hft.containers import Application
from hft.exchanges import ExchangeFactory, OrderBook, Side, UnifiedCompositeExchange
from hft.logging import HFTLoggerInterface, LoggingPipeline, monitor_hft_logging_performance


@dataclass(frozen=True, slots=True)
class Opportunity:
    """Buy on one exchange's ask, sell on another's bid, for ``edge_bps`` before fees."""

    symbol: str
    buy_exchange: str
    buy_price: float
    sell_exchange: str
    sell_price: float
    edge_bps: float


@dataclass(slots=True)
class TradingStats:
    """What the app did, for the summary."""

    books: int = 0
    opportunities: int = 0
    orders_placed: int = 0
    orders_cancelled: int = 0


class SpreadStrategy:
    """Keeps the latest book per exchange and symbol; logs spreads, spots opportunities."""

    def __init__(self, logger: HFTLoggerInterface, threshold_bps: float = 10.0) -> None:
        self.logger = logger
        self.threshold_bps = threshold_bps
        self._books: dict[str, dict[str, OrderBook]] = {}

    def on_book(self, book: OrderBook) -> Opportunity | None:
        """Take *book*; return the opportunity it opens against another exchange, if any."""
        books = self._books.setdefault(book.symbol, {})
        books[book.exchange] = book
        if len(books) < 2:
            return None
        buy = min(books.values(), key=lambda b: b.best_ask)
        sell = max(books.values(), key=lambda b: b.best_bid)
        edge_bps = (sell.best_bid - buy.best_ask) / buy.best_ask * 1e4
        self.logger.debug("spread", symbol=book.symbol, edge_bps=round(edge_bps, 3))
        self.logger.metric("spread_bps", edge_bps, tags={"symbol": book.symbol})
        if buy.exchange == sell.exchange or edge_bps < self.threshold_bps:
            return None
        found = Opportunity(
            book.symbol, buy.exchange, buy.best_ask, sell.exchange, sell.best_bid, edge_bps
        )
        self.logger.info(
            "arbitrage opportunity",
            symbol=found.symbol,
            buy=found.buy_exchange,
            sell=found.sell_exchange,
            edge_bps=round(edge_bps, 3),
        )
        self.logger.metric("arbitrage_opportunity", 1, tags={"symbol": book.symbol})
        return found


class Trader:
    """Streams books into the strategy and answers an opportunity with a pair of orders,
    which it then cancels (a simulation: nothing fills)."""

    def __init__(
        self,
        exchanges: dict[str, UnifiedCompositeExchange],
        strategy: SpreadStrategy,
        quantity: float = 0.001,
        stats: TradingStats | None = None,
    ) -> None:
        self.exchanges, self.strategy, self.quantity = exchanges, strategy, quantity
        self.stats = TradingStats() if stats is None else stats
        self._busy: set[str] = set()

    async def stream(self, exchange: UnifiedCompositeExchange, symbol: str) -> None:
        """Feed *symbol*'s books from *exchange* into the strategy until it closes."""
        async for book in exchange.subscribe_order_book(symbol):
            self.stats.books += 1
            found = self.strategy.on_book(book)
            if found is not None and symbol not in self._busy:
                self._busy.add(symbol)
                try:
                    await self._act(found)
                finally:
                    self._busy.discard(symbol)

    async def _act(self, found: Opportunity) -> None:
        self.stats.opportunities += 1
        legs: tuple[tuple[str, Side, float], ...] = (
            (found.buy_exchange, "buy", found.buy_price),
            (found.sell_exchange, "sell", found.sell_price),
        )
        with anyio.CancelScope(shield=True):  # never leave an order open when time is up
            await self._place_and_cancel(found.symbol, legs)

    async def _place_and_cancel(
        self, symbol: str, legs: tuple[tuple[str, Side, float], ...]
    ) -> None:
        for name, side, price in legs:
            exchange = self.exchanges[name]
            order_id = await exchange.place_order(symbol, side, price, self.quantity)
            self.stats.orders_placed += 1
            await exchange.cancel_order(order_id)
            self.stats.orders_cancelled += 1


@inject
async def trade(
    duration_s: float,
    *,
    exchange_names: Sequence[str] = ("mexc", "gateio"),
    stats: TradingStats | None = None,
    factory: ExchangeFactory = Provide[Application.exchanges.factory],
    strategy_logger: Callable[..., HFTLoggerInterface] = Provider[
        Application.logging.strategy_logger
    ],
    system_logger: Callable[..., HFTLoggerInterface] = Provider[
        Application.logging.exchange_logger
    ],
    pipeline: LoggingPipeline = Provide[Application.logging.pipeline],
    logging_config: dict[str, Any] = Provide[Application.config.logging],
) -> TradingStats:
    """Connect the exchanges, trade their spreads for *duration_s* seconds, close them.

    Counts go to *stats* as they happen, so a caller interrupted half-way still has them.
    """
    ensure_wired(
        "trade",
        factory=factory,
        strategy_logger=strategy_logger,
        system_logger=system_logger,
        pipeline=pipeline,
        logging_config=logging_config,
    )
    performance = system_logger(exchange_name="system", component_type="performance")
    system = system_logger(exchange_name="system", component_type="trading")
    strategy = SpreadStrategy(strategy_logger(strategy_path="arbitrage.spread", tags=["arbitrage"]))
    async with AsyncExitStack() as stack:
        exchanges = {}
        for name in exchange_names:
            exchanges[name] = await stack.enter_async_context(await factory.create_exchange(name))
        system.info("trading started", exchanges=list(exchanges), duration_s=duration_s)
        trader = Trader(exchanges, strategy, stats=stats)
        with anyio.move_on_after(duration_s):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(
                    monitor_hft_logging_performance, pipeline, logging_config, performance
                )
                for exchange in exchanges.values():
                    for symbol in exchange.symbols:
                        tasks.start_soon(trader.stream, exchange, symbol)
        system.info("trading stopped", books=trader.stats.books, orders=trader.stats.orders_placed)
    return trader.stats
