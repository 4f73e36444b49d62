"""The pipeline's life cycle: one pipeline per application, the face the package calls.

:class:`LoggingPipeline` builds the rings (:mod:`~hft.logging.pipeline.rings`), each backend's
slot (:mod:`~hft.logging.pipeline.slots`) and the dispatcher
(:mod:`~hft.logging.pipeline.dispatcher`), then starts, flushes, stops and closes them. It keeps
them right across ``fork`` (the child gets new rings and its own dispatcher), drains them at
interpreter exit (``atexit``, and SIGTERM through :mod:`~hft.logging.pipeline.signals`) within
the drain deadline, and answers the call sites (:mod:`~hft.logging.pipeline.callsites`) and the
loggers when they bind their methods.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import orjson

from hft.logging.audit._guard import AuditSlot
from hft.logging.backends.base import BackendContext, LoggingBackend
from hft.logging.levels import AUDIT, ERROR
from hft.logging.pipeline.backtrace import BacktraceHost
from hft.logging.pipeline.counts import CallCounter, CallCounts
from hft.logging.pipeline.dispatcher import Dispatcher
from hft.logging.pipeline.lanes import open_lane
from hft.logging.pipeline.limits import Limits
from hft.logging.pipeline.loggers import LoggerRegistry
from hft.logging.pipeline.loglevels import LoggerLevels
from hft.logging.pipeline.metrics import LoggingMetrics
from hft.logging.pipeline.prepare import Preparer
from hft.logging.pipeline.rings import OverflowPolicy, Rings, RingViews
from hft.logging.pipeline.signals import install_sigterm_exit, restore_sigterm
from hft.logging.pipeline.slots import BackendSlot
from hft.logging.pipeline.spill import Fallback, fallback_for
from hft.logging.render.redact import DEFAULT_REDACT_FIELDS
from hft.logging.trace_context import TraceSpec, load_trace_spec

if TYPE_CHECKING:
    from hft.logging.control import ControlSpec

#: A busy Python caller's pace (about a record a microsecond): the dispatcher looks at the ring
#: at least this often per ``gc_threshold`` of it. A faster burst (the C call site takes
#: ~0.2 µs) wakes it directly: the call that brings the ring to ``wake_at`` records.
_FASTEST_CALL_S: Final = 1e-6


class LoggingPipeline(LoggerLevels, RingViews, BacktraceHost):
    """A bounded ring drained by one dispatcher thread into a set of backends."""

    def __init__(
        self,
        backends: Iterable[LoggingBackend],
        *,
        ring_buffer_size: int = 10_000,
        batch_size: int = 50,
        flush_interval_ms: float = 10,
        gc_threshold: float = 0.8,
        overflow_policy: OverflowPolicy = "block",
        block_timeout_ms: float = 100,
        enable_failover: bool = True,
        max_retry_attempts: int = 3,
        max_field_chars: int = 4096,
        redact_fields: Iterable[str] = DEFAULT_REDACT_FIELDS,
        fallback: Fallback | None = None,
        spill_dir: str | os.PathLike[str] = "logs/spill",
        retry_backoff_ms: float = 5,
        probe_interval_ms: float = 1000,
        secrets: Iterable[object] = (),
        lane: bool = True,
        drain_deadline_ms: float = 5000,
        limits: Mapping[str, tuple[float, float]] | None = None,
        levels: Mapping[str, int | str] | None = None,
        control: ControlSpec | None = None,
        backtrace: int = 0,
        backtrace_flush_level: int = ERROR,
        trace_context: bool = False,
    ) -> None:
        #: Longest a shutdown at exit (atexit, SIGTERM) waits for the dispatcher to drain.
        self.drain_deadline_s = drain_deadline_ms / 1000
        self.use_lane = lane  #: plain records to a writer process as bytes (see lanes.py)
        #: How call sites read the OpenTelemetry span (``trace_context``); None: they do not.
        self.trace: TraceSpec | None = load_trace_spec() if trace_context else None
        self.batch_size = max(1, batch_size)
        self.overflow_policy: OverflowPolicy = overflow_policy
        self.block_timeout_s = block_timeout_ms / 1000
        self.flush_interval_s = flush_interval_ms / 1000
        self._gc_threshold = gc_threshold
        fill_time = gc_threshold * ring_buffer_size * _FASTEST_CALL_S
        #: How often the dispatcher (and the lane's mover) look for records when no call wakes it.
        self.poll_s = max(0.0005, min(self.flush_interval_s, fill_time))
        self._fallback = fallback
        self._spill_dir = spill_dir
        self._max_field_chars = max_field_chars
        self._retry_backoff_s = retry_backoff_ms / 1000
        self._probe_interval_s = probe_interval_ms / 1000
        self._max_retry_attempts = max_retry_attempts
        self._enable_failover = enable_failover
        self._prepare = Preparer(redact_fields, max_field_chars, secrets)  # see render/secrets.py
        self.rings = self._new_rings(ring_buffer_size)
        self._loggers = LoggerRegistry()
        self._init_levels(levels, control)  # levels per logger, the control channel: loglevels.py
        self._init_backtrace(backtrace, backtrace_flush_level)  # 0: off (pipeline/backtrace.py)
        self._counts = CallCounts()  #: calls per logger and level, for the pipeline's life
        #: Rate limits: ``limits`` maps a logger prefix to ``(per_s, interval_s)``.
        self.limits = Limits(self, limits or {})
        #: The audit backend's slot: what the trail cannot take yet (hft.logging.audit._guard).
        self.audit_guard: AuditSlot | None = None
        self._slots: list[BackendSlot] = []
        self._dispatcher = Dispatcher(
            self.rings, self._slots, self._prepare, self._loggers,
            batch_size=self.batch_size, poll_s=self.poll_s, limits=self.limits,
        )  # fmt: skip
        self._slots.extend(self._slot(b) for b in backends)
        self.rings.lane = open_lane(self, self._slots, self._prepare)
        self._closed = False
        #: Logger calls made after close (not delivered; counted so they are not silent).
        self.calls_after_close = 0
        _live_pipelines.add(self)
        context = BackendContext(
            warn=self._warn, note=self._note, metrics=self.metrics, record_counts=self.record_counts
        )
        for slot in self._slots:  # once the pipeline is whole: a backend may read it at once
            slot.hooks.attach(context)

    def _new_rings(self, capacity: int) -> Rings:
        return Rings(capacity, self.overflow_policy, self._gc_threshold, lambda: self.running)

    def _slot(self, backend: LoggingBackend) -> BackendSlot:
        if backend.takes_audit and hasattr(backend, "on_failure"):
            self.audit_guard = AuditSlot(backend, warn=self._warn, backoff_s=self._retry_backoff_s)
            return self.audit_guard
        return BackendSlot(
            backend,
            max_retry_attempts=self._max_retry_attempts,
            enable_failover=self._enable_failover,
            fallback=self._fallback
            or fallback_for(backend.name, self._spill_dir, self._max_field_chars),
            warn=self._warn,
            backoff_s=self._retry_backoff_s,
            probe_interval_s=self._probe_interval_s,
            max_pending=self.capacity,
        )

    # -- life cycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while the dispatcher thread is alive."""
        return self._dispatcher.running

    def start(self) -> LoggingPipeline:
        """Start the dispatcher thread (idempotent)."""
        if self._closed:
            raise RuntimeError("this logging pipeline was shut down; build a new one")
        if not self.running:
            self._dispatcher.start()
            install_sigterm_exit(self)
            self._attach_control()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Drain every record logged so far, flush the backends and stop the dispatcher.

        The backends are not closed: their owner (the container, or :meth:`close`) does that.
        """
        self._dispatcher.stop(timeout)

    def close(self, *, close_backends: bool = True, timeout: float | None = None) -> None:
        """Stop for good, then close every backend unless their owner closes them.

        *timeout* bounds the wait for the dispatcher's drain (None: as long as it takes).
        Records logged after ``close`` are not delivered.
        """
        if self._closed:
            return
        self.stop(timeout)
        if self.running:  # held up past *timeout* (the drain deadline at exit): say what is left
            rings = self.rings
            _say_undelivered(len(rings.ring) + len(rings.audit_ring) + rings.lane_depth, timeout)
        self._closed = True
        self._rebind_loggers()  # later calls are counted, never queued where nobody drains
        _live_pipelines.discard(self)
        restore_sigterm(self)
        self._detach_control()
        for slot in self._slots:
            slot.close()
            if not close_backends:
                continue
            try:
                slot.backend.close()
            except Exception:  # noqa: BLE001 - one backend failing to close must not stop the rest
                slot.write_errors += 1

    def flush(self, timeout: float | None = 5.0) -> bool:
        """Block until every record logged before the call has reached the backends, and
        every audit record before it is in the trail (an audit trail that fails holds them).

        False if *timeout* passed first, or if the pipeline is closed.
        """
        if self._closed:
            return False
        if not self.running:
            self._dispatcher.drain(flush=True)
            self._dispatcher.flush_backends()
            return self.audit_guard is None or not self.audit_guard.pending
        start = time.monotonic()
        marker = self._dispatcher.mark()
        done = marker[-1]
        if not done.wait(timeout) or self.audit_guard is None:
            return bool(done.is_set())
        left = None if timeout is None else max(0.0, timeout - (time.monotonic() - start))
        return self.audit_guard.wait_written(marker[0], left)

    def _after_fork_in_child(self) -> None:
        """A forked child must not wait on the parent's thread or write the parent's records."""
        was_running = self._dispatcher.started
        self.rings = self._new_rings(self.rings.capacity)
        self._dispatcher.reset(self.rings)
        self.rings.lane = open_lane(self, self._slots, self._prepare)
        self._forget_backtrace()  # the parent's kept records are the parent's to write
        self._rebind_loggers()  # their closures hold the parent's rings, which nobody drains
        for slot in self._slots:  # the parent delivers what it held and queued, not us
            slot.forget_held()
            slot.hooks.after_fork_in_child()
        if was_running and not self._closed:
            self.start()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run: records are no longer delivered."""
        return self._closed

    def count_after_close(self, *_args: Any, **_fields: Any) -> None:
        """What every logger method becomes after :meth:`close`: a count, no record."""
        self.calls_after_close += 1

    # -- loggers: which methods they get, and what their calls count ---------------------------

    def register_logger(self, logger: Any) -> None:
        """Remember *logger* (weakly), bind its methods, rebind them after changes."""
        self._loggers.add(logger)

    def record_counter(self, name: str, level: int) -> CallCounter:
        """The counter every call site of logger *name* at *level* adds its calls to: made on
        first use, kept for the pipeline's life (see :mod:`hft.logging.pipeline.counts`)."""
        return self._counts.counter(name, level)

    def record_counts(self) -> dict[tuple[str, int], int]:
        """Calls so far per (logger name, level), read now; refused and dropped ones too."""
        return self._counts.read()

    @property
    def min_level(self) -> int:
        """The lowest level a backend takes records at; methods below it build no record."""
        levels = [s.backend.level for s in self._slots if s.hooks.takes_logs]
        return min((level for level in levels if level < AUDIT), default=AUDIT)

    @property
    def count_level(self) -> int:
        """The lowest level a backend takes or counts (one that takes no logs counts the calls
        from its level up); methods below it are no-ops, those below :attr:`min_level` count."""
        levels = [s.backend.level for s in self._slots if s.backend.level < AUDIT]
        return min(levels, default=AUDIT)

    def add_backend(self, backend: LoggingBackend) -> None:
        """Route records to one more backend from the next batch on."""
        self._slots.append(self._slot(backend))
        self._rebind_loggers()

    def resize(self, ring_buffer_size: int) -> None:
        """Give the ring a new capacity; records in the old one are still delivered."""
        self.rings.resize(ring_buffer_size)
        self._rebind_loggers()

    def _rebind_loggers(self) -> None:
        self._loggers.rebind_all()

    # -- the dispatcher's reports -------------------------------------------------------------

    def _warn(self, msg: str, **fields: Any) -> None:
        """Queue a warning from the pipeline itself; it goes out with the next batch."""
        self._dispatcher.warn(msg, **fields)

    def _note(self, msg: str, **fields: Any) -> None:
        """Queue an INFO record from the logging layer itself (the audit chain's head)."""
        self._dispatcher.note(msg, **fields)

    @property
    def dispatch_errors(self) -> int:
        """Slices the dispatcher could not dispatch (should stay 0; warned about once)."""
        return self._dispatcher.dispatch_errors

    @property
    def dropped(self) -> int:
        """Records given a sequence number that will never reach the backends: exact once the
        call sites are quiet (metrics use :meth:`DropLedger.confirmed`, which says why)."""
        return self.rings.dropped()

    @property
    def slots(self) -> Sequence[BackendSlot]:
        """The backends with their delivery counts."""
        return tuple(self._slots)

    def metrics(self) -> LoggingMetrics:
        """A snapshot of latencies, throughput, drops and backend counts."""
        return self._dispatcher.metrics()


def _say_undelivered(count: int, timeout: float | None) -> None:
    """One line on standard error: the dispatcher did not drain in time; *count* records were
    still waiting (a write that does not return is not waited for)."""
    line = {
        "level": "WARNING",
        "logger": "hft.logging",
        "msg": "log records not delivered by the drain deadline",
        "fields": {"waiting": count, "drain_deadline_s": timeout},
    }
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(orjson.dumps(line).decode() + "\n")
        sys.stderr.flush()


_live_pipelines: weakref.WeakSet[LoggingPipeline] = weakref.WeakSet()


def _drain_all_at_exit() -> None:
    """Interpreter exit without an explicit shutdown still writes every record; a dispatcher
    held up past the drain deadline does not hold the process (what it still had is said)."""
    for pipeline in list(_live_pipelines):
        if not pipeline._closed:
            pipeline.close(timeout=pipeline.drain_deadline_s)


def _after_fork_in_child() -> None:
    for pipeline in list(_live_pipelines):
        pipeline._after_fork_in_child()


atexit.register(_drain_all_at_exit)
os.register_at_fork(after_in_child=_after_fork_in_child)

__all__ = ["LoggingPipeline", "OverflowPolicy"]
