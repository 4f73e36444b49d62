"""render_lane (``native/render_lane.c``): a JSON file's lines straight from a lane frame."""

from __future__ import annotations

import itertools
import pickle
from collections import deque
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider

from hft.logging.record import TRACE_FIELD, LaneRecords, Source
from hft.logging.render.lines import JsonLineRenderer
from hft.logging.render.schemas import line_renderer, line_seq
from hft.logging.trace_context import load_trace_spec
from hft.logging.writer.wire import FrameEncoder
from tests.logging.native.lane_helpers import (
    NAMES,
    SOURCE,
    caller,
    make_emitter,
    make_lane,
    same,
    writer,
)

texts = st.text(alphabet=st.characters(codec="utf-8", max_codepoint=0x10FFFF), max_size=40)
lane_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(places=4, min_value=-(10**9), max_value=10**9).map(float),  # prices
    st.sampled_from([1e-4, 9.99e-5, 1e15, 999999999999999.9, 0.1 + 0.2, -0.0, 5e-324, 1e22]),
    texts,
)

#: Bound names: some a call also uses ("a", "price"), some of the same length and ends.
BOUND_NAMES = ("a", "price", "pride", "order_id", "ctx", 'q"x', "ünï", "")
bound_trees = st.recursive(
    lane_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)


def _frames(
    calls: list[tuple[str, dict[str, Any]]],
    capacity_bytes: int = 1 << 16,
    source: Source = SOURCE,
) -> list[bytes]:
    lane = make_lane(capacity_bytes=capacity_bytes)
    emit, ring = make_emitter(lane, source=source)
    for msg, fields in calls:
        emit(msg, **fields)
    assert not ring  # every record went to the lane
    frames = []
    while (taken := lane.take(1 << 20)) is not None:
        frames.append(taken[0][8:])
    return frames


