"""Lane ids leased to task contexts: reused once no waiting record names them, bounded."""

from __future__ import annotations

import gc
from collections import deque
from itertools import count
from typing import Any

from hft.logging.pipeline.context_ids import ContextIds
from hft.logging.record import Source
from hft.logging.writer.wire import FrameEncoder
from tests.logging.native.lane_helpers import SOURCE, caller, drain, make_lane

_PICKLE = FrameEncoder(4096).pickle_source


def _pickled(order_id: int) -> bytes:
    return _PICKLE(Source.create("orders", (), {"order_id": order_id}))


class TestContextIds:
    def test_an_id_is_reused_only_after_its_records_left_the_lane(self) -> None:
        """A released id stays out while a record pushed before the release waits; once the
        lane has taken it (its frame carries the old definition), the id stands for the new
        source and each record decodes with its own."""
        lane = make_lane()
        ids = ContextIds(lane)
        lease = ids.lease(_pickled(1))
        assert lease is not None
        first = lease.id
        emit = lane_emitter(lane, first)
        emit("old", a=1)
        del lease
        gc.collect()
        again = ids.lease(_pickled(2))
        assert again is not None
        assert again.id != first
        second = again.id
        taken = drain(lane)
        assert [(r[4], r[3].context) for r in taken] == [("old", {"order_id": 1})]
        del again
        reused = ids.lease(_pickled(3))
        assert reused is not None
        assert reused.id in (first, second)
        emit = lane_emitter(lane, reused.id)
        emit("new", a=2)
        assert [(r[4], r[3].context) for r in drain(lane)] == [("new", {"order_id": 3})]

    def test_at_most_limit_ids_are_out_at_once(self) -> None:
        """Past the limit a lease is refused (the frame's records take the classic path) and
        granted again once an id comes back."""
        lane = make_lane()
        ids = ContextIds(lane, limit=3)
        held = [ids.lease(_pickled(i)) for i in range(3)]
        assert all(lease is not None for lease in held)
        assert ids.lease(_pickled(9)) is None
        held.pop()
        gc.collect()
        assert ids.lease(_pickled(10)) is not None
        assert lane.pushed == 0


def lane_emitter(lane: Any, lane_id: int) -> Any:
    """A call site writing to *lane* under *lane_id*."""
    return caller.Emitter(
        deque(), count().__next__, 20, SOURCE, -1, None, lane=lane, lane_source=lane_id
    )
