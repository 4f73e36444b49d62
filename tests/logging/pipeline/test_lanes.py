"""The byte lane: plain records as bytes from the C call site to the writer process."""

from __future__ import annotations

import itertools
import math
import pickle
import re
import struct
import time
from collections import deque
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hft.logging import (
    DEBUG,
    INFO,
    HFTLogger,
    LoggingPipeline,
    PrometheusBackend,
    create_backend_from_config,
)
from hft.logging.pipeline import lanes
from hft.logging.pipeline.pipeline import OverflowPolicy
from hft.logging.record import LaneRecords, Source
from hft.logging.render.lines import JsonLineRenderer
from hft.logging.writer.wire import FrameEncoder
from tests.native import native_module

caller = native_module("hft.logging.native._caller")
writer = native_module("hft.logging.native._writer")
SOURCE = Source.create("orders", ("mexc",), {})
NAMES = ("a", "bb", "price", "note", "flag", "qty", "nothing")
_TS = re.compile(rb'"ts":"[^"]*",')


def _lane(
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


def _emitter(
    lane: Any, ring: deque[Any] | None = None, seqs: Any = None, source: Source = SOURCE
) -> tuple[Any, Any]:
    source_id = lane.define(FrameEncoder(4096).pickle_source(source))
    ring = deque() if ring is None else ring
    next_seq = seqs or itertools.count().__next__
    emit = caller.Emitter(ring, next_seq, 20, source, -1, None, lane=lane, lane_source=source_id)
    return emit, ring


def _drain(lane: Any, max_bytes: int = 1 << 20) -> list[Any]:
    records = []
    while (taken := lane.take(max_bytes)) is not None:
        frame, count, newest = taken
        assert struct.unpack_from("<Q", frame)[0] == len(frame) - 8  # the size header
        decoded = writer.unpack_lane(frame[8:], pickle.loads)
        assert len(decoded) == count
        assert max(r[0] for r in decoded) == newest
        records.extend(decoded)
    return records


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same type, inside lists and dicts too (True is not 1; -0.0 is not
    0.0; nan is nan)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)