class TestRenderLane:
    @settings(max_examples=300, deadline=None)
    @given(
        calls=st.lists(
            st.tuples(texts, st.dictionaries(st.sampled_from(NAMES), lane_scalars, max_size=4)),
            min_size=1,
            max_size=8,
        ),
        limit=st.sampled_from([20, 200, 4096]),
    )
    def test_lines_from_the_bytes_are_the_lines_from_the_tuples(
        self, calls: list[tuple[str, dict[str, Any]]], limit: int
    ) -> None:
        """The JSON file's lines rendered straight from a lane frame are byte for byte those of
        the pure-Python renderer given the decoded records (escapes, floats, long lines)."""
        for payload in _frames(calls):
            fast = JsonLineRenderer(limit).many(LaneRecords(payload, pickle.loads))
            records = writer.unpack_lane(payload, pickle.loads)
            assert fast == JsonLineRenderer(limit, use_speedups=False).many(records)
            assert fast == JsonLineRenderer(limit).many(records)

    def test_a_traced_entry_renders_as_its_record(self) -> None:
        """An entry made in an OpenTelemetry span (its ids the entry's first field) renders
        byte for byte as the Python path renders its decoded record, the ids after seq."""
        lane = make_lane()
        source_id = lane.define(FrameEncoder(4096).pickle_source(SOURCE))
        ring: deque[Any] = deque()
        emit = caller.Emitter(
            ring, itertools.count().__next__, 20, SOURCE, -1, None,
            lane=lane, lane_source=source_id, trace=load_trace_spec(),
        )  # fmt: skip
        tracer = TracerProvider().get_tracer("t")
        emit("outside", a=1)
        with tracer.start_as_current_span("s") as span:
            emit("inside", a=2, price=1.5, note='q"\n')
            emit("inside, no fields")
        assert not ring
        (payload,) = [taken[0][8:] for taken in iter(lambda: lane.take(1 << 20), None)]
        fast = JsonLineRenderer().many(LaneRecords(payload, pickle.loads))
        records = writer.unpack_lane(payload, pickle.loads)
        assert fast == JsonLineRenderer(use_speedups=False).many(records)
        ctx = span.get_span_context()
        ids = f"{ctx.trace_id:032x}{ctx.span_id:016x}{int(ctx.trace_flags):02x}"
        assert [r[5].get(TRACE_FIELD) for r in records] == [None, ids, ids]
        assert fast.count(b'"trace_id":"%s"' % ids[:32].encode()) == 2

    @pytest.mark.parametrize("every", [1, 7, 128, 2**31])
    def test_offering_the_cpu_while_rendering_changes_no_byte(self, every: int) -> None:
        """A renderer that yields every few records writes the bytes one that never yields does."""
        calls = [("m" * (i % 9), {"a": i, "note": "x" * (3000 if i % 97 == 0 else i % 300)})
                 for i in range(1000)]  # fmt: skip
        payloads = _frames(calls, capacity_bytes=1 << 22)
        lines = 0
        for payload in payloads:
            plain = JsonLineRenderer(200).many(LaneRecords(payload, pickle.loads))
            offering = JsonLineRenderer(200, yield_every=every).many(
                LaneRecords(payload, pickle.loads)
            )
            assert offering == plain
            lines += plain.count(b"\n")
        assert lines == 1000

    def test_a_negative_yield_every_is_refused(self) -> None:
        """A count of records cannot be negative: the renderer refuses it when it is made."""
        with pytest.raises(ValueError, match="yield_every"):
            JsonLineRenderer(yield_every=-1)
        (payload,) = _frames([("m", {"a": 1})])
        with pytest.raises(ValueError, match="yield_every"):
            writer.render_lane(payload, {20: b"INFO"}, 4096, [], pickle.loads, -1)

    @settings(max_examples=500, deadline=None)
    @given(value=st.floats(allow_nan=True, allow_infinity=True))
    def test_a_float_is_written_as_orjson_writes_it(self, value: float) -> None:
        """Digits, sign, exponents, nan and infinities: the field is orjson's text."""
        (payload,) = _frames([("m", {"a": value})])
        (line,) = JsonLineRenderer().many(LaneRecords(payload, pickle.loads)).splitlines()
        assert orjson.loads(line)["fields"] == orjson.loads(orjson.dumps({"a": value}))
        assert line.endswith(b',"fields":' + orjson.dumps({"a": value}) + b"}")

    def test_records_are_counted_without_decoding_and_decoded_once(self) -> None:
        """len() reads the frame's head; the tuples are made at the first look, once."""
        (payload,) = _frames([("m", {"a": i}) for i in range(50)])
        loads: list[bytes] = []

        def load(pickled: bytes) -> Any:
            loads.append(pickled)
            return pickle.loads(pickled)  # noqa: S301 - the test's own frame

        records = LaneRecords(payload, load)
        assert len(records) == 50
        assert loads == []
        assert [r[5]["a"] for r in records] == list(range(50))
        assert records[-1][0] == 49
        assert records[1:3] == records.records()[1:3]
        assert len(loads) == 1

    @settings(max_examples=300, deadline=None)
    @given(
        context=st.dictionaries(st.sampled_from(BOUND_NAMES), lane_scalars | bound_trees),
        calls=st.lists(
            st.tuples(texts, st.dictionaries(st.sampled_from(NAMES), lane_scalars, max_size=4)),
            min_size=1,
            max_size=8,
        ),
        limit=st.sampled_from([20, 4096]),
        rendered=st.booleans(),
    )
    def test_a_bound_context_is_merged_under_the_fields(
        self,
        context: dict[str, Any],
        calls: list[tuple[str, dict[str, Any]]],
        limit: int,
        rendered: bool,
    ) -> None:
        """Decoded records and rendered lines carry ``{**context, **fields}``: the call's fields
        win, in the dict merge's key order, as the dispatcher merges them; from the context's
        pre-rendered JSON (*rendered*) or, without it, merged in Python."""
        source = Source.create("orders", ("mexc",), context)
        if rendered:
            source = source.with_context(context)
        (payload,) = _frames(calls, source=source)
        records = writer.unpack_lane(payload, pickle.loads)
        merged = [{**context, **fields} for _, fields in calls]
        assert [list(r[5]) for r in records] == [list(m) for m in merged]
        assert all(same(r[5][k], m[k]) for r, m in zip(records, merged, strict=True) for k in m)
        classic = [(*r[:5], m) for r, m in zip(records, merged, strict=True)]
        fast = JsonLineRenderer(limit).many(LaneRecords(payload, pickle.loads))
        assert fast == JsonLineRenderer(limit, use_speedups=False).many(classic)
        assert fast == JsonLineRenderer(limit).many(classic)

    def test_a_frame_cut_anywhere_is_refused_before_it_is_held(self) -> None:
        """The writer holds a lane frame as bytes only once every entry in it is checked."""
        (payload,) = _frames([("m" * i, {"note": "x" * i, "a": i, "price": 1.5}) for i in range(6)])
        for cut in range(len(payload)):
            with pytest.raises(ValueError, match="lane frame"):
                LaneRecords(payload[:cut], pickle.loads)
        with pytest.raises(ValueError, match="lane frame"):
            LaneRecords(payload + b"\0", pickle.loads)


class TestSchemas:
    @settings(max_examples=100, deadline=None)
    @given(
        calls=st.lists(
            st.tuples(texts, st.dictionaries(st.sampled_from(NAMES), lane_scalars, max_size=4)),
            min_size=1,
            max_size=8,
        ),
        schema=st.sampled_from(["ecs", "otel"]),
    )
    def test_a_lane_frame_renders_as_its_records_in_any_schema(
        self, calls: list[tuple[str, dict[str, Any]]], schema: str
    ) -> None:
        """The ecs and otel renderers take a lane frame (LaneRecords) as the writer hands it
        over and write the lines of its decoded records, one valid JSON line each."""
        for payload in _frames(calls):
            lines = line_renderer(schema).many(LaneRecords(payload, pickle.loads))
            records = writer.unpack_lane(payload, pickle.loads)
            assert lines == line_renderer(schema).many(records)
            assert [line_seq(line) for line in lines.splitlines()] == [r[0] for r in records]
