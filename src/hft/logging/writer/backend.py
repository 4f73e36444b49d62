"""Run a backend in a writer process of its own, so formatting and I/O use the second core.

CPython runs one thread at a time per process: in-process, the dispatcher's JSON work competes
with the strategy's own code for the GIL. :class:`ProcessBackend` hands batches to a child
interpreter instead (:mod:`backends._writer`). The dispatcher's share shrinks to packing a
batch into a frame (:mod:`hft.logging.writer.wire`) and one ``write`` on a pipe.

Guarantees and their limits:
- Nothing handed over is lost, nothing is counted before it is written. Every frame is kept
  until the writer acknowledges it disposed of (one acknowledgement per frame, never per
  record). If the writer dies (even by SIGKILL, at any moment), the dispatcher starts another
  and resends every unacknowledged frame; the new writer skips the records its predecessor
  had already written (:meth:`FileBackend.last_line`), so the file holds each record once.
- Only acknowledged records count as written; the writer's failovers, losses, backend state
  and warnings reach this process (:meth:`handover`, the pipeline's warnings).
- The unacknowledged frames are bounded (:data:`MAX_UNACKED_FRAMES`, :data:`MAX_UNACKED_BYTES`):
  past the bound the dispatcher waits for the writer, so the ring fills and the overflow policy
  applies (block: callers wait up to ``block_timeout_ms``; drops are counted). A restart runs
  on the dispatcher without waiting for the new writer, so it costs call sites no more.
- Order is kept: one pipe, one reader. The writer ignores SIGINT and SIGTERM and reads its
  pipe to the end, so neither Ctrl-C nor the parent's death loses what was handed over.
- A value that cannot cross the process boundary as itself (a user's class, a lock, a lambda)
  crosses as its ``repr``, which is what the JSON renderer would have printed anyway.
"""

from __future__ import annotations

import os
import select
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import orjson

from hft.logging.pipeline.metrics import BackendStats
from hft.logging.pipeline.spill import StderrFallback
from hft.logging.record import Record
from hft.logging.writer.handle import CLOSE_TIMEOUT_S, WriterChild, reap
from hft.logging.writer.serve import DRAIN_DEADLINE_S, open_sinks
from hft.logging.writer.sinks import LOSSLESS, QUEUE_RECORDS, SinkGroup, stats_from
from hft.logging.writer.wire import (
    ACKED,
    HEADER,
    READY,
    STATES,
    STATS,
    WARNED,
    FrameEncoder,
    Reply,
    closing_frame,
    decode_frame,
    parse_replies,
)

if TYPE_CHECKING:
    from hft.logging.backends.base import BackendContext

#: Records per frame at most: large enough that per-frame costs vanish, small enough that a
#: frame is written while the dispatcher is still draining a burst.
_FRAME_RECORDS: Final = 2048
#: Unacknowledged frames kept at most (and their bytes); past either the dispatcher waits.
MAX_UNACKED_FRAMES: Final = 1024
MAX_UNACKED_BYTES: Final = 32 << 20
_START_TIMEOUT_S: Final = 30.0
_SYNC_TIMEOUT_S: Final = 10.0
_FAILED_STARTS: Final = 3  #: writers in a row that died before ready: write in this process
#: Of the drain deadline, kept at most for the report of what was not written and the exit.
EXIT_RESERVE_S: Final = 0.3
_WAIT_S: Final = 0.1  #: longest single wait for the writer (its death is seen at least this often)


class MoverStats(NamedTuple):
    """``Lane.mover_stats()`` by name: the mover's unacknowledged frames and what it did."""

    running: int
    frames: int  #: unacknowledged frames, their records and bytes
    records: int
    bytes: int
    sent_through: int  #: the newest frame a byte of which reached the pipe
    next_number: int  #: the next frame's number
    error: int  #: errno of a failed write (0: none)
    moved: int  #: frames made of lane records since the start
    unaccounted: int  #: records taken that ``account()`` has not counted yet


def mover_stats(lane: Any) -> MoverStats:
    """*lane*'s mover state (one lock, one tuple)."""
    return MoverStats(*lane.mover_stats())


class _Frame(NamedTuple):
    number: int
    data: memoryview  #: header included, as written on the pipe
    records: int


