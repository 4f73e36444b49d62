"""The sinks of a writer process: every backend that renders records, each with its own bound.

One writer process takes every plain record (the lane's frames) and every record of the
classic path, and hands each sink its share by level (:func:`hft.logging.pipeline.slots.share`):

- a **lossless** sink (the JSON file) is written in the writer's own thread: while it cannot
  keep up, frames go unacknowledged, the lane fills and the ``block`` policy applies at the
  call site, so nothing is lost;
- a **best-effort** sink (the console, syslog) runs on a thread of its own behind a bounded
  queue (:class:`QueuedSink`). A sink whose destination stops taking data (a pipe nobody
  reads, a paused terminal) fills its own queue and then drops, counting per sink; it never
  holds up the file, the writer or the caller. It goes ``unhealthy`` with one warning, and
  when it takes data again it writes one line saying how many lines it dropped.

At shutdown (:meth:`SinkGroup.close`) the lossless sinks settle first and then the queued
ones get until the drain deadline; whatever they could not deliver by then is counted as
dropped and said on standard error and in the lossless sinks.

The sinks are opened from a :class:`SinkSpec`: each backend's settings section, validated.
The parent holds it typed; it crosses to the writer process as JSON (:meth:`SinkSpec.wire`),
where :meth:`SinkSpec.read` validates each section once, at that process's entry point.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel

from hft.logging.backends.base import LoggingBackend
from hft.logging.levels import AUDIT, WARNING
from hft.logging.pipeline.metrics import BackendStats
from hft.logging.pipeline.slots import HEALTHY, UNHEALTHY, BackendSlot, share
from hft.logging.record import BacktraceRecords, LaneRecords, Record, Source

Warn = Callable[..., None]
#: Sinks that never drop: the file keeps the ``block`` policy (the audit trail has its own path).
LOSSLESS: Final = frozenset({"file"})
#: Records a best-effort sink may hold queued before it drops (its own bound).
QUEUE_RECORDS: Final = 20_000
_RETRY_POLL_S: Final = 0.005  #: how often a sink thread retries held records while idle
#: How often an idle sink is flushed anyway (syslog reports an outage or a recovery there).
_IDLE_S: Final = 0.1
#: Records a queued sink renders and writes at a time, and how long it waits for the lossless
#: sinks to be idle before each chunk (it goes on after that anyway: the console keeps moving).
_CHUNK: Final = 256
_YIELD_S: Final = 0.02
SINK_SOURCE: Final = Source.create("hft.logging", ("hft", "logging"), {})


@dataclass(frozen=True)
class SinkSpec:
    """What a writer's sinks are opened from: each backend by its name in the ``backends``
    settings section with that section validated, and what the sinks share."""

    #: (backend name, its validated settings section), one per sink, in routing order.
    sections: tuple[tuple[str, BaseModel], ...]
    limit: int = 4096  #: ``max_field_chars``
    spill_dir: str = "logs/spill"
    queue_records: int = QUEUE_RECORDS  #: each best-effort sink's bound

    def wire(self) -> dict[str, Any]:
        """This spec as plain data, for the JSON that starts a writer process."""
        return {
            "sinks": [
                {"backend": name, "settings": section.model_dump(exclude={"enabled"})}
                for name, section in self.sections
            ],
            "limit": self.limit,
            "spill_dir": self.spill_dir,
            "queue_records": self.queue_records,
        }

    @classmethod
    def read(cls, spec: Mapping[str, Any]) -> SinkSpec:
        """The spec a writer process was started with (:meth:`wire`), each sink's section
        validated once: this is the writer process's entry point."""
        from hft.logging.backends.registry import backend_section

        return cls(
            tuple(
                (s["backend"], backend_section(s["backend"], s["settings"])) for s in spec["sinks"]
            ),
            int(spec["limit"]),
            str(spec.get("spill_dir", "logs/spill")),
            int(spec.get("queue_records", QUEUE_RECORDS)),
        )


