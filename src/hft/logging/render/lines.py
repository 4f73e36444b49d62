"""Turning records into text, safely, on the dispatcher thread.

Nothing here runs at a call site. Every function accepts whatever a caller passed as a field and
returns something printable: values orjson cannot serialise are rendered with ``repr`` (truncated
and marked), so a strange field never stops the dispatcher.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import itertools
import math
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any, Final

import orjson

from hft.logging.levels import LEVEL_NAMES, level_name
from hft.logging.native import render_lane, render_lines  # C, or None: pure Python
from hft.logging.record import TRACE_FIELD, LaneRecords, Record, split_trace
from hft.logging.render.clock import TimestampFormatter

TRUNCATED_MARK: Final = "…[truncated]"
REDACTED: Final = "**********"
_MAX_DEPTH: Final = 32
_NS: Final = 1_000_000_000
_JSON_OPTIONS: Final = orjson.OPT_APPEND_NEWLINE  # non-str keys take the sanitize path


def truncate(text: str, limit: int) -> str:
    """Cut *text* to *limit* characters, marking the cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + TRUNCATED_MARK


def encodable(text: str) -> str:
    """*text* with lone surrogates (which UTF-8 and orjson refuse) as ``\\ud800`` escapes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def safe_text(value: str, limit: int) -> str:
    """A string field as the careful path writes it: a plain ``str``, encodable, truncated."""
    return encodable(truncate(str.__str__(value), limit))


def safe_repr(value: object, limit: int) -> str:
    """``repr`` that never raises and never returns more than *limit* characters (plus a mark)."""
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not reach the dispatcher
        text = f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"
    return safe_text(text, limit)


def safe_str(value: object, limit: int) -> str:
    """``str`` that never raises (falls back to :func:`safe_repr`), truncated and encodable."""
    try:
        return safe_text(str(value), limit)
    except Exception:  # noqa: BLE001 - a broken __str__ must not reach the dispatcher
        return safe_repr(value, limit)


def _int(value: int, limit: int) -> int | str:
    if -(2**63) <= value < 2**64:
        return int(value)
    try:
        return truncate(str(value), limit)
    except ValueError:  # more digits than sys.get_int_max_str_digits() allows
        return f"<int of {value.bit_length()} bits>"


def sanitize(value: Any, limit: int, depth: int = 0, seen: frozenset[int] = frozenset()) -> Any:
    """Return a copy of *value* that orjson can always serialise.

    Containers are walked (cycles, excessive depth and more than *limit* items are cut and
    marked), strings are truncated (lone surrogates escaped), integers beyond 64 bits and
    non-finite floats become strings, anything else becomes its ``repr``.
    """
    if value is None or isinstance(value, bool):  # bool cannot be subclassed
        return value
    if isinstance(value, str):
        return safe_text(value, limit)
    if isinstance(value, int):
        return _int(value, limit)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(float(value))
    return _sanitize_other(value, limit, depth, seen)


def _sanitize_other(value: Any, limit: int, depth: int, seen: frozenset[int]) -> Any:
    native = _native_form(value)  # what orjson itself would have written for these
    if native is not value:
        return sanitize(native, limit, depth + 1, seen)
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        try:
            return _sanitize_container(value, limit, depth, seen)
        except Exception:  # noqa: BLE001 - a container that breaks while walked: its repr
            return safe_repr(value, limit)
    return safe_repr(value, limit)


def _native_form(value: Any) -> Any:
    """orjson's own form of an enum, dataclass, date/time or UUID (else *value* itself)."""
    try:
        if isinstance(value, enum.Enum):
            return value.value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return dataclasses.asdict(value)
        if isinstance(value, datetime.date | datetime.time):
            return value.isoformat()
        if isinstance(value, uuid.UUID):
            return str(value)
    except Exception:  # noqa: BLE001 - a broken value: its repr, on the caller's path
        return value
    return value


def _sanitize_container(value: Any, limit: int, depth: int, seen: frozenset[int]) -> Any:
    if id(value) in seen:
        return "<cycle>"
    if depth >= _MAX_DEPTH:
        return "<too deep>"
    inner = seen | {id(value)}
    if isinstance(value, Mapping):
        pairs = list(itertools.islice(value.items(), limit + 1))
        out = {safe_str(k, limit): sanitize(v, limit, depth + 1, inner) for k, v in pairs[:limit]}
        if len(pairs) > limit:
            out[TRUNCATED_MARK] = len(value)
        return out
    items: Iterable[Any] = value
    if isinstance(value, set | frozenset):
        items = sorted(value, key=lambda v: safe_repr(v, limit))
    kept = [sanitize(v, limit, depth + 1, inner) for v in itertools.islice(items, limit + 1)]
    if len(kept) > limit:
        kept[limit:] = [TRUNCATED_MARK]
    return kept


