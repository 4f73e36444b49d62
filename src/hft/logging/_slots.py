"""One backend as the dispatcher sees it: retries, fallback and the counts of both."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from hft.logging._metrics import BackendStats
from hft.logging._record import Record
from hft.logging._render import JsonLineRenderer
from hft.logging.backends._base import LoggingBackend

Warn = Callable[..., None]


class StderrFallback:
    """Where a failed backend's records go by default: JSON lines on standard error."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._render = JsonLineRenderer()

    def write(self, records: Sequence[Record]) -> None:
        """Write *records* as JSON lines."""
        stream = self._stream or sys.stderr
        stream.write(self._render.many(records).decode("utf-8", "replace"))
        stream.flush()


class BackendSlot:
    """Delivers batches to one backend, retrying, then failing over, and counting each step.

    A failure is reported once through ``warn`` when the backend goes unhealthy and once when
    it recovers, never once per record.
    """

    def __init__(
        self,
        backend: LoggingBackend,
        *,
        max_retry_attempts: int,
        enable_failover: bool,
        fallback: StderrFallback,
        warn: Warn,
    ) -> None:
        self.backend = backend
        self._attempts = 1 + max(0, max_retry_attempts)
        self._failover = enable_failover
        self._fallback = fallback
        self._warn = warn
        self.written = self.write_errors = self.retries = self.failed_over = self.lost = 0
        self.healthy = True

    def deliver(self, records: Sequence[Record]) -> None:
        """Write *records*, retrying up to the configured attempts, then fail over."""
        error: Exception | None = None
        for attempt in range(self._attempts):
            try:
                self.backend.write(records)
            except Exception as exc:  # noqa: BLE001 - any backend failure is handled alike
                error = exc
                self.write_errors += 1
                self.retries += attempt > 0
                continue
            self.written += len(records)
            if not self.healthy:
                self._recovered()
            return
        assert error is not None
        self._give_up(records, error)

    def _give_up(self, records: Sequence[Record], error: Exception) -> None:
        if self.healthy:
            self.healthy = False
            self._warn(
                "logging backend failed",
                backend=self.backend.name,
                error=f"{type(error).__name__}: {error}",
                failover=self._failover,
            )
        if self._failover:
            try:
                self._fallback.write(records)
            except Exception:  # noqa: BLE001 - the fallback failing too is counted as loss
                self.lost += len(records)
            else:
                self.failed_over += len(records)
        else:
            self.lost += len(records)

    def _recovered(self) -> None:
        self.healthy = True
        self._warn("logging backend recovered", backend=self.backend.name)

    def flush(self) -> None:
        """Flush the backend; a failure counts as a write error."""
        try:
            self.backend.flush()
        except Exception:  # noqa: BLE001 - reported through the counts
            self.write_errors += 1

    def stats(self) -> BackendStats:
        """A snapshot of this slot's counts."""
        return BackendStats(
            name=self.backend.name,
            written=self.written,
            write_errors=self.write_errors,
            retries=self.retries,
            failed_over=self.failed_over,
            lost=self.lost,
            healthy=self.healthy,
            extra=dict(stats()) if (stats := getattr(self.backend, "stats", None)) else {},
        )