class TestFormat:
    @settings(max_examples=200, deadline=None)
    @given(
        msg=st.text(max_size=80),
        fields=st.dictionaries(st.sampled_from(NAMES), scalars, max_size=len(NAMES)),
    )
    def test_a_decoded_record_is_the_tuple_the_call_would_have_built(
        self, msg: str, fields: dict[str, Any]
    ) -> None:
        """Message, field names, order, values and their exact types survive the bytes."""
        lane = _lane()
        emit, ring = _emitter(lane)
        before = time.time_ns()
        emit(msg, **fields)
        after = time.time_ns()
        if ring:  # a lone surrogate in the text: the classic path, as a tuple
            assert lane.pushed == 0
            assert ring[0][4:] == (msg, fields)
            return
        (record,) = _drain(lane)
        seq, ts, level, source, text, decoded = record
        assert (seq, level, source, text) == (0, 20, SOURCE, msg)
        assert before <= ts <= after
        assert list(decoded) == list(fields)
        assert all(_same(decoded[k], v) for k, v in fields.items())

    def test_records_wrap_around_a_small_ring_intact(self) -> None:
        """Thousands of records of every size through a 64 KiB ring, taken in small frames."""
        lane = _lane()
        emit, ring = _emitter(lane)
        got: list[Any] = []
        for i in range(5000):
            emit("m" * (i % 700), a=i, note="x" * (i % 1300))
            if i % 17 == 0:  # 17 records fill at most ~35 KiB
                got.extend(_drain(lane, max_bytes=1 + i % 5000))
        got.extend(_drain(lane))
        assert not ring
        assert lane.refused == 0
        assert [r[0] for r in got] == list(range(5000))
        assert [r[4] for r in got] == ["m" * (i % 700) for i in range(5000)]
        assert [r[5]["note"] for r in got] == ["x" * (i % 1300) for i in range(5000)]

    @pytest.mark.parametrize(
        ("value", "why"),
        [
            (2**63, "an int beyond 64 bits"),
            ([1, 2], "a list"),
            ({"k": 1}, "a dict"),
            (object(), "an object"),
            ("\ud800", "a lone surrogate"),
            (1.5j, "a complex"),
        ],
    )
    def test_a_value_it_cannot_carry_takes_the_classic_path(self, value: Any, why: str) -> None:
        """The call builds the tuple as before; nothing reaches the lane ({why})."""
        lane = _lane()
        emit, ring = _emitter(lane)
        emit("m", a=value)
        assert lane.pushed == 0, why
        assert ring[0][5]["a"] is value

    def test_unknown_names_secrets_and_huge_records_take_the_classic_path(self) -> None:
        """A name the redactor has not passed, a settings secret in the text, a record over a
        quarter of the ring: each goes where the dispatcher finishes it."""
        lane = _lane({"a"}, secrets=("s3cr3t",))
        emit, ring = _emitter(lane)
        emit("m", unknown=1)
        emit("key s3cr3t here")
        emit("m", a="has s3cr3t")
        emit("x" * 20_000)
        emit("plain", a=1)
        assert lane.pushed == 1
        assert [r[5] for r in ring][:3] == [{"unknown": 1}, {}, {"a": "has s3cr3t"}]

    def test_a_new_name_is_learned_once_and_a_sensitive_one_never(self) -> None:
        """A name it has not met is put to ``learn`` once: harmless ones go to the lane from
        the first call, a sensitive one (masked by the dispatcher) keeps the classic path."""
        from hft.logging.render.redact import Redactor

        redactor = Redactor(["api_key"])
        asked: list[object] = []

        def learn(name: object) -> bool:
            asked.append(name)
            return redactor.learn(name)

        lane = caller.Lane(1 << 16, 100, "drop_newest", 0.0, redactor.harmless, (), print,
                             None, -1, learn)  # fmt: skip
        emit, ring = _emitter(lane)
        emit("m", side="buy")
        emit("m", side="sell", api_key="k")
        emit("m", side="buy")
        assert lane.pushed == 2
        assert [r[5] for r in ring] == [{"side": "sell", "api_key": "k"}]
        assert asked == ["side", "api_key", "api_key"][: len(asked)]
        assert redactor.harmless == {"side"}

    def test_a_call_site_remembers_harmless_names_only_once_all_passed(self) -> None:
        """The same keyword names again skip the set test; a call whose value could not be
        carried, or whose names were not all harmless, leaves nothing remembered."""
        lane = _lane({"a", "bb"})
        emit, ring = _emitter(lane)

        def call(**fields: Any) -> None:  # one kwnames tuple per keyword shape, as in real code
            emit("m", **fields)

        emit("m", a={"k": 1})  # a dict: classic path, names not remembered
        emit("m", a=1, bb=2)
        emit("m", a=1, bb=2)  # the remembered tuple (a constant of this code)
        emit("m", a=1, secret=2)  # not harmless: classic path every time
        emit("m", a=1, secret=2)
        emit("m", a=[1], bb=2)  # remembered names, a value the lane cannot carry
        call(a=1)
        call(a=2)
        assert lane.pushed == 4
        assert [r[5] for r in ring] == [
            {"a": {"k": 1}},
            {"a": 1, "secret": 2},
            {"a": 1, "secret": 2},
            {"a": [1], "bb": 2},
        ]
        assert [r[0] for r in _drain(lane)] == [1, 2, 6, 7]

    def test_a_sequence_numbers_calls_in_c_and_python_alike(self) -> None:
        """Lane, classic path and Python callers share one Sequence: 0, 1, 2... with no gap."""
        seqs = caller.Sequence()
        lane = _lane()
        emit, ring = _emitter(lane, seqs=seqs)
        emit("lane", a=1)
        emit("classic", a=[1])
        assert seqs() == 2
        emit("lane", a=3)
        assert seqs.next == 4
        assert [r[0] for r in _drain(lane)] == [0, 3]
        assert [r[0] for r in ring] == [1]
        with pytest.raises(TypeError):
            seqs(1)
        assert caller.Sequence(start=10)() == 10

    @pytest.mark.parametrize(
        "payload",
        [b"", b"L", b"X\0\0\0\0", b"L\0\0\0\0\5\0\0\0", b"L\1\0\0\0\0\0\0\0\x09\0\0\0"],
    )
    def test_a_damaged_frame_is_an_error_not_a_crash(self, payload: bytes) -> None:
        """The writer counts an unreadable frame's records as lost; decoding never crashes."""
        with pytest.raises(ValueError, match=r"lane frame|not a lane frame"):
            writer.unpack_lane(payload, pickle.loads)

    def test_a_frame_cut_anywhere_is_an_error(self) -> None:
        """Every truncation of a real frame is refused with ValueError."""
        lane = _lane()
        emit, _ = _emitter(lane)
        emit("hello", a=1, note="text", price=1.5, flag=True, nothing=None)
        frame = lane.take(1 << 20)[0][8:]
        for cut in range(len(frame)):
            with pytest.raises(ValueError, match=r"lane frame"):
                writer.unpack_lane(frame[:cut], pickle.loads)


