"""Run a backend in a writer process of its own, so formatting and I/O use the second core.

CPython runs one thread at a time per process: in-process, the dispatcher's JSON work competes
with the strategy's own code for the GIL. :class:`ProcessBackend` hands batches to a child
interpreter instead (``python -m hft.logging.writer``). The dispatcher's share shrinks to
packing a batch into a frame (:mod:`hft.logging.writer.wire`) and one ``write`` on a pipe.

Guarantees and their limits:
- Nothing handed over is lost, nothing is counted before it is written. Every frame is kept
  until the writer acknowledges it disposed of (one acknowledgement per frame, never per
  record: :mod:`hft.logging.writer.link`). If the writer dies (even by SIGKILL, at any
  moment), the dispatcher starts another and resends every unacknowledged frame
  (:mod:`hft.logging.writer.supervisor`); the new writer skips the records its predecessor
  had already written (:meth:`FileBackend.last_line`), so the file holds each record once.
- Only acknowledged records count as written (:mod:`hft.logging.writer.tally`); the writer's
  failovers, losses, backend state and warnings reach this process (:meth:`handover`, the
  pipeline's warnings).
- The unacknowledged frames are bounded (:data:`~hft.logging.writer.link.MAX_UNACKED_FRAMES`,
  :data:`~hft.logging.writer.link.MAX_UNACKED_BYTES`): past the bound the dispatcher waits for
  the writer, so the ring fills and the overflow policy applies (block: callers wait up to
  ``block_timeout_ms``; drops are counted). A restart runs on the dispatcher without waiting
  for the new writer, so it costs call sites no more.
- Order is kept: one pipe, one reader. The writer ignores SIGINT and SIGTERM and reads its
  pipe to the end, so neither Ctrl-C nor the parent's death loses what was handed over.
- A value that cannot cross the process boundary as itself (a user's class, a lock, a lambda)
  crosses as its ``repr``, which is what the JSON renderer would have printed anyway.
- If no writer process can be started, the records are written in this process
  (:mod:`hft.logging.writer.fallback`): slower, never lossy.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

import orjson
from pydantic import BaseModel

from hft.config import FileBackendSettings
from hft.logging.pipeline.metrics import BackendStats
from hft.logging.record import BacktraceRecords, Record
from hft.logging.writer.fallback import LocalSinks
from hft.logging.writer.link import MAX_UNACKED_FRAMES, FrameLink
from hft.logging.writer.serve import DRAIN_DEADLINE_S
from hft.logging.writer.sinks import LOSSLESS, QUEUE_RECORDS, SinkSpec
from hft.logging.writer.supervisor import WriterSupervisor
from hft.logging.writer.tally import WriterTally
from hft.logging.writer.wire import FrameEncoder

if TYPE_CHECKING:
    from hft.logging.backends.base import BackendContext

#: Records per frame at most: large enough that per-frame costs vanish, small enough that a
#: frame is written while the dispatcher is still draining a burst.
_FRAME_RECORDS: Final = 2048
_START_TIMEOUT_S: Final = 30.0
_SYNC_TIMEOUT_S: Final = 10.0


class ProcessBackend:
    """Backends (each by its registry name and validated settings section) running as the
    sinks of one writer process.

    It looks like the backend it wraps (``name``, ``level``, routing flags), so the pipeline
    routes to it as usual. ``write`` queues a batch, ``flush`` (called by the dispatcher after
    every drain) sends the queue as one frame; ``sync`` waits until every frame is
    acknowledged; ``close`` does that, then lets the writer exit. If no writer process can be
    started, the backend writes in this process instead: slower, never lossy.

    The frames in flight are the link's (:class:`FrameLink`), the writer process's life the
    supervisor's (:class:`WriterSupervisor`), what became of the records the tally's
    (:class:`WriterTally`); this class is what the pipeline sees of them.
    """

    def __init__(
        self,
        sinks: Sequence[tuple[str, BaseModel]],
        max_field_chars: int = 4096,
        *,
        spill_dir: str = "logs/spill",
        max_unacked_frames: int = MAX_UNACKED_FRAMES,
        drain_deadline_s: float = DRAIN_DEADLINE_S,
        queue_records: int = QUEUE_RECORDS,
    ) -> None:
        sink_spec = SinkSpec(tuple(sinks), max_field_chars, str(spill_dir), queue_records)
        if not sink_spec.sections:
            raise ValueError("a writer process needs at least one sink")
        facts = [_routing(n, s) for n, s in sink_spec.sections]  # how to route; the file probed
        self.sink_names = tuple(n for n, _ in sink_spec.sections)
        self.name = "+".join(self.sink_names)
        self.level = min(level for level, _, _ in facts)
        self.takes_metrics = any(metrics for _, metrics, _ in facts)
        self.takes_audit = any(audit for _, _, audit in facts)
        self._drain_deadline_s = drain_deadline_s
        spec = {  # what the writer process is started with (JSON: a process boundary)
            **sink_spec.wire(),
            "drain_deadline_s": drain_deadline_s,
            "writer_cpu": next(
                (s.writer_cpu for _, s in sink_spec.sections if isinstance(s, FileBackendSettings)),
                "any",
            ),
        }
        self._warnings = _WarningRelay(self.name)
        self._encode = FrameEncoder(max_field_chars)
        self._pending: list[Record] = []
        self._link = FrameLink(max_unacked_frames)
        self._tally = WriterTally(self.sink_names)
        self._local = LocalSinks(sink_spec, self._tally, self._warnings.warn)
        self._writer = WriterSupervisor(
            spec,
            self._link,
            self._tally,
            self._local,
            warn=self._warnings.warn,
            on_fork=self.after_fork_in_child,
        )
        self._writer.start()
        if not self._writer.wait_ready(_START_TIMEOUT_S):
            status = self._writer.exit_status
            raise RuntimeError(f"{self.name} writer process failed to start (exit status {status})")

    @property
    def writer_pid(self) -> int | None:
        """The process id of the current writer (None between one and the next)."""
        child = self._writer.child
        return None if child is None else child.popen.pid

    @property
    def restarts(self) -> int:
        """Writer processes started after the first."""
        return self._writer.restarts

    @property
    def written(self) -> int:
        """Records confirmed written (by writers, or in this process)."""
        return self._tally.written

    def attach(self, context: BackendContext) -> None:
        """The writer's warnings (and ours) go out as the pipeline's own."""
        self._warnings.attach(context)

    # -- the dispatcher's calls -----------------------------------------------------------

    def write(self, records: Sequence[Record]) -> None:
        """Queue *records* for the writer; a full frame's worth is sent at once."""
        self._writer.check_fork()
        if type(records) is BacktraceRecords:  # routed as one: a frame of its own, as itself
            if self._pending:
                self._send()
            self._pending = records
            self._send()
            return
        self._pending.extend(records)
        if len(self._pending) >= _FRAME_RECORDS:
            self._send()

    def flush(self) -> None:
        """Send what is queued (the dispatcher flushes at the end of every drain)."""
        if self._pending:
            self._send()
        else:
            self._writer.pump()

    def sync(self, timeout: float = _SYNC_TIMEOUT_S) -> bool:
        """Send what is queued and wait until the writer acknowledged it (``pipeline.flush``)."""
        self.flush()
        link = self._link
        newest = link.newest_queued()  # frames queued later (the mover's) need not be waited for
        return self._writer.wait(
            lambda: link.acked_through >= newest or not link.unacked_frames(), timeout
        )

    def send_frame(self, data: bytes, records: int) -> None:
        """Send a frame made elsewhere (a lane's: :mod:`~hft.logging.pipeline.lanes`), header
        included, after the records queued before it."""
        self._writer.check_fork()
        if self._pending:
            self._send()
        self._writer.send(memoryview(data), records)

    def _send(self) -> None:
        """Send the pending records as one frame."""
        records, self._pending = self._pending, []
        if self._local.active:
            self._local.deliver(records)
            return
        self._writer.send(self._encode(records), len(records))

    def close(self) -> None:
        """Wait until every frame is acknowledged, then let the writer exit (EOF).

        The writer is told first when the drain deadline passes, counted from now
        (:meth:`WriterSupervisor.deadline`): its best-effort sinks (console, syslog) get until
        then; the file gets as long as it takes."""
        deadline = self._writer.deadline()
        self._warnings.detach()  # the pipeline dispatches nothing more: warnings go to stderr
        if self._link.moving:
            self._link.lane.move_now()  # nothing stays in the lane
        self.flush()
        self._writer.close(deadline)
        self._local.close(self._drain_deadline_s)

    def after_fork_in_child(self) -> None:
        """A forked process must neither resend the parent's frames nor hold its pipes open."""
        link = self._link
        link.lane, link.moving = None, False  # the mover is the parent's thread, not ours
        self._pending = []
        link.clear()
        self._writer.after_fork_in_child()

    # -- what the pipeline reads ----------------------------------------------------------

    def handover(self) -> tuple[int, int, int, str]:
        """Of the records :meth:`write` accepted: how many are not yet confirmed, failed over,
        lost, and the writer's backend state (the slot's counts come from these)."""
        tally = self._tally
        unconfirmed = self._link.unconfirmed(len(self._pending))
        return unconfirmed, tally.failed_over, tally.lost, tally.state

    def stats(self) -> dict[str, float]:
        """Writer process restarts (0 while the first lives), frames awaiting acknowledgement."""
        return {
            "writer_restarts": float(self._writer.restarts),
            "writer_unacked_frames": float(self._link.unacked_frames()),
            "writer_failed_over": float(self._tally.failed_over),
            "writer_lost": float(self._tally.lost),
        }

    def sink_stats(self) -> list[BackendStats]:
        """Each sink's counts, as its writers reported them; records handed over but not yet
        acknowledged count as pending in each lossless sink (they are on their way to it)."""
        return self._tally.sink_stats(self.handover()[0], self._local.stats(), self.stats())

    # -- the native mover (hft/logging/native/mover.c) -----------------------------------

    def moves(self, lane: Any, frame_bytes: int, poll_s: float, *, run: bool = True) -> bool:
        """True while *lane*'s native mover writes this backend's pipe (started here once a
        writer is ready, if *run*; stopped if not): it then takes the lane's records and writes
        them as frames, and this backend only reads the writer's replies. False: the caller
        takes the lane's records itself."""
        self._writer.check_fork()
        link = self._link
        if lane is not link.lane or not run:
            link.stop_moving()
            link.lane = lane
        link.mover_args = (frame_bytes, link.max_unacked, poll_s)
        if run and not link.moving:
            self._start_moving()
        return link.moving

    def _start_moving(self) -> None:
        """Hand the unacknowledged frames, and the pipe, to the lane's mover."""
        child = self._writer.child
        if self._link.lane is None or self._local.active or child is None or not child.ready:
            return
        if self._pending:
            self._send()  # classic records queued before: ahead of what the mover takes
            if self._link.moving or self._writer.child is not child:
                return
        self._link.start_moving(child.stdin)


