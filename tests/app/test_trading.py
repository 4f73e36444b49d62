"""The trading app: wiring, the spread strategy, a short run and its summary."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from hft import cli
from hft.app.main_job import run_trading_app
from hft.app.summary import format_run_report
from hft.app.trading import SpreadStrategy, trade
from hft.exchanges import OrderBook
from hft.logging.testing import CapturingBackend, capture_logs
from tests._apps import REPO_SETTINGS, dev_app


def book(exchange: str, bid: float, ask: float) -> OrderBook:
    """A one-level BTCUSDT book."""
    return OrderBook(exchange, "BTCUSDT", 1, ((bid, 1.0),), ((ask, 1.0),))


class TestWiring:
    def test_unwired_call_fails_loudly(self) -> None:
        """Calling ``trade`` without wiring raises instead of using Provide markers."""
        with pytest.raises(RuntimeError, match=r"trade\(\) was called without wiring"):
            anyio.run(trade, 0.01)


class TestSpreadStrategy:
    def test_one_exchange_is_no_opportunity(self) -> None:
        """With books from one exchange only, nothing is compared."""
        with capture_logs() as (logger, _):
            assert SpreadStrategy(logger).on_book(book("mexc", 99.0, 100.0)) is None

    def test_crossed_books_are_an_opportunity(self) -> None:
        """A bid on one exchange above the ask on another, by the threshold, is reported."""
        with capture_logs() as (logger, captured):
            strategy = SpreadStrategy(logger, threshold_bps=10.0)
            strategy.on_book(book("mexc", 99.0, 100.0))
            found = strategy.on_book(book("gateio", 100.5, 101.0))
        assert found is not None
        assert (found.buy_exchange, found.sell_exchange) == ("mexc", "gateio")
        assert found.edge_bps == pytest.approx(50.0)
        assert "arbitrage opportunity" in captured.messages()
        assert any(r.msg == "spread_bps" for r in captured.metrics())

    def test_small_edge_is_ignored(self) -> None:
        """An edge under the threshold is logged as a spread, not an opportunity."""
        with capture_logs() as (logger, captured):
            strategy = SpreadStrategy(logger, threshold_bps=10.0)
            strategy.on_book(book("mexc", 99.0, 100.0))
            assert strategy.on_book(book("gateio", 100.01, 101.0)) is None
        assert "arbitrage opportunity" not in captured.messages()


class TestRun:
    def test_short_run_trades_and_audits(self) -> None:
        """A short dev run streams books and audits every order it places and cancels."""
        capture = CapturingBackend()
        report = run_trading_app(dev_app(capture), 0.3)
        stats = report.trading
        assert stats.books > 0
        audits = [r.msg for r in capture.records if r.level == "AUDIT"]
        assert audits.count("order_placed") == stats.orders_placed
        assert audits.count("order_cancelled") == stats.orders_cancelled == stats.orders_placed
        assert "trading started" in capture.messages()
        assert capture.messages().count("exchange closed") == 2  # drained at shutdown
        assert report.metrics.dropped == 0

    def test_compliance_verdict_is_swappable(self) -> None:
        """The summary's verdict comes from the check passed in."""
        report = run_trading_app(dev_app(CapturingBackend()), 0.05, compliance=lambda *_: False)
        assert report.compliant is False
        assert "NOT COMPLIANT" in format_run_report(report, 0.05)

    def test_summary_names_backends_and_trading(self) -> None:
        """The report lists each backend, the trading counts and the latency percentiles."""
        report = run_trading_app(dev_app(CapturingBackend()), 0.05)
        text = format_run_report(report, 0.05)
        for part in ("capture", "books", "p50", "p99", "throughput", "HFT compliance"):
            assert part in text


class TestCli:
    def test_hft_run_dev_prints_a_summary(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``hft run --env dev`` trades, then prints the summary; its log file is written."""
        monkeypatch.chdir(tmp_path)
        argv = ["run", "--env", "dev", "--duration", "0.2", "--settings-dir", str(REPO_SETTINGS)]
        assert cli.main(argv) == 0
        out = capsys.readouterr().out
        assert "HFT compliance" in out
        assert (tmp_path / "logs" / "hft.log").stat().st_size > 0
