"""Records as OTLP/JSON log records (``schema: otel``), one ``ExportLogsServiceRequest`` a line.

That is what OpenTelemetry's OTLP file exporter writes and the collector's ``otlpjsonfile``
receiver reads: lowerCamelCase keys, 64-bit integers as strings, ``traceId``/``spanId`` as hex::

    {"resourceLogs":[{"resource":{"attributes":[service.name, process.pid]},
     "scopeLogs":[{"scope":{"name":"exchange.mexc","attributes":[hft.tags]},
     "logRecords":[{"timeUnixNano":"…","observedTimeUnixNano":"…","severityNumber":9,
     "severityText":"INFO","body":{"stringValue":"filled"},
     "attributes":[{"key":"hft.seq",…},{"key":"hft.fields","value":{"kvlistValue":…}}],
     "traceId":"…","spanId":"…","flags":1}]}]}]}

The caller's fields are one attribute, ``hft.fields`` (a key-value list), so none can overwrite
a schema key. Each value becomes an ``AnyValue`` (:func:`any_value`). Each logger's part, up to
``"logRecords":[{``, is rendered once; anything odd takes the careful path, which cannot fail.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from typing import Any, Final

import orjson

from hft.logging.levels import (
    AUDIT,
    CRITICAL,
    DEBUG,
    ERROR,
    INFO,
    LEVEL_NAMES,
    METRIC,
    WARNING,
    level_name,
)
from hft.logging.record import TRACE_FIELD, Record, Source, TraceIds, split_trace
from hft.logging.render.lines import LineRendererBase, dumps_safe, safe_repr, safe_str, sanitize

#: hft level → OTel severity number (the severity text keeps hft's name).
SEVERITY_NUMBERS: Final = {DEBUG: 5, INFO: 9, WARNING: 13, ERROR: 17, CRITICAL: 21, METRIC: 9,
                           AUDIT: 9}  # fmt: skip
_MAX_DEPTH: Final = 32
_INT64: Final = range(-(2**63), 2**63)
_CACHE_LIMIT: Final = 4096
_END: Final = b"}]}]}]}\n"
#: time (twice), severity number and text, body, seq, fields, trace
_RECORD: Final = (
    b'"timeUnixNano":"%d","observedTimeUnixNano":"%d","severityNumber":%d,"severityText":"%s",'
    b'"body":{"stringValue":%s},"attributes":[{"key":"hft.seq","value":{"intValue":"%d"}},'
    b'{"key":"hft.fields","value":%s}]%s'
)


class _TooDeepError(Exception):
    """A value nested beyond what the fast path walks (a cycle, most likely)."""


def any_value(value: Any, depth: int = 0) -> dict[str, Any]:
    """*value* as an OTLP ``AnyValue``: str, bool, int (64-bit, as a string), float (a
    non-finite one as a string), None (empty), dict (key-value list), list/tuple (array);
    anything else as what the hft renderer writes for it (:func:`~.lines.sanitize`).
    Raises _TooDeepError past a depth (the careful path sanitises first)."""
    kind = type(value)
    if kind is str:
        return {"stringValue": value}
    scalar = _SCALARS.get(kind)
    if scalar is not None:
        return scalar(value)
    if value is None:
        return {}
    return _container(value, depth)


def _int_value(value: int) -> dict[str, Any]:
    return {"intValue": str(value)} if value in _INT64 else {"stringValue": str(value)}


def _float_value(value: float) -> dict[str, Any]:
    return {"doubleValue": value} if math.isfinite(value) else {"stringValue": str(value)}


_SCALARS: Final[dict[type, Callable[[Any], dict[str, Any]]]] = {
    bool: lambda value: {"boolValue": value},
    int: _int_value,
    float: _float_value,
}


def _container(value: Any, depth: int) -> dict[str, Any]:
    if depth >= _MAX_DEPTH:
        raise _TooDeepError
    kind = type(value)
    if kind is dict:
        return {"kvlistValue": {"values": kv_list(value, depth + 1)}}
    if kind is list or kind is tuple:
        return {"arrayValue": {"values": [any_value(v, depth + 1) for v in value]}}
    return any_value(sanitize(value, 1 << 30), depth + 1)


def kv_list(fields: dict[Any, Any], depth: int = 0) -> list[dict[str, Any]]:
    """*fields* as OTLP ``KeyValue`` pairs (keys that are not strings as ``str`` of them).
    Strings and finite floats, most fields, are mapped here without a call (the hot path)."""
    pairs: list[dict[str, Any]] = []
    append = pairs.append
    for key, value in fields.items():
        kind = type(value)
        if kind is str:
            mapped: dict[str, Any] = {"stringValue": value}
        elif kind is float and math.isfinite(value):
            mapped = {"doubleValue": value}
        else:
            mapped = any_value(value, depth)
        append({"key": key if type(key) is str else safe_str(key, 1 << 30), "value": mapped})
    return pairs


def trace_tail(trace: TraceIds | None) -> bytes:
    """``,"traceId":…,"spanId":…,"flags":N`` for a record's span (nothing without one)."""
    if trace is None:
        return b""
    ids = (trace.trace_id.encode(), trace.span_id.encode(), trace.flags)
    return b',"traceId":"%s","spanId":"%s","flags":%d' % ids


