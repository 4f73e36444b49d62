"""What travels from a call site to the backends.

A record is a plain tuple, built in one step at the call site: a tuple is the cheapest object
CPython can make, and the dispatcher unpacks it in one step too. Everything a logger knows in
advance (name, tags, bound context) lives in its :class:`Source`, shared by all its records.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, NamedTuple, TypeAlias, overload

import orjson

from hft.logging.native import lane_count, unpack_lane  # a lane frame's reader (C only)

#: ``(seq, ts_ns, level, source, msg, fields)``; ``fields`` is the call's keyword arguments
#: (for a metric record: ``{"value": v, "tags": {...}}``, with the metric name in ``msg``).
Record: TypeAlias = tuple[int, int, int, "Source", str, Any]

SEQ, TS_NS, LEVEL, SOURCE, MSG, FIELDS = range(6)
_EMPTY: Mapping[str, Any] = MappingProxyType({})

#: The key under which a record's fields carry the OpenTelemetry span that was active at the
#: call (``logging.trace_context: true``): 50 lowercase hex digits, the trace id (32), the span
#: id (16) and the trace flags (2). No keyword argument can be named so (it is not an
#: identifier), and every renderer takes it out of the fields into its schema's own keys.
TRACE_FIELD: Final = "\x1ftrace"
#: Exactly what the C renderers accept (``trace_ok``): the ids are written unescaped, so
#: nothing else (whitespace, a sign, ``0x``, upper case, other scripts' digits) may pass.
_TRACE_HEX: Final = re.compile(r"[0-9a-f]{50}")


class TraceIds(NamedTuple):
    """The span a record was logged in, as OpenTelemetry writes the ids (lowercase hex)."""

    trace_id: str  #: 32 hex digits
    span_id: str  #: 16 hex digits
    trace_flags: str  #: 2 hex digits ("01": sampled)

    @property
    def flags(self) -> int:
        """The trace flags as a number (bit 0: sampled)."""
        return int(self.trace_flags, 16)


def split_trace(fields: Any) -> tuple[Any, TraceIds | None]:
    """*fields* without the span it carries under :data:`TRACE_FIELD`, and that span's ids.

    Fields that carry none (the common case, one dict lookup) come back as they are. A value
    that is not 50 hex digits is left in the fields, as the caller's own."""
    if type(fields) is not dict or TRACE_FIELD not in fields:
        return fields, None
    value = fields[TRACE_FIELD]
    if type(value) is not str or _TRACE_HEX.fullmatch(value) is None:
        return fields, None
    rest = {k: v for k, v in fields.items() if k != TRACE_FIELD}
    return rest, TraceIds(value[:32], value[32:48], value[48:])


class Source(NamedTuple):
    """A logger's identity: its name, tags and bound context, rendered once.

    Records waiting in a ring must cost the garbage collector nothing, or full collections
    rescan them (pauses of 5 to 9 ms every ~60,000 records, measured). CPython never untracks
    a tuple that holds a dict or a tuple subclass, which every record does; the C call site
    (``hft.logging.native._caller``) therefore untracks each record it builds.
    """

    name: str
    tags: tuple[str, ...] = ()
    context: Mapping[str, Any] = _EMPTY
    #: ``"logger":…,"tags":[…],`` pre-rendered for JSON backends.
    json_prefix: bytes = b""
    #: On the byte lane only: the prepared context's fields, ``"k":v,…``, pre-rendered, so
    #: that the writer renders a bound logger's lines from the bytes (``render_lane``).
    json_context: bytes = b""

    @classmethod
    def create(cls, name: str, tags: tuple[str, ...], context: Mapping[str, Any]) -> Source:
        """Build a source with its JSON prefix rendered."""
        prefix = b'"logger":' + orjson.dumps(name) + b',"tags":' + orjson.dumps(list(tags)) + b","
        return cls(name, tags, dict(context), prefix)

    def beneath(self, context: Mapping[str, Any]) -> Source:
        """This source inside a task *context*: its fields merged under the bound context
        (a bound field wins), as a source that has not been prepared yet."""
        return self._replace(context={**context, **self.context}, json_context=b"")

    def with_context(self, context: dict[str, Any]) -> Source:
        """This source carrying *context*, already prepared (``Preparer.context``), and its
        JSON; with none (orjson refuses a value) the writer merges it record by record."""
        try:
            rendered = orjson.dumps(context)[1:-1]
        except TypeError:  # orjson.JSONEncodeError is one
            rendered = b""
        return self._replace(context=context, json_context=rendered)


class LaneRecords(Sequence[Record]):
    """The records of a lane frame (``native/entry.h``), still as the frame's bytes.

    A JSON renderer with the C paths writes its lines straight from the bytes
    (``native._writer.render_lane``) and never makes the records; anything else that looks at them
    (another backend, a retry that holds them, the resend check) gets the tuples the
    dispatcher would have sent on (a bound context merged under the call's fields), decoded
    once, on first use.
    """

    __slots__ = ("_count", "_records", "highest", "load_source", "lowest", "payload")

    def __init__(self, payload: bytes | memoryview, load_source: Callable[[bytes], Any]) -> None:
        self.payload = payload
        self.load_source = load_source  #: a pickled :class:`Source` -> the Source
        self._records: list[Record] | None = None
        #: How many records, and the range of their levels (a sink above ``lowest`` filters).
        self._count, self.lowest, self.highest = _lane_count(payload)

    def records(self) -> list[Record]:
        """The records as tuples (decoded once)."""
        if self._records is None:
            self._records = unpack_lane(self.payload, self.load_source)
        return self._records

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records())

    @overload
    def __getitem__(self, index: int) -> Record: ...
    @overload
    def __getitem__(self, index: slice) -> list[Record]: ...
    def __getitem__(self, index: int | slice) -> Record | list[Record]:
        return self.records()[index]


#: A record as a backtrace keeps it: ``(seq, ts_ns, level, source, msg, values, names)``, its
#: fields as the call's two tuples (no dict made until it is written: :func:`kept_record`).
KeptRecord: TypeAlias = tuple[int, int, int, "Source", str, tuple[Any, ...], tuple[str, ...]]


def kept_record(kept: KeptRecord) -> Record:
    """A kept record as the record it is written as, marked ``"backtrace": true`` (a field of
    that name given at the call is replaced)."""
    seq, ts, level, source, msg, values, names = kept
    fields = dict(zip(names, values, strict=True))
    fields["backtrace"] = True
    return (seq, ts, level, source, msg, fields)


class BacktraceRecords(list[Record]):
    """A backtrace's kept records, oldest first, then the record that flushed them: routed as
    one, at ``level`` (the trigger's), so that every sink taking the trigger takes them all
    whatever their own levels (:mod:`hft.logging.pipeline.backtrace`). It crosses to the
    writer process as itself, in a frame of its own, where ``levels_of`` reads ``level``."""

    __slots__ = ("level",)

    def __init__(self, records: Iterable[Record], level: int) -> None:
        super().__init__(records)
        self.level = level

    def __reduce__(self) -> tuple[type[BacktraceRecords], tuple[list[Record], int]]:
        return BacktraceRecords, (list(self), self.level)


def _lane_count(payload: bytes | memoryview) -> tuple[int, int, int]:
    """How many records a lane frame holds, every entry checked (ValueError when damaged),
    and their lowest and highest level."""
    count, lowest, highest = lane_count(payload)
    return int(count), int(lowest), int(highest)
