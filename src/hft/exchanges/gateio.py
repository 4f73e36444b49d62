"""Gate.io, stubbed: the shared simulation under Gate.io's name, symbols and order ids."""

from __future__ import annotations

from hft.exchanges._simulated import SimulatedExchange

_QUOTES = ("USDT", "USDC", "BTC", "ETH")


class GateioUnifiedExchange(SimulatedExchange):
    """Gate.io spot (simulated: no network). Gate.io spells ``BTCUSDT`` as ``BTC_USDT``."""

    name = "gateio"
    order_prefix = "GT"

    def native_symbol(self, symbol: str) -> str:
        """``BTCUSDT`` → ``BTC_USDT`` (known quote currencies; others unchanged)."""
        for quote in _QUOTES:
            if symbol.endswith(quote) and len(symbol) > len(quote):
                return f"{symbol[: -len(quote)]}_{quote}"
        return symbol
