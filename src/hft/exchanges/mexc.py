"""MEXC, stubbed: the shared simulation under MEXC's name, symbols and order ids."""

from __future__ import annotations

from hft.exchanges._simulated import SimulatedExchange


class MexcUnifiedExchange(SimulatedExchange):
    """MEXC spot (simulated: no network). Symbols are spelt ``BTCUSDT``."""

    name = "mexc"
    order_prefix = "MX"
