"""The dispatcher thread: takes the rings in slices and routes each slice to the backends.

It takes records out in slices of ``batch_size`` (:meth:`Rings.take`, audit first), prepares
them (:class:`Preparer`: bound context, redaction, exceptions), routes them to each backend's
slot by level and kind, and releases the GIL between slices so that no call site waits long
behind it. It counts what the byte lane's native mover took, honours flush markers, reports
drops, and carries the logging layer's own warnings to the backends with the next slice.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, Final

from hft.logging.levels import AUDIT, BACKTRACE, INFO, MARKER, WARNING
from hft.logging.pipeline.backtrace import route_backtraces
from hft.logging.pipeline.limits import Limits
from hft.logging.pipeline.loggers import LoggerRegistry
from hft.logging.pipeline.metrics import LATENCY_SAMPLES, LoggingMetrics, RateMeter, snapshot
from hft.logging.pipeline.prepare import Preparer, level_bounds
from hft.logging.pipeline.rings import Rings
from hft.logging.pipeline.slots import HEALTHY, BackendSlot
from hft.logging.record import Record, Source

INTERNAL_SOURCE: Final = Source.create("hft.logging", ("hft", "logging"), {})
#: Longest ``flush()`` waits for a backend that hands records on (a writer process).
SYNC_TIMEOUT_S: Final = 10.0
_SETTLE_ROUNDS: Final = 3  #: a backend's flush may warn (outage), and that warning be flushed
_BOOKKEEP_EVERY: Final = 16  #: slices between throughput and drop reports within one drain
#: How long the dispatcher sleeps while only the lane's native mover has work (the rings empty,
#: every backend healthy): the next record onto a ring, a metric, a flush, or (block policy) a
#: caller waiting for room in the lane wakes it sooner.
#: Each wake takes the GIL from a busy caller; this is how often the writer's acknowledgements
#: are read, and drop reports and samples taken, in that state.
IDLE_POLL_S: Final = 0.1
_NONE: list[Record] = []  #: no metrics, no markers (never appended to)


class Dispatcher:
    """One pipeline's dispatcher: its thread, and everything done between two slices."""

    def __init__(
        self,
        rings: Rings,
        slots: Sequence[BackendSlot],
        prepare: Preparer,
        loggers: LoggerRegistry,
        *,
        batch_size: int,
        poll_s: float,
        limits: Limits | None = None,
    ) -> None:
        self._slots = slots  #: the pipeline's list: backends added later are routed to
        self._prepare = prepare
        self._loggers = loggers
        self._batch_size = batch_size
        self._poll_s = poll_s  #: how often the loop looks at the rings when no call wakes it
        self._limits = limits  #: rate limits whose ended windows it reports (see drain)
        #: Slices that could not be dispatched (should stay 0; warned about once).
        self.dispatch_errors = 0
        self.reset(rings)

    def reset(self, rings: Rings) -> None:
        """Start afresh on *rings*: at construction, and in a forked child (the parent's thread
        and queues are the parent's)."""
        self._rings, self._drops = rings, rings.drops
        self._defer_markers = rings.overflow_policy == "drop_oldest"
        self._pending_internal: list[Record] = []
        self._deferred_markers: list[Record] = []
        self._delivery_ns: deque[int] = deque(maxlen=LATENCY_SAMPLES)
        self._rate = RateMeter()
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- the thread -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while the dispatcher thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def started(self) -> bool:
        """True once :meth:`start` made a thread (in a forked child: the parent's, now gone)."""
        return self._thread is not None

    def start(self) -> None:
        """Start the thread (idempotent)."""
        if not self.running:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="hft-dispatcher", daemon=True)
            self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Drain every record logged so far, flush the backends and stop the thread (waiting at
        most *timeout* for it); with no thread, do the same here."""
        if self.running:
            self._stopping = True
            self._rings.wake()
            assert self._thread is not None
            self._thread.join(timeout)
        else:
            self._sweep_limits(force=True)
            self.drain(flush=True)
            self.settle()

    def _run(self) -> None:
        rings = self._rings
        wait, clear = rings.wakeup.wait, rings.wakeup.clear
        while True:
            quiet = not (rings.ring or rings.audit_ring or self._pending_internal)
            self._tick_slots()
            try:
                self.drain()
            except Exception as exc:  # noqa: BLE001 - the dispatcher must outlive any bug
                self._dispatch_failed(exc)
            try:
                self._housekeep()
            except Exception as exc:  # noqa: BLE001 - as above: counted and said, never fatal
                self._dispatch_failed(exc)
            if self._stopping and not (rings.ring or rings.audit_ring or any(rings.retired)):
                break
            if quiet and self._idle():
                wait(IDLE_POLL_S)
                rings.next_seq.idle = 0  # type: ignore[attr-defined]
            else:
                wait(self._poll_s)
            clear()
        self._sweep_limits(force=True)
        self.drain(flush=True)
        rings.call_samples.take()
        self.settle()

    def _housekeep(self) -> None:
        """What a cycle does after the drain: flush, bookkeeping, latency samples, arming."""
        self.flush_backends()
        self._bookkeep()
        self._rings.call_samples.take()
        self._loggers.arm_sampling()

    def _mover_may_run(self) -> bool:
        """The lane's mover runs while the dispatcher does, and stops with it: the last drains
        of a stopping dispatcher take the lane themselves (nobody would read the writer's
        acknowledgements after it)."""
        return self.running and not self._stopping

    def _idle(self) -> bool:
        """Whether the dispatcher may sleep :data:`IDLE_POLL_S`: only the lane's mover has
        work, every backend is healthy, and the call sites will wake it (the C Sequence's
        ``idle`` flag: the next record onto a ring clears it and wakes the dispatcher)."""
        rings = self._rings
        lane, seq = rings.lane, rings.next_seq
        if lane is None or not lane.moving or not hasattr(seq, "idle") or self._stopping:
            return False
        if any(slot.state != HEALTHY or slot.pending for slot in self._slots):
            return False
        seq.idle = 1
        if rings.ring or rings.audit_ring or self._pending_internal:  # came in before the flag
            seq.idle = 0
            return False
        return True

    def _dispatch_failed(self, exc: Exception) -> None:
        """A slice could not be dispatched, or a cycle's housekeeping failed (a bug, never
        expected): count it, say so, go on."""
        self.dispatch_errors += 1
        if self.dispatch_errors == 1:
            self.warn("log dispatch failed", error=f"{type(exc).__name__}: {exc}")

    def _tick_slots(self) -> None:
        """Let failing backends retry or be probed, even when no new records arrive."""
        now = time.monotonic()
        for slot in self._slots:
            slot.tick(now)

    def settle(self) -> None:
        """Shutdown: nothing stays held in a slot; the drop summary and warnings go out."""
        self._report_drops(final=True)
        for slot in self._slots:
            slot.settle()
        for _ in range(_SETTLE_ROUNDS):  # warnings that settling or flushing queued go out too
            self.drain(flush=True)
            self.flush_backends()
            if not self._pending_internal:
                break

    # -- slices ---------------------------------------------------------------------------------

    def drain(self, *, flush: bool = False) -> None:
        """Dispatch everything in the rings, one bounded slice at a time, the rate limits'
        summaries first. *flush*: the lane's mover frames every waiting record now (flush
        markers do this too, see :meth:`_release`)."""
        self._sweep_limits()
        rings, slices = self._rings, 0
        lane, move = rings.lane, self._mover_may_run()
        if lane is not None:
            lane.drain(self._drops, flush=flush, move=move)
        while rings.ring or rings.audit_ring or self._pending_internal or any(rings.retired):
            slices += 1
            if not slices % _BOOKKEEP_EVERY:
                self._bookkeep()
            self.dispatch(rings.take(self._batch_size))
            os.sched_yield()  # hand call sites the GIL between slices (sleep(0) costs ~80 µs)
        if lane is not None:
            lane.drain(self._drops, flush=flush, move=move)
        self._honour_markers()

    def _sweep_limits(self, *, force: bool = False) -> None:
        """The summary of each rate limit's ended window (*force*, at shutdown: of each open
        one) onto the ring, before the slices are taken: limits say what they held back even
        when no later call comes (:mod:`~hft.logging.pipeline.limits`)."""
        if self._limits is not None:
            self._limits.sweep(force=force)

    def dispatch(self, batch: list[Record]) -> None:
        """Prepare one slice and route it, with the pipeline's own warnings, to every slot."""
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
        if lowest == BACKTRACE:  # a backtrace among them: each bundle at its trigger's level
            route_backtraces(logs, metrics, self._slots, self._frame_lane)
        elif logs or metrics:
            for slot in self._slots:
                slot.route(logs, metrics, lowest, highest)
        if self._defer_markers:
            self._deferred_markers.extend(markers)
            if self._deferred_markers:
                self._honour_markers()
        elif markers:
            self._release(markers)

    def _frame_lane(self) -> None:
        """The lane's records logged so far, framed now: before the markers, before a bundle."""
        lane = self._rings.lane
        if lane is not None:
            lane.drain(self._drops, flush=True, move=self._mover_may_run())

    def _bookkeep(self) -> None:
        """Throughput and drop reports: every few slices, not on every one."""
        self._rate.add(self._drops.taken)
        self._report_drops()

    # -- flush markers --------------------------------------------------------------------------

    def mark(self) -> Record:
        """A flush marker behind every record logged so far; its last item, an event, is set
        once they have all reached the backends (see :meth:`_release`)."""
        rings = self._rings
        marker = (rings.next_seq(), time.time_ns(), MARKER, INTERNAL_SOURCE, "", threading.Event())
        if self._defer_markers:
            # A full drop_oldest ring would evict the marker: it waits on the audit ring,
            # which never drops, and is honoured once a drain has emptied the main ring.
            rings.audit_ring.append(marker)
        else:
            rings.ring.append(marker)
        rings.wake()
        return marker

    def _honour_markers(self) -> None:
        """Set the deferred flush markers whose records are all taken (or evicted).

        A marker is done once the main ring is empty, or once a record logged after it
        (a larger sequence number) has been taken from the main ring: everything older was
        taken or evicted before it.
        """
        front, empty = self._rings.front, not self._rings.ring
        done = [m for m in self._deferred_markers if empty or m[0] < front]
        if done:
            self._release(done)
            self._deferred_markers = [m for m in self._deferred_markers if m not in done]

    def _release(self, markers: list[Record]) -> None:
        """flush() promises the records reached the backends *and* left them, and that the
        drop count is exact: every older record was taken, refused or evicted."""
        self._frame_lane()  # lane records logged before the markers
        self.flush_backends()
        self._sync_backends()
        self._drops.flushed(self._rings.dropped())
        for marker in markers:
            marker[-1].set()

    def _sync_backends(self) -> None:
        """Backends that hand records on (a writer process) wait until they are written."""
        for slot in self._slots:
            try:
                slot.hooks.sync(SYNC_TIMEOUT_S)
            except Exception:  # noqa: BLE001 - counted like a failed flush
                slot.write_errors += 1

    def flush_backends(self) -> None:
        """Every backend writes out what it buffers."""
        for slot in self._slots:
            slot.flush()

    # -- the logging layer's own records --------------------------------------------------------

    def warn(self, msg: str, **fields: Any) -> None:
        """Queue a warning from the pipeline itself; it goes out with the next slice."""
        record = (-1, time.time_ns(), WARNING, INTERNAL_SOURCE, msg, fields)
        self._pending_internal.append(record)

    def note(self, msg: str, **fields: Any) -> None:
        """Queue an INFO record from the logging layer itself (the audit chain's head)."""
        self._pending_internal.append((-1, time.time_ns(), INFO, INTERNAL_SOURCE, msg, fields))

    def _report_drops(self, *, final: bool = False) -> None:
        """At most one warning a second summarising how many records were dropped, and when."""
        rings = self._rings
        dropped = rings.dropped() if final else self._drops.confirmed(rings.dropped())
        fields = self._drops.report(dropped, final=final)
        if fields is not None:
            self.warn(
                "log records dropped: ring buffer full",
                **fields,
                overflow_policy=rings.overflow_policy,
                ring_buffer_size=rings.capacity,
            )

    def metrics(self) -> LoggingMetrics:
        """A snapshot of latencies, throughput, drops and backend counts."""
        rings = self._rings
        dropped = self._drops.confirmed(rings.dropped()) if self.running else rings.dropped()
        return snapshot(
            rings.call_samples, self._delivery_ns, self._rate,
            (stat for slot in self._slots for stat in slot.all_stats()),
            logged=rings.issued(), processed=self._drops.taken, dropped=dropped,
            depth=len(rings.ring) + rings.lane_depth, capacity=rings.capacity,
        )  # fmt: skip


__all__ = ["IDLE_POLL_S", "INTERNAL_SOURCE", "SYNC_TIMEOUT_S", "Dispatcher"]
