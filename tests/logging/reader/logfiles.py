"""Lines of the three schemas, built as the contract of issue 30 lays them out, and log files.

hft lines come from the file backend's own renderer; ECS and OTel lines are built here, key for
key, as the contract lays them out (``test_round_trips`` reads what the real writers write).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import zstandard

from hft.logging.levels import LEVEL_NAMES, parse_level
from hft.logging.record import TRACE_FIELD, Source
from hft.logging.render.clock import TimestampFormatter
from hft.logging.render.lines import JsonLineRenderer

#: 2026-12-07T03:00:00Z in ns.
T0 = 1_796_612_400_000_000_000
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
_SEVERITY = {"DEBUG": 5, "INFO": 9, "WARNING": 13, "ERROR": 17, "CRITICAL": 21}
_STAMP = TimestampFormatter()
#: The file backend's renderer (``FileBackend.render`` is this on one record).
_RENDERER = JsonLineRenderer()


def hft_line(
    ts_ns: int = T0,
    level: str = "INFO",
    logger: str = "exchange.mexc",
    *,
    msg: str = "filled",
    seq: int = 0,
    tags: Sequence[str] = ("mexc",),
    traced: bool = False,
    **fields: Any,
) -> bytes:
    """One hft line, rendered by the file backend's renderer."""
    if traced:
        fields[TRACE_FIELD] = f"{TRACE}{SPAN}01"
    source = Source.create(logger, tuple(tags), {})
    record = (seq, ts_ns, parse_level(level), source, msg, fields)
    line = _RENDERER.many([record])
    if traced and b"trace_id" not in line:  # the renderer without TRACE yet: lay it out by hand
        line = _hft_with_span(line)
    return line


def _hft_with_span(line: bytes) -> bytes:
    obj = orjson.loads(line)
    obj["fields"].pop(TRACE_FIELD, None)
    head = {k: obj[k] for k in ("ts", "level", "logger", "tags", "seq")}
    span = {"trace_id": TRACE, "span_id": SPAN, "trace_flags": "01"}
    return orjson.dumps({**head, **span, "msg": obj["msg"], "fields": obj["fields"]}) + b"\n"


def ecs_line(
    ts_ns: int = T0,
    level: str = "INFO",
    logger: str = "exchange.mexc",
    *,
    msg: str = "filled",
    seq: int = 0,
    tags: Sequence[str] = ("mexc",),
    traced: bool = False,
    **fields: Any,
) -> bytes:
    """One ECS line, key for key as the contract lays it out."""
    obj: dict[str, Any] = {
        "@timestamp": _STAMP(ts_ns),
        "log.level": level.lower(),
        "message": msg,
        "ecs.version": "8.11.0",
        "log": {"logger": logger},
        "event": {"sequence": seq},
        "tags": list(tags),
    }
    if traced:
        obj |= {"trace": {"id": TRACE}, "span": {"id": SPAN}}
    return orjson.dumps({**obj, "fields": fields}) + b"\n"


def otel_line(
    ts_ns: int = T0,
    level: str = "INFO",
    logger: str = "exchange.mexc",
    *,
    msg: str = "filled",
    seq: int = 0,
    tags: Sequence[str] = ("mexc",),
    traced: bool = False,
    **fields: Any,
) -> bytes:
    """One OTLP/JSON ``ExportLogsServiceRequest`` line, key for key as the contract lays it out."""
    record: dict[str, Any] = {
        "timeUnixNano": str(ts_ns),
        "observedTimeUnixNano": str(ts_ns),
        "severityNumber": _SEVERITY.get(level, 9),
        "severityText": level,
        "body": {"stringValue": msg},
        "attributes": [
            {"key": "hft.seq", "value": {"intValue": str(seq)}},
            {"key": "hft.fields", "value": _any(fields)},
        ],
    }
    if traced:
        record |= {"traceId": TRACE, "spanId": SPAN, "flags": 1}
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "hft"}}]}
    scope = {
        "name": logger,
        "attributes": [{"key": "hft.tags", "value": _any(list(tags))}],
    }
    scope_logs = [{"scope": scope, "logRecords": [record]}]
    request = {"resourceLogs": [{"resource": resource, "scopeLogs": scope_logs}]}
    return orjson.dumps(request) + b"\n"


def _any(value: Any) -> dict[str, Any]:  # noqa: PLR0911 - one return per AnyValue kind
    """The contract's AnyValue mapping of a field value."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if value is None:
        return {}
    if isinstance(value, dict):
        pairs = [{"key": k, "value": _any(v)} for k, v in value.items()]
        return {"kvlistValue": {"values": pairs}}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [_any(v) for v in value]}}
    return {"stringValue": str(value)}


SCHEMAS = {"hft": hft_line, "ecs": ecs_line, "otel": otel_line}
LEVELS = [name for name in LEVEL_NAMES.values() if name not in {"METRIC", "AUDIT"}]


def write(path: Path, lines: Sequence[bytes], *, mtime_ns: int | None = None) -> Path:
    """*lines* into *path* (``.gz``/``.zst`` compressed by its name), with that mtime."""
    data = b"".join(lines)
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    elif path.name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def numbered(count: int, start: int = 0, schema: str = "hft", **fields: Any) -> list[bytes]:
    """*count* lines of *schema*, a microsecond apart, ``i`` and ``seq`` counting from *start*."""
    make = SCHEMAS[schema]
    return [make(T0 + i * 1000, seq=i, i=i, **fields) for i in range(start, start + count)]
