"""What the stub exchanges share: a seeded market, simulated latency, a simulated socket.

Nothing here touches the network. Market data is a mean-reverting random walk per symbol,
seeded from the exchange's ``seed`` and the symbol's name, so the same settings give the same
books and trades on every run, whatever the timing. Latency draws use a separate generator.
"""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Final

import anyio

from hft.config import ExchangeSettings
from hft.exchanges._base import Order, OrderBook, Side, Trade, UnifiedCompositeExchange
from hft.exchanges.connection import ApiType, ConnectionStrategy, Transport
from hft.logging import HFTLoggerInterface

#: Reference prices the walks revert to; other symbols start at 100.
REFERENCE_PRICES: Final = {"BTCUSDT": 65_000.0, "ETHUSDT": 3_400.0}
_DEPTH: Final = 5
_REVERSION: Final = 0.05  # share of the deviation from the reference undone per step
_VOLATILITY: Final = 2e-4  # standard deviation of one step, in log price
_HALF_SPREAD: Final = 0.5e-4  # half the bid-ask spread, relative to the mid

ConnectionFactory = Callable[..., ConnectionStrategy]


class PriceWalk:
    """A seeded, mean-reverting random walk of one symbol's mid price."""

    def __init__(self, seed: int, symbol: str, stream: str) -> None:
        self._rng = random.Random(f"{seed}:{symbol}:{stream}")
        self._reference = REFERENCE_PRICES.get(symbol, 100.0)
        self._log_deviation = 0.0

    def step(self) -> float:
        """Move one step and return the new mid."""
        self._log_deviation += -_REVERSION * self._log_deviation + self._rng.gauss(0, _VOLATILITY)
        return self._reference * math.exp(self._log_deviation)

    def quantity(self) -> float:
        """A plausible order size."""
        return round(self._rng.uniform(0.01, 2.0), 4)

    def side(self) -> Side:
        """Buy or sell, evenly."""
        return "buy" if self._rng.random() < 0.5 else "sell"


class MarketSimulator:
    """Deterministic books and trades for one exchange: one walk per symbol and stream."""

    def __init__(self, exchange: str, seed: int) -> None:
        self.exchange, self.seed = exchange, seed
        self._walks: dict[tuple[str, str], PriceWalk] = {}
        self._seq: dict[tuple[str, str], int] = {}

    def _walk(self, symbol: str, stream: str) -> tuple[PriceWalk, int]:
        key = (symbol, stream)
        walk = self._walks.get(key) or self._walks.setdefault(key, PriceWalk(self.seed, *key))
        self._seq[key] = seq = self._seq.get(key, 0) + 1
        return walk, seq

    def next_book(self, symbol: str) -> OrderBook:
        """The next book of *symbol*: ``_DEPTH`` levels each side around the walk's mid."""
        walk, seq = self._walk(symbol, "book")
        mid = walk.step()
        tick = mid * 1e-5
        bids = tuple(
            (round(mid * (1 - _HALF_SPREAD) - i * tick, 2), walk.quantity()) for i in range(_DEPTH)
        )
        asks = tuple(
            (round(mid * (1 + _HALF_SPREAD) + i * tick, 2), walk.quantity()) for i in range(_DEPTH)
        )
        return OrderBook(self.exchange, symbol, seq, bids, asks)

    def next_trade(self, symbol: str) -> Trade:
        """The next public trade of *symbol*."""
        walk, seq = self._walk(symbol, "trade")
        price = round(walk.step(), 2)
        return Trade(self.exchange, symbol, seq, price, walk.quantity(), walk.side())


class SimulatedLatency:
    """Sleeps about ``latency_s`` (± 20 %), drawn from its own generator."""

    def __init__(self, latency_s: float, seed: int) -> None:
        self.latency_s = latency_s
        self._rng = random.Random(f"{seed}:latency")

    async def __call__(self) -> None:
        """Wait one simulated network round trip (yield at least once)."""
        delay = self.latency_s * self._rng.uniform(0.8, 1.2) if self.latency_s > 0 else 0.0
        await anyio.sleep(delay)


class SimulatedTransport:
    """A socket that is never opened: latency, and failures on demand.

    ``connect_failures`` connects fail first (``None``: all of them) with *error*;
    ``ping_hangs`` makes heartbeats go unanswered. Counters tell what was called.
    """

    def __init__(
        self,
        latency_s: float = 0.0,
        *,
        connect_failures: int | None = 0,
        error: OSError | None = None,
        ping_hangs: bool = False,
        seed: int = 0,
    ) -> None:
        self._latency = SimulatedLatency(latency_s, seed)
        self.connect_failures = connect_failures
        self.error = error or ConnectionRefusedError(111, "Connection refused (simulated)")
        self.ping_hangs = ping_hangs
        self.connects = self.pings = self.closes = 0
        self.is_open = False

    async def connect(self, url: str) -> None:
        """Simulate the handshake with *url*, failing while failures remain."""
        self.connects += 1
        await self._latency()
        if self.connect_failures is None or self.connect_failures > 0:
            if self.connect_failures is not None:
                self.connect_failures -= 1
            raise self.error
        self.is_open = True

    async def ping(self) -> None:
        """Answer after the latency, or never when ``ping_hangs``."""
        self.pings += 1
        if self.ping_hangs:
            await anyio.sleep_forever()
        await self._latency()

    async def close(self) -> None:
        """Mark the socket closed."""
        self.closes += 1
        self.is_open = False


