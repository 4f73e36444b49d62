"""hft.logging._frames: packed frames of plain records come back equal; anything else is refused."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hft.logging._record import Source
from tests.native import native_module

frames = native_module("hft.logging._frames")

SOURCE = Source.create("orders", ("mexc",), {"venue": "mexc"})
OTHER = Source.create("risk", (), {})
_plain_values = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
_plain_records = st.tuples(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
    st.sampled_from([SOURCE, OTHER]),
    st.text(max_size=20),
    st.dictionaries(st.text(max_size=8), _plain_values, max_size=6),
)


def roundtrip(records: list[Any]) -> list[Any]:
    packed = frames.pack(records, pickle.dumps)
    assert packed is not None
    assert int.from_bytes(packed[:8], "little") == len(packed) - 8  # the pipe's frame header
    return list(frames.unpack(memoryview(packed)[8:], pickle.loads))


class TestRoundTrip:
    @settings(max_examples=300, deadline=None)
    @given(records=st.lists(_plain_records, max_size=30))
    def test_plain_records_come_back_equal(self, records: list[Any]) -> None:
        """Any plain records: unpack(pack(r)) == r, sources included."""
        assert roundtrip(records) == records

    def test_nan_and_shared_objects(self) -> None:
        """NaN survives as NaN; a message and a source shared by many records come back."""
        records = [(i, i, 20, SOURCE, "m", {"x": float("nan")}) for i in range(1000)]
        back = roundtrip(records)
        assert len(back) == 1000
        assert back[999][3] == SOURCE
        assert back[0][5]["x"] != back[0][5]["x"]

    def test_buffer_kept_across_calls_gives_fresh_frames(self) -> None:
        """A big frame then a small one: the kept buffer never leaks old bytes into the new."""
        big = [(i, i, 20, OTHER, "x" * 1000, {"k": "y" * 1000}) for i in range(500)]
        small = [(1, 2, 20, SOURCE, "m", {"a": 1})]
        assert roundtrip(big) == big
        assert roundtrip(small) == small

    def test_many_distinct_strings_grow_the_memo(self) -> None:
        """Thousands of distinct strings (the memo grows past its first size) round-trip."""
        records = [(i, i, 20, OTHER, f"m{i}", {f"k{i}": f"v{i}"}) for i in range(5000)]
        assert roundtrip(records) == records


class TestRefused:
    @pytest.mark.parametrize(
        "record",
        [
            (1, 2, 20, OTHER, "m", {"nested": {"a": 1}}),
            (1, 2, 20, OTHER, "m", {"list": [1]}),
            (1, 2, 20, OTHER, "m", {"big": 2**64}),
            (1, 2, 20, OTHER, "m", {1: "non-str key"}),
            (1, 2, 20, OTHER, "\ud800", {}),
            (1, 2, 20, OTHER, b"bytes", {}),
            (2**63, 2, 20, OTHER, "m", {}),
            (1, 2, 2**31, OTHER, "m", {}),
            (1, 2, 20, OTHER, "m", None),
            (1, 2, 20),
            [1, 2, 20, OTHER, "m", {}],
        ],
    )
    def test_not_plain_returns_none(self, record: Any) -> None:
        """A record pack cannot carry exactly: None, so the caller pickles the batch."""
        assert frames.pack([(0, 0, 20, OTHER, "ok", {})] * 3 + [record], pickle.dumps) is None

    @pytest.mark.parametrize("cut", [0, 1, 5, 30, -1])
    def test_damaged_frames_raise_value_error(self, cut: int) -> None:
        """A truncated frame, trailing bytes or a foreign first byte: ValueError, no crash."""
        framed = frames.pack([(0, 0, 20, OTHER, "m", {"a": "b"})] * 3, pickle.dumps)
        assert framed is not None
        packed = framed[8:]
        with pytest.raises(ValueError, match="hft frame"):
            frames.unpack(packed[:cut], pickle.loads)
        with pytest.raises(ValueError, match="trailing"):
            frames.unpack(packed + b"x", pickle.loads)
        with pytest.raises(ValueError, match="not an hft frame"):
            frames.unpack(b"X" + packed[1:], pickle.loads)
