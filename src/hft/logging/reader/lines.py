"""One line of a log, in any of the three schemas (hft, ECS, OTel), as one small view.

The schema is told per line by its first key, as the file backend writes it: ``"ts"`` is hft,
``"@timestamp"`` ECS, ``"resourceLogs"`` an OTLP/JSON request (one record per line). A line
that is not a JSON object of one of them is not an :class:`Entry` (:func:`parse` gives None).
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

import orjson

from hft.logging.levels import CRITICAL, DEBUG, ERROR, INFO, WARNING, parse_level
from hft.logging.record import TRACE_FIELD
from hft.logging.render.otel import SEVERITY_NUMBERS

#: How a line of each schema starts on disk: checked without parsing when nothing else is needed.
KNOWN_STARTS: Final = (b'{"ts":', b'{"@timestamp":', b'{"resourceLogs":')
_NUMBERED: Final = re.compile(r"LEVEL(-?\d+)")
#: OTel severity numbers back to hft's levels, for a record whose severityText is not one.
_SEVERITIES: Final = {
    SEVERITY_NUMBERS[level]: level for level in (DEBUG, INFO, WARNING, ERROR, CRITICAL)
}
_NO_FLAGS: Final = "00"  # ECS carries no trace flags


class Entry(NamedTuple):
    """A record read back: its line as on disk, and what filters, merging and printing use."""

    raw: bytes  #: the line as on disk, newline included
    ts_ns: int
    level: int
    logger: str
    tags: tuple[str, ...]
    seq: int
    msg: str
    fields: Any  #: the user's fields (a dict, as written)
    #: trace id, span id and flags as 50 hex digits (``TRACE_FIELD``'s form), or None
    trace: str | None = None

    def fields_with_trace(self) -> Any:
        """The fields, carrying the span under :data:`TRACE_FIELD` as a record does."""
        if self.trace is None or type(self.fields) is not dict:
            return self.fields
        return {**self.fields, TRACE_FIELD: self.trace}


def parse(raw: bytes) -> Entry | None:
    """The entry *raw* holds, or None when it is no JSON object of a known schema."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict or not obj:
        return None
    reader = _READERS.get(next(iter(obj)))
    if reader is None:
        return None
    try:
        return reader(raw, obj)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return None


def stamped(raw: bytes) -> Entry | None:
    """An entry of which only the line and its time count (what a merge into ``--format json``
    needs): the time of an hft or ECS line is read at its fixed place, unparsed; any other line
    is parsed (None when it is no record)."""
    if raw.startswith(b'{"ts":"') and raw[37:38] == b'"':
        stamp = raw[7:37]
    elif raw.startswith(b'{"@timestamp":"') and raw[45:46] == b'"':
        stamp = raw[15:45]
    else:
        return parse(raw)
    try:
        return Entry(raw, iso_ns(stamp.decode()), 0, "", (), 0, "", {})
    except (ValueError, UnicodeDecodeError):
        return None


def level_number(name: str) -> int:
    """hft's number for a level *name* in any case (``LEVEL<n>`` too); ValueError if none."""
    try:
        return parse_level(name)
    except ValueError:
        matched = _NUMBERED.fullmatch(name.upper())  # what level_name writes for the others
    if matched:
        return int(matched[1])
    raise ValueError(f"unknown level {name!r}")


_SECONDS: dict[str, int] = {}


def iso_ns(text: str) -> int:
    """Nanoseconds since the epoch of an ISO 8601 time (no offset: UTC), to the nanosecond.

    hft's own form (``2026-12-07T03:00:00.123456789Z``) takes a fast path, its date-and-seconds
    part cached since lines come in time order; any other form the standard library reads (a
    space for ``T``, no seconds, no fraction, an offset) takes :func:`_fromisoformat_ns`."""
    head = text[:19]
    second = _SECONDS.get(head)
    if second is None:
        try:
            second = calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S"))
        except ValueError:
            return _fromisoformat_ns(text)
        if len(_SECONDS) > 4096:
            _SECONDS.clear()
        _SECONDS[head] = second
    fraction = text[20:-1]
    if text[19:20] == "." and text[-1:] == "Z" and fraction.isdigit() and len(fraction) <= 9:
        return second * 1_000_000_000 + int(fraction.ljust(9, "0"))
    return _fromisoformat_ns(text)