class SimulatedExchange(UnifiedCompositeExchange):
    """A stub exchange on a :class:`MarketSimulator`; subclasses name it and its order ids.

    Its public and private connections are :class:`ConnectionStrategy` objects made by
    *connection_factory* (the container's), or over a :class:`SimulatedTransport` when none
    is given. Orders are kept in memory; placing and cancelling them is audit-logged.
    """

    name = "simulated"
    order_prefix = "SIM-"

    def __init__(
        self,
        config: ExchangeSettings,
        logger: HFTLoggerInterface,
        connection_factory: ConnectionFactory | None = None,
        *,
        tick_interval_s: float = 0.02,
    ) -> None:
        self.config = config
        self.logger = logger
        self.connections: dict[ApiType, ConnectionStrategy] = {}
        self._market = MarketSimulator(self.name, config.seed)
        self._latency_s = config.simulated_latency_ms / 1000
        self._latency = SimulatedLatency(self._latency_s, config.seed)
        self._tick_s = tick_interval_s
        self._connection_factory = connection_factory or self._default_connection
        self._orders: dict[str, Order] = {}

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols this exchange trades."""
        return self.config.symbols

    @property
    def connected(self) -> bool:
        """True while both connections are up."""
        return len(self.connections) == 2 and all(c.connected for c in self.connections.values())

    def native_symbol(self, symbol: str) -> str:
        """*symbol* as this exchange spells it."""
        return symbol

    def _default_connection(
        self, *, exchange: str, api_type: ApiType, url: str, latency_s: float
    ) -> ConnectionStrategy:
        transport: Transport = SimulatedTransport(latency_s, seed=self.config.seed)
        return ConnectionStrategy(
            exchange, api_type, url, transport, self.logger.bind(api_type=api_type)
        )

    async def connect(self) -> None:
        """Open the public and private WebSocket connections (each retried on failure)."""
        urls: dict[ApiType, str] = {
            "public": self.config.ws_public_url,
            "private": self.config.ws_private_url,
        }
        for api_type, url in urls.items():
            strategy = self._connection_factory(
                exchange=self.name, api_type=api_type, url=url, latency_s=self._latency_s
            )
            await strategy.connect_with_retry()
            self.connections[api_type] = strategy
        self.logger.info("exchange connected", symbols=list(self.symbols))

    async def close(self) -> None:
        """Close both connections; subscriptions end at their next update."""
        if not self.connections:
            return
        for strategy in self.connections.values():
            await strategy.close()
        self.connections.clear()
        self.logger.info("exchange closed", open_orders=len(self.open_orders))

    async def subscribe_order_book(self, symbol: str) -> AsyncIterator[OrderBook]:
        """Book updates of *symbol*, every tick interval (plus latency), while connected."""
        self._check_symbol(symbol)
        while await self._next_update():
            yield self._market.next_book(symbol)

    async def subscribe_trades(self, symbol: str) -> AsyncIterator[Trade]:
        """Public trades of *symbol*, every tick interval (plus latency), while connected."""
        self._check_symbol(symbol)
        while await self._next_update():
            yield self._market.next_trade(symbol)

    async def _next_update(self) -> bool:
        if not self.connected:
            return False
        await anyio.sleep(self._tick_s)
        await self._latency()
        return self.connected

    async def place_order(self, symbol: str, side: Side, price: float, quantity: float) -> str:
        """Acknowledge a limit order after one round trip; audit-log it; return its id."""
        self._check_symbol(symbol)
        if price <= 0 or quantity <= 0:
            raise ValueError(f"price and quantity must be positive, got {price} and {quantity}")
        self._require_connected()
        await self._latency()
        order = Order(
            f"{self.order_prefix}{len(self._orders) + 1:08d}",
            self.name,
            symbol,
            side,
            price,
            quantity,
        )
        self._orders[order.order_id] = order
        self.logger.audit(
            "order_placed",
            exchange=self.name,
            order_id=order.order_id,
            symbol=symbol,
            native_symbol=self.native_symbol(symbol),
            side=side,
            price=price,
            quantity=quantity,
        )
        return order.order_id

    async def cancel_order(self, order_id: str) -> str:
        """Cancel an open order after one round trip; audit-log it; return its id."""
        order = self.get_order(order_id)
        if order.status != "open":
            raise ValueError(f"{self.name}: order {order_id} is already {order.status}")
        self._require_connected()
        await self._latency()
        self._orders[order_id] = replace(order, status="cancelled")
        self.logger.audit(
            "order_cancelled", exchange=self.name, order_id=order_id, symbol=order.symbol
        )
        return order_id

    def get_order(self, order_id: str) -> Order:
        """The order called *order_id*; ``ValueError`` when this exchange never placed it."""
        try:
            return self._orders[order_id]
        except KeyError:
            raise ValueError(f"{self.name}: unknown order id {order_id!r}") from None

    @property
    def open_orders(self) -> list[Order]:
        """Orders placed and not cancelled."""
        return [o for o in self._orders.values() if o.status == "open"]

    def _check_symbol(self, symbol: str) -> None:
        if symbol not in self.symbols:
            raise ValueError(
                f"{self.name} does not trade {symbol!r} (symbols: {', '.join(self.symbols)})"
            )

    def _require_connected(self) -> None:
        if not self.connected:
            raise RuntimeError(f"{self.name}: not connected; call connect() or use 'async with'")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} connected={self.connected} symbols={list(self.symbols)}>"