class _WarningRelay:
    """Where the writer's warnings (and the backend's own) go: held until the pipeline
    attaches, then out as the pipeline's own; after close, on standard error."""

    def __init__(self, backend: str) -> None:
        self._backend = backend
        self._hook: Callable[..., None] | None = None
        #: Warnings that came before the pipeline attached (the writer's start): sent on attach.
        self._early: list[tuple[str, dict[str, Any]]] | None = []

    def attach(self, context: BackendContext) -> None:
        """Send the held warnings, and every later one, through *context*."""
        self._hook = context.warn
        early, self._early = self._early or [], None
        for msg, fields in early:
            context.warn(msg, **fields)

    def detach(self) -> None:
        """The pipeline dispatches nothing more: held warnings and later ones go to stderr."""
        self._hook = None
        early, self._early = self._early or [], None
        for msg, fields in early:  # never attached to a pipeline: said on stderr, not lost
            self.warn(msg, **fields)

    def warn(self, msg: str, **fields: Any) -> None:
        """Say *msg* with *fields*, naming the backend."""
        fields = {"backend": self._backend, **fields}
        if self._early is not None:  # not attached yet: the pipeline logs it once it is
            self._early.append((msg, fields))
            return
        if self._hook is not None:
            self._hook(msg, **fields)
            return
        line = {"level": "WARNING", "logger": "hft.logging", "msg": msg, "fields": fields}
        sys.stderr.write(orjson.dumps(line, default=str).decode() + "\n")


def _routing(name: str, section: BaseModel) -> tuple[int, bool, bool]:
    """A sink's level, and whether it takes metric and audit records, from its validated
    *section*. A lossless sink (the file) is opened here once, so that a path it cannot open
    is a ``ConfigError`` naming the key in this process, not a writer that cannot start."""
    from hft.logging.backends.registry import backend_classes, build_in_process
    from hft.logging.levels import parse_level

    if name in LOSSLESS:
        probe = build_in_process(name, section)
        probe.close()
        return probe.level, probe.takes_metrics, probe.takes_audit
    kind = backend_classes()[name]
    level = parse_level(getattr(section, "level", "DEBUG"))
    return (
        level,
        bool(getattr(kind, "takes_metrics", False)),
        bool(getattr(kind, "takes_audit", True)),
    )