class ProcessBackend:
    """A backend (by its registry name and settings) running in a writer process.

    It looks like the backend it wraps (``name``, ``level``, routing flags), so the pipeline
    routes to it as usual. ``write`` queues a batch, ``flush`` (called by the dispatcher after
    every drain) sends the queue as one frame; ``sync`` waits until every frame is
    acknowledged; ``close`` does that, then lets the writer exit. If no writer process can be
    started, the backend writes in this process instead: slower, never lossy.
    """

    def __init__(
        self,
        sinks: str | Sequence[tuple[str, Mapping[str, Any]]],
        settings: Mapping[str, Any] | None = None,
        max_field_chars: int = 4096,
        *,
        spill_dir: str = "logs/spill",
        max_unacked_frames: int = MAX_UNACKED_FRAMES,
        drain_deadline_s: float = DRAIN_DEADLINE_S,
        queue_records: int = QUEUE_RECORDS,
    ) -> None:
        chosen = [(sinks, settings or {})] if isinstance(sinks, str) else list(sinks)
        if not chosen:
            raise ValueError("a writer process needs at least one sink")
        facts = [_routing(n, s) for n, s in chosen]  # validates; how to route
        self.sink_names = tuple(n for n, _ in chosen)
        self.name = "+".join(self.sink_names)
        self.level = min(level for level, _, _ in facts)
        self.takes_metrics = any(metrics for _, metrics, _ in facts)
        self.takes_audit = any(audit for _, _, audit in facts)
        self._lossless = frozenset(n for n in self.sink_names if n in LOSSLESS)
        self._drain_deadline_s = drain_deadline_s
        self._spec = {
            "sinks": [{"backend": n, "settings": dict(s)} for n, s in chosen],
            "limit": max_field_chars,
            "spill_dir": str(spill_dir),
            "drain_deadline_s": drain_deadline_s,
            "queue_records": queue_records,
            "writer_cpu": next((s["writer_cpu"] for _, s in chosen if "writer_cpu" in s), "any"),
        }
        #: Each sink's counts as the writers reported them: those of writers that are gone,
        #: and the current one's latest report (see :meth:`sink_stats`).
        self._sink_base: dict[str, dict[str, Any]] = {}
        self._sink_now: dict[str, dict[str, Any]] = {}
        #: Records no sink took, in this process (its sinks could not be opened here either):
        #: counted in the first sink's figures.
        self._here = {"failed_over": 0, "lost": 0}
        self._limit = max_field_chars
        self._max_unacked = max_unacked_frames
        self._encode = FrameEncoder(max_field_chars)
        self._pending: list[Record] = []
        self._unacked: deque[_Frame] = deque()
        self._unsent: deque[_Frame] = deque()
        self._offset = 0  #: bytes of ``_unsent[0]`` already on the pipe
        self._unacked_bytes = self._unacked_records = 0
        self._next_frame = 0
        self._sent_through = -1  #: the newest frame any writer may have read
        self._acked_through = -1  #: the newest frame a writer acknowledged
        #: The lane whose native mover writes the pipe while it runs (``_moving``): it then
        #: holds the unacknowledged frames and numbers new ones (:meth:`moves`).
        self._lane: Any = None
        self._moving = False
        self._mover_args: tuple[int, int, float] = (0, 0, 0.0)
        self._local: SinkGroup | None = None
        self._local_only = False
        self._child: WriterChild | None = None
        self._failed_starts = 0
        self._exited: list[tuple[WriterChild, bool]] = []
        self._exit_status: int | None = None
        self._pid = os.getpid()
        self._warn_hook: Callable[..., None] | None = None
        #: Warnings that came before the pipeline attached (the writer's start): sent on attach.
        self._early: list[tuple[str, dict[str, Any]]] | None = []
        self.restarts = -1
        #: Records confirmed written / failed over / lost (by writers, or in this process).
        self.written = self.failed_over = self.lost = 0
        self.writer_state = "healthy"
        self._start()
        self._await(lambda: self._child is None or self._child.ready, _START_TIMEOUT_S)
        if self._child is None or not self._child.ready:
            self._kill_child()
            self._reap_exited(block=True)
            raise RuntimeError(
                f"{self.name} writer process failed to start (exit status {self._exit_status})"
            )

    @property
    def writer_pid(self) -> int | None:
        """The process id of the current writer (None between one and the next)."""
        return None if self._child is None else self._child.popen.pid

    def attach(self, context: BackendContext) -> None:
        """The writer's warnings (and ours) go out as the pipeline's own."""
        self._warn_hook = context.warn
        early, self._early = self._early or [], None
        for msg, fields in early:
            context.warn(msg, **fields)

    # -- the dispatcher's calls -----------------------------------------------------------

    def write(self, records: Sequence[Record]) -> None:
        """Queue *records* for the writer; a full frame's worth is sent at once."""
        self._check_fork()
        self._pending.extend(records)
        if len(self._pending) >= _FRAME_RECORDS:
            self._send()

    def flush(self) -> None:
        """Send what is queued (the dispatcher flushes at the end of every drain)."""
        if self._pending:
            self._send()
        else:
            self._pump()

    def sync(self, timeout: float = _SYNC_TIMEOUT_S) -> bool:
        """Send what is queued and wait until the writer acknowledged it (``pipeline.flush``)."""
        self.flush()
        newest = self._newest_queued()  # frames queued later (the mover's) need not be waited for
        return self._await(
            lambda: self._acked_through >= newest or not self._unacked_frames(), timeout
        )

    def handover(self) -> tuple[int, int, int, str]:
        """Of the records :meth:`write` accepted: how many are not yet confirmed, failed over,
        lost, and the writer's backend state (the slot's counts come from these)."""
        unconfirmed = len(self._pending) + self._unacked_records
        if self._moving:  # the mover's records, less those the dispatcher has not counted yet
            mover = mover_stats(self._lane)
            unconfirmed = max(0, unconfirmed + mover.records - mover.unaccounted)
        return unconfirmed, self.failed_over, self.lost, self.writer_state

    def stats(self) -> dict[str, float]:
        """Writer process restarts (0 while the first lives), frames awaiting acknowledgement."""
        return {
            "writer_restarts": float(self.restarts),
            "writer_unacked_frames": float(self._unacked_frames()),
            "writer_failed_over": float(self.failed_over),
            "writer_lost": float(self.lost),
        }

    def sink_stats(self) -> list[BackendStats]:
        """Each sink's counts, as its writers reported them; records handed over but not yet
        acknowledged count as pending in each lossless sink (they are on their way to it)."""
        unconfirmed = self.handover()[0]
        local = self._local.stats() if self._local is not None else {}
        stats = []
        for name in self.sink_names:
            counts = _added(self._sink_base.get(name, {}), self._sink_now.get(name, {}))
            counts = _added(counts, local.get(name, {}))
            if name in self._lossless:
                counts["pending"] = counts.get("pending", 0) + unconfirmed
                counts["routed"] = counts.get("routed", 0) + unconfirmed
            if name == self.sink_names[0]:  # the writer's own figures go with its first sink
                counts = _added(counts, {**self._here, "routed": sum(self._here.values())})
                counts["extra"] = {**counts.get("extra", {}), **self.stats()}
            stats.append(stats_from(name, counts))
        return stats

    def _fold_sink_stats(self) -> None:
        """A writer is gone: its last counts stay, and the next one counts from zero."""
        for name, counts in self._sink_now.items():
            self._sink_base[name] = _added(self._sink_base.get(name, {}), counts)
            self._sink_base[name]["pending"] = 0
        self._sink_now = {}

    def after_fork_in_child(self) -> None:
        """A forked process must neither resend the parent's frames nor hold its pipes open."""
        self._lane, self._moving = None, False  # the mover is the parent's thread, not ours
        self._pending = []
        self._unacked.clear()
        self._unsent.clear()
        self._unacked_bytes = self._unacked_records = self._offset = 0
        self._pid = os.getpid()  # the next frame starts a writer of our own
        self._exited.clear()  # the parent's to reap, not ours
        child, self._child = self._child, None
        if child is not None:
            child.close()

    def close(self) -> None:
        """Wait until every frame is acknowledged, then let the writer exit (EOF).

        The writer is told first when the drain deadline passes, counted from now: its
        best-effort sinks (console, syslog) get until then, less a tenth of it (at most
        ``EXIT_RESERVE_S``) kept for saying what they could not write and for both processes'
        exit; the file gets as long as it takes."""
        reserve = min(EXIT_RESERVE_S, self._drain_deadline_s / 10)
        deadline = time.monotonic() + self._drain_deadline_s - reserve
        self._warn_hook = None  # the pipeline dispatches nothing more: warnings go to stderr
        early, self._early = self._early or [], None
        for msg, fields in early:  # never attached to a pipeline: said on stderr, not lost
            self._warn(msg, **fields)
        if self._moving:
            self._lane.move_now()  # nothing stays in the lane
        self.flush()
        if self._pid == os.getpid() and not self._local_only:
            self._queue(closing_frame(deadline), 0)
        if self._pid == os.getpid():
            self._await(lambda: not self._unacked_frames(), CLOSE_TIMEOUT_S)
            self._stop_moving()  # before the pipe closes: the mover writes to it
            child = self._child
            if child is not None:
                child.end_input()  # EOF: the writer settles, acknowledges, exits
                self._lose_child(expected=True)
            self._reap_exited(block=True)
            if self._unacked:  # a writer that never answered: this process writes them
                self._write_here()
        if self._local is not None:
            self._local.close(self._drain_deadline_s)
            for backend in self._local.backends():
                backend.close()

    # -- the native mover (hft/logging/native/_mover.h) -----------------------------------------

    def moves(self, lane: Any, frame_bytes: int, poll_s: float, *, run: bool = True) -> bool:
        """True while *lane*'s native mover writes this backend's pipe (started here once a
        writer is ready, if *run*; stopped if not): it then takes the lane's records and writes
        them as frames, and this backend only reads the writer's replies. False: the caller
        takes the lane's records itself."""
        self._check_fork()
        if lane is not self._lane or not run:
            self._stop_moving()
            self._lane = lane
        self._mover_args = (frame_bytes, self._max_unacked, poll_s)
        if run and not self._moving:
            self._start_moving()
        return self._moving

    def _start_moving(self) -> None:
        """Hand the unacknowledged frames, and the pipe, to the lane's mover."""
        child = self._child
        if self._lane is None or self._local_only or child is None or not child.ready:
            return
        if self._pending:
            self._send()  # classic records queued before: ahead of what the mover takes
            if self._moving or self._child is not child:
                return
        frame_bytes, max_frames, poll_s = self._mover_args
        frames = [(f.number, bytes(f.data), f.records) for f in self._unacked]
        self._lane.start_mover(
            child.stdin, self._next_frame, self._sent_through, frames,
            len(self._unacked) - len(self._unsent), self._offset,
            frame_bytes, max_frames, MAX_UNACKED_BYTES, poll_s,
        )  # fmt: skip
        self._unacked.clear()
        self._unsent.clear()
        self._unacked_bytes = self._unacked_records = self._offset = 0
        self._moving = True

    def _stop_moving(self) -> None:
        """Stop the mover and take its unacknowledged frames back (a restart resends them)."""
        if not self._moving:
            return
        frames, unsent_from, offset, sent_through, next_number, _ = self._lane.stop_mover()
        self._unacked = deque(_Frame(n, memoryview(d), r) for n, d, r in frames)
        self._unsent = deque(list(self._unacked)[unsent_from:])
        self._offset = offset
        self._sent_through = max(self._sent_through, sent_through)
        self._next_frame = next_number
        self._unacked_bytes = sum(len(f.data) for f in self._unacked)
        self._unacked_records = sum(f.records for f in self._unacked)
        self._moving = False  # last: a reader on another thread sees one set of counts or the other

    def _newest_queued(self) -> int:
        """The number of the newest frame queued so far (-1: none)."""
        return mover_stats(self._lane).next_number - 1 if self._moving else self._next_frame - 1

    def _unacked_frames(self) -> int:
        return len(self._unacked) + (mover_stats(self._lane).frames if self._moving else 0)

    # -- frames ---------------------------------------------------------------------------

    def _check_fork(self) -> None:
        """In a forked child (the pipeline's fork hook normally did this already): let go of
        the parent's writer before touching anything."""
        if self._pid != os.getpid():
            self.after_fork_in_child()

    def send_frame(self, data: bytes, records: int) -> None:
        """Send a frame made elsewhere (a lane's: :mod:`~hft.logging.pipeline.lanes`), header
        included, after the records queued before it."""
        self._check_fork()
        if self._pending:
            self._send()
        self._queue(memoryview(data), records)

    def _send(self) -> None:
        """Queue the pending records as one frame and push frames to the writer."""
        records, self._pending = self._pending, []
        if self._local_only:
            self._last_resort(records)
            return
        self._queue(self._encode(records), len(records))

    def _queue(self, data: memoryview, records: int) -> None:
        if self._local_only:
            self._last_resort(decode_frame(data[HEADER.size :]))
            return
        if self._moving:  # one writer of the pipe: the mover numbers it and writes it
            self._lane.submit(data, records)
            if self._over_bound():
                self._await(lambda: not self._over_bound(), None)
            return
        frame = _Frame(self._next_frame, data, records)
        self._next_frame += 1
        self._unacked.append(frame)
        self._unsent.append(frame)
        self._unacked_bytes += len(frame.data)
        self._unacked_records += frame.records
        self._pump()
        if self._over_bound():  # back-pressure: the ring fills, the overflow policy applies
            self._await(lambda: not self._over_bound(), None)

    def _over_bound(self) -> bool:
        if self._moving:
            mover = mover_stats(self._lane)
            return mover.frames > self._max_unacked or mover.bytes > MAX_UNACKED_BYTES
        return len(self._unacked) > self._max_unacked or self._unacked_bytes > MAX_UNACKED_BYTES

    def _pump(self) -> None:
        """Read the writer's replies, replace a dead writer, write what the pipe takes."""
        self._check_fork()
        self._read_replies()
        if self._moving and mover_stats(self._lane).error:  # its write failed: the writer is gone
            self._lose_child()
        if self._exited:
            self._reap_exited()
        if self._child is None and self._unacked:
            if self._failed_starts >= _FAILED_STARTS:
                self._write_here()
                return
            self._start()
        child = self._child
        if child is None or not child.ready or self._moving:
            return
        while self._unsent:
            frame = self._unsent[0]
            try:
                written = os.write(child.stdin, frame.data[self._offset :])
            except BlockingIOError:
                return
            except OSError:  # the writer is gone; the next pump starts another
                self._lose_child()
                return
            self._sent_through = max(self._sent_through, frame.number)
            self._offset += written
            if self._offset == len(frame.data):
                self._unsent.popleft()
                self._offset = 0

    def _await(self, done: Callable[[], bool], timeout: float | None) -> bool:
        """Pump until *done* holds; False if *timeout* passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._pump()
            if done():
                return True
            left = _WAIT_S if deadline is None else min(_WAIT_S, deadline - time.monotonic())
            if left <= 0:
                return False
            child = self._child
            if child is None:
                time.sleep(left)
                continue
            writable = [child.stdin] if child.ready and self._unsent else []
            select.select([child.stdout], writable, [], left)

    # -- writer processes -----------------------------------------------------------------

    def _start(self) -> None:
        """Start a writer; it gets every unacknowledged frame, and is told which of them a
        predecessor may have written. The dispatcher does not wait for it to be ready."""
        first = self._unacked[0].number if self._unacked else self._next_frame
        spec = {
            **self._spec,
            "first_frame": first,
            "resend_through": self._sent_through if self._sent_through >= first else -1,
        }
        self._child = WriterChild.start(spec)
        self._unsent = deque(self._unacked)
        self._offset = 0
        self.restarts += 1

    def _read_replies(self) -> None:
        child = self._child
        if child is None:
            return
        closed = child.read()
        self._handle(child, parse_replies(child.replies))
        if closed:
            self._lose_child()

    def _handle(self, child: WriterChild, replies: list[Reply]) -> None:
        for tag, value in replies:
            if tag == ACKED:
                self._acknowledged(child, value)
            elif tag == WARNED:
                self._warn(value["msg"], **value["fields"])
            elif tag == STATS:
                self._sink_now = value
            elif tag == READY:
                child.ready = True
                self._failed_starts = 0

    def _acknowledged(self, child: WriterChild, ack: tuple[int, int, int, int, int]) -> None:
        """Frames up to *frame* are disposed of: count what the writer says became of them."""
        frame, written, failed_over, lost, state = ack
        was = child.totals
        child.totals = (written, failed_over, lost)
        self._acked_through = max(self._acked_through, frame)
        moved = self._lane.ack(frame) if self._moving else 0  # the mover's frames, freed there
        ours = 0
        while self._unacked and self._unacked[0].number <= frame:
            acked = self._unacked.popleft()
            ours += acked.records
            self._unacked_bytes -= len(acked.data)
        done = ours + moved
        d_written, d_failed, d_lost = written - was[0], failed_over - was[1], lost - was[2]
        self.written += d_written
        self.failed_over += d_failed
        self.lost += d_lost + max(0, done - d_written - d_failed - d_lost)  # unreadable frames
        self._unacked_records -= ours  # last: a reader on another thread never sees too many
        self.writer_state = STATES[state]

    def _lose_child(self, *, expected: bool = False) -> None:
        """Forget a writer whose pipes closed (reading its last replies first).

        It is reaped later (:meth:`_reap_exited`): waiting here for the kernel to finish its
        exit would hold up the dispatcher, and with it every call site.
        """
        self._stop_moving()  # before the pipes close: the mover writes to one
        child, self._child = self._child, None
        if child is None:
            return
        if expected:
            reap(child.popen)  # close(): it settles and acknowledges before it exits
        child.read()  # its ends are closed: what it sent is all there
        self._handle(child, parse_replies(child.replies))
        child.close()
        self._fold_sink_stats()
        self._exited.append((child, expected))
        self._reap_exited()

    def _reap_exited(self, *, block: bool = False) -> None:
        """Reap the writers that have exited; warn about the ones that died unasked."""
        for entry in list(self._exited):
            child, expected = entry
            status = child.popen.wait() if block else child.popen.poll()
            if status is None:
                continue
            self._exited.remove(entry)
            self._exit_status = status
            if not child.ready and status > 0:  # it could not open its backend
                self._failed_starts += 1
            if not expected:
                unacked = len(self._unacked)
                self._warn("log writer process exited", exit_status=status, unacked_frames=unacked)

    def _kill_child(self) -> None:
        self._stop_moving()
        child, self._child = self._child, None
        if child is not None:
            child.popen.kill()
            child.close()
            self._exit_status = child.popen.wait()

    # -- no writer process ----------------------------------------------------------------

    def _write_here(self) -> None:
        """No writer can be had: every unacknowledged frame, and what follows, is written here."""
        self._stop_moving()
        if not self._local_only:
            self._warn("log writer process cannot start; writing in this process")
        self._local_only = True
        frames = list(self._unacked)
        self._unacked.clear()
        self._unsent.clear()
        self._unacked_bytes = self._unacked_records = self._offset = 0
        for frame in frames:
            try:
                records = decode_frame(frame.data[HEADER.size :])
            except Exception:  # noqa: BLE001 - a frame this process made; counted if unreadable
                self.lost += frame.records
                self._here["lost"] += frame.records
                continue
            self._last_resort(records)

    def _last_resort(self, records: list[Record]) -> None:
        """This process's own copy of the sinks, else standard error, else counted lost."""
        try:
            self._fallback().deliver(records)
        except Exception:  # noqa: BLE001 - the sinks cannot be opened here either
            try:
                StderrFallback(max_field_chars=self._limit).write(records)
            except Exception:  # noqa: BLE001 - counted, never raised twice for one record
                self.lost += len(records)
                self._here["lost"] += len(records)
                return
            self.failed_over += len(records)
            self._here["failed_over"] += len(records)
            return
        self.written += len(records)

    def _fallback(self) -> SinkGroup:
        """The same sinks in this process, for when no writer process can be had."""
        if self._local is None:
            self._local = open_sinks(self._spec, self._warn)
        return self._local

    def _warn(self, msg: str, **fields: Any) -> None:
        fields = {"backend": self.name, **fields}
        if self._early is not None:  # not attached yet: the pipeline logs it once it is
            self._early.append((msg, fields))
            return
        if self._warn_hook is not None:
            self._warn_hook(msg, **fields)
            return
        line = {"level": "WARNING", "logger": "hft.logging", "msg": msg, "fields": fields}
        sys.stderr.write(orjson.dumps(line, default=str).decode() + "\n")


def _added(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Two reports of one sink's counts added up (state and extras: the newer one's)."""
    out: dict[str, Any] = dict(a)
    for key, value in b.items():
        if isinstance(value, int) and not isinstance(value, bool):
            out[key] = int(out.get(key, 0)) + value
        else:
            out[key] = value
    return out


def _routing(name: str, settings: Mapping[str, Any]) -> tuple[int, bool, bool]:
    """A sink's level, and whether it takes metric and audit records, from its validated
    settings. A lossless sink (the file) is opened here once, so that a path it cannot open
    is a ``ConfigError`` naming the key in this process, not a writer that cannot start."""
    from hft.logging.backends.registry import backend_classes, backend_section, create_in_process
    from hft.logging.levels import parse_level

    if name in LOSSLESS:
        probe = create_in_process(name, settings)
        probe.close()
        return probe.level, probe.takes_metrics, probe.takes_audit
    section = backend_section(name, settings)
    kind = backend_classes()[name]
    level = parse_level(getattr(section, "level", "DEBUG"))
    return (
        level,
        bool(getattr(kind, "takes_metrics", False)),
        bool(getattr(kind, "takes_audit", True)),
    )
