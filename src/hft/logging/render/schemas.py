"""The three JSON line layouts a backend can write (``schema: hft | ecs | otel``).

``hft`` is :class:`~hft.logging.render.lines.JsonLineRenderer` (with its C paths), ``ecs`` is
:class:`~hft.logging.render.ecs.EcsLineRenderer` and ``otel`` is
:class:`~hft.logging.render.otel.OtelLineRenderer`. Each takes what the others take (tuples, a
lane frame's records, a backtrace) and renders any field without raising. :func:`line_seq`
reads a line of any of them back to its record's sequence number (a restarted writer process
finds there what its predecessor wrote last).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final, Literal, Protocol, TypeAlias

import orjson

from hft.logging.record import Record
from hft.logging.render.ecs import EcsLineRenderer
from hft.logging.render.lines import JsonLineRenderer
from hft.logging.render.otel import OtelLineRenderer

Schema: TypeAlias = Literal["hft", "ecs", "otel"]
SCHEMAS: Final = ("hft", "ecs", "otel")


class LineRenderer(Protocol):
    """What a JSON backend asks of a renderer."""

    @property
    def yield_every(self) -> int:
        """Records rendered between offers of the CPU (0: never)."""
        ...

    def many(self, records: Iterable[Record]) -> bytes:
        """*records* as consecutive lines."""
        ...

    def render_safe(self, record: Record) -> bytes:
        """One record's line through the path that cannot fail."""
        ...


def line_renderer(
    schema: str,
    max_field_chars: int = 4096,
    *,
    yield_every: int = 0,
    service_name: str = "hft",
    pid: int | None = None,
) -> LineRenderer:
    """The renderer of *schema*; ValueError naming the known ones for any other."""
    if schema == "hft":
        return JsonLineRenderer(max_field_chars, yield_every=yield_every)
    if schema == "ecs":
        return EcsLineRenderer(max_field_chars, yield_every=yield_every)
    if schema == "otel":
        return OtelLineRenderer(
            max_field_chars, yield_every=yield_every, service_name=service_name, pid=pid
        )
    raise ValueError(f"unknown schema {schema!r} (known: {', '.join(SCHEMAS)})")


def line_seq(line: bytes) -> int | None:
    """The sequence number of the record a line of any schema holds (None: not a record's)."""
    try:
        obj = orjson.loads(line)
        return _seq_of(obj)
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, ValueError):
        return None


def _seq_of(obj: Any) -> int | None:
    if "seq" in obj:  # hft
        return int(obj["seq"])
    if "event" in obj:  # ecs
        return int(obj["event"]["sequence"])
    if "resourceLogs" in obj:  # otel
        record = obj["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
        for attribute in record["attributes"]:
            if attribute["key"] == "hft.seq":
                return int(attribute["value"]["intValue"])
    return None