def levels_of(records: Sequence[Record]) -> tuple[int, int]:
    """The lowest and highest level of *records* (a lane frame knows them without decoding;
    a backtrace's records are routed at their trigger's level)."""
    if type(records) is LaneRecords:
        return records.lowest, records.highest
    if type(records) is BacktraceRecords:  # routed as one, at its trigger's level
        return records.level, records.level
    levels = [r[2] for r in records]
    return (min(levels), max(levels)) if levels else (AUDIT, 0)


def note(msg: str, **fields: Any) -> Record:
    """A WARNING record from the logging layer itself, made in the writer."""
    return (-1, time.time_ns(), WARNING, SINK_SOURCE, msg, fields)


class DirectSink:
    """A lossless sink, written in the writer's thread through its slot."""

    def __init__(self, slot: BackendSlot) -> None:
        self.slot = slot
        self.name = slot.backend.name
        self.dropped = 0

    def put(self, records: Sequence[Record], lowest: int, highest: int) -> None:
        """Take this sink's share of *records*."""
        backend = self.slot.backend
        chosen = share(records, lowest, highest, backend.level, backend.takes_audit)
        if chosen:
            self.slot.deliver(chosen)

    def already_written(self, records: Sequence[Record], lowest: int, highest: int) -> None:
        """Count this sink's share of *records* as written: a killed writer wrote them before
        it could say so, and they are in the file (this one skipped them when resent)."""
        backend = self.slot.backend
        chosen = share(records, lowest, highest, backend.level, backend.takes_audit)
        self.slot.handed_on(len(chosen))

    @property
    def pending(self) -> int:
        """Records held for a retry (the writer does not acknowledge past them)."""
        return self.slot.pending

    def tick(self, now: float) -> None:
        """Retry held records once their backoff is over."""
        self.slot.tick(now)

    def close(self, deadline: float) -> int:
        """Settle: held records written or failed over; nothing is left undelivered."""
        del deadline
        self.slot.settle()
        return 0

    def stats(self) -> BackendStats:
        """This sink's counts."""
        return self.slot.stats()


