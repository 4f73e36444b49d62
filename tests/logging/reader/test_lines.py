"""Lines of the three schemas read back as one view; anything else is no entry."""

from __future__ import annotations

from typing import Any

import pytest

from hft.logging.levels import AUDIT, ERROR, WARNING
from hft.logging.reader.lines import (
    KNOWN_STARTS,
    any_value,
    iso_ns,
    level_number,
    parse,
    stamped,
)
from hft.logging.record import TRACE_FIELD
from tests.logging.reader.logfiles import SCHEMAS, SPAN, T0, TRACE


class TestParse:
    @pytest.mark.parametrize("schema", sorted(SCHEMAS))
    def test_each_schema_reads_to_the_same_view(self, schema: str) -> None:
        """hft, ECS and OTel lines of one record give the same time, level, logger, fields."""
        line = SCHEMAS[schema](
            T0 + 5, "WARNING", "exchange.mexc", msg="hi", seq=7, tags=("a", "b"), qty=1
        )
        entry = parse(line)
        assert entry is not None
        assert entry.raw == line
        got = (entry.ts_ns, entry.level, entry.logger, entry.tags, entry.seq, entry.msg)
        assert got == (T0 + 5, WARNING, "exchange.mexc", ("a", "b"), 7, "hi")
        assert entry.fields == {"qty": 1}
        assert entry.trace is None

    @pytest.mark.parametrize("schema", sorted(SCHEMAS))
    def test_each_schema_starts_as_known(self, schema: str) -> None:
        """Every schema's line starts with one of the starts a raw cat checks."""
        assert SCHEMAS[schema]().startswith(KNOWN_STARTS)

    @pytest.mark.parametrize("schema", sorted(SCHEMAS))
    def test_nested_fields_survive(self, schema: str) -> None:
        """Nested objects, lists, floats, booleans and null come back as written."""
        fields: dict[str, Any] = {"d": {"a": [1, 2.5, None, True, "x"]}}
        entry = parse(SCHEMAS[schema](**fields))
        assert entry is not None
        assert entry.fields == fields

    @pytest.mark.parametrize("schema", sorted(SCHEMAS))
    def test_span_is_read_in_trace_field_form(self, schema: str) -> None:
        """A line with a span gives its trace and span ids; the fields carry them as a record."""
        entry = parse(SCHEMAS[schema](traced=True, qty=1))
        assert entry is not None
        assert entry.trace is not None
        assert entry.trace[:48] == TRACE + SPAN
        assert entry.fields == {"qty": 1}
        assert entry.fields_with_trace()[TRACE_FIELD] == entry.trace

    @pytest.mark.parametrize(
        "line",
        [b"not json\n", b"[1, 2]\n", b"{}\n", b'{"msg": "x"}\n', b'{"ts": "x", "level": "INFO"}\n'],
    )
    def test_what_is_no_record_gives_none(self, line: bytes) -> None:
        """Not JSON, not an object, an unknown first key, or a record missing keys: None."""
        assert parse(line) is None

    def test_unknown_level_is_no_record(self) -> None:
        """A level name hft does not know makes the line no record."""
        assert parse(SCHEMAS["hft"]().replace(b'"INFO"', b'"LOUD"')) is None


class TestLevels:
    def test_names_in_any_case_and_numbered(self) -> None:
        """ECS's lower-case names, hft's, and the LEVEL<n> of a level without a name."""
        assert level_number("error") == ERROR
        assert level_number("AUDIT") == AUDIT
        assert level_number("LEVEL25") == 25
        with pytest.raises(ValueError, match="unknown level"):
            level_number("loud")


class TestTimes:
    def test_hft_stamp_to_ns(self) -> None:
        """Nine digits of fraction and a Z: exact nanoseconds."""
        assert iso_ns("2026-12-07T03:00:00.123456789Z") == T0 + 123_456_789

    def test_short_fraction_and_other_forms(self) -> None:
        """Fewer digits, no fraction, and an offset are read too."""
        assert iso_ns("2026-12-07T03:00:00.5Z") == T0 + 500_000_000
        assert iso_ns("2026-12-07T03:00:00Z") == T0
        assert iso_ns("2026-12-07T04:00:00+01:00") == T0
        assert iso_ns("2026-12-07T03:00:00") == T0


class TestAnyValue:
    def test_otlp_json_values(self) -> None:
        """64-bit ints as strings, doubles, booleans, empty as None, lists and key-value lists."""
        value = {
            "kvlistValue": {
                "values": [
                    {"key": "n", "value": {"intValue": "9007199254740993"}},
                    {"key": "f", "value": {"doubleValue": 1.5}},
                    {"key": "b", "value": {"boolValue": False}},
                    {"key": "z", "value": {}},
                    {"key": "l", "value": {"arrayValue": {"values": [{"stringValue": "s"}]}}},
                ]
            }
        }
        assert any_value(value) == {
            "n": 9007199254740993,
            "f": 1.5,
            "b": False,
            "z": None,
            "l": ["s"],
        }


class TestStamped:
    @pytest.mark.parametrize("schema", sorted(SCHEMAS))
    def test_time_and_line_of_each_schema(self, schema: str) -> None:
        """The time a full parse gives, and the line as it is."""
        line = SCHEMAS[schema](T0 + 123_456_789)
        entry = stamped(line)
        assert entry is not None
        assert (entry.raw, entry.ts_ns) == (line, T0 + 123_456_789)

    def test_other_time_forms_are_parsed(self) -> None:
        """A stamp not at the fixed place (fewer digits) is read by a full parse."""
        line = b'{"@timestamp":"2026-12-07T03:00:00.5Z","log.level":"info","message":"m",'
        line += b'"log":{"logger":"a"}}\n'
        entry = stamped(line)
        assert entry is not None
        assert entry.ts_ns == T0 + 500_000_000

    def test_no_record_is_none(self) -> None:
        """Garbage, or a stamp that is no time, gives None."""
        assert stamped(b"garbage\n") is None
        assert stamped(b'{"ts":"' + b"x" * 30 + b'","level":"INFO"}\n') is None
