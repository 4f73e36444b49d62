"""Exchanges behind one interface; MEXC and Gate.io are stubs that never touch the network."""

from hft.exchanges._base import Order, OrderBook, Side, Trade, UnifiedCompositeExchange
from hft.exchanges._simulated import MarketSimulator, SimulatedExchange, SimulatedTransport
from hft.exchanges.connection import (
    ConnectionStrategy,
    ReconnectPolicy,
    Transport,
    build_connection_strategy,
)
from hft.exchanges.factory import ExchangeFactory
from hft.exchanges.gateio import GateioUnifiedExchange
from hft.exchanges.mexc import MexcUnifiedExchange

__all__ = [
    "ConnectionStrategy",
    "ExchangeFactory",
    "GateioUnifiedExchange",
    "MarketSimulator",
    "MexcUnifiedExchange",
    "Order",
    "OrderBook",
    "ReconnectPolicy",
    "Side",
    "SimulatedExchange",
    "SimulatedTransport",
    "Trade",
    "Transport",
    "UnifiedCompositeExchange",
    "build_connection_strategy",
]
