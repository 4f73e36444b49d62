"""Pickled frames, what every classic batch crosses as: records come back equal; damage raises."""

from __future__ import annotations

import math
import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hft.logging.record import BacktraceRecords, Record, Source
from hft.logging.render.lines import TRUNCATED_MARK
from hft.logging.writer.wire import HEADER, FrameEncoder, decode_frame

SOURCE = Source.create("orders", ("mexc",), {"venue": "mexc"})
OTHER = Source.create("risk", (), {})
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
_records = st.tuples(
    st.integers(min_value=-1, max_value=2**63 - 1),
    st.integers(min_value=0, max_value=2**63 - 1),
    st.sampled_from([10, 20, 30, 40, 50]),
    st.sampled_from([SOURCE, OTHER]),
    st.text(max_size=20),
    st.dictionaries(st.text(max_size=8), _values, max_size=6),
)


def roundtrip(records: list[Any]) -> list[Record]:
    frame = bytes(FrameEncoder(4096)(records))
    assert HEADER.unpack_from(frame)[0] == len(frame) - HEADER.size  # the pipe's frame header
    return decode_frame(frame[HEADER.size :])


class TestRoundTrip:
    @settings(max_examples=100, deadline=None)
    @given(records=st.lists(_records, max_size=20))
    def test_records_come_back_equal(self, records: list[Any]) -> None:
        """Any records of plain values and containers: decoded == encoded, sources included."""
        assert roundtrip(records) == records

    def test_odd_values_come_back_equal(self) -> None:
        """What a plain-only format could not carry crosses: nested containers, ints past 64
        bits, keys that are not str, bytes and lone surrogates as the message, None fields."""
        records: list[Any] = [
            (1, 2, 20, OTHER, "m", {"nested": {"a": [1, (2, 3)]}, "set": {1, 2}}),
            (2, 2, 20, OTHER, "m", {"big": 2**64, "neg": -(2**70)}),
            (3, 2, 20, OTHER, "m", {1: "non-str key"}),
            (4, 2, 20, OTHER, "\ud800", {}),
            (5, 2, 20, OTHER, b"bytes", {}),
            (6, 2, 2**31, OTHER, "m", None),
        ]
        assert roundtrip(records) == records

    def test_nan_and_shared_objects(self) -> None:
        """NaN survives as NaN; a message and a source shared by many records come back."""
        records = [(i, i, 20, SOURCE, "m", {"x": math.nan}) for i in range(1000)]
        back = roundtrip(records)
        assert len(back) == 1000
        assert back[999][3] == SOURCE
        assert math.isnan(back[0][5]["x"])

    def test_a_batch_pickle_refuses_crosses_sanitized(self) -> None:
        """A batch whose pickling raises (a list nested too deep) is pickled again with its
        fields sanitized: the record crosses, cut where it was too deep."""
        deep: list[Any] = []
        for _ in range(100_000):
            deep = [deep]
        (back,) = roundtrip([(1, 2, 20, OTHER, "m", {"deep": deep, "k": "v" * 5000})])
        assert back[:5] == (1, 2, 20, OTHER, "m")
        assert "<too deep>" in repr(back[5]["deep"])
        assert back[5]["k"] == "v" * 4096 + TRUNCATED_MARK


class TestBacktrace:
    def test_a_backtrace_crosses_as_itself(self) -> None:
        """A backtrace's records come back as one :class:`BacktraceRecords`, its level kept."""
        records = BacktraceRecords([(0, 1, 10, SOURCE, "m", {"backtrace": True})], 40)
        back = roundtrip(records)
        assert type(back) is BacktraceRecords
        assert (back, back.level) == (records, 40)


class TestDamaged:
    @pytest.mark.parametrize("cut", [0, 1, 5, 30, -1])
    def test_a_truncated_frame_raises(self, cut: int) -> None:
        """A truncated pickled frame raises (the writer counts its records lost), no crash."""
        frame = bytes(FrameEncoder(4096)([(0, 0, 20, OTHER, "m", {"a": "b"})] * 3))
        with pytest.raises((pickle.UnpicklingError, EOFError)):
            decode_frame(frame[HEADER.size :][:cut])
