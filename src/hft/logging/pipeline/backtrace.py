"""The backtrace: records of the levels no backend takes, kept, and written when an error comes.

With ``logging.backtrace.enabled``, a logging method that would be the no-op (or a count-only
call site: a level no backend takes records at, or one below its logger's own level in
``logging.levels``; ``HFTLogger.rebind`` chooses) keeps its record instead, in one bounded ring
per pipeline: a ``deque(maxlen=capacity)``, the oldest dropped when it is full. Where C is
built the keeping call site is an ``Emitter`` made with ``keep=True`` (``native/keep.c``): a
number, a timestamp and the record, its fields kept as the call's two tuples, values and names
(:data:`~hft.logging.record.KeptRecord`), appended at C level; the dict is made only for a
record that is written (by the dispatcher), and none is freed when the ring drops one.
Inside a task context the kept record takes the source its frame made for the call site (the
context's fields, merged when it is written), as a record written at once does.
The kept records are numbered by the backtrace's own ``Sequence``, never the pipeline's: the
drop ledger (:mod:`~hft.logging.pipeline.drops`) counts every pipeline number taken or lost,
and a kept record the ring drops is not a lost one.

A logging method at ``flush_level`` or above (an enabled one) takes the tuple ring, never the
byte lane, so that flushes and errors keep their order among themselves. It looks at the ring
first: empty, it is the plain call site; otherwise it takes every kept record, oldest first,
each marked
``"backtrace": true`` with its own timestamp, level and number, and sends them with its own
record after them as one item of the tuple ring (level :data:`~hft.logging.levels.BACKTRACE`,
the trigger's pipeline number). The dispatcher finishes them as it finishes any record and
marks each kept record ``"backtrace": true`` (keeping its own timestamp, level and number)
and routes them as one :class:`~hft.logging.record.BacktraceRecords` at the trigger's level, so
every sink that takes the trigger takes the kept records too, whatever their levels, in that
order, in one frame; the lane's records logged before the trigger are framed before it.
Ordinary records are routed and cost as before.

At close the kept records are dropped, as spdlog drops its backtrace; :meth:`Backtrace.dump`
writes them on demand (``LoggingPipeline.dump_backtrace``).
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from itertools import repeat
from operator import call
from typing import TYPE_CHECKING, Any, Final, cast

from hft.logging.levels import BACKTRACE, WARNING
from hft.logging.native import Emitter
from hft.logging.pipeline.callsites import (
    CallSiteHost,
    Emit,
    _bounded_append,
    _deriver,
    _entry,
    _PyEmit,
    _traced,
    _tracing,
    make_count,
)
from hft.logging.pipeline.counts import PyCounter, new_counter
from hft.logging.pipeline.prepare import level_bounds
from hft.logging.pipeline.rings import Rings, new_sequence
from hft.logging.record import BacktraceRecords, KeptRecord, Record, Source
from hft.logging.task_context import CONTEXT

if TYPE_CHECKING:
    from hft.logging.native._caller import Counter
    from hft.logging.pipeline.slots import BackendSlot

#: The source of a bundle that :meth:`Backtrace.dump` sends (no trigger of its own).
DUMP_SOURCE: Final = Source.create("hft.logging", ("hft", "logging"), {})


class Backtrace:
    """One pipeline's backtrace: its ring of kept records and its own numbering."""

    def __init__(self, capacity: int, flush_level: int) -> None:
        self.capacity = capacity
        self.flush_level = flush_level
        self.reset()

    def reset(self) -> None:
        """An empty ring and numbering: at construction, and in a forked child (the parent's
        kept records are the parent's to write)."""
        self.ring: deque[KeptRecord] = deque(maxlen=self.capacity)
        self.next_seq: Callable[[], int] = new_sequence()  #: never the pipeline's numbers

    def __len__(self) -> int:
        return len(self.ring)

    # -- the call sites, chosen once per logger and level (HFTLogger.rebind) --------------------

    def keeper(self, host: CallSiteHost, level: int, source: Source, *, counted: bool) -> Emit:
        """The method of a *level* no backend takes: it keeps its record in the ring.
        *counted*: a counting backend wants the level, so calls add to its counter too."""
        counter = host.record_counter(source.name, level) if counted else new_counter()
        samples, exc = host.rings.call_samples.fresh, level >= WARNING
        derive = _deriver(None, level, source)  # inside a task context: no lane id leased
        if Emitter is not None:  # the C call site: no lane, no room check (the ring's maxlen)
            return Emitter(
                self.ring, self.next_seq, level, source, -1, None, exc,
                samples=samples, counter=cast("Counter", counter),
                context=CONTEXT, derive=derive, keep=True, **_traced(host.trace),
            )  # fmt: skip
        append, next_seq, now = self.ring.append, self.next_seq, time.time_ns
        framed, key = CONTEXT.get, object()

        def keep(msg: str, fields: dict[str, Any]) -> None:  # what Emitter does, in Python
            frame = framed()
            here = source if frame is None else _entry(frame, key, derive)[0]
            if exc and fields.get("exc_info") is True:
                fields["exc_info"] = sys.exc_info()
            append((next_seq(), now(), level, here, msg, (*fields.values(),), (*fields,)))

        py_counter = counter if isinstance(counter, PyCounter) else PyCounter()
        return _PyEmit(_tracing(keep, host.trace), samples, py_counter)

    def trigger(self, host: CallSiteHost, fast: Emit, level: int, source: Source) -> Emit:
        """*fast*, the method of *level* (at ``flush_level`` or above), made to write the kept
        records before its own when the ring holds any."""
        ring, send = self.ring, self._sender(host, level, source)

        def flush_first(msg: str, /, **fields: Any) -> None:
            if ring:
                send(msg, fields)
            else:
                fast(msg, **fields)

        return flush_first

    def _sender(
        self, host: CallSiteHost, level: int, source: Source
    ) -> Callable[[str, dict[str, Any]], None]:
        """What a trigger does when the ring holds records: counts its call, as *fast* would,
        and sends the kept records and its own as one item of the tuple ring."""
        count, exc, rings = make_count(host, level, source), level >= WARNING, host.rings
        next_seq, now, wake = rings.next_seq, time.time_ns, rings.wake
        bounded = host.overflow_policy != "drop_oldest"
        append = _bounded_append(host, rings.ring) if bounded else rings.ring.append
        framed, derive, key = CONTEXT.get, _deriver(None, level, source), object()

        def send(msg: str, fields: dict[str, Any]) -> None:  # traced below, as the call site
            count(msg)
            frame = framed()  # inside a task context: its source, as the plain call site's
            here = source if frame is None else _entry(frame, key, derive)[0]
            if exc and fields.get("exc_info") is True:
                fields["exc_info"] = sys.exc_info()
            seq, ts = next_seq(), now()
            bundle = self.take([(seq, ts, level, here, msg, fields)], level)
            append((seq, ts, BACKTRACE, source, msg, bundle))
            wake()  # an error is worth a dispatcher cycle now

        return _tracing(send, host.trace)

    # -- flushing ------------------------------------------------------------------------------

    def take(self, after: list[Record], level: int) -> BacktraceRecords:
        """Every kept record, oldest first, marked, then *after*: routed as one at *level*.

        Only a flush pops and call sites only add, so ``len`` records are there; a record kept
        meanwhile by another thread stays for the next flush. The kept records are still as
        kept (:data:`~hft.logging.record.KeptRecord`): the dispatcher makes them records.
        """
        ring = self.ring
        kept: list[Any] = list(map(call, repeat(ring.popleft, len(ring))))
        return BacktraceRecords([*kept, *after], level)

    def dump(self, rings: Rings) -> int:
        """Send every kept record now (no trigger), routed at ``flush_level``; how many."""
        if not self.ring:
            return 0
        bundle = self.take([], self.flush_level)
        rings.ring.append((rings.next_seq(), time.time_ns(), BACKTRACE, DUMP_SOURCE, "", bundle))
        rings.wake()
        return len(bundle)


