"""hft.logging.record: how a record carries its span (TRACE_FIELD, split_trace)."""

from __future__ import annotations

import orjson
import pytest

from hft.logging.levels import INFO
from hft.logging.record import TRACE_FIELD, Source, TraceIds, split_trace
from hft.logging.render.schemas import SCHEMAS, line_renderer

IDS = "4bf92f3577b34da6a3ce929d0e0e4736" + "00f067aa0ba902b7" + "01"
#: Values a caller could pass under the key that are not 50 lowercase hex digits.
NOT_IDS = [
    "\n" + "a" * 31 + "b" * 16 + "01",  # int(..., 16) takes surrounding whitespace
    " " + "a" * 48 + " ",
    "0x" + "a" * 48,
    "+" + "a" * 49,
    "A" * 50,
    "\u0663" * 50,  # ARABIC-INDIC DIGIT THREE: int() takes it too
    "a" * 49,
    "a" * 51,
]


class TestSplitTrace:
    def test_takes_the_ids_out_of_the_fields(self) -> None:
        """50 lowercase hex digits under TRACE_FIELD become TraceIds; the rest stay fields."""
        fields, trace = split_trace({"qty": 1, TRACE_FIELD: IDS})
        assert fields == {"qty": 1}
        assert trace == TraceIds(IDS[:32], IDS[32:48], IDS[48:])
        assert trace.flags == 1

    def test_fields_without_a_span_come_back_as_they_are(self) -> None:
        """No TRACE_FIELD: the same object, no trace."""
        fields = {"qty": 1}
        assert split_trace(fields) == (fields, None)
        assert split_trace(fields)[0] is fields

    @pytest.mark.parametrize("value", NOT_IDS)
    def test_anything_but_lowercase_hex_is_left_a_field(self, value: str) -> None:
        """A value that is not exactly 50 lowercase hex digits is the caller's own field."""
        fields = {TRACE_FIELD: value}
        assert split_trace(fields) == (fields, None)


class TestNoLineForged:
    @pytest.mark.parametrize("schema", SCHEMAS)
    @pytest.mark.parametrize("value", NOT_IDS)
    def test_a_value_that_is_not_ids_never_breaks_a_line(self, schema: str, value: str) -> None:
        """Every schema writes such a record as one valid JSON line (ids are written
        unescaped, so only hex may pass as ids)."""
        source = Source.create("x", ("t",), {})
        record = (1, 1_796_612_400_123_456_789, INFO, source, "m", {TRACE_FIELD: value})
        data = line_renderer(schema).many([record])
        (line,) = data.splitlines()
        orjson.loads(line)