def dumps_safe(obj: Any, limit: int) -> bytes:
    """orjson with a newline appended; falls back to :func:`sanitize` when orjson refuses."""
    try:
        return orjson.dumps(obj, option=_JSON_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):
        return orjson.dumps(sanitize(obj, limit), option=_JSON_OPTIONS)


class LineRendererBase(ABC):
    """What the three JSON line renderers share (``schema: hft | ecs | otel``): the limit on a
    field's length, the line length past which a line is re-rendered with strings cut, the
    messages' JSON cache, the cached second of the timestamp, and how often to offer the CPU."""

    __slots__ = (
        "_limit",
        "_long_line",
        "_messages",
        "_second",
        "_second_prefix",
        "_timestamp",
        "_yield_every",
    )

    def __init__(self, max_field_chars: int = 4096, *, yield_every: int = 0) -> None:
        if yield_every < 0:
            raise ValueError(f"yield_every must be 0 or more, not {yield_every}")
        self._limit = max_field_chars
        #: A line longer than this may hold a string beyond ``max_field_chars``: re-rendered.
        self._long_line = max_field_chars + _LONG_LINE_SLACK
        self._timestamp = TimestampFormatter()
        self._second = 0  #: start of the cached second, in ns since the epoch
        self._second_prefix = b""
        self._set_second(0)  # a real second: no timestamp may match an empty prefix
        #: Messages are mostly literals in code: their JSON form is cached (bounded).
        self._messages: dict[object, bytes] = {}
        #: Records rendered between offers of the CPU (0: never). A writer process sets it: see
        #: ``YIELD_EVERY`` in :mod:`hft.logging.writer.serve`. Only the C paths offer it; Python
        #: gives up the GIL every switch interval by itself.
        self._yield_every = yield_every

    @property
    def yield_every(self) -> int:
        """Records rendered between offers of the CPU (0: never)."""
        return self._yield_every

    def __call__(self, record: Record) -> bytes:
        """Return the line (newline included) for *record*."""
        return self.many((record,))

    @abstractmethod
    def many(self, records: Iterable[Record]) -> bytes:
        """Render *records* as consecutive lines (each schema's own layout)."""

    def message_json(self, msg: object) -> bytes:
        """A message's JSON: a string's (cached; the cache is bounded), anything else its
        ``repr``."""
        messages = self._messages
        if type(msg) is str:
            if len(messages) > _MESSAGE_CACHE:
                messages.clear()
            text = messages[msg] = orjson.dumps(msg)
            return text
        return orjson.dumps(safe_repr(msg, self._limit))

    def _set_second(self, ts_ns: int) -> tuple[int, bytes]:
        """Cache the start (in ns) and the rendered date-and-time of the second of *ts_ns*."""
        second = ts_ns // _NS
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        self._second, self._second_prefix = second * _NS, stamp.encode()
        return self._second, self._second_prefix