def _careful_value(value: Any) -> dict[str, Any]:
    """:func:`any_value` of a sanitised value, which cannot fail (too deep: a mark)."""
    try:
        return any_value(value)
    except _TooDeepError:
        return {"stringValue": "<too deep>"}


class OtelLineRenderer(LineRendererBase):
    """Renders records as OTLP/JSON lines (see the module's docstring for the layout)."""

    __slots__ = ("_levels", "_resource", "_scopes")

    def __init__(
        self,
        max_field_chars: int = 4096,
        *,
        yield_every: int = 0,
        service_name: str = "hft",
        pid: int | None = None,
    ) -> None:
        super().__init__(max_field_chars, yield_every=yield_every)
        self._levels = {n: (SEVERITY_NUMBERS.get(n, 0), name.encode()) for n, name in
                        LEVEL_NAMES.items()}  # fmt: skip
        resource = [
            {"key": "service.name", "value": {"stringValue": service_name}},
            {"key": "process.pid", "value": {"intValue": str(os.getpid() if pid is None else pid)}},
        ]
        self._resource = b'{"resourceLogs":[{"resource":{"attributes":%s},"scopeLogs":[' % (
            orjson.dumps(sanitize(resource, max_field_chars))
        )
        #: Per logger (name, tags): everything up to ``"logRecords":[{``.
        self._scopes: dict[object, bytes] = {}

    def many(self, records: Iterable[Record]) -> bytes:
        """Render *records* (tuples, a lane frame's records, a backtrace) as consecutive lines.

        One loop with the common case inlined: this runs for every record the writer writes
        under schema otel."""
        dumps, levels, messages, scopes = orjson.dumps, self._levels, self._messages, self._scopes
        long_line = self._long_line
        lines: list[bytes] = []
        append = lines.append
        for record in records:
            try:
                seq, ts_ns, level, source, msg, fields = record
                number, text = levels[level]
                body = messages.get(msg) if type(msg) is str else None
                if body is None:
                    body = self.message_json(msg)
                scope = scopes.get(source[3] or source[:2])
                if scope is None:
                    scope = self._scope(source)
                tail = b""
                if type(fields) is dict and TRACE_FIELD in fields:
                    fields, ids = split_trace(fields)
                    tail = trace_tail(ids)
                values = dumps(
                    {"kvlistValue": {"values": kv_list(fields)}}
                    if type(fields) is dict
                    else any_value(fields)
                )
                line = b"%s%s%s" % (
                    scope, _RECORD % (ts_ns, ts_ns, number, text, body, seq, values, tail), _END
                )  # fmt: skip
                append(line if len(line) <= long_line else self.render_safe(record))
            except (KeyError, TypeError, ValueError, _TooDeepError, orjson.JSONEncodeError):
                append(self.render_safe(record))
        return b"".join(lines)

    def _scope(self, source: Source) -> bytes:
        """Everything up to ``"logRecords":[{`` for *source*'s logger, cached by its JSON
        prefix (by name and tags where it has none)."""
        if len(self._scopes) > _CACHE_LIMIT:
            self._scopes.clear()
        scope_object = sanitize(self._scope_object(source.name, source.tags), self._limit)
        scope = self._resource + b'{"scope":%s,"logRecords":[{' % orjson.dumps(scope_object)
        self._scopes[source[3] or source[:2]] = scope
        return scope

    @staticmethod
    def _scope_object(name: str, tags: tuple[str, ...]) -> dict[str, Any]:
        values = [{"stringValue": t} for t in tags]
        tagged = {"key": "hft.tags", "value": {"arrayValue": {"values": values}}}
        return {"name": name, "attributes": [tagged]}

    def render_safe(self, record: Record) -> bytes:
        """The careful path: every part sanitised, so this cannot fail."""
        seq, ts_ns, level, source, msg, fields = record
        fields, trace = split_trace(fields)
        limit = self._limit
        log: dict[str, Any] = {
            "timeUnixNano": str(ts_ns),
            "observedTimeUnixNano": str(ts_ns),
            "severityNumber": SEVERITY_NUMBERS.get(level, 0),
            "severityText": level_name(level),
            "body": {"stringValue": safe_str(msg, limit) if type(msg) is str
                     else safe_repr(msg, limit)},
            "attributes": [
                {"key": "hft.seq", "value": {"intValue": str(seq)}},
                {"key": "hft.fields", "value": _careful_value(sanitize(fields, limit))},
            ],
        }  # fmt: skip
        if trace is not None:
            log.update(traceId=trace.trace_id, spanId=trace.span_id, flags=trace.flags)
        scope = sanitize(self._scope_object(source.name, source.tags), limit)
        rendered = dumps_safe({"scope": scope, "logRecords": [log]}, limit)
        return self._resource + rendered[:-1] + b"]}]}\n"
