"""What travels from a call site to the backends.

A record is a plain tuple, built in one step at the call site: a tuple is the cheapest object
CPython can make, and the dispatcher unpacks it in one step too. Everything a logger knows in
advance (name, tags, bound context) lives in its :class:`Source`, shared by all its records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import orjson

#: ``(seq, ts_ns, level, source, msg, fields)``; ``fields`` is the call's keyword arguments
#: (for a metric record: ``{"value": v, "tags": {...}}``, with the metric name in ``msg``).
Record: TypeAlias = tuple[int, int, int, "Source", str, Any]

SEQ, TS_NS, LEVEL, SOURCE, MSG, FIELDS = range(6)


@dataclass(frozen=True, slots=True, eq=False)
class Source:
    """A logger's identity: its name, tags and bound context, rendered once."""

    name: str
    tags: tuple[str, ...] = ()
    context: Mapping[str, Any] = field(default_factory=dict)
    #: ``"logger":…,"tags":[…],`` pre-rendered for JSON backends.
    json_prefix: bytes = b""

    @classmethod
    def create(cls, name: str, tags: tuple[str, ...], context: Mapping[str, Any]) -> Source:
        """Build a source with its JSON prefix rendered."""
        prefix = b'"logger":' + orjson.dumps(name) + b',"tags":' + orjson.dumps(list(tags)) + b","
        return cls(name, tags, dict(context), prefix)
