"""ConnectionStrategy: timed connects, metrics, backoff with jitter, heartbeats, close."""

from __future__ import annotations

import random

import pytest

from hft.exchanges import ConnectionStrategy, ReconnectPolicy, SimulatedTransport
from hft.logging import HFTLogger
from hft.logging.testing import CapturingBackend, capture_logs
from tests._apps import dev_app

pytestmark = pytest.mark.anyio


class StopLoopError(Exception):
    """Ends a loop under test."""


class Sleeps:
    """A fake ``sleep`` that records the delays asked for and returns at once."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.delays: list[float] = []
        self.stop_after = stop_after

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if self.stop_after is not None and len(self.delays) > self.stop_after:
            raise StopLoopError


def strategy(
    logger: HFTLogger, transport: SimulatedTransport, **options: object
) -> ConnectionStrategy:
    """A private MEXC connection over *transport*."""
    return ConnectionStrategy("mexc", "private", "wss://x", transport, logger, **options)  # type: ignore[arg-type]


class TestConnect:
    async def test_success_is_logged_and_counted(self) -> None:
        """A connect logs its duration and target verdict, and counts a success."""
        with capture_logs() as (logger, captured):
            await strategy(logger, SimulatedTransport(), max_latency_us=1e9).connect()
        [done] = [r for r in captured.logs() if r.msg == "WebSocket connection established"]
        assert done.fields["meets_target"] is True
        assert done.fields["duration_us"] >= 0
        metrics = {r.msg: r.fields for r in captured.metrics()}
        assert metrics["ws_connection_success"]["tags"] == {
            "exchange": "mexc",
            "api_type": "private",
        }
        assert "ws_connection_duration_us" in metrics

    async def test_missed_target_is_reported(self) -> None:
        """A connect slower than ``max_latency_us`` says so in ``meets_target``."""
        with capture_logs() as (logger, captured):
            await strategy(logger, SimulatedTransport(), max_latency_us=1e-6).connect()
        [done] = [r for r in captured.logs() if r.msg == "WebSocket connection established"]
        assert done.fields["meets_target"] is False

    async def test_failure_is_logged_counted_and_raised(self) -> None:
        """A failed connect logs an error, counts it by error type and re-raises."""
        with capture_logs() as (logger, captured):
            conn = strategy(logger, SimulatedTransport(connect_failures=1))
            with pytest.raises(ConnectionRefusedError):
                await conn.connect()
        [failed] = [r for r in captured.logs() if r.msg == "WebSocket connection failed"]
        assert failed.level == "ERROR"
        assert "refused" in failed.fields["error"]
        [metric] = [r for r in captured.metrics() if r.msg == "ws_connection_error"]
        assert metric.fields["tags"]["error"] == "ConnectionRefusedError"
        assert not conn.connected


class TestReconnect:
    async def test_retries_with_growing_jittered_delays(self) -> None:
        """Failures are retried after exponentially growing delays, each within the jitter."""
        sleeps = Sleeps()
        policy = ReconnectPolicy(initial_delay_s=0.1, multiplier=2.0, jitter=0.2, max_attempts=5)
        with capture_logs() as (logger, captured):
            transport = SimulatedTransport(connect_failures=3)
            conn = strategy(logger, transport, reconnect=policy, sleep=sleeps, rng=random.Random(1))
            await conn.connect_with_retry()
        assert conn.connected
        assert transport.connects == 4
        for attempt, delay in enumerate(sleeps.delays):
            base = 0.1 * 2**attempt
            assert base * 0.8 <= delay <= base * 1.2
        assert [
            r.fields["attempt"] for r in captured.logs() if r.msg == "WebSocket reconnecting"
        ] == [
            1,
            2,
            3,
        ]
        assert len([r for r in captured.metrics() if r.msg == "ws_reconnect_attempt"]) == 3

    async def test_delays_are_capped(self) -> None:
        """No delay exceeds ``max_delay_s`` plus its jitter."""
        policy = ReconnectPolicy(initial_delay_s=1.0, max_delay_s=3.0, jitter=0.1)
        rng = random.Random(0)
        assert max(policy.delay(n, rng) for n in range(20)) <= 3.3

    async def test_gives_up_after_max_attempts(self) -> None:
        """When every attempt fails, a ConnectionError names the connection and the count."""
        with capture_logs() as (logger, captured):
            transport = SimulatedTransport(connect_failures=None)
            conn = strategy(
                logger, transport, reconnect=ReconnectPolicy(max_attempts=3), sleep=Sleeps()
            )
            with pytest.raises(ConnectionError, match="mexc private wss://x: 3 attempts failed"):
                await conn.connect_with_retry()
        assert transport.connects == 3
        assert "WebSocket reconnect gave up" in captured.messages()


class TestHeartbeat:
    async def test_unanswered_ping_times_out(self) -> None:
        """A heartbeat with no answer within the timeout is logged and counted."""
        with capture_logs() as (logger, captured):
            conn = strategy(logger, SimulatedTransport(ping_hangs=True), heartbeat_timeout_s=0.01)
            await conn.connect()
            assert await conn.check_heartbeat() is False
        assert "WebSocket heartbeat timeout" in captured.messages()
        assert any(r.msg == "ws_heartbeat_timeout" for r in captured.metrics())

    async def test_answered_ping_passes(self) -> None:
        """A heartbeat answered in time is fine."""
        with capture_logs() as (logger, _):
            conn = strategy(logger, SimulatedTransport(), heartbeat_timeout_s=5.0)
            await conn.connect()
            assert await conn.check_heartbeat() is True

    async def test_missed_heartbeat_reconnects(self) -> None:
        """``keep_alive`` drops and reopens the connection after a missed heartbeat."""
        transport = SimulatedTransport(ping_hangs=True)
        with capture_logs() as (logger, _):
            conn = strategy(logger, transport, heartbeat_timeout_s=0.01, sleep=Sleeps(stop_after=1))
            await conn.connect()
            with pytest.raises(StopLoopError):
                await conn.keep_alive()
        assert transport.connects == 2
        assert transport.closes == 1


class TestClose:
    async def test_close_twice_closes_once(self) -> None:
        """Closing is idempotent and logged once."""
        transport = SimulatedTransport()
        with capture_logs() as (logger, captured):
            conn = strategy(logger, transport)
            await conn.connect()
            await conn.close()
            await conn.close()
        assert transport.closes == 1
        assert captured.messages().count("WebSocket connection closed") == 1


class TestContainer:
    async def test_container_builds_the_spec_logger(self) -> None:
        """From the container, the logger is ``ws.connection.<exchange>.<api_type>``."""
        capture = CapturingBackend()
        app = dev_app(capture)
        app.init_resources()
        try:
            conn = app.exchanges.connection(exchange="gateio", api_type="public", url="wss://x")
            await conn.connect()
        finally:
            app.shutdown_resources()
        assert conn.logger.name == "strategy.ws.connection.gateio.public"
        assert conn.logger.tags == ("gateio", "public", "ws", "connection")
        assert conn.max_latency_us == app.config.logging.hft_settings.max_latency_us()
        assert "WebSocket connection established" in capture.messages()

    async def test_transport_override_reaches_the_strategy(self) -> None:
        """Overriding ``transport`` in the container makes every connect fail as scripted."""
        capture = CapturingBackend()
        app = dev_app(capture)
        app.init_resources()
        failing = SimulatedTransport(connect_failures=None)
        try:
            with app.exchanges.transport.override(failing):
                conn = app.exchanges.connection(exchange="mexc", api_type="private", url="wss://x")
                with pytest.raises(ConnectionRefusedError):
                    await conn.connect()
        finally:
            app.shutdown_resources()
        assert any(r.msg == "ws_connection_error" for r in capture.metrics())