def route_backtraces(
    logs: list[Record],
    metrics: list[Record],
    slots: Sequence[BackendSlot],
    frame_lane: Callable[[], None],
) -> None:
    """Route a slice in order (the dispatcher's, when it holds a bundle), each bundle as one at
    its trigger's level: every sink that takes the trigger takes its kept records, whatever
    their levels. The lane's records logged before the trigger are framed first (*frame_lane*):
    the file shows them before it. Ordinary records are routed as :meth:`BackendSlot.route`."""
    start = 0
    for i, record in enumerate(logs):
        if record[2] == BACKTRACE:
            _route(slots, logs[start:i], metrics)
            bundle, metrics, start = record[5], [], i + 1
            frame_lane()
            for slot in slots:
                slot.route(bundle, [], bundle.level, bundle.level)
    _route(slots, logs[start:], metrics)


def _route(slots: Sequence[BackendSlot], logs: list[Record], metrics: list[Record]) -> None:
    if logs or metrics:
        lowest, highest = level_bounds(logs)
        for slot in slots:
            slot.route(logs, metrics, lowest, highest)


class BacktraceHost:
    """The part of ``LoggingPipeline`` that holds its backtrace (None: off)."""

    backtrace: Backtrace | None
    rings: Rings

    if TYPE_CHECKING:  # provided by LoggingPipeline

        @property
        def closed(self) -> bool: ...

    def _init_backtrace(self, capacity: int, flush_level: int) -> None:
        #: Records of levels no backend takes, kept for an error; capacity 0: off.
        self.backtrace = Backtrace(capacity, flush_level) if capacity > 0 else None

    def _forget_backtrace(self) -> None:
        """In a forked child: the parent's kept records are the parent's to write."""
        if self.backtrace is not None:
            self.backtrace.reset()

    def dump_backtrace(self) -> int:
        """Write the backtrace's kept records now (they are dropped at close), routed at its
        ``flush_level``; how many (0: none kept, or backtrace off)."""
        if self.backtrace is None or self.closed:
            return 0
        return self.backtrace.dump(self.rings)


__all__ = ["DUMP_SOURCE", "Backtrace", "BacktraceHost", "route_backtraces"]
