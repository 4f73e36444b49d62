"""A byte lane and call sites on it, for the tests of the C lane (``native/lane.h``)."""

from __future__ import annotations

import itertools
import math
import pickle
import struct
from collections import deque
from typing import Any

from hft.logging.record import Source
from hft.logging.writer.wire import FrameEncoder
from tests.native import native_module

caller = native_module("hft.logging.native._caller")
writer = native_module("hft.logging.native._writer")
SOURCE = Source.create("orders", ("mexc",), {})
#: The field names a test lane knows to be harmless.
NAMES = ("a", "bb", "price", "note", "flag", "qty", "nothing")


def make_lane(
    harmless: set[object] | None = None,
    *,
    max_records: int = 100_000,
    capacity_bytes: int = 1 << 16,
    policy: str = "drop_newest",
    secrets: tuple[str, ...] = (),
    refused: list[int] | None = None,
) -> Any:
    sink = [] if refused is None else refused
    names = set(NAMES) if harmless is None else harmless
    return caller.Lane(
        capacity_bytes, max_records, policy, 0.001, names, secrets, sink.append, None, -1
    )


def make_emitter(
    lane: Any, ring: deque[Any] | None = None, seqs: Any = None, source: Source = SOURCE
) -> tuple[Any, Any]:
    source_id = lane.define(FrameEncoder(4096).pickle_source(source))
    ring = deque() if ring is None else ring
    next_seq = seqs or itertools.count().__next__
    emit = caller.Emitter(ring, next_seq, 20, source, -1, None, lane=lane, lane_source=source_id)
    return emit, ring


def drain(lane: Any, max_bytes: int = 1 << 20) -> list[Any]:
    records = []
    while (taken := lane.take(max_bytes)) is not None:
        frame, count, newest = taken
        assert struct.unpack_from("<Q", frame)[0] == len(frame) - 8  # the size header
        decoded = writer.unpack_lane(frame[8:], pickle.loads)
        assert len(decoded) == count
        assert max(r[0] for r in decoded) == newest
        records.extend(decoded)
    return records


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same type, inside lists and dicts too (True is not 1; -0.0 is not
    0.0; nan is nan)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)
