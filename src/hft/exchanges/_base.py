"""What every exchange offers: market data types, orders and ``UnifiedCompositeExchange``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Self

Side = Literal["buy", "sell"]
#: A price level: ``(price, quantity)``.
Level = tuple[float, float]


@dataclass(frozen=True, slots=True)
class OrderBook:
    """The top levels of one symbol's book on one exchange (best level first)."""

    exchange: str
    symbol: str
    seq: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]

    @property
    def best_bid(self) -> float:
        """Highest bid price."""
        return self.bids[0][0]

    @property
    def best_ask(self) -> float:
        """Lowest ask price."""
        return self.asks[0][0]

    @property
    def mid(self) -> float:
        """Mean of the best bid and ask."""
        return (self.best_bid + self.best_ask) / 2


@dataclass(frozen=True, slots=True)
class Trade:
    """One public trade."""

    exchange: str
    symbol: str
    seq: int
    price: float
    quantity: float
    side: Side


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the exchange acknowledged it."""

    order_id: str
    exchange: str
    symbol: str
    side: Side
    price: float
    quantity: float
    status: Literal["open", "cancelled"] = "open"


class UnifiedCompositeExchange(ABC):
    """Public and private API of one exchange behind one interface.

    Use it as an async context manager (``connect`` on entry, ``close`` on exit). The
    subscriptions are async iterators that end when the exchange is closed.
    """

    name: str

    @property
    @abstractmethod
    def symbols(self) -> tuple[str, ...]:
        """The symbols this exchange trades."""

    @abstractmethod
    async def connect(self) -> None:
        """Open the public and private connections."""

    @abstractmethod
    async def close(self) -> None:
        """Close every connection; subscriptions end. Closing twice is harmless."""

    @abstractmethod
    def subscribe_order_book(self, symbol: str) -> AsyncIterator[OrderBook]:
        """Book snapshots of *symbol*, one per update."""

    @abstractmethod
    def subscribe_trades(self, symbol: str) -> AsyncIterator[Trade]:
        """Public trades of *symbol*."""

    @abstractmethod
    async def place_order(self, symbol: str, side: Side, price: float, quantity: float) -> str:
        """Place a limit order; return its order id."""

    @abstractmethod
    async def cancel_order(self, order_id: str) -> str:
        """Cancel an open order; return its order id."""

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
