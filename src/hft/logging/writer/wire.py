"""What crosses the pipes between the dispatcher and a writer process, and how.

Parent to writer, one frame per batch: an 8-byte little-endian payload size, then the payload:
a lane frame (plain records as bytes, made in C by the lane: hft.logging.pipeline.lanes) or a
pickled one (a classic batch: anything else). Frames are numbered implicitly: the writer is told the
number of the first frame it will read, and counts.

Writer to parent, replies:

- ``R``: the writer's backend is open (and a killed predecessor's torn tail is cut off);
- ``A`` + :data:`ACK`: every frame up to ``frame`` is disposed of (written, failed over or
  lost), with the writer's running totals of records written, failed over and lost, and its
  backend's state (0 healthy, 1 retrying, 2 unhealthy);
- ``W`` + u32 size + JSON ``{"msg", "fields"}``: a warning for the parent to log;
- ``S`` + u32 size + JSON ``{sink: {written, failed_over, lost, dropped, ...}}``: each sink's
  counts (sent before an acknowledgement when they changed, and now and then while idle).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import functools
import io
import pickle
import struct
import types
import uuid
from collections.abc import Sequence
from typing import IO, Any, Final

import orjson

from hft.logging.native import unpack_lane  # only the C lane makes lane frames
from hft.logging.record import BacktraceRecords, LaneRecords, Record, Source
from hft.logging.render.lines import safe_repr, sanitize

HEADER: Final = struct.Struct("<Q")
LANE: Final = b"L"  #: first byte of a lane frame (plain records as bytes: pipeline.lanes)
#: First byte of the closing frame: the parent is closing; f64 (CLOCK_MONOTONIC, which every
#: process of the host shares) when the drain deadline passes.
CLOSING: Final = b"C"
_DEADLINE: Final = struct.Struct("<d")
READY: Final = b"R"
ACKED: Final = b"A"
WARNED: Final = b"W"
STATS: Final = b"S"
#: frame (i64, -1: none yet), written, failed over, lost (u64 each), state (u8)
ACK: Final = struct.Struct("<qQQQB")
WARN_SIZE: Final = struct.Struct("<I")
STATES: Final = ("healthy", "retrying", "unhealthy")
#: Pickled as themselves: stdlib values the child can import, and the types and functions
#: that the pickles of plain-ified values refer to.
_BY_REFERENCE: Final = (
    datetime.date,
    datetime.time,
    datetime.timedelta,
    decimal.Decimal,
    uuid.UUID,
)
#: Our own types, pickled as themselves (a backtrace's records keep their routing level).
_OWN: Final = frozenset({Source, BacktraceRecords})
_PLAIN: Final = (str, bytes, int, float, dict, list, tuple, set, frozenset)
#: Modules the writer process surely imports: types and functions from these cross by name.
_IMPORTABLE: Final = frozenset(
    {"builtins", "datetime", "decimal", "uuid", __name__, "hft.logging.record"}
)


def _same(value: Any) -> Any:
    """Rebuilds a value from itself (what an enum or dataclass crosses the boundary as)."""
    return value


def _importable(obj: Any) -> bool:
    """A type or function the writer can find by name (a user's callback or class cannot)."""
    callable_kinds = type | types.FunctionType | types.BuiltinFunctionType
    return isinstance(obj, callable_kinds) and getattr(obj, "__module__", None) in _IMPORTABLE


class _RecordPickler(pickle.Pickler):
    """Pickles records; anything the child might not be able to import becomes its repr."""

    def __init__(self, file: IO[bytes], max_field_chars: int) -> None:
        super().__init__(file, protocol=5)
        self._limit = max_field_chars

    def reducer_override(self, obj: Any) -> Any:
        """Keep sources, stdlib values, types and functions; plain-ify the rest."""
        if type(obj) in _OWN or isinstance(obj, _BY_REFERENCE) or _importable(obj):
            return NotImplemented
        if isinstance(obj, enum.Enum):
            return _same, (obj.value,)
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return _same, (dataclasses.asdict(obj),)
        for base in _PLAIN:  # subclasses of plain types, which the child may not know
            if isinstance(obj, base):
                plain: Any = base
                return base, (plain(obj),)
        return _same, (safe_repr(obj, self._limit),)


class FrameEncoder:
    """Turns a classic batch into a pickled frame (plain records go as lane frames instead)."""

    def __init__(self, max_field_chars: int) -> None:
        self._limit = max_field_chars

    def __call__(self, records: list[Record]) -> memoryview:
        """The frame for *records*, header included."""
        try:
            return self._pickle(records)
        except Exception:  # noqa: BLE001 - whatever a value's pickling raised: send it as text
            limit = self._limit
            return self._pickle([(*r[:5], sanitize(r[5], limit)) for r in records])

    def pickle_source(self, source: Source) -> bytes:
        """A source as the lane defines it for lane frames, pickled as in a pickled frame."""
        buffer = io.BytesIO()
        _RecordPickler(buffer, self._limit).dump(source)
        return buffer.getvalue()

    def _pickle(self, records: list[Record]) -> memoryview:
        buffer = io.BytesIO()
        buffer.write(HEADER.pack(0))
        _RecordPickler(buffer, self._limit).dump(records)
        frame = buffer.getbuffer()
        HEADER.pack_into(frame, 0, len(frame) - HEADER.size)
        return frame


@functools.lru_cache(maxsize=1024)
def _load_source(pickled: bytes) -> Any:
    """A lane frame's source, made once: every frame of a logger then shares one object,
    which the garbage collector soon knows to hold nothing it must track (so the records
    that refer to it can be left untracked too)."""
    return pickle.loads(pickled)  # noqa: S301 - our own parent's frames


def decode_frame(payload: bytes | memoryview) -> list[Record]:
    """The records of a frame's payload (raises if it is damaged)."""
    if payload[:1] == LANE:
        return unpack_lane(payload, _load_source)
    return pickle.loads(payload)  # type: ignore[no-any-return]  # noqa: S301 - our own parent's frames


def read_frame(payload: bytes | memoryview) -> Sequence[Record]:
    """The records of a frame's payload, for the writer process: a lane frame's stay bytes
    until a backend looks at them (a JSON file renders its lines straight from the bytes)."""
    if payload[:1] == LANE:
        return LaneRecords(payload, _load_source)
    return decode_frame(payload)


def ack_message(frame: int, written: int, failed_over: int, lost: int, state: str) -> bytes:
    """The writer's acknowledgement of every frame up to *frame*, with its running totals."""
    return ACKED + ACK.pack(frame, written, failed_over, lost, STATES.index(state))


def warn_message(msg: str, fields: dict[str, Any]) -> bytes:
    """A warning for the parent to log as its own."""
    body = orjson.dumps({"msg": msg, "fields": fields}, default=str)
    return WARNED + WARN_SIZE.pack(len(body)) + body


def closing_frame(deadline: float) -> memoryview:
    """The frame that tells the writer when the drain deadline passes (``time.monotonic()``
    seconds), header included; it holds no record."""
    payload = CLOSING + _DEADLINE.pack(deadline)
    return memoryview(HEADER.pack(len(payload)) + payload)


def closing_deadline(payload: bytes | memoryview) -> float | None:
    """The deadline a closing frame carries; None for any other frame."""
    if payload[:1] != CLOSING or len(payload) != 1 + _DEADLINE.size:
        return None
    return float(_DEADLINE.unpack_from(payload, 1)[0])


def stats_message(stats: dict[str, Any]) -> bytes:
    """Each sink's counts, for the parent's metrics."""
    body = orjson.dumps(stats, default=str)
    return STATS + WARN_SIZE.pack(len(body)) + body


Reply = tuple[bytes, Any]


def parse_replies(buffer: bytearray) -> list[Reply]:
    """Take the complete replies off the front of *buffer* (a partial one stays there)."""
    replies: list[Reply] = []
    pos, end = 0, len(buffer)
    while pos < end:
        tag = bytes(buffer[pos : pos + 1])
        if tag == READY:
            replies.append((READY, None))
            pos += 1
        elif tag == ACKED:
            if end - pos < 1 + ACK.size:
                break
            replies.append((ACKED, ACK.unpack_from(buffer, pos + 1)))
            pos += 1 + ACK.size
        elif tag in (WARNED, STATS):
            if end - pos < 1 + WARN_SIZE.size:
                break
            size = WARN_SIZE.unpack_from(buffer, pos + 1)[0]
            start = pos + 1 + WARN_SIZE.size
            if end - start < size:
                break
            replies.append((tag, orjson.loads(bytes(buffer[start : start + size]))))
            pos = start + size
        else:
            raise ValueError(f"writer process sent an unknown reply {tag!r}")
    del buffer[:pos]
    return replies