class QueuedSink:
    """A best-effort sink on a thread of its own, behind a bounded queue that drops when full.

    The writer's thread only appends to the queue (:meth:`put`); the sink's thread renders and
    writes, retrying and failing over through its slot as any backend does. ``dropped`` counts
    the records refused because the queue was full, and those still queued or being written
    when the drain deadline passed at shutdown.
    """

    def __init__(
        self,
        slot: BackendSlot,
        warn: Warn,
        bound: int = QUEUE_RECORDS,
        idle: threading.Event | None = None,
    ) -> None:
        self.slot = slot
        #: Set while the lossless sinks have nothing to do: this sink writes a chunk when it is
        #: (or at least every ``_YIELD_S``), so that its rendering, which holds the writer's
        #: GIL, never holds up the file; it drops (counted) what it cannot keep up with.
        self._idle = idle
        self.name = slot.backend.name
        self._warn = warn
        self._bound = max(1, bound)
        self._queue: deque[Sequence[Record]] = deque()
        self._queued = 0  #: records in the queue
        self._waiting = 0  #: records the thread took and has not handed to its slot yet
        self._in_flight = 0  #: records handed to the slot, whose write has not returned
        self._cv = threading.Condition()
        self._closing = False
        self.dropped = 0
        self._gap = 0  #: dropped since the sink last wrote: said in one line when it resumes
        self._stalled = False
        self._abandoned = 0  #: records in flight when the deadline passed (dropped, not pending)
        self._thread = threading.Thread(target=self._run, name=f"hft-sink-{self.name}", daemon=True)
        self._thread.start()

    def put(self, records: Sequence[Record], lowest: int, highest: int) -> None:
        """Queue this sink's share of *records*, or drop it (counted) when the queue is full."""
        backend = self.slot.backend
        chosen = share(records, lowest, highest, backend.level, backend.takes_audit)
        if not chosen:
            return
        count = len(chosen)
        with self._cv:
            if self._queued + count > self._bound:
                self.dropped += count
                self._gap += count
                first = not self._stalled
                self._stalled = True
            else:
                self._queue.append(chosen)
                self._queued += count
                self._cv.notify()
                return
        if first:
            self._warn(
                "log sink not taking data; dropping its records",
                sink=self.name,
                queue_records=self._bound,
            )

    pending = 0  #: the writer never waits for a best-effort sink

    def tick(self, now: float) -> None:
        """The sink's thread retries by itself."""
        del now

    def _run(self) -> None:
        slot = self.slot
        while True:
            with self._cv:
                if not self._queue and not self._closing:
                    self._cv.wait(_RETRY_POLL_S if slot.pending else _IDLE_S)
                if not self._queue and self._closing and not slot.pending:
                    return
                batch = self._queue.popleft() if self._queue else ()
                self._queued -= len(batch)
                self._waiting = len(batch)
                gap, self._gap = self._gap, 0
            if gap:
                slot.deliver([note("log sink dropped lines while it was not taking data",
                                   sink=self.name, dropped=gap)])  # fmt: skip
            for start in range(0, len(batch), _CHUNK):
                if self._idle is not None:
                    self._idle.wait(_YIELD_S)
                chunk = batch[start : start + _CHUNK]
                with self._cv:
                    self._waiting -= len(chunk)
                    self._in_flight = len(chunk)
                slot.deliver(chunk)
                with self._cv:
                    self._in_flight = 0
            slot.tick(time.monotonic())
            slot.flush()
            with self._cv:
                if self._stalled and self._queued <= self._bound // 2:
                    self._stalled = False

    def close(self, deadline: float) -> int:
        """Let the thread write what is queued until *deadline* (monotonic); what it could not
        is counted as dropped and returned."""
        with self._cv:
            self._closing = True
            self._cv.notify()
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if not self._thread.is_alive():
            self.slot.settle()
            return 0
        with self._cv:  # stuck in a write: what it holds and what waits will not be delivered
            left = self._queued + self._waiting + self._in_flight
            self._abandoned = self._in_flight  # routed to its slot already: not counted twice
            self._queue.clear()
            self._queued, self._waiting = 0, 0
            self.dropped += left
        return left

    @property
    def stuck(self) -> bool:
        """True when the thread is still inside a write after :meth:`close` gave up on it."""
        return self._closing and self._thread.is_alive()

    def stats(self) -> BackendStats:
        """This sink's counts: routed includes what was dropped and what waits queued."""
        with self._cv:
            base = self.slot.stats()
            waiting = self._queued + self._waiting  # not handed to the slot yet
            in_flight = self._in_flight - self._abandoned  # in the slot's routed, not written
            dropped, stalled, abandoned = self.dropped, self._stalled, self._abandoned
        state = UNHEALTHY if stalled and base.state == HEALTHY else base.state
        return BackendStats(
            name=base.name, written=base.written, write_errors=base.write_errors,
            retries=base.retries, failed_over=base.failed_over, lost=base.lost,
            routed=base.routed + waiting + dropped - abandoned,
            pending=base.pending + waiting + in_flight,
            state=state, dropped=dropped, extra=base.extra,
        )  # fmt: skip


Sink = DirectSink | QueuedSink


