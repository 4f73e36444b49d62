"""What travels from a call site to the backends.

A record is a plain tuple, built in one step at the call site: a tuple is the cheapest object
CPython can make, and the dispatcher unpacks it in one step too. Everything a logger knows in
advance (name, tags, bound context) lives in its :class:`Source`, shared by all its records.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple, TypeAlias

import orjson

#: ``(seq, ts_ns, level, source, msg, fields)``; ``fields`` is the call's keyword arguments
#: (for a metric record: ``{"value": v, "tags": {...}}``, with the metric name in ``msg``).
Record: TypeAlias = tuple[int, int, int, "Source", str, Any]

SEQ, TS_NS, LEVEL, SOURCE, MSG, FIELDS = range(6)
_EMPTY: Mapping[str, Any] = MappingProxyType({})


class Source(NamedTuple):
    """A logger's identity: its name, tags and bound context, rendered once.

    Records waiting in a ring must cost the garbage collector nothing, or full collections
    rescan them (pauses of 5 to 9 ms every ~60,000 records, measured). CPython never untracks
    a tuple that holds a dict or a tuple subclass, which every record does; the C call site
    (``hft.logging._callsite``) therefore untracks each record it builds.
    """

    name: str
    tags: tuple[str, ...] = ()
    context: Mapping[str, Any] = _EMPTY
    #: ``"logger":…,"tags":[…],`` pre-rendered for JSON backends.
    json_prefix: bytes = b""

    @classmethod
    def create(cls, name: str, tags: tuple[str, ...], context: Mapping[str, Any]) -> Source:
        """Build a source with its JSON prefix rendered."""
        prefix = b'"logger":' + orjson.dumps(name) + b',"tags":' + orjson.dumps(list(tags)) + b","
        return cls(name, tags, dict(context), prefix)
