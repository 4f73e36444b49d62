"""``LoggingTimer``: time a block and report it as a metric."""

from __future__ import annotations

import time
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hft.logging.logger import HFTLoggerInterface


class LoggingTimer:
    """Times the ``with`` block; on exit, logs ``<name>_duration_us`` as a metric.

    ``elapsed_us`` and ``elapsed_ms`` read the time so far inside the block and the final
    duration after it, so a block can log its own duration before it ends.
    """

    __slots__ = ("_end", "_logger", "_start", "name")

    def __init__(self, logger: HFTLoggerInterface, name: str) -> None:
        self._logger = logger
        self.name = name
        self._start = 0
        self._end: int | None = None

    def __enter__(self) -> LoggingTimer:
        self._end = None
        self._start = time.perf_counter_ns()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._end = time.perf_counter_ns()
        self._logger.metric(f"{self.name}_duration_us", self.elapsed_us)

    @property
    def elapsed_ns(self) -> int:
        """Nanoseconds since the block started (its whole duration once it ended)."""
        end = time.perf_counter_ns() if self._end is None else self._end
        return end - self._start

    @property
    def elapsed_us(self) -> float:
        """Microseconds, as :attr:`elapsed_ns`."""
        return self.elapsed_ns / 1_000

    @property
    def elapsed_ms(self) -> float:
        """Milliseconds, as :attr:`elapsed_ns`."""
        return self.elapsed_ns / 1_000_000
