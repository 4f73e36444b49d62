"""The stubs: deterministic market data, audited orders, connection state, the transport."""

from __future__ import annotations

import pytest

from hft.config import ExchangeSettings
from hft.exchanges import (
    GateioUnifiedExchange,
    MarketSimulator,
    MexcUnifiedExchange,
    OrderBook,
    SimulatedTransport,
)
from hft.logging.testing import capture_logs

pytestmark = pytest.mark.anyio


def settings(seed: int = 1) -> ExchangeSettings:
    """Settings of an instant exchange trading two symbols."""
    return ExchangeSettings(
        enabled=True,
        rest_url="https://example.invalid",
        ws_public_url="wss://example.invalid/public",
        ws_private_url="wss://example.invalid/private",
        symbols=("BTCUSDT", "ETHUSDT"),
        simulated_latency_ms=0.0,
        seed=seed,
    )


async def first_books(exchange: MexcUnifiedExchange, n: int) -> list[OrderBook]:
    """The first *n* BTCUSDT books of a fresh connection."""
    books = []
    async with exchange:
        async for book in exchange.subscribe_order_book("BTCUSDT"):
            books.append(book)
            if len(books) == n:
                break
    return books


class TestMarketSimulator:
    def test_same_seed_same_books(self) -> None:
        """Two simulators with one seed produce identical books."""
        a, b = MarketSimulator("mexc", 7), MarketSimulator("mexc", 7)
        assert [a.next_book("BTCUSDT") for _ in range(50)] == [
            b.next_book("BTCUSDT") for _ in range(50)
        ]

    def test_other_seed_other_books(self) -> None:
        """A different seed gives a different walk."""
        a, b = MarketSimulator("mexc", 7), MarketSimulator("mexc", 8)
        assert [a.next_book("BTCUSDT").mid for _ in range(5)] != [
            b.next_book("BTCUSDT").mid for _ in range(5)
        ]

    def test_streams_do_not_disturb_each_other(self) -> None:
        """Trades drawn in between do not change the books (one generator per stream)."""
        a, b = MarketSimulator("mexc", 7), MarketSimulator("mexc", 7)
        books_a = [a.next_book("ETHUSDT") for _ in range(10)]
        books_b = []
        for _ in range(10):
            b.next_trade("ETHUSDT")
            b.next_trade("BTCUSDT")
            books_b.append(b.next_book("ETHUSDT"))
        assert books_a == books_b

    def test_books_are_ordered_and_uncrossed(self) -> None:
        """Bids fall, asks rise, and the best bid is below the best ask."""
        for _ in range(100):
            book = MarketSimulator("gateio", 2).next_book("BTCUSDT")
            assert [p for p, _ in book.bids] == sorted((p for p, _ in book.bids), reverse=True)
            assert [p for p, _ in book.asks] == sorted(p for p, _ in book.asks)
            assert book.best_bid < book.best_ask


class TestStubExchange:
    async def test_subscriptions_are_deterministic(self) -> None:
        """Two stubs with the same settings stream the same books."""
        with capture_logs() as (logger, _):
            one = await first_books(MexcUnifiedExchange(settings(), logger, tick_interval_s=0), 20)
            two = await first_books(MexcUnifiedExchange(settings(), logger, tick_interval_s=0), 20)
        assert one == two
        assert [b.seq for b in one] == list(range(1, 21))

    async def test_trades_stream(self) -> None:
        """The trade subscription yields trades of the asked symbol."""
        with capture_logs() as (logger, _):
            async with GateioUnifiedExchange(settings(), logger, tick_interval_s=0) as exchange:
                trades = []
                async for trade in exchange.subscribe_trades("ETHUSDT"):
                    trades.append(trade)
                    if len(trades) == 3:
                        break
        assert {t.symbol for t in trades} == {"ETHUSDT"}
        assert {t.exchange for t in trades} == {"gateio"}

    async def test_subscription_ends_when_closed(self) -> None:
        """Closing the exchange ends its subscriptions."""
        with capture_logs() as (logger, _):
            exchange = MexcUnifiedExchange(settings(), logger, tick_interval_s=0)
            await exchange.connect()
            seen = 0
            async for _book in exchange.subscribe_order_book("BTCUSDT"):
                seen += 1
                await exchange.close()
        assert seen == 1

    async def test_orders_are_audited(self) -> None:
        """Placing and cancelling an order each leave an audit record with the order id."""
        with capture_logs() as (logger, captured):
            async with GateioUnifiedExchange(settings(), logger, tick_interval_s=0) as exchange:
                order_id = await exchange.place_order("BTCUSDT", "buy", 100.0, 0.5)
                assert await exchange.cancel_order(order_id) == order_id
                assert exchange.open_orders == []
        audits = [r for r in captured.records if r.level == "AUDIT"]
        assert [r.msg for r in audits] == ["order_placed", "order_cancelled"]
        assert audits[0].fields["order_id"] == order_id == "GT00000001"
        assert audits[0].fields["native_symbol"] == "BTC_USDT"
        assert audits[1].fields["order_id"] == order_id

    async def test_orders_need_a_connection(self) -> None:
        """Placing an order before connecting is a clear error."""
        with capture_logs() as (logger, _):
            exchange = MexcUnifiedExchange(settings(), logger)
            with pytest.raises(RuntimeError, match="not connected"):
                await exchange.place_order("BTCUSDT", "sell", 1.0, 1.0)

    async def test_bad_orders_are_refused(self) -> None:
        """Unknown symbols, non-positive sizes, unknown and twice-cancelled ids are errors."""
        with capture_logs() as (logger, _):
            async with MexcUnifiedExchange(settings(), logger) as exchange:
                with pytest.raises(ValueError, match="does not trade"):
                    await exchange.place_order("DOGEUSDT", "buy", 1.0, 1.0)
                with pytest.raises(ValueError, match="positive"):
                    await exchange.place_order("BTCUSDT", "buy", 1.0, 0.0)
                with pytest.raises(ValueError, match="unknown order id"):
                    await exchange.cancel_order("nope")
                order_id = await exchange.place_order("BTCUSDT", "buy", 1.0, 1.0)
                await exchange.cancel_order(order_id)
                with pytest.raises(ValueError, match="already cancelled"):
                    await exchange.cancel_order(order_id)


class TestSimulatedTransport:
    async def test_fails_the_first_connects_then_succeeds(self) -> None:
        """``connect_failures`` connects raise the configured error, then the socket opens."""
        transport = SimulatedTransport(connect_failures=2)
        for _ in range(2):
            with pytest.raises(ConnectionRefusedError):
                await transport.connect("wss://x")
        await transport.connect("wss://x")
        assert transport.is_open
        assert transport.connects == 3