class SinkGroup:
    """Every sink of a writer process (or, with no writer process, of this one)."""

    def __init__(self, sinks: Sequence[Sink], idle: threading.Event | None = None) -> None:
        self.sinks = list(sinks)
        self.delivered = 0  #: records handed to the group
        #: Set by the writer's loop while it waits for frames (the queued sinks' cue).
        self.idle = idle if idle is not None else threading.Event()

    def deliver(self, records: Sequence[Record]) -> None:
        """Give each sink its share of *records*."""
        if not records:
            return
        lowest, highest = levels_of(records)
        self.delivered += len(records)
        for sink in self.sinks:
            sink.put(records, lowest, highest)

    def already_written(self, records: Sequence[Record]) -> None:
        """*records* were written by a killed predecessor (resent, found in the log): counted
        as delivered, and as written by each lossless sink that takes them."""
        if not records:
            return
        lowest, highest = levels_of(records)
        self.delivered += len(records)
        for sink in self.sinks:
            if isinstance(sink, DirectSink):
                sink.already_written(records, lowest, highest)

    @property
    def pending(self) -> int:
        """Records a lossless sink holds for a retry."""
        return sum(s.pending for s in self.sinks)

    def tick(self, now: float) -> None:
        """Let the lossless sinks retry."""
        for sink in self.sinks:
            sink.tick(now)

    def totals(self) -> tuple[int, int, int, str]:
        """Of the records handed to the group: written, failed over, lost (by a lossless
        sink), and the worst state of a lossless sink (what the writer acknowledges)."""
        lossless = [s.slot for s in self.sinks if isinstance(s, DirectSink)]
        failed_over = sum(s.failed_over for s in lossless)
        lost = sum(s.lost for s in lossless)
        held = sum(s.pending for s in lossless)
        written = max(0, self.delivered - failed_over - lost - held)
        states = {s.state for s in lossless}
        state = next((s for s in (UNHEALTHY, "retrying") if s in states), HEALTHY)
        return written, failed_over, lost, state

    def stats(self) -> dict[str, dict[str, Any]]:
        """Each sink's counts, by name (what the writer reports to the pipeline)."""
        return {s.name: _plain(s.stats()) for s in self.sinks}

    def close(self, deadline_s: float) -> dict[str, int]:
        """Queued sinks write what they hold until the deadline; the lossless ones settle, and
        what a queued sink could not deliver is said in them. Returns undelivered by sink."""
        deadline = time.monotonic() + deadline_s
        queued = [s for s in self.sinks if isinstance(s, QueuedSink)]
        undelivered = {s.name: s.close(deadline) for s in queued}
        undelivered = {name: n for name, n in undelivered.items() if n}
        for sink in self.sinks:
            if isinstance(sink, DirectSink):
                for name, count in undelivered.items():
                    sink.slot.deliver([_undelivered_note(name, count, deadline_s)])
                sink.close(deadline)
        return undelivered

    @property
    def stuck(self) -> bool:
        """A sink thread is still inside a write after the deadline (the process must leave
        without waiting for it)."""
        return any(isinstance(s, QueuedSink) and s.stuck for s in self.sinks)

    def backends(self) -> list[LoggingBackend]:
        """The backends behind the sinks."""
        return [s.slot.backend for s in self.sinks]


def _undelivered_note(name: str, count: int, deadline_s: float) -> Record:
    return note(
        "log sink records not delivered by the drain deadline",
        sink=name,
        undelivered=count,
        drain_deadline_s=deadline_s,
    )


_STAT_KEYS: Final = (
    "written", "write_errors", "retries", "failed_over", "lost", "routed", "pending", "dropped"
)  # fmt: skip


def _plain(stats: BackendStats) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(stats, k) for k in _STAT_KEYS}
    out["state"] = stats.state
    out["extra"] = dict(stats.extra)
    return out


def stats_from(name: str, data: Mapping[str, Any]) -> BackendStats:
    """A sink's :class:`BackendStats` from what its writer reported."""
    return BackendStats(
        name=name,
        state=str(data.get("state", HEALTHY)),
        extra={k: float(v) for k, v in dict(data.get("extra", {})).items()},
        **{k: int(data.get(k, 0)) for k in _STAT_KEYS},
    )


__all__ = [
    "LOSSLESS",
    "QUEUE_RECORDS",
    "DirectSink",
    "QueuedSink",
    "SinkGroup",
    "SinkSpec",
    "levels_of",
    "note",
    "stats_from",
]
