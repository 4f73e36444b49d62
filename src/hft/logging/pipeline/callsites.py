"""The call sites: closures chosen once per logger, level and overflow policy.

This is the hot path. Each function here builds its closure once, so that a call does no
configuration branching: it counts the call (``_counts``), takes a sequence number and a
timestamp, builds one tuple and appends it to the ring. A level only a counting backend wants
is a count-only call site (``make_count``): the count and nothing else. Formatting, dict
merging and I/O all happen on the dispatcher thread.
Where ``hft.logging.native`` chose C, the logging methods are its ``Emitter``:
the same steps in C, and the record untracked by the garbage collector.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

from hft.logging.levels import AUDIT, METRIC
from hft.logging.native import Emitter
from hft.logging.native import nop as _c_nop
from hft.logging.pipeline.counts import CallCounter, PyCounter
from hft.logging.record import TRACE_FIELD, Record, Source
from hft.logging.task_context import CONTEXT, ContextFrame
from hft.logging.trace_context import TraceSpec, span_reader

if TYPE_CHECKING:
    from hft.logging.audit._guard import AuditSlot
    from hft.logging.native._caller import Counter
    from hft.logging.pipeline.lanes import LaneFeed
    from hft.logging.pipeline.rings import Rings


class Emit(Protocol):
    """A logging method: ``logger.info("message", key=value, ...)``."""

    def __call__(self, msg: str, /, **fields: Any) -> None:
        """Log *msg* with *fields*."""


class EmitMetric(Protocol):
    """``logger.metric(name, value, tags=None)``."""

    def __call__(self, name: str, value: float, tags: dict[str, str] | None = None) -> None:
        """Record one sample of the metric *name*."""


def _nop(*_args: Any, **_fields: Any) -> None:
    """What a disabled level is: a call that does nothing at all."""


#: What a disabled level is: a call that does nothing at all (a C builtin where built).
nop: Callable[..., None] = _c_nop if _c_nop is not None else _nop


class CallSiteHost(Protocol):
    """What the call sites read of their pipeline, once, when a logger binds its methods."""

    @property
    def rings(self) -> Rings: ...
    @property
    def overflow_policy(self) -> str: ...
    @property
    def block_timeout_s(self) -> float: ...
    @property
    def audit_guard(self) -> AuditSlot | None: ...
    @property
    def running(self) -> bool: ...
    @property
    def trace(self) -> TraceSpec | None: ...
    def record_counter(self, name: str, level: int) -> CallCounter: ...


def make_emit(
    pipeline: CallSiteHost, level: int, source: Source, exc: bool, lane: bool = True
) -> Emit:
    """The logging method for *level* under the pipeline's overflow policy.

    With ``exc`` the method also honours ``exc_info=True`` (captured at the call, since the
    exception is gone by the time the dispatcher runs); levels below WARNING skip that test.
    The call that brings the ring to ``gc_threshold`` of its capacity wakes the dispatcher.
    What a call site appends to, waits on and wakes, it takes from the pipeline's
    :class:`~hft.logging.pipeline.rings.Rings`, once, here.
    Setting the method's ``sample`` to 1 times its next call into ``call_samples.fresh``.
    Every call is counted first (``pipeline.record_counter``), whatever becomes of its record.
    Inside a task context (:mod:`hft.logging.task_context`) a record takes the source its frame
    made for this call site (``derive``, on the frame's first call here), lane id and all.
    ``lane=False`` keeps every record on the tuple ring (a backtrace's flushing levels).
    With the pipeline's ``trace`` (``trace_context: true``) each call reads the current
    OpenTelemetry span and its record carries the span's ids (:mod:`hft.logging.trace_context`);
    without it the method is the very one it was before tracing existed.
    """
    counter, rings = pipeline.record_counter(source.name, level), pipeline.rings
    ring, bounded = rings.ring, pipeline.overflow_policy != "drop_oldest"
    full = _bounded_append(pipeline, ring) if bounded else None
    capacity = rings.capacity if bounded else -1
    wake, wake_at, samples = rings.wake, rings.wake_at, rings.call_samples.fresh
    if Emitter is not None:  # the C call site: half the cost, records untracked
        lane_c, lane_source = rings.lane_for(level, source) if lane else (None, -1)
        derive = _deriver(rings.lane if lane_c is not None else None, level, source)
        return Emitter(
            ring, rings.next_seq, level, source, capacity, full, exc, wake, wake_at,
            lane_c, lane_source, samples, cast("Counter", counter),  # new_counter's: a C one
            CONTEXT, derive, **_traced(pipeline.trace),
        )  # fmt: skip
    append, next_seq, now = ring.append, rings.next_seq, time.time_ns
    framed, derive, key = CONTEXT.get, _deriver(None, level, source), object()

    def put(msg: str, fields: dict[str, Any]) -> None:  # what Emitter does, in Python
        frame = framed()
        here = source if frame is None else _entry(frame, key, derive)[0]
        if exc and fields.get("exc_info") is True:
            fields["exc_info"] = sys.exc_info()
        record = (next_seq(), now(), level, here, msg, fields)
        used = len(ring)
        if full is None or used < capacity:
            append(record)
        else:
            full(record)
        if used + 1 == wake_at:
            wake()

    return _PyEmit(_tracing(put, pipeline.trace), samples, cast(PyCounter, counter))


def _traced(trace: TraceSpec | None) -> dict[str, Any]:
    """The ``Emitter`` keyword that reads the span at each call: none without tracing (the
    Emitter is then constructed exactly as before)."""
    return {} if trace is None else {"trace": trace}


_Put = Callable[[str, dict[str, Any]], None]


def _tracing(put: _Put, trace: TraceSpec | None) -> _Put:
    """*put* itself without tracing; with it, *put* after the current span's ids are added to
    the call's fields under ``TRACE_FIELD`` (what ``native/trace.c`` does for the Emitter)."""
    if trace is None:
        return put
    read = span_reader(trace)

    def put_traced(msg: str, fields: dict[str, Any]) -> None:
        ids = read()
        if ids is not None:
            fields[TRACE_FIELD] = ids
        put(msg, fields)

    return put_traced


_Entry = tuple[Source, int, object]


def _deriver(feed: LaneFeed | None, level: int, source: Source) -> Callable[[ContextFrame], _Entry]:
    """``derive(frame)``: *source* inside *frame*'s context, and its lane id (leased from
    *feed*; -1 without one, or where the lane cannot take it): a frame's cache entry."""

    def derive(frame: ContextFrame) -> _Entry:
        inside = source.beneath(frame.fields)
        lane_id, lease = (-1, None) if feed is None else feed.context_id(level, inside)
        return inside, lane_id, lease

    return derive


def _entry(frame: ContextFrame, key: object, derive: Callable[[ContextFrame], _Entry]) -> _Entry:
    """The cache entry of the call site *key* in *frame* (what ``native/context.c`` does)."""
    found = frame.cache.get(key)
    if found is None:
        found = frame.cache[key] = derive(frame)
    return found


def make_count(pipeline: CallSiteHost, level: int, source: Source) -> Emit:
    """A count-only call site for *level*: only a counting backend (Prometheus) wants it, so a
    call adds one to its logger's counter and does nothing else (no record, no ring, no lane).
    Its ``sample`` times the next call, as a logging method's does."""
    counter, rings = pipeline.record_counter(source.name, level), pipeline.rings
    samples = rings.call_samples.fresh
    if Emitter is not None:  # the C call site, constructed without a ring
        c_counter = cast("Counter", counter)  # new_counter's: a C one
        return Emitter(
            None, rings.next_seq, level, source, -1, None, samples=samples, counter=c_counter
        )
    return _PyCount(cast(PyCounter, counter), samples)


class _PyEmit:
    """The pure-Python call site: a count, then ``put`` behind a ``sample`` flag, as
    ``Emitter`` has."""

    __slots__ = ("_counter", "_put", "_samples", "sample")

    def __init__(
        self, put: Callable[[str, dict[str, Any]], None], samples: deque[int], counter: PyCounter
    ) -> None:
        self._put, self._samples, self._counter, self.sample = put, samples, counter, 0

    def __call__(self, msg: str, /, **fields: Any) -> None:
        self._counter.value += 1  # first: a call refused or dropped is a call all the same
        if not self.sample:
            self._put(msg, fields)
            return
        self.sample = 0
        start = time.perf_counter_ns()
        self._put(msg, fields)
        self._samples.append(time.perf_counter_ns() - start)


class _PyCount:
    """The pure-Python count-only call site: what ``Emitter(None, ...)`` does.

    Unlike the C add, ``+=`` on an attribute is several bytecodes: CPython does not hand the
    GIL over between them today, but only the C ``Counter`` promises exact counts under threads.
    """

    __slots__ = ("_counter", "_samples", "sample")

    def __init__(self, counter: PyCounter, samples: deque[int]) -> None:
        self._counter, self._samples, self.sample = counter, samples, 0

    def __call__(self, *_args: Any, **_fields: Any) -> None:
        if not self.sample:
            self._counter.value += 1
            return
        self.sample = 0
        start = time.perf_counter_ns()
        self._counter.value += 1
        self._samples.append(time.perf_counter_ns() - start)


def _bounded_append(pipeline: CallSiteHost, ring: deque[Record]) -> Callable[[Record], None]:
    """``append`` for ``drop_newest`` and ``block``: a full ring refuses (after a bounded wait).

    A refused record has taken its sequence number, so the dispatcher counts it as dropped.
    """
    rings = pipeline.rings
    capacity, append, refused = rings.capacity, ring.append, rings.note_refused
    if pipeline.overflow_policy == "block":
        wait = rings.wait_for_space

        def append_blocking(record: Record) -> None:
            if len(ring) < capacity or wait(ring, capacity, pipeline.block_timeout_s):
                append(record)
            else:
                refused(record[0])

        return append_blocking

    def append_or_drop(record: Record) -> None:
        if len(ring) < capacity:
            append(record)
        else:
            refused(record[0])

    return append_or_drop


def make_metric(pipeline: CallSiteHost, source: Source) -> EmitMetric:
    """``metric(name, value, tags)``: a metric sample on the same ring as the logs."""
    rings = pipeline.rings
    ring = rings.ring
    append, next_seq, now = ring.append, rings.next_seq, time.time_ns
    if pipeline.overflow_policy != "drop_oldest":  # metrics obey the ring's bound too
        append = _bounded_append(pipeline, ring)

    seq, wake = rings.next_seq, rings.wake
    idle = hasattr(seq, "idle")  # the C Sequence: a long-sleeping dispatcher is woken

    def metric(name: str, value: float, tags: dict[str, str] | None = None) -> None:
        append((next_seq(), now(), METRIC, source, name, {"value": value, "tags": tags or {}}))
        if idle and seq.idle:  # type: ignore[attr-defined]
            seq.idle = 0  # type: ignore[attr-defined]
            wake()

    return metric


def make_audit(pipeline: CallSiteHost, source: Source) -> Emit:
    """``audit(event, **fields)``: the lossless path. A full audit ring waits, never drops.

    With an audit backend, its slot (:mod:`hft.logging.audit._guard`) tracks the call site and
    sets its ``capacity`` to 0 while the trail fails (or always, ``durable: true``): every call
    then goes to ``full``, which waits for its own record to be written or raises.
    """
    rings, guard = pipeline.rings, pipeline.audit_guard
    ring = rings.audit_ring
    append, next_seq, wake = ring.append, rings.next_seq, rings.wake
    capacity, wait = rings.capacity, rings.wait_for_space

    def full(record: Record) -> None:
        if guard is not None and not guard.fast and pipeline.running:
            guard.submit(record, append, wake)
            return
        wait(ring, capacity, None)
        append(record)

    if Emitter is not None:  # wake: only when the dispatcher sleeps long (Sequence.idle)
        site: Any = Emitter(ring, next_seq, AUDIT, source, capacity, full, False, wake)
    else:
        site = _AuditSite(ring, next_seq, source, capacity, full)
    if guard is not None:
        guard.track(site)
    emit: Emit = site
    return emit


class _AuditSite:
    """What ``Emitter`` does for audit, in Python (``capacity`` writable alike)."""

    __slots__ = ("__weakref__", "_full", "_next_seq", "_ring", "_source", "capacity")

    def __init__(
        self,
        ring: deque[Record],
        next_seq: Callable[[], int],
        source: Source,
        capacity: int,
        full: Callable[[Record], None],
    ) -> None:
        self._ring, self._next_seq, self._source = ring, next_seq, source
        self.capacity, self._full = capacity, full

    def __call__(self, event: str, /, **fields: Any) -> None:
        record = (self._next_seq(), time.time_ns(), AUDIT, self._source, event, fields)
        if len(self._ring) < self.capacity:
            self._ring.append(record)
        else:
            self._full(record)