_FRACTION: Final = re.compile(r"(?<=:\d\d)[.,](\d+)")


def _fromisoformat_ns(text: str) -> int:
    """:meth:`datetime.fromisoformat`, but the fraction kept to the nanosecond (the library
    keeps microseconds): the fraction's digits are taken out before and added after."""
    nanos = 0
    if matched := _FRACTION.search(text):
        digits = matched[1]
        if len(digits) > 9:
            raise ValueError(f"more than nanoseconds: {text!r}")
        nanos = int(digits.ljust(9, "0"))
        text = text[: matched.start()] + text[matched.end() :]
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return calendar.timegm(moment.utctimetuple()) * 1_000_000_000 + nanos


def _hft(raw: bytes, obj: dict[str, Any]) -> Entry:
    trace = obj.get("trace_id")
    if trace is not None:
        trace = f"{trace}{obj['span_id']}{obj.get('trace_flags', _NO_FLAGS)}"
    return Entry(
        raw,
        iso_ns(obj["ts"]),
        level_number(obj["level"]),
        obj["logger"],
        tuple(obj.get("tags", ())),
        obj.get("seq", 0),
        obj["msg"],
        obj.get("fields", {}),
        trace,
    )


def _ecs(raw: bytes, obj: dict[str, Any]) -> Entry:
    trace = obj.get("trace")
    if trace is not None:
        trace = f"{trace['id']}{obj['span']['id']}{_NO_FLAGS}"
    return Entry(
        raw,
        iso_ns(obj["@timestamp"]),
        level_number(obj["log.level"]),
        obj["log"]["logger"],
        tuple(obj.get("tags", ())),
        obj.get("event", {}).get("sequence", 0),
        obj["message"],
        obj.get("fields", {}),
        trace,
    )


def _otel(raw: bytes, obj: dict[str, Any]) -> Entry:
    scope_logs = obj["resourceLogs"][0]["scopeLogs"][0]
    record = scope_logs["logRecords"][0]
    scope = scope_logs["scope"]
    attributes = _attributes(record.get("attributes", ()))
    text = record.get("severityText")
    level = level_number(text) if text else _SEVERITIES[record["severityNumber"]]
    trace = record.get("traceId")
    if trace:
        trace = f"{trace}{record['spanId']}{record.get('flags', 0) & 0xFF:02x}"
    return Entry(
        raw,
        int(record["timeUnixNano"]),
        level,
        scope.get("name", ""),
        tuple(_attributes(scope.get("attributes", ())).get("hft.tags", ())),
        attributes.get("hft.seq", 0),
        str(any_value(record.get("body", {}))),
        attributes.get("hft.fields", {}),
        trace or None,
    )


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair["key"]: any_value(pair.get("value", {})) for pair in pairs}


def any_value(value: dict[str, Any]) -> Any:
    """The Python value of an OTLP/JSON ``AnyValue`` (64-bit ints are strings there)."""
    if not value:
        return None
    (kind, inner), *_ = value.items()
    return _ANY[kind](inner)


_ANY: Final[dict[str, Callable[[Any], Any]]] = {
    "stringValue": str,
    "boolValue": bool,
    "intValue": int,
    "doubleValue": float,
    "bytesValue": str,
    "kvlistValue": lambda inner: _attributes(inner.get("values", ())),
    "arrayValue": lambda inner: [any_value(v) for v in inner.get("values", ())],
}
_READERS: Final[dict[str, Callable[[bytes, dict[str, Any]], Entry]]] = {
    "ts": _hft,
    "@timestamp": _ecs,
    "resourceLogs": _otel,
}