class TestOverflow:
    def test_drop_newest_refuses_and_reports_the_sequence_number(self) -> None:
        """A full lane refuses the call: its seq goes to ``refused``, nothing is written."""
        refused: list[int] = []
        lane = _lane(max_records=3, refused=refused)
        emit, ring = _emitter(lane)
        for i in range(5):
            emit("m", a=i)
        assert (lane.pending, lane.refused, refused, ring) == (3, 2, [3, 4], deque())
        assert [r[5]["a"] for r in _drain(lane)] == [0, 1, 2]

    def test_drop_oldest_evicts_the_oldest(self) -> None:
        """Under drop_oldest the newest records stay; the evicted ones are counted."""
        lane = _lane(max_records=3, policy="drop_oldest")
        emit, _ = _emitter(lane)
        for i in range(5):
            emit("m", a=i)
        assert (lane.pending, lane.evicted, lane.refused) == (3, 2, 0)
        assert [r[5]["a"] for r in _drain(lane)] == [2, 3, 4]

    def test_block_waits_then_refuses_when_nobody_takes(self) -> None:
        """With nobody taking, a block call waits its timeout (1 ms here), then is refused."""
        refused: list[int] = []
        lane = _lane(max_records=2, policy="block", refused=refused)
        emit, _ = _emitter(lane)
        for i in range(3):
            emit("m", a=i)
        assert (lane.pending, refused) == (2, [2])


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
    lane = _lane(capacity_bytes=capacity_bytes)
    emit, ring = _emitter(lane, source=source)
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
        assert all(_same(r[5][k], m[k]) for r, m in zip(records, merged, strict=True) for k in m)
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


def _pipeline(path: Path, *, lane: bool, **settings: Any) -> LoggingPipeline:
    backend = create_backend_from_config("file", {"file_path": str(path), "rotation": "none"})
    return LoggingPipeline([backend], lane=lane, **settings)


def _log_everything(logger: HFTLogger) -> None:
    """Plain records and every kind the lane leaves to the dispatcher, interleaved."""
    bound = logger.bind(order_id="o-1")
    logger.info("fill", i=-1, px=0.0, side="", ok=True, none=None)
    for i in range(3000):
        logger.info("fill", i=i, px=1.5 * i, side="buy", ok=i % 2 == 0, none=None)
        if i % 500 == 0:
            logger.info("odd", i=i, items=[1, 2], obj=Path("/x"))
            logger.info("secret", i=i, api_key="k-123")
            bound.info("bound", i=i)
            try:
                raise ValueError(i)
            except ValueError:
                logger.error("failed", i=i, exc_info=True)


