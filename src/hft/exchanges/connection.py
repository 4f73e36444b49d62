"""``ConnectionStrategy``: one WebSocket connection, timed, measured, retried and watched.

The socket itself is a :class:`Transport` passed in (as httpx takes its transport), so tests
and the stubs use :class:`~hft.exchanges.SimulatedTransport` and nothing touches the network.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import anyio

from hft.logging import HFTLoggerInterface, LoggingTimer

ApiType = Literal["public", "private"]
Sleep = Callable[[float], Awaitable[None]]


class Transport(Protocol):
    """The socket under a connection strategy."""

    async def connect(self, url: str) -> None:
        """Open the connection to *url*; raise ``OSError`` when it cannot be opened."""

    async def ping(self) -> None:
        """Round-trip a heartbeat; may hang when the peer is gone."""

    async def close(self) -> None:
        """Close the connection (idempotent)."""


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """Exponential backoff with jitter: ``initial * multiplier**n``, capped, ± ``jitter``."""

    initial_delay_s: float = 0.1
    max_delay_s: float = 5.0
    multiplier: float = 2.0
    jitter: float = 0.2
    max_attempts: int = 5

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number *attempt* (0-based)."""
        base = min(self.max_delay_s, self.initial_delay_s * self.multiplier**attempt)
        return base * (1 + rng.uniform(-self.jitter, self.jitter))


class ConnectionStrategy:
    """A WebSocket connection of one exchange and API type, with its logger injected."""

    def __init__(
        self,
        exchange: str,
        api_type: ApiType,
        url: str,
        transport: Transport,
        logger: HFTLoggerInterface,
        *,
        max_latency_us: float = 1000.0,
        reconnect: ReconnectPolicy | None = None,
        heartbeat_interval_s: float = 15.0,
        heartbeat_timeout_s: float = 5.0,
        rng: random.Random | None = None,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self.exchange, self.api_type, self.url = exchange, api_type, url
        self.logger = logger
        self.max_latency_us = max_latency_us
        self.policy = reconnect or ReconnectPolicy()
        self.heartbeat_interval_s = heartbeat_interval_s
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self._transport = transport
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._tags = {"exchange": exchange, "api_type": api_type}
        self.connected = False
        logger.info(
            "Connection strategy initialized",
            exchange=exchange,
            api_type=api_type,
            transport="websocket",
            performance_target_us=max_latency_us,
        )

    async def connect(self) -> None:
        """Open the connection once, logging its duration against the latency target."""
        with LoggingTimer(self.logger, "ws_connection") as timer:
            try:
                await self._transport.connect(self.url)
            except OSError as exc:
                self.logger.error(
                    "WebSocket connection failed", duration_us=timer.elapsed_us, error=str(exc)
                )
                self.logger.metric(
                    "ws_connection_error", 1, tags={**self._tags, "error": type(exc).__name__}
                )
                raise
            self.connected = True
            self.logger.info(
                "WebSocket connection established",
                duration_us=timer.elapsed_us,
                meets_target=timer.elapsed_us < self.max_latency_us,
            )
            self.logger.metric("ws_connection_success", 1, tags=self._tags)

    async def connect_with_retry(self) -> None:
        """Connect, retrying failures with exponential backoff and jitter until the policy's
        ``max_attempts``; then raise ``ConnectionError`` from the last failure."""
        for attempt in range(self.policy.max_attempts):
            try:
                await self.connect()
            except OSError as exc:
                if attempt + 1 >= self.policy.max_attempts:
                    self.logger.error("WebSocket reconnect gave up", attempts=attempt + 1)
                    raise ConnectionError(
                        f"{self._where()}: {attempt + 1} attempts failed"
                    ) from exc
                await self._back_off(attempt)
            else:
                return

    async def _back_off(self, attempt: int) -> None:
        delay = self.policy.delay(attempt, self._rng)
        self.logger.warning("WebSocket reconnecting", attempt=attempt + 1, delay_s=delay)
        self.logger.metric("ws_reconnect_attempt", 1, tags=self._tags)
        await self._sleep(delay)

    async def reconnect(self) -> None:
        """Drop the current connection and connect again (with retries)."""
        await self._transport.close()
        self.connected = False
        await self.connect_with_retry()

    async def check_heartbeat(self) -> bool:
        """Ping once; False (logged, counted) when no answer came within the timeout."""
        with anyio.move_on_after(self.heartbeat_timeout_s):
            await self._transport.ping()
            return True
        self.logger.warning("WebSocket heartbeat timeout", timeout_s=self.heartbeat_timeout_s)
        self.logger.metric("ws_heartbeat_timeout", 1, tags=self._tags)
        return False

    async def keep_alive(self) -> None:
        """Ping every interval while connected; reconnect after a missed heartbeat."""
        while self.connected:
            await self._sleep(self.heartbeat_interval_s)
            if self.connected and not await self.check_heartbeat():
                await self.reconnect()

    async def close(self) -> None:
        """Close the connection; closing twice is harmless."""
        if not self.connected:
            return
        self.connected = False
        await self._transport.close()
        self.logger.info("WebSocket connection closed")

    def _where(self) -> str:
        return f"{self.exchange} {self.api_type} {self.url}"

    def __repr__(self) -> str:
        return f"<ConnectionStrategy {self._where()} connected={self.connected}>"


def build_connection_strategy(
    logger_factory: Callable[..., HFTLoggerInterface],
    transport_factory: Callable[..., Transport],
    hft_settings: Mapping[str, Any],
    *,
    exchange: str,
    api_type: ApiType,
    url: str,
    latency_s: float = 0.0,
    **options: Any,
) -> ConnectionStrategy:
    """The container's way to build a strategy: the documented logger name and tags, the
    latency target from ``hft_settings``, a transport from *transport_factory*."""
    logger = logger_factory(
        strategy_path=f"ws.connection.{exchange}.{api_type}",
        tags=[exchange, api_type, "ws", "connection"],
    )
    return ConnectionStrategy(
        exchange,
        api_type,
        url,
        transport_factory(latency_s=latency_s),
        logger,
        max_latency_us=hft_settings.get("max_latency_us", 1000),
        **options,
    )
