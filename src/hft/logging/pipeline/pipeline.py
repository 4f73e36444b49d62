"""The ring, the dispatcher thread and the router: one pipeline per application.

Call sites only build a tuple and append it to the ring (see
:mod:`hft.logging.pipeline.callsites`). The dispatcher thread takes records out in slices of
``batch_size``, prepares them (bound context, redaction, exceptions), routes them to each
backend by level and kind, and releases the GIL between slices so that no call site waits
long behind it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from operator import call
from typing import Any, Final, Literal

import orjson

from hft.logging.audit._guard import AuditSlot
from hft.logging.backends.base import BackendContext, LoggingBackend
from hft.logging.levels import AUDIT, INFO, MARKER, METRIC, WARNING
from hft.logging.pipeline.callsites import new_sequence
from hft.logging.pipeline.counts import CallCounter, CallCounts
from hft.logging.pipeline.drops import DropLedger
from hft.logging.pipeline.gate import REOPEN_AT, Gate
from hft.logging.pipeline.lanes import LaneFeed, open_lane
from hft.logging.pipeline.loggers import LoggerRegistry
from hft.logging.pipeline.metrics import (
    LATENCY_SAMPLES,
    CallSamples,
    LoggingMetrics,
    RateMeter,
    snapshot,
)
from hft.logging.pipeline.prepare import Preparer, level_bounds
from hft.logging.pipeline.signals import install_sigterm_exit, restore_sigterm
from hft.logging.pipeline.slots import HEALTHY, BackendSlot
from hft.logging.pipeline.spill import Fallback, fallback_for
from hft.logging.record import Record, Source
from hft.logging.render.redact import DEFAULT_REDACT_FIELDS

OverflowPolicy = Literal["drop_oldest", "drop_newest", "block"]
INTERNAL_SOURCE: Final = Source.create("hft.logging", ("hft", "logging"), {})
#: A busy Python caller's pace (about a record a microsecond): the dispatcher looks at the ring
#: at least this often per ``gc_threshold`` of it. A faster burst (the C call site takes
#: ~0.2 µs) wakes it directly: the call that brings the ring to ``wake_at`` records.
#: Longest ``flush()`` waits for a backend that hands records on (a writer process).
SYNC_TIMEOUT_S: Final = 10.0
_FASTEST_CALL_S: Final = 1e-6
_SETTLE_ROUNDS: Final = 3  #: a backend's flush may warn (outage), and that warning be flushed
_BOOKKEEP_EVERY: Final = 16  #: slices between throughput and drop reports within one drain
#: How long the dispatcher sleeps while only the lane's native mover has work (the rings empty,
#: every backend healthy): the next record onto a ring, a metric, a flush, or (block policy) a
#: caller waiting for room in the lane wakes it sooner.
#: Each wake takes the GIL from a busy caller; this is how often the writer's acknowledgements
#: are read, and drop reports and samples taken, in that state.
IDLE_POLL_S: Final = 0.1


class LoggingPipeline:
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
    ) -> None:
        self.capacity = ring_buffer_size
        #: Longest a shutdown at exit (atexit, SIGTERM) waits for the dispatcher to drain.
        self.drain_deadline_s = drain_deadline_ms / 1000
        self.use_lane = lane  #: plain records to a writer process as bytes (see _lanes.py)
        self.batch_size = max(1, batch_size)
        self.overflow_policy: OverflowPolicy = overflow_policy
        self.block_timeout_s = block_timeout_ms / 1000
        self.flush_interval_s = flush_interval_ms / 1000
        self._gc_threshold = gc_threshold
        fill_time = gc_threshold * ring_buffer_size * _FASTEST_CALL_S
        #: How often the dispatcher (and the lane's mover) look for records when no call wakes them.
        self.poll_s = max(0.0005, min(self.flush_interval_s, fill_time))
        self._fallback = fallback
        self._spill_dir = spill_dir
        self._max_field_chars = max_field_chars
        self._retry_backoff_s = retry_backoff_ms / 1000
        self._probe_interval_s = probe_interval_ms / 1000
        self._max_retry_attempts = max_retry_attempts
        self._enable_failover = enable_failover
        self._prepare = Preparer(redact_fields, max_field_chars, secrets)  # see _secrets.py
        self._reset_state()
        self._loggers = LoggerRegistry()
        self._counts = CallCounts()  #: calls per logger and level, for the pipeline's life
        #: The audit backend's slot: what the trail cannot take yet (hft.logging.audit._guard).
        self.audit_guard: AuditSlot | None = None
        self._slots = [self._slot(b) for b in backends]
        self._lane: LaneFeed | None = open_lane(self, self._slots, self._prepare)
        self._closed = False
        #: Logger calls made after close (not delivered; counted so they are not silent).
        self.calls_after_close = 0
        #: Slices the dispatcher could not dispatch (should stay 0; warned about once).
        self.dispatch_errors = 0
        _live_pipelines.add(self)
        context = BackendContext(
            warn=self._warn, note=self._note, metrics=self.metrics, record_counts=self.record_counts
        )
        for slot in self._slots:  # once the pipeline is whole: a backend may read it at once
            slot.hooks.attach(context)

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

    def _reset_state(self) -> None:
        maxlen = self.capacity if self.overflow_policy == "drop_oldest" else None
        self.ring: deque[Record] = deque(maxlen=maxlen)
        self._retired: list[deque[Record]] = []
        self.audit_ring: deque[Record] = deque()
        self.next_seq: Callable[[], int] = new_sequence()
        self.call_samples = CallSamples()
        self._delivery_ns: deque[int] = deque(maxlen=LATENCY_SAMPLES)
        self._wake = threading.Event()
        self._ring_gate = Gate()
        self._audit_gate = Gate()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._pending_internal: list[Record] = []
        self._deferred_markers: list[Record] = []
        self._main_front = -1  #: sequence number of the last record taken from the main ring
        self._drops = DropLedger()
        self._rate = RateMeter()
        self._lane = None

    # -- life cycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while the dispatcher thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> LoggingPipeline:
        """Start the dispatcher thread (idempotent)."""
        if self._closed:
            raise RuntimeError("this logging pipeline was shut down; build a new one")
        if not self.running:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="hft-dispatcher", daemon=True)
            self._thread.start()
            install_sigterm_exit(self)
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Drain every record logged so far, flush the backends and stop the dispatcher.

        The backends are not closed: their owner (the container, or :meth:`close`) does that.
        """
        if self.running:
            self._stopping = True
            self._wake.set()
            assert self._thread is not None
            self._thread.join(timeout)
        else:
            self._drain(flush=True)
            self._settle_slots()

    def close(self, *, close_backends: bool = True, timeout: float | None = None) -> None:
        """Stop for good, then close every backend unless their owner closes them.

        *timeout* bounds the wait for the dispatcher's drain (None: as long as it takes).
        Records logged after ``close`` are not delivered.
        """
        if self._closed:
            return
        self.stop(timeout)
        if self.running:  # held up past *timeout* (the drain deadline at exit): say what is left
            _say_undelivered(len(self.ring) + len(self.audit_ring) + self._lane_depth, timeout)
        self._closed = True
        self._rebind_loggers()  # later calls are counted, never queued where nobody drains
        _live_pipelines.discard(self)
        restore_sigterm(self)
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
            self._drain(flush=True)
            self._flush_backends()
            return self.audit_guard is None or not self.audit_guard.pending
        start = time.monotonic()
        done = threading.Event()
        marker = (self.next_seq(), time.time_ns(), MARKER, INTERNAL_SOURCE, "", done)
        if self.overflow_policy == "drop_oldest":
            # A full drop_oldest ring would evict the marker: it waits on the audit ring,
            # which never drops, and is honoured once a drain has emptied the main ring.
            self.audit_ring.append(marker)
        else:
            self.ring.append(marker)
        self._wake.set()
        if not done.wait(timeout) or self.audit_guard is None:
            return done.is_set()
        left = None if timeout is None else max(0.0, timeout - (time.monotonic() - start))
        return self.audit_guard.wait_written(marker[0], left)

    def _after_fork_in_child(self) -> None:
        """A forked child must not wait on the parent's thread or write the parent's records."""
        was_running = self.running or (self._thread is not None)
        self._reset_state()
        self._lane = open_lane(self, self._slots, self._prepare)
        self._rebind_loggers()  # their closures hold the parent's rings, which nobody drains
        for slot in self._slots:  # the parent delivers what it held and queued, not us
            slot.forget_held()
            slot.hooks.after_fork_in_child()
        if was_running and not self._closed:
            self.start()

    # -- call-site helpers (cold paths only) ----------------------------------------------------

    def wait_for_space(self, ring: deque[Record], capacity: int, timeout_s: float | None) -> bool:
        """Block until *ring* has drained to ``REOPEN_AT`` of its *capacity* (see :class:`Gate`).

        Returns False when *timeout_s* passed with the ring still full. With no dispatcher
        running nobody would make room: a bounded wait gives up at once, an unbounded one
        (audit) lets the ring grow.
        """
        if not self.running:
            return timeout_s is None
        gate = self._audit_gate if ring is self.audit_ring else self._ring_gate
        return gate.wait(ring, capacity, timeout_s, lambda: self.running, self._wake)

    @property
    def wake_at(self) -> int:
        """The ring length (``gc_threshold`` of the capacity) whose call wakes the dispatcher."""
        return max(1, int(self._gc_threshold * self.capacity))

    def lane_for(self, level: int, source: Source) -> tuple[Any, int]:
        """``(lane, source id)`` for call sites of *level* whose plain records go to the lane;
        ``(None, -1)``: every record takes the tuple ring (see
        :mod:`~hft.logging.pipeline.lanes`)."""
        if self._lane is None:
            return None, -1
        source_id = self._lane.source_id(level, source)
        return (self._lane.lane, source_id) if source_id >= 0 else (None, -1)

    def wake(self) -> None:
        """Wake the dispatcher now (call sites, when the ring reaches :attr:`wake_at`)."""
        self._wake.set()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run: records are no longer delivered."""
        return self._closed

    def count_after_close(self, *_args: Any, **_fields: Any) -> None:
        """What every logger method becomes after :meth:`close`: a count, no record."""
        self.calls_after_close += 1

    def note_refused(self, seq: int) -> None:
        """A call site could not enqueue record *seq* (ring full); it counts as dropped."""
        self._drops.refused(seq)

    def register_logger(self, logger: Any) -> None:
        """Remember *logger* (weakly) to sample its calls and rebind it after changes."""
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
        self.capacity = ring_buffer_size
        self._retired.append(self.ring)
        self.ring = deque(
            maxlen=ring_buffer_size if self.overflow_policy == "drop_oldest" else None
        )
        self._rebind_loggers()

    def _rebind_loggers(self) -> None:
        self._loggers.rebind_all()

    # -- dispatcher -------------------------------------------------------------------------

    def _run(self) -> None:
        wait, clear = self._wake.wait, self._wake.clear
        while True:
            quiet = not (self.ring or self.audit_ring or self._pending_internal)
            self._tick_slots()
            try:
                self._drain()
            except Exception as exc:  # noqa: BLE001 - the dispatcher must outlive any bug
                self._dispatch_failed(exc)
            self._flush_backends()
            self._bookkeep()
            self.call_samples.take()
            self._loggers.arm_sampling()
            if self._stopping and not (self.ring or self.audit_ring or any(self._retired)):
                break
            if quiet and self._idle():
                wait(IDLE_POLL_S)
                self.next_seq.idle = 0  # type: ignore[attr-defined]
            else:
                wait(self.poll_s)
            clear()
        self._drain(flush=True)
        self.call_samples.take()
        self._settle_slots()

    def _mover_may_run(self) -> bool:
        """The lane's mover runs while the dispatcher does, and stops with it: the last drains
        of a stopping dispatcher take the lane themselves (nobody would read the writer's
        acknowledgements after it)."""
        return self.running and not self._stopping

    def _idle(self) -> bool:
        """Whether the dispatcher may sleep :data:`IDLE_POLL_S`: only the lane's mover has
        work, every backend is healthy, and the call sites will wake it (the C Sequence's
        ``idle`` flag: the next record onto a ring clears it and wakes the dispatcher)."""
        lane, seq = self._lane, self.next_seq
        if lane is None or not lane.moving or not hasattr(seq, "idle") or self._stopping:
            return False
        if any(slot.state != HEALTHY or slot.pending for slot in self._slots):
            return False
        seq.idle = 1
        if self.ring or self.audit_ring or self._pending_internal:  # came in before the flag
            seq.idle = 0
            return False
        return True

    def _dispatch_failed(self, exc: Exception) -> None:
        """A slice could not be dispatched (a bug, never expected): count it, say so, go on."""
        self.dispatch_errors += 1
        if self.dispatch_errors == 1:
            self._warn("log dispatch failed", error=f"{type(exc).__name__}: {exc}")

    def _tick_slots(self) -> None:
        """Let failing backends retry or be probed, even when no new records arrive."""
        now = time.monotonic()
        for slot in self._slots:
            slot.tick(now)

    def _settle_slots(self) -> None:
        """Shutdown: nothing stays held in a slot; the drop summary and warnings go out."""
        self._report_drops(final=True)
        for slot in self._slots:
            slot.settle()
        for _ in range(_SETTLE_ROUNDS):  # warnings that settling or flushing queued go out too
            self._drain(flush=True)
            self._flush_backends()
            if not self._pending_internal:
                break

    def _drain(self, *, flush: bool = False) -> None:
        """Dispatch everything in the rings, one bounded slice at a time. *flush*: the lane's
        mover frames every waiting record now (flush markers do this too, see :meth:`_release`)."""
        slices = 0
        lane, move = self._lane, self._mover_may_run()
        if lane is not None:
            lane.drain(self._drops, flush=flush, move=move)
        while self.ring or self.audit_ring or self._pending_internal or any(self._retired):
            slices += 1
            if not slices % _BOOKKEEP_EVERY:
                self._bookkeep()
            self._dispatch(self._take(self.batch_size))
            os.sched_yield()  # hand call sites the GIL between slices (sleep(0) costs ~80 µs)
        if lane is not None:
            lane.drain(self._drops, flush=flush, move=move)
        self._honour_markers()

    def _take(self, limit: int) -> list[Record]:
        """Pop up to *limit* records, audit first. Only this thread pops, and call sites only
        add (a full drop_oldest ring discards as it adds), so ``len`` records are there."""
        ring = self.ring
        if self.audit_ring or self._retired:
            batch = self._take_in_order(limit)
        else:  # the common slice: the main ring only, popped at C level
            batch = list(map(call, repeat(ring.popleft, min(limit, len(ring)))))
        if batch and batch[-1][2] != MARKER:
            self._main_front = batch[-1][0]
        if self._ring_gate.waiters or self._audit_gate.waiters:
            low_water = int(self.capacity * REOPEN_AT)
            self._ring_gate.open_if_drained(ring, low_water)
            self._audit_gate.open_if_drained(self.audit_ring, low_water)
        return batch

    def _take_in_order(self, limit: int) -> list[Record]:
        """Audit records first, then rings retired by :meth:`resize` (dropped once empty)."""
        batch: list[Record] = []
        for ring in (self.audit_ring, *self._retired, self.ring):
            pop = ring.popleft
            batch.extend([pop() for _ in range(min(limit - len(batch), len(ring)))])
        self._retired = [r for r in self._retired if r]
        return batch

    def _dispatch(self, batch: list[Record]) -> None:
        logs, metrics, markers = batch, _NONE, _NONE
        lowest, highest = AUDIT, 0
        if batch:
            newest, lowest, highest, plain, hit = self._prepare.scan(batch)
            self._drops.take(len(batch), newest)
            self._delivery_ns.append(time.time_ns() - batch[0][1])
            if not plain:
                logs, metrics, markers = self._prepare.sort(batch, hit)
                lowest, highest = level_bounds(logs)
        if self._pending_internal:
            logs = logs + self._pending_internal
            self._pending_internal.clear()
            lowest, highest = level_bounds(logs)
        if logs or metrics:
            for slot in self._slots:
                slot.route(logs, metrics, lowest, highest)
        if self.overflow_policy == "drop_oldest":
            self._deferred_markers.extend(markers)
            if self._deferred_markers:
                self._honour_markers()
        elif markers:
            self._release(markers)

    def _bookkeep(self) -> None:
        """Throughput and drop reports: every few slices, not on every one."""
        self._rate.add(self._drops.taken)
        self._report_drops()

    def _honour_markers(self) -> None:
        """Set the deferred flush markers whose records are all taken (or evicted).

        A marker is done once the main ring is empty, or once a record logged after it
        (a larger sequence number) has been taken from the main ring: everything older was
        taken or evicted before it.
        """
        front, empty = self._main_front, not self.ring
        done = [m for m in self._deferred_markers if empty or m[0] < front]
        if done:
            self._release(done)
            self._deferred_markers = [m for m in self._deferred_markers if m not in done]

    def _release(self, markers: list[Record]) -> None:
        """flush() promises the records reached the backends *and* left them, and that the
        drop count is exact: every older record was taken, refused or evicted."""
        if self._lane is not None:  # lane records logged before the markers: framed now
            self._lane.drain(self._drops, flush=True, move=self._mover_may_run())
        self._flush_backends()
        self._sync_backends()
        self._drops.flushed(self.dropped)
        for marker in markers:
            marker[-1].set()

    def _sync_backends(self) -> None:
        """Backends that hand records on (a writer process) wait until they are written."""
        for slot in self._slots:
            try:
                slot.hooks.sync(SYNC_TIMEOUT_S)
            except Exception:  # noqa: BLE001 - counted like a failed flush
                slot.write_errors += 1

    def _flush_backends(self) -> None:
        for slot in self._slots:
            slot.flush()

    def _warn(self, msg: str, **fields: Any) -> None:
        """Queue a warning from the pipeline itself; it goes out with the next batch."""
        record = (-1, time.time_ns(), WARNING, INTERNAL_SOURCE, msg, fields)
        self._pending_internal.append(record)

    def _note(self, msg: str, **fields: Any) -> None:
        """Queue an INFO record from the logging layer itself (the audit chain's head)."""
        self._pending_internal.append((-1, time.time_ns(), INFO, INTERNAL_SOURCE, msg, fields))

    def _report_drops(self, *, final: bool = False) -> None:
        """At most one warning a second summarising how many records were dropped, and when."""
        dropped = self.dropped if final else self._drops.confirmed(self.dropped)
        fields = self._drops.report(dropped, final=final)
        if fields is not None:
            self._warn(
                "log records dropped: ring buffer full",
                **fields,
                overflow_policy=self.overflow_policy,
                ring_buffer_size=self.capacity,
            )

    # -- metrics ------------------------------------------------------------------------------

    def _rings(self) -> list[Sequence[Record]]:  # where records wait as tuples
        return [self.ring, self.audit_ring, *self._retired]

    @property
    def _lane_ring(self) -> Any:  # where plain records wait as bytes (None: no lane)
        return None if self._lane is None else self._lane.lane

    @property
    def dropped(self) -> int:
        """Records given a sequence number that will never reach the backends: exact once the
        call sites are quiet (metrics use :meth:`DropLedger.confirmed`, which says why)."""
        return self._drops.dropped(self._rings(), self._lane_ring)

    @property
    def _lane_depth(self) -> int:
        lane = self._lane_ring
        return 0 if lane is None else int(lane.pending)

    @property
    def slots(self) -> Sequence[BackendSlot]:
        """The backends with their delivery counts."""
        return tuple(self._slots)

    def metrics(self) -> LoggingMetrics:
        """A snapshot of latencies, throughput, drops and backend counts."""
        dropped = self._drops.confirmed(self.dropped) if self.running else self.dropped
        return snapshot(
            self.call_samples, self._delivery_ns, self._rate, self._slots,
            logged=self._drops.issued(self._rings(), self._lane_ring), processed=self._drops.taken,
            dropped=dropped, depth=len(self.ring) + self._lane_depth, capacity=self.capacity,
        )  # fmt: skip


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


_NONE: list[Record] = []  #: no metrics, no markers (never appended to)
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

__all__ = ["METRIC", "LoggingPipeline", "OverflowPolicy"]
