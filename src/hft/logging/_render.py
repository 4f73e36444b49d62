"""Turning records into text, safely, on the dispatcher thread.

Nothing here runs at a call site. Every function accepts whatever a caller passed as a field and
returns something printable: values orjson cannot serialise are rendered with ``repr`` (truncated
and marked), so a strange field never stops the dispatcher.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from typing import Any, Final

import orjson

from hft.logging._levels import level_name
from hft.logging._record import Record

TRUNCATED_MARK: Final = "…[truncated]"
REDACTED: Final = "**********"
_MAX_DEPTH: Final = 32
_NS: Final = 1_000_000_000
_JSON_OPTIONS: Final = orjson.OPT_APPEND_NEWLINE  # non-str keys take the sanitize path


class TimestampFormatter:
    """ISO 8601 UTC with nanoseconds; the date-and-seconds part is cached per second."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, ts_ns: int) -> str:
        """Return ``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`` for *ts_ns* nanoseconds since the epoch."""
        second, nanos = divmod(ts_ns, _NS)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{nanos:09d}Z"


def truncate(text: str, limit: int) -> str:
    """Cut *text* to *limit* characters, marking the cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + TRUNCATED_MARK


def safe_repr(value: object, limit: int) -> str:
    """``repr`` that never raises and never returns more than *limit* characters (plus a mark)."""
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not reach the dispatcher
        text = f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"
    return truncate(text, limit)


def sanitize(value: Any, limit: int, depth: int = 0, seen: frozenset[int] = frozenset()) -> Any:
    """Return a copy of *value* that orjson can always serialise.

    Containers are walked (cycles and excessive depth are cut and marked), strings are
    truncated, non-finite floats become strings, anything else becomes its ``repr``.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return truncate(value, limit)
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        return _sanitize_container(value, limit, depth, seen)
    return safe_repr(value, limit)


def _sanitize_container(value: Any, limit: int, depth: int, seen: frozenset[int]) -> Any:
    if id(value) in seen:
        return "<cycle>"
    if depth >= _MAX_DEPTH:
        return "<too deep>"
    inner = seen | {id(value)}
    if isinstance(value, Mapping):
        return {
            truncate(str(k), limit): sanitize(v, limit, depth + 1, inner) for k, v in value.items()
        }
    items: Iterable[Any] = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
    return [sanitize(v, limit, depth + 1, inner) for v in items]


def dumps_safe(obj: Any, limit: int) -> bytes:
    """orjson with a newline appended; falls back to :func:`sanitize` when orjson refuses."""
    try:
        return orjson.dumps(obj, option=_JSON_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):
        return orjson.dumps(sanitize(obj, limit), option=_JSON_OPTIONS)


class JsonLineRenderer:
    """Renders a record as one JSON object on one line.

    Layout: ``{"ts","level","logger","tags","seq","msg","fields"}``. The caller's fields sit in
    their own object, so a field called ``level`` or ``msg`` can never overwrite the record's own
    keys, and orjson escapes every newline inside strings, so a message cannot forge a line.
    """

    __slots__ = ("_limit", "_timestamp")

    def __init__(self, max_field_chars: int = 4096) -> None:
        self._limit = max_field_chars
        self._timestamp = TimestampFormatter()

    def __call__(self, record: Record) -> bytes:
        """Return the JSON line (newline included) for *record*."""
        seq, ts_ns, level, source, msg, fields = record
        obj = {
            "ts": self._timestamp(ts_ns),
            "level": level_name(level),
            "logger": source.name,
            "tags": source.tags,
            "seq": seq,
            "msg": msg if type(msg) is str else safe_repr(msg, self._limit),
            "fields": fields,
        }
        return dumps_safe(obj, self._limit)

    def many(self, records: Iterable[Record]) -> bytes:
        """Render *records* as consecutive lines."""
        return b"".join(map(self, records))


class Redactor:
    """Replaces the values of sensitive fields (by name, case-insensitive substring).

    Field names already seen are remembered (up to a bound, so hostile input cannot grow the
    memo without limit); a record whose names are all known to be harmless costs one set test.
    """

    __slots__ = ("_harmless", "_patterns")
    _MEMO_LIMIT = 10_000

    def __init__(self, patterns: Iterable[str]) -> None:
        self._patterns = tuple(p.lower() for p in patterns)
        self._harmless: set[object] = set()

    def is_sensitive(self, name: object) -> bool:
        """True when the field *name* matches a pattern."""
        lowered = (name if isinstance(name, str) else str(name)).lower()
        return any(p in lowered for p in self._patterns)

    def __call__(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Return *fields* with sensitive values masked (the same dict when none are)."""
        if self._harmless.issuperset(fields) or not self._patterns:
            return fields
        sensitive = [k for k in fields if self.is_sensitive(k)]
        if not sensitive:
            if len(self._harmless) < self._MEMO_LIMIT:
                self._harmless.update(fields)
            return fields
        return {k: REDACTED if k in sensitive else v for k, v in fields.items()}
