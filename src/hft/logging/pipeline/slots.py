"""One backend as the dispatcher sees it: a small state machine of retries and failover.

::

    HEALTHY ──write raises──► RETRYING ──max_retry_attempts retries fail──► UNHEALTHY
       ▲                         │ retry works                                │ probe works
       └─────────────────────────┴────────────────────────────────────────────┘

- **HEALTHY**: each batch is written at once; this is the only state the common case sees.
- **RETRYING**: the failed batch, and the newer ones behind it (up to ``max_pending``
  records), wait in the slot and are retried on later dispatcher cycles with exponential
  backoff. The dispatcher never sleeps for it, so the other backends keep flowing.
- **UNHEALTHY**: held and new records go to the fallback (stderr, a spill file, or nowhere
  with failover disabled: then they are counted as lost). Every ``probe_interval_s`` the next
  batch is tried on the backend itself; when that works the backend is healthy again.

A failure is reported once, as one warning when the backend goes unhealthy, and once more when
it recovers; a transient failure that a retry cures is only counted. For every backend,
``written + failed_over + lost + pending == routed`` at all times.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Final, Literal, cast

from hft.logging.backends.base import Hooks, LoggingBackend
from hft.logging.levels import AUDIT
from hft.logging.pipeline.metrics import BackendStats
from hft.logging.pipeline.spill import Fallback, NoFallback, SpillFile, StderrFallback
from hft.logging.record import Record

Warn = Callable[..., None]
State = Literal["healthy", "retrying", "unhealthy"]
HEALTHY: Final = "healthy"
RETRYING: Final = "retrying"
UNHEALTHY: Final = "unhealthy"


class BackendSlot:
    """Delivers batches to one backend, retrying, then failing over, and counting each step."""

    def __init__(
        self,
        backend: LoggingBackend,
        *,
        max_retry_attempts: int,
        enable_failover: bool,
        fallback: Fallback,
        warn: Warn,
        backoff_s: float = 0.005,
        max_backoff_s: float = 1.0,
        probe_interval_s: float = 1.0,
        max_pending: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        #: Its optional hooks, found once (``backends._base``).
        self.hooks = Hooks.of(backend)
        self._clock = clock
        self._max_retries = max(0, max_retry_attempts)
        self.fallback: Fallback = fallback if enable_failover else NoFallback()
        self._warn = warn
        self._backoff_s, self._max_backoff_s = backoff_s, max_backoff_s
        self._probe_interval_s = probe_interval_s
        self._max_pending = max(1, max_pending)
        self.state: State = HEALTHY
        self._held: list[Record] = []
        self._failed_retries = 0
        self._next_try = 0.0
        self._error = ""
        self.routed = self.written = self.write_errors = self.retries = 0
        self.failed_over = self.lost = self._outage_failed_over = 0

    @property
    def healthy(self) -> bool:
        """True while batches go straight to the backend."""
        return self.state == HEALTHY

    @property
    def pending(self) -> int:
        """Records held in the slot, waiting for a retry."""
        return len(self._held)

    # -- the dispatcher's calls -----------------------------------------------------------

    def route(self, logs: list[Record], metrics: list[Record], lowest: int, highest: int) -> None:
        """Deliver this backend's share of a slice (see :func:`share`); none to a backend that
        takes no logs (Prometheus counts calls at the call site instead)."""
        backend = self.backend
        chosen = share(logs, lowest, highest, backend.level, backend.takes_audit)
        if not self.hooks.takes_logs:
            chosen = []
        if metrics and backend.takes_metrics:
            chosen = [*chosen, *metrics]
        if chosen:
            self.deliver(chosen)

    def deliver(self, records: Sequence[Record]) -> None:
        """Take *records* for this backend: write, hold for a retry, or fail over."""
        self.routed += len(records)
        if self.state == HEALTHY:
            if self._write(records):
                return
            self._hold(records)
            self._enter_retrying(self._clock())
        elif self.state == RETRYING:
            self._hold(records)
            if len(self._held) > self._max_pending:
                self._give_up()
        else:
            self._probe_or_fail_over(records, self._clock())

    def handed_on(self, count: int) -> None:
        """*count* records reached the backend past :meth:`deliver` (a lane's frame, handed to
        the writer process as it is): counted as routed and handed over alike."""
        self.routed += count
        self.written += count

    def tick(self, now: float) -> None:
        """Called on every dispatcher cycle: retry held records once their backoff is over."""
        if self.state == RETRYING and now >= self._next_try:
            self._retry(now)

    def settle(self) -> None:
        """At shutdown: one last try for held records, then the fallback; nothing stays held."""
        if self._held:
            self.retries += 1
            held = self._take_held()
            if self._write(held):
                self._back_to_healthy()
            else:
                self._held = held
                self._give_up()

    def flush(self) -> None:
        """Flush a healthy backend; a failure counts as a write error."""
        if self.state != HEALTHY:
            return
        try:
            self.backend.flush()
        except Exception:  # noqa: BLE001 - reported through the counts
            self.write_errors += 1

    # -- transitions ----------------------------------------------------------------------

    def _write(self, records: Sequence[Record]) -> bool:
        try:
            self.backend.write(records)
        except Exception as exc:  # noqa: BLE001 - any backend failure is handled alike
            self.write_errors += 1
            self._error = _describe(exc)
            return False
        self.written += len(records)
        return True

    def _hold(self, records: Sequence[Record]) -> None:
        self._held.extend(records)

    def forget_held(self) -> None:
        """After a fork, in the child: the parent owns the records held here."""
        self.routed -= len(self._held)
        self._held.clear()

    def _take_held(self) -> list[Record]:
        held, self._held = self._held, []
        return held

    def _enter_retrying(self, now: float) -> None:
        self.state = RETRYING
        self._failed_retries = 0
        self._schedule(now)
        if self._max_retries == 0:
            self._give_up()

    def _schedule(self, now: float) -> None:
        delay = self._backoff_s * (2**self._failed_retries)
        self._next_try = now + min(delay, self._max_backoff_s)

    def _retry(self, now: float) -> None:
        self.retries += 1
        held = self._take_held()
        if self._write(held):
            self.state = HEALTHY
            return
        self._held = held
        self._failed_retries += 1
        if self._failed_retries >= self._max_retries:
            self._give_up()
        else:
            self._schedule(now)

    def _give_up(self) -> None:
        """Retries are exhausted (or too much is held): go unhealthy, warn once, fail over."""
        self.state = UNHEALTHY
        self._next_try = self._clock() + self._probe_interval_s
        self._outage_failed_over = 0
        self._warn(
            "logging backend failed",
            backend=self.backend.name,
            error=self._error,
            retries=self._failed_retries,
            fallback=repr(self.fallback),
        )
        self._fail_over(self._take_held())

    def _probe_or_fail_over(self, records: Sequence[Record], now: float) -> None:
        if now >= self._next_try:
            self.retries += 1
            if self._write(records):
                self._back_to_healthy()
                return
            self._next_try = now + self._probe_interval_s
        self._fail_over(records)

    def _fail_over(self, records: Sequence[Record]) -> None:
        if not records:
            return
        try:
            self.fallback.write(records)
        except Exception:  # noqa: BLE001 - no fallback, or the fallback failing too: loss
            self.lost += len(records)
        else:
            self.failed_over += len(records)
            self._outage_failed_over += len(records)

    def _back_to_healthy(self) -> None:
        was = self.state
        self.state = HEALTHY
        if was == UNHEALTHY:
            self._warn(
                "logging backend recovered",
                backend=self.backend.name,
                failed_over=self._outage_failed_over,
            )

    # -- reporting ------------------------------------------------------------------------

    def stats(self) -> BackendStats:
        """A snapshot of this slot's counts.

        A backend that hands records on (a writer process) says, by ``handover()``, how many
        of those it took are not yet confirmed written, failed over or lost, and its writer's
        state: only confirmed records count as written.
        """
        unconfirmed = failed_over = lost = 0
        state = self._state()
        handed = self.hooks.handover()
        if handed is not None:
            unconfirmed, failed_over, lost, theirs = handed
            state = cast(State, theirs) if state == HEALTHY else state
        return BackendStats(
            name=self.backend.name,
            routed=self.routed,
            written=self.written - unconfirmed - failed_over - lost,
            write_errors=self.write_errors,
            retries=self.retries,
            failed_over=self.failed_over + failed_over,
            lost=self.lost + lost,
            pending=self.pending + unconfirmed,
            state=state,
            extra=dict(self.hooks.stats()),
        )

    def all_stats(self) -> Sequence[BackendStats]:
        """The counts of each sink the backend hosts (a writer process), else :meth:`stats`."""
        sinks = self.hooks.sink_stats()
        return [self.stats()] if sinks is None else sinks

    def _state(self) -> State:
        """The slot's state, or ``unhealthy`` while a backend whose writes work says it cannot
        reach its destination (its optional ``healthy`` property: syslog while spooling)."""
        if self.state == HEALTHY and not self.hooks.healthy:
            return UNHEALTHY
        return self.state

    def close(self) -> None:
        """Close the fallback if it holds a file."""
        if isinstance(self.fallback, SpillFile):
            self.fallback.close()


def share(
    logs: Sequence[Record], lowest: int, highest: int, level: int, with_audit: bool
) -> Sequence[Record]:
    """The records of *logs* (levels *lowest* to *highest*) that a backend taking *level* and
    up (and audit records *with_audit*) takes: all of them, the very object, when every
    record passes (common), none when none does (an audit backend, a slice without audit)."""
    if highest < level:
        return []
    if lowest >= level and (with_audit or lowest < AUDIT):
        return logs if with_audit or highest < AUDIT else [r for r in logs if r[2] != AUDIT]
    return [r for r in logs if r[2] >= level and (with_audit or r[2] != AUDIT)]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


__all__ = ["HEALTHY", "RETRYING", "UNHEALTHY", "BackendSlot", "State", "StderrFallback", "share"]
