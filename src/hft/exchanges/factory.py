"""``ExchangeFactory``: exchanges by name, with its configuration and loggers injected."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hft.config import ExchangeSettings
from hft.exchanges._base import UnifiedCompositeExchange
from hft.exchanges._simulated import ConnectionFactory
from hft.exchanges.gateio import GateioUnifiedExchange
from hft.exchanges.mexc import MexcUnifiedExchange
from hft.logging import HFTLoggerInterface

ExchangeBuilder = Callable[..., UnifiedCompositeExchange]

#: The exchanges a factory builds when it is given no builders.
DEFAULT_BUILDERS: Mapping[str, ExchangeBuilder] = {
    "mexc": MexcUnifiedExchange,
    "gateio": GateioUnifiedExchange,
}


class ExchangeFactory:
    """Builds exchanges by name, each with its own configured logger.

    *config* is the ``exchanges`` settings section (name → settings, as models or dicts);
    *logger_factory* is called as ``logger_factory(exchange_name=…, component_type=…)``
    (the logging container's ``exchange_logger``); *hft_settings* gives the latency target
    and ring size every exchange logger is configured with. *builders* maps lower-case names
    to exchange constructors (the container passes its providers, so tests can override one).
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        logger_factory: Callable[..., HFTLoggerInterface],
        hft_settings: Mapping[str, Any],
        builders: Mapping[str, ExchangeBuilder] | None = None,
        connection_factory: ConnectionFactory | None = None,
        **exchange_options: Any,
    ) -> None:
        self.config = config
        self.hft_settings = hft_settings
        self._logger_factory = logger_factory
        self._builders = dict(DEFAULT_BUILDERS if builders is None else builders)
        self._connection_factory = connection_factory
        self._options = exchange_options

    @property
    def known_exchanges(self) -> tuple[str, ...]:
        """Names this factory can build, sorted."""
        return tuple(sorted(self._builders))

    def exchange_settings(self, name: str) -> ExchangeSettings:
        """The validated settings of exchange *name* (``ValueError`` if absent)."""
        try:
            section = self.config[name]
        except KeyError:
            raise ValueError(f"no settings for exchange {name!r} under 'exchanges'") from None
        return ExchangeSettings.model_validate(section)

    async def create_exchange(self, exchange_name: str) -> UnifiedCompositeExchange:
        """A new, unconnected exchange called *exchange_name* (any case)."""
        name = exchange_name.lower()
        builder = self._builders.get(name)
        if builder is None:
            known = ", ".join(self.known_exchanges)
            raise ValueError(f"Unknown exchange: {exchange_name!r} (known: {known})")
        settings = self.exchange_settings(name)
        if not settings.enabled:
            raise ValueError(f"exchange {name!r} is disabled (exchanges.{name}.enabled)")
        return builder(
            config=settings,
            logger=self._logger(name),
            connection_factory=self._connection_factory,
            **self._options,
        )

    def _logger(self, name: str) -> HFTLoggerInterface:
        logger = self._logger_factory(exchange_name=name, component_type="unified_exchange")
        logger.configure_performance(
            max_latency_us=self.hft_settings.get("max_latency_us", 1000),
            ring_buffer_size=self.hft_settings.get("ring_buffer_size", 10000),
        )
        return logger