@pytest.mark.skipif(lanes.Lane is None, reason="the C paths are off (HFT_PURE_PYTHON=1)")
class TestPipeline:
    def test_the_file_is_the_same_with_and_without_the_lane(self, tmp_path: Path) -> None:
        """Every line of the lane's file is byte-identical to the classic path's, timestamps
        aside; lines are in the same order once sorted by seq."""
        files = []
        for lane in (True, False):
            path = tmp_path / f"lane-{lane}.log"
            pipeline = _pipeline(path, lane=lane).start()
            _log_everything(HFTLogger(pipeline, "x", ["t"]))
            pipeline.close()
            lines = [_TS.sub(b"", line) for line in path.read_bytes().splitlines()]
            files.append(sorted(lines, key=lambda line: orjson.loads(line)["seq"]))
            if lane:
                assert pipeline._lane is not None
                assert pipeline._lane.lane.pushed > 2900  # the plain records went by the lane
        with_lane, classic = files
        assert len(with_lane) == len(classic) == 1 + 3000 + 4 * 6
        assert with_lane == classic

    @pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest", "block"])
    def test_drops_are_exact_against_the_file(self, tmp_path: Path, policy: OverflowPolicy) -> None:
        """A stopped dispatcher and a small ring: lines on disk + dropped == calls."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(
            path, lane=True, ring_buffer_size=1000, overflow_policy=policy, block_timeout_ms=1
        )
        logger = HFTLogger(pipeline, "x")
        logger.info("learn", i=-1)
        pipeline.flush()
        for i in range(5000):
            logger.info("m", i=i)
        dropped = pipeline.dropped
        pipeline.close()
        mine = [line for line in path.read_bytes().splitlines() if b'"msg":"m"' in line]
        assert dropped == 5000 - len(mine) > 0
        assert pipeline._lane is not None
        assert pipeline._lane.lane.pushed >= 1000
        kept = [orjson.loads(line)["fields"]["i"] for line in mine]
        newest = policy == "drop_oldest"
        assert kept == (list(range(4000, 5000)) if newest else list(range(1000)))

    def test_levels_another_backend_takes_stay_on_the_classic_path(self, tmp_path: Path) -> None:
        """With the console taking WARNING and up, only INFO records use the lane."""
        from hft.logging.testing import CapturingBackend

        capture = CapturingBackend(level="WARNING")
        path = tmp_path / "hft.log"
        backend = create_backend_from_config("file", {"file_path": str(path)})
        pipeline = LoggingPipeline([backend, capture]).start()
        logger = HFTLogger(pipeline, "x")
        for i in range(100):
            logger.info("i", n=i)
            logger.warning("w", n=i)
        pipeline.close()
        assert [r.fields["n"] for r in capture.records if r.msg == "w"] == list(range(100))
        assert pipeline._lane is not None
        assert pipeline._lane.lane.pushed == 100  # from the first call: `n` learned at once
        assert len(path.read_bytes().splitlines()) == 200


def _fields_on_disk(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line)["fields"] for line in path.read_bytes().splitlines()]


@pytest.mark.skipif(lanes.Lane is None, reason="the C paths are off (HFT_PURE_PYTHON=1)")
class TestBoundContext:
    def test_a_bound_loggers_lines_are_the_classic_paths(self, tmp_path: Path) -> None:
        """A bound logger's plain records take the lane, and its lines are byte-identical to
        the classic path's: names and the settings' secrets masked, nested values, nan, long
        strings; a logger bound to an odd value keeps the classic path, lines alike too."""
        files = []
        for lane in (True, False):
            path = tmp_path / f"lane-{lane}.log"
            pipeline = _pipeline(
                path, lane=lane, secrets=["sk-live-0123456789"], max_field_chars=20
            ).start()
            logger = HFTLogger(pipeline, "x", ["t"])
            bound = logger.bind(order_id="o-1", px=1.25, nested={"a": [1, 2]}, token=None)
            bound = bound.bind(api_key="k1", note="key sk-live-0123456789", nan=math.nan)
            odd = logger.bind(where=Path("/x"))
            for i in range(300):
                fields = {"i": i, "px": 0.5 * i, "side": "buy" * (i % 9), "f": math.inf}
                bound.info("fill" if i % 3 else "m", **fields)
                odd.info("odd", **fields)
            pipeline.close()
            lines = [_TS.sub(b"", line) for line in path.read_bytes().splitlines()]
            files.append(sorted(lines, key=lambda line: orjson.loads(line)["seq"]))
            if lane:
                assert pipeline._lane is not None
                assert pipeline._lane.lane.pushed == 300
        with_lane, classic = files
        assert len(with_lane) == 600
        assert with_lane == classic
        first = orjson.loads(with_lane[0])["fields"]
        assert (first["api_key"], first["note"]) == ("**********", "key **********")

    def test_a_bound_secret_name_is_masked_on_disk(self, tmp_path: Path) -> None:
        """A bound ``api_key`` is masked in the file; a value long enough to be searched for in
        each message keeps its logger on the classic path, which masks it there too."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path, lane=True).start()
        logger = HFTLogger(pipeline, "x")
        short, long = logger.bind(api_key="k1"), logger.bind(api_key="k-123456")
        assert pipeline.lane_for(INFO, short._source)[0] is not None
        assert pipeline.lane_for(INFO, long._source) == (None, -1)
        short.info("short", i=1)
        long.info("long k-123456", i=2)
        pipeline.close()
        lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
        assert [(d["msg"], d["fields"]) for d in lines] == [
            ("short", {"api_key": "**********", "i": 1}),
            ("long **********", {"api_key": "**********", "i": 2}),
        ]
        assert b"k1" not in path.read_bytes()

    def test_a_call_field_overrides_a_bound_field(self, tmp_path: Path) -> None:
        """The call's value wins and keeps the bound field's place: ``{**context, **fields}``."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path, lane=True).start()
        HFTLogger(pipeline, "x").bind(a=1, b=2).info("m", c=4, b=3)
        pipeline.close()
        (fields,) = _fields_on_disk(path)
        assert list(fields.items()) == [("a", 1), ("b", 3), ("c", 4)]
        assert pipeline._lane is not None
        assert pipeline._lane.lane.pushed == 1

    def test_a_bound_source_has_a_lane(self, tmp_path: Path) -> None:
        """``lane_for`` gives a bound logger's source the lane, as it does an unbound one's."""
        pipeline = _pipeline(tmp_path / "hft.log", lane=True)
        bound = HFTLogger(pipeline, "x", ["t"]).bind(order_id="o-1")
        lane, source_id = pipeline.lane_for(INFO, bound._source)
        assert pipeline._lane is not None
        assert lane is pipeline._lane.lane
        assert source_id >= 0
        pipeline.close()

    def test_a_bound_value_is_written_as_it_was_when_bound(self, tmp_path: Path) -> None:
        """A bound value is rendered once, at bind time: a list changed later is not seen."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path, lane=True).start()
        legs = [1]
        bound = HFTLogger(pipeline, "x").bind(legs=legs)
        legs.append(2)
        bound.info("m", i=1)
        pipeline.close()
        assert _fields_on_disk(path) == [{"legs": [1], "i": 1}]

    def test_prometheus_keeps_no_level_off_the_lane(self, tmp_path: Path) -> None:
        """Prometheus counting from DEBUG takes no log record: the file's INFO records still go
        down the lane, and DEBUG ones (only counted) go nowhere."""
        path = tmp_path / "hft.log"
        backend = create_backend_from_config("file", {"file_path": str(path)})
        pipeline = LoggingPipeline([backend, PrometheusBackend(push_gateway_url="")]).start()
        logger = HFTLogger(pipeline, "x")
        lane, source_id = pipeline.lane_for(INFO, logger._source)
        assert lane is not None
        assert source_id >= 0
        assert pipeline.lane_for(DEBUG, logger._source) == (None, -1)
        for i in range(100):
            logger.info("i", n=i)
            logger.debug("d", n=i)
        pipeline.close()
        assert lane.pushed == 100
        assert len(path.read_bytes().splitlines()) == 100
        assert pipeline.record_counts()[("x", DEBUG)] == 100
