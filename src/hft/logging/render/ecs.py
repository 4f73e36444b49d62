"""Records as Elastic Common Schema (ECS 8.11) JSON lines (``schema: ecs``).

Layout, in this order (the first four keys are the ones Elastic's ``ecs-logging`` writes
first, in its order)::

    {"@timestamp":"2026-12-07T03:00:00.123456789Z","log.level":"info","message":"filled",
     "ecs.version":"8.11.0","log":{"logger":"exchange.mexc"},"event":{"sequence":42},
     "tags":["mexc"],"trace":{"id":"…"},"span":{"id":"…"},"fields":{"qty":1}}

``trace``/``span`` only when the record carries a span (:data:`~hft.logging.record.TRACE_FIELD`);
the caller's fields stay nested under ``fields`` (a custom field set), so none can overwrite a
schema key. Like :class:`~hft.logging.render.lines.JsonLineRenderer`, this runs once per record
in the writer: each logger's part is rendered once, the date-and-seconds part of the timestamp
once per second, and anything odd takes the careful path, which cannot fail.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import orjson

from hft.logging.levels import LEVEL_NAMES, level_name
from hft.logging.record import TRACE_FIELD, Record, Source, TraceIds, split_trace
from hft.logging.render.lines import LineRendererBase, dumps_safe, safe_repr, sanitize

ECS_VERSION: Final = "8.11.0"
_NS: Final = 1_000_000_000
_CACHE_LIMIT: Final = 4096
#: timestamp, nanoseconds, level, message, the logger's part, seq, tags, trace, fields
_LINE: Final = (
    b'{"@timestamp":"%s.%09dZ","log.level":"%s","message":%s,"ecs.version":"'
    + ECS_VERSION.encode()
    + b'",%s%d},%s%s"fields":%s}\n'
)


def trace_part(trace: TraceIds | None) -> bytes:
    """``"trace":{"id":…},"span":{"id":…},`` for a record's span (nothing without one)."""
    if trace is None:
        return b""
    return b'"trace":{"id":"%s"},"span":{"id":"%s"},' % (
        trace.trace_id.encode(),
        trace.span_id.encode(),
    )


class EcsLineRenderer(LineRendererBase):
    """Renders records as ECS JSON lines (see the module's docstring for the layout)."""

    __slots__ = ("_levels", "_loggers")

    def __init__(self, max_field_chars: int = 4096, *, yield_every: int = 0) -> None:
        super().__init__(max_field_chars, yield_every=yield_every)
        self._levels = {n: name.lower().encode() for n, name in LEVEL_NAMES.items()}
        #: Per logger (name, tags): ``"log":{"logger":…},"event":{"sequence":`` and ``"tags":[…],``.
        self._loggers: dict[object, tuple[bytes, bytes]] = {}

    def many(self, records: Iterable[Record]) -> bytes:
        """Render *records* (tuples, a lane frame's records, a backtrace) as consecutive lines.

        One loop with everything inlined (no call per record but orjson's): this runs for
        every record the writer writes under schema ecs."""
        dumps, levels, messages, loggers = orjson.dumps, self._levels, self._messages, self._loggers
        start, prefix, long_line = self._second, self._second_prefix, self._long_line
        end = start + _NS
        lines: list[bytes] = []
        append = lines.append
        for record in records:
            try:
                seq, ts_ns, level, source, msg, fields = record
                if not start <= ts_ns < end:
                    start, prefix = self._set_second(ts_ns)
                    end = start + _NS
                text = messages.get(msg) if type(msg) is str else None
                if text is None:
                    text = self.message_json(msg)
                parts = loggers.get(source[3] or source[:2])
                if parts is None:
                    parts = self._logger(source)
                trace = b""
                if type(fields) is dict and TRACE_FIELD in fields:
                    fields, ids = split_trace(fields)
                    trace = trace_part(ids)
                line = _LINE % (
                    prefix, ts_ns - start, levels[level], text, parts[0], seq, parts[1], trace,
                    dumps(fields),
                )  # fmt: skip
                append(line if len(line) <= long_line else self.render_long(record))
            except (KeyError, TypeError, ValueError, orjson.JSONEncodeError):
                append(self.render_safe(record))
        return b"".join(lines)

    def _logger(self, source: Source) -> tuple[bytes, bytes]:
        """``"log":{"logger":…},"event":{"sequence":`` and ``"tags":[…],`` of *source*'s
        logger, cached by its JSON prefix (by name and tags where it has none)."""
        if len(self._loggers) > _CACHE_LIMIT:
            self._loggers.clear()
        logger = b'"log":{"logger":%s},"event":{"sequence":' % orjson.dumps(source.name)
        parts = (logger, b'"tags":%s,' % orjson.dumps(list(source.tags)))
        self._loggers[source[3] or source[:2]] = parts
        return parts

    def render_safe(self, record: Record) -> bytes:
        """The careful path: every part sanitised, so this cannot fail."""
        return dumps_safe(self.as_dict(record, careful=True), self._limit)

    def render_long(self, record: Record) -> bytes:
        """A line the fast path made long: strings cut to ``max_field_chars``, marked."""
        return self.render_safe(record)

    def as_dict(self, record: Record, *, careful: bool = False) -> dict[str, Any]:
        """*record* as the ECS object its line holds (sanitised when *careful*)."""
        seq, ts_ns, level, source, msg, fields = record
        fields, trace = split_trace(fields)
        limit = self._limit
        text = msg if type(msg) is str else safe_repr(msg, limit)
        obj: dict[str, Any] = {
            "@timestamp": self._timestamp(ts_ns),
            "log.level": level_name(level).lower(),
            "message": sanitize(text, limit) if careful else text,
            "ecs.version": ECS_VERSION,
            "log": {"logger": sanitize(source.name, limit)},
            "event": {"sequence": seq},
            "tags": sanitize(list(source.tags), limit),
        }
        if trace is not None:
            obj["trace"] = {"id": trace.trace_id}
            obj["span"] = {"id": trace.span_id}
        obj["fields"] = sanitize(fields, limit) if careful else fields
        return obj
