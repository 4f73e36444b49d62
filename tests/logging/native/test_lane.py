"""The C byte lane (``native/lane.h``): a record's bytes and back, and the overflow policies."""

from __future__ import annotations

import pickle
import time
from collections import deque
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.logging.native.lane_helpers import (
    NAMES,
    SOURCE,
    caller,
    drain,
    make_emitter,
    make_lane,
    same,
    writer,
)

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
        lane = make_lane()
        emit, ring = make_emitter(lane)
        before = time.time_ns()
        emit(msg, **fields)
        after = time.time_ns()
        if ring:  # a lone surrogate in the text: the classic path, as a tuple
            assert lane.pushed == 0
            assert ring[0][4:] == (msg, fields)
            return
        (record,) = drain(lane)
        seq, ts, level, source, text, decoded = record
        assert (seq, level, source, text) == (0, 20, SOURCE, msg)
        assert before <= ts <= after
        assert list(decoded) == list(fields)
        assert all(same(decoded[k], v) for k, v in fields.items())

    def test_records_wrap_around_a_small_ring_intact(self) -> None:
        """Thousands of records of every size through a 64 KiB ring, taken in small frames."""
        lane = make_lane()
        emit, ring = make_emitter(lane)
        got: list[Any] = []
        for i in range(5000):
            emit("m" * (i % 700), a=i, note="x" * (i % 1300))
            if i % 17 == 0:  # 17 records fill at most ~35 KiB
                got.extend(drain(lane, max_bytes=1 + i % 5000))
        got.extend(drain(lane))
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
        lane = make_lane()
        emit, ring = make_emitter(lane)
        emit("m", a=value)
        assert lane.pushed == 0, why
        assert ring[0][5]["a"] is value

    def test_unknown_names_secrets_and_huge_records_take_the_classic_path(self) -> None:
        """A name the redactor has not passed, a settings secret in the text, a record over a
        quarter of the ring: each goes where the dispatcher finishes it."""
        lane = make_lane({"a"}, secrets=("s3cr3t",))
        emit, ring = make_emitter(lane)
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
        emit, ring = make_emitter(lane)
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
        lane = make_lane({"a", "bb"})
        emit, ring = make_emitter(lane)

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
        assert [r[0] for r in drain(lane)] == [1, 2, 6, 7]

    def test_a_sequence_numbers_calls_in_c_and_python_alike(self) -> None:
        """Lane, classic path and Python callers share one Sequence: 0, 1, 2... with no gap."""
        seqs = caller.Sequence()
        lane = make_lane()
        emit, ring = make_emitter(lane, seqs=seqs)
        emit("lane", a=1)
        emit("classic", a=[1])
        assert seqs() == 2
        emit("lane", a=3)
        assert seqs.next == 4
        assert [r[0] for r in drain(lane)] == [0, 3]
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
        lane = make_lane()
        emit, _ = make_emitter(lane)
        emit("hello", a=1, note="text", price=1.5, flag=True, nothing=None)
        frame = lane.take(1 << 20)[0][8:]
        for cut in range(len(frame)):
            with pytest.raises(ValueError, match=r"lane frame"):
                writer.unpack_lane(frame[:cut], pickle.loads)


class TestOverflow:
    def test_drop_newest_refuses_and_reports_the_sequence_number(self) -> None:
        """A full lane refuses the call: its seq goes to ``refused``, nothing is written."""
        refused: list[int] = []
        lane = make_lane(max_records=3, refused=refused)
        emit, ring = make_emitter(lane)
        for i in range(5):
            emit("m", a=i)
        assert (lane.pending, lane.refused, refused, ring) == (3, 2, [3, 4], deque())
        assert [r[5]["a"] for r in drain(lane)] == [0, 1, 2]

    def test_drop_oldest_evicts_the_oldest(self) -> None:
        """Under drop_oldest the newest records stay; the evicted ones are counted."""
        lane = make_lane(max_records=3, policy="drop_oldest")
        emit, _ = make_emitter(lane)
        for i in range(5):
            emit("m", a=i)
        assert (lane.pending, lane.evicted, lane.refused) == (3, 2, 0)
        assert [r[5]["a"] for r in drain(lane)] == [2, 3, 4]

    def test_block_waits_then_refuses_when_nobody_takes(self) -> None:
        """With nobody taking, a block call waits its timeout (1 ms here), then is refused."""
        refused: list[int] = []
        lane = make_lane(max_records=2, policy="block", refused=refused)
        emit, _ = make_emitter(lane)
        for i in range(3):
            emit("m", a=i)
        assert (lane.pending, refused) == (2, [2])
