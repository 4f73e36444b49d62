"""ExchangeFactory: names, loggers, performance settings, overrides through the container."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from dependency_injector import providers

from hft.containers import Application
from hft.exchanges import (
    ExchangeFactory,
    GateioUnifiedExchange,
    MexcUnifiedExchange,
    OrderBook,
    Side,
    Trade,
    UnifiedCompositeExchange,
)
from hft.logging import HFTLogger
from hft.logging.testing import CapturingBackend, capture_logs
from tests._apps import dev_app

pytestmark = pytest.mark.anyio


class FakeExchange(UnifiedCompositeExchange):
    """An exchange that records how it was built and does nothing."""

    name = "fake"

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    @property
    def symbols(self) -> tuple[str, ...]:
        return ()

    async def connect(self) -> None:
        """Nothing to connect."""

    async def close(self) -> None:
        """Nothing to close."""

    async def subscribe_order_book(self, symbol: str) -> AsyncIterator[OrderBook]:
        books: tuple[OrderBook, ...] = ()
        for book in books:
            yield book

    async def subscribe_trades(self, symbol: str) -> AsyncIterator[Trade]:
        trades: tuple[Trade, ...] = ()
        for trade in trades:
            yield trade

    async def place_order(self, symbol: str, side: Side, price: float, quantity: float) -> str:
        return "fake-1"

    async def cancel_order(self, order_id: str) -> str:
        return order_id


@pytest.fixture
def app() -> Iterator[Application]:
    """A dev application on a capturing backend, resources started."""
    application = dev_app(CapturingBackend())
    application.init_resources()
    yield application
    application.shutdown_resources()


class TestCreateExchange:
    @pytest.mark.parametrize(
        ("name", "cls"),
        [
            ("mexc", MexcUnifiedExchange),
            ("GateIO", GateioUnifiedExchange),
            ("MEXC", MexcUnifiedExchange),
        ],
    )
    async def test_names_are_case_insensitive(
        self, app: Application, name: str, cls: type[UnifiedCompositeExchange]
    ) -> None:
        """Any spelling of a known name builds that exchange's stub."""
        exchange = await app.exchanges.factory().create_exchange(name)
        assert type(exchange) is cls

    async def test_logger_is_named_and_tagged_per_exchange(self, app: Application) -> None:
        """Each exchange gets ``exchange.<name>.unified_exchange`` tagged with name and role."""
        exchange = await app.exchanges.factory().create_exchange("gateio")
        assert isinstance(exchange, GateioUnifiedExchange)
        assert exchange.logger.name == "exchange.gateio.unified_exchange"
        assert exchange.logger.tags == ("gateio", "unified_exchange")

    async def test_logger_gets_the_latency_target(self, app: Application) -> None:
        """The logger is configured with ``max_latency_us`` from ``hft_settings``."""
        exchange = await app.exchanges.factory().create_exchange("mexc")
        assert isinstance(exchange, MexcUnifiedExchange)
        assert isinstance(exchange.logger, HFTLogger)
        assert exchange.logger.max_latency_us == app.config.logging.hft_settings.max_latency_us()

    async def test_unknown_name_lists_the_known_ones(self, app: Application) -> None:
        """An unknown exchange is a ValueError naming every exchange the factory knows."""
        with pytest.raises(ValueError, match=r"Unknown exchange: 'kraken' \(known: gateio, mexc\)"):
            await app.exchanges.factory().create_exchange("kraken")

    async def test_disabled_exchange_is_refused(self, app: Application) -> None:
        """An exchange switched off in the settings is not built."""
        with (
            app.config.exchanges.mexc.enabled.override(False),
            pytest.raises(ValueError, match="disabled"),
        ):
            await app.exchanges.factory().create_exchange("mexc")


class TestOverrides:
    async def test_one_exchange_provider_can_be_replaced(self, app: Application) -> None:
        """Overriding the container's ``mexc`` provider changes what the factory builds."""
        with app.exchanges.mexc.override(providers.Factory(FakeExchange)):
            exchange = await app.exchanges.factory().create_exchange("mexc")
        assert isinstance(exchange, FakeExchange)
        assert exchange.kwargs["logger"].name == "exchange.mexc.unified_exchange"
        assert exchange.kwargs["config"].symbols == ("BTCUSDT", "ETHUSDT")
        other = await app.exchanges.factory().create_exchange("gateio")
        assert isinstance(other, GateioUnifiedExchange)

    async def test_factory_works_without_a_container(self) -> None:
        """The factory takes its settings and logger factory as plain arguments."""
        section = {
            "enabled": True,
            "rest_url": "x",
            "ws_public_url": "x",
            "ws_private_url": "x",
            "symbols": ["BTCUSDT"],
            "simulated_latency_ms": 0.0,
            "seed": 3,
        }
        with capture_logs() as (logger, _captured):
            factory = ExchangeFactory(
                {"mexc": section},
                lambda **_: logger,
                {"max_latency_us": 250, "ring_buffer_size": 1000},
            )
            exchange = await factory.create_exchange("mexc")
        assert isinstance(exchange, MexcUnifiedExchange)
        assert logger.max_latency_us == 250


class TestExports:
    def test_all_is_sorted_and_importable(self) -> None:
        """``hft.exchanges.__all__`` is sorted and every name in it exists."""
        import hft.exchanges

        assert hft.exchanges.__all__ == sorted(hft.exchanges.__all__)
        for name in hft.exchanges.__all__:
            assert hasattr(hft.exchanges, name)