class JsonLineRenderer(LineRendererBase):
    """Renders records as JSON objects, one per line.

    Layout: ``{"ts","level","logger","tags","seq","msg","fields"}``; a record logged inside an
    OpenTelemetry span (its fields carry ``TRACE_FIELD``) has ``"trace_id","span_id",
    "trace_flags"`` between ``seq`` and ``msg``, taken out of its fields. The caller's fields sit in
    their own object, so a field called ``level`` or ``msg`` can never overwrite the record's own
    keys, and JSON escapes every newline inside strings, so a message cannot forge a line.

    This runs once per record on the dispatcher, so it is written for speed: the logger's part
    is pre-rendered in its ``Source``, the date-and-seconds part of the timestamp is cached per
    second, and a line is one ``bytes`` formatting of pieces. Anything unusual (a field orjson
    refuses, a message that is not a string) takes the careful path, :meth:`render_safe`.
    """

    __slots__ = ("_levels", "_stamp", "_use_speedups")

    def __init__(
        self, max_field_chars: int = 4096, *, use_speedups: bool = True, yield_every: int = 0
    ) -> None:
        super().__init__(max_field_chars, yield_every=yield_every)
        #: Render with ``native._writer`` where chosen (same bytes; False forces Python).
        self._use_speedups = use_speedups and render_lines is not None
        #: The C path's cache of the current second: ``[start_ns, b"YYYY-MM-DDTHH:MM:SS"]``.
        self._stamp: list[Any] = []
        self._levels = {n: name.encode() for n, name in LEVEL_NAMES.items()}

    def many(self, records: Iterable[Record]) -> bytes:
        """Render *records* as consecutive lines."""
        if not self._use_speedups:
            return self._many(records)
        if type(records) is LaneRecords:  # a lane frame's bytes: lines without the tuples
            data, left = render_lane(
                records.payload,
                self._levels,
                self._long_line,
                self._stamp,
                records.load_source,
                self._yield_every,
            )
            return self._splice(data, left) if left else data
        if type(records) is not list and type(records) is not tuple:
            records = list(records)
        messages = self._messages
        if len(messages) > _MESSAGE_CACHE:
            messages.clear()
        data, slow = render_lines(
            records,
            self._levels,
            messages,
            orjson.dumps,
            self._long_line,
            self._stamp,
            self._yield_every,
        )
        if not slow:
            return data
        return self._splice(data, [(records[index], offset) for index, offset in slow])

    def _splice(self, data: bytes, left: list[tuple[Record, int]]) -> bytes:
        """The records C left alone (odd types, errors, long lines), rendered by Python's path
        and spliced into *data* at their byte offsets."""
        parts: list[bytes] = []
        done = 0
        for record, offset in left:
            parts.append(data[done:offset])
            parts.append(self._many((record,)))
            done = offset
        parts.append(data[done:])
        return b"".join(parts)

    def _many(self, records: Iterable[Record]) -> bytes:
        """The pure-Python :meth:`many`; the C path leaves the unusual records to it."""
        dumps, levels, limit, line = orjson.dumps, self._levels, self._limit, _LINE
        long_line = self._long_line
        start, prefix, messages = self._second, self._second_prefix, self._messages
        end = start + _NS
        if len(messages) > _MESSAGE_CACHE:
            messages.clear()
        lines: list[bytes] = []
        append = lines.append
        for record in records:
            seq, ts_ns, level, source, msg, fields = record  # source[3] is its json_prefix
            if not start <= ts_ns < end:  # a new second: cheaper than a divmod per record
                start, prefix = self._set_second(ts_ns)
                end = start + _NS
            try:
                level_bytes = levels[level]
                if type(msg) is str:
                    text = messages.get(msg)
                    if text is None:
                        text = messages[msg] = dumps(msg)
                else:
                    text = dumps(safe_repr(msg, limit))
                if type(fields) is dict and TRACE_FIELD in fields:
                    rendered = _traced_line(prefix, ts_ns - start, level_bytes, record, text)
                else:
                    rendered = line % (
                        prefix,
                        ts_ns - start,
                        level_bytes,
                        source[3],
                        seq,
                        text,
                        dumps(fields),
                    )
                append(rendered if len(rendered) <= long_line else self.render_long(record))
            except (KeyError, TypeError, orjson.JSONEncodeError):
                append(self.render_safe(record))
        return b"".join(lines)

    def render_safe(self, record: Record) -> bytes:
        """The careful path: every part sanitised, so this cannot fail."""
        return dumps_safe(self._as_dict(record), self._limit)

    def render_long(self, record: Record) -> bytes:
        """A line the fast path made long: strings truncated to ``max_field_chars``, marked.

        Only lines longer than ``max_field_chars`` plus some slack come here, so the common
        case pays one ``len`` per line. The layout is the fast path's, byte for byte.
        """
        obj = self._as_dict(record)
        obj["msg"] = sanitize(obj["msg"], self._limit)
        obj["fields"] = sanitize(obj["fields"], self._limit)
        return dumps_safe(obj, self._limit)

    def _as_dict(self, record: Record) -> dict[str, Any]:
        seq, ts_ns, level, source, msg, fields = record
        fields, trace = split_trace(fields)
        line = {
            "ts": self._timestamp(ts_ns),
            "level": level_name(level),
            "logger": source.name,
            "tags": source.tags,
            "seq": seq,
        }
        if trace is not None:
            line.update(trace._asdict())
        line["msg"] = msg if type(msg) is str else safe_repr(msg, self._limit)
        line["fields"] = fields
        return line


def _traced_line(prefix: bytes, nanos: int, level: bytes, record: Record, text: bytes) -> bytes:
    """The fast path's line of a record whose fields carry ``TRACE_FIELD`` (split_trace's
    verdict: its span's keys after ``seq``, or, not a span's ids, left in the fields)."""
    seq, _, _, source, _, fields = record
    fields, trace = split_trace(fields)
    if trace is None:
        return _LINE % (prefix, nanos, level, source[3], seq, text, orjson.dumps(fields))
    ids = (trace.trace_id.encode(), trace.span_id.encode(), trace.trace_flags.encode())
    return _LINE_TRACED % (prefix, nanos, level, source[3], seq, *ids, text, orjson.dumps(fields))


_MESSAGE_CACHE: Final = 4096
#: Room for the record's own keys, the logger's name and tags, and short fields.
_LONG_LINE_SLACK: Final = 2048
_LINE: Final = b'{"ts":"%s.%09dZ","level":"%s",%s"seq":%d,"msg":%s,"fields":%s}\n'
_LINE_TRACED: Final = (
    b'{"ts":"%s.%09dZ","level":"%s",%s"seq":%d,"trace_id":"%s","span_id":"%s",'
    b'"trace_flags":"%s","msg":%s,"fields":%s}\n'
)
