"""Filters: level and above, logger prefix, time window, message regex, fields."""

from __future__ import annotations

import re

import pytest

from hft.logging.reader.filters import (
    Query,
    level_gate,
    parse_field,
    parse_level_option,
    parse_time,
)
from hft.logging.reader.lines import Entry, parse
from tests.logging.reader.logfiles import T0, ecs_line, hft_line, otel_line

NS = 1_000_000_000


def _entry(**kwargs: object) -> Entry:
    entry = parse(hft_line(**kwargs))  # type: ignore[arg-type]
    assert entry is not None
    return entry


def _passes(query: Query, **kwargs: object) -> bool:
    return query.predicate()(_entry(**kwargs))


class TestLevel:
    def test_that_level_and_above(self) -> None:
        """--level WARNING lets WARNING, ERROR, CRITICAL through, not INFO or DEBUG."""
        query = Query(level=parse_level_option("warning"))
        passed = [
            lvl
            for lvl in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
            if _passes(query, level=lvl)
        ]
        assert passed == ["WARNING", "ERROR", "CRITICAL"]


class TestLogger:
    @pytest.mark.parametrize(
        ("name", "passes"),
        [("exchange", True), ("exchange.mexc", True), ("exchanges", False), ("exch", False)],
    )
    def test_dotted_prefix(self, name: str, passes: bool) -> None:
        """`exchange` matches itself and `exchange.mexc`, not `exchanges` nor `exch`."""
        assert _passes(Query(logger="exchange"), logger=name) is passes


class TestTime:
    def test_since_inclusive_until_exclusive(self) -> None:
        """--since T keeps a record at T; --until T leaves it out."""
        assert _passes(Query(since_ns=T0), ts_ns=T0)
        assert not _passes(Query(since_ns=T0 + 1), ts_ns=T0)
        assert not _passes(Query(until_ns=T0), ts_ns=T0)
        assert _passes(Query(until_ns=T0 + 1), ts_ns=T0)

    @pytest.mark.parametrize(
        ("text", "ago_s"),
        [("90s", 90), ("10m", 600), ("2h", 7200), ("1d", 86400), ("1.5h", 5400), ("1w", 604800)],
    )
    def test_relative_forms_are_ages(self, text: str, ago_s: int) -> None:
        """An age counts back from now."""
        assert parse_time(text, now_ns=T0) == T0 - ago_s * NS

    def test_iso_forms(self) -> None:
        """ISO 8601 with Z, an offset, none (UTC), or a date alone (its midnight, UTC)."""
        assert parse_time("2026-12-07T03:00:00Z") == T0
        assert parse_time("2026-12-07T04:00:00+01:00") == T0
        assert parse_time("2026-12-07T03:00:00") == T0
        assert parse_time("2026-12-07") == T0 - 3 * 3600 * NS

    @pytest.mark.parametrize(
        ("text", "offset_ns"),
        [
            ("2026-12-07 03:00:00", 0),  # a space for the T
            ("2026-12-07 03:00:00Z", 0),
            ("2026-12-07T03:00", 0),  # no seconds
            ("2026-12-07T03:00Z", 0),
            ("2026-12-07T03:00+00:00", 0),
            ("2026-12-07T04:00:00.123456789+01:00", 123_456_789),  # an offset keeps the ns
            ("2026-12-07T03:00:00.000000001", 1),  # no offset, nanoseconds
            ("2026-12-07 03:00:00.5Z", 500_000_000),
            ("2026-12-07T03:00:00.123456789Z", 123_456_789),  # hft's own form
            ("2026-12-07T03:00:00,25Z", 250_000_000),  # ISO's decimal comma
        ],
    )
    def test_other_iso_forms(self, text: str, offset_ns: int) -> None:
        """The forms the docs name beyond hft's own, each to the nanosecond."""
        assert parse_time(text) == T0 + offset_ns

    def test_more_than_nanoseconds_is_an_error(self) -> None:
        """Ten fraction digits cannot be kept: not a time rather than rounded."""
        with pytest.raises(ValueError, match="not a time"):
            parse_time("2026-12-07T03:00:00.1234567891Z")

    def test_nonsense_is_an_error(self) -> None:
        """Neither ISO nor an age: a ValueError saying what is expected."""
        with pytest.raises(ValueError, match="ISO 8601"):
            parse_time("yesterday")


class TestGrep:
    def test_searches_the_message(self) -> None:
        """The regex is searched in the message, not the fields."""
        query = Query(grep=re.compile("fill(ed)?$"))
        assert _passes(query, msg="order filled")
        assert not _passes(query, msg="order placed", note="filled")


class TestFields:
    @pytest.mark.parametrize(
        ("option", "passes"),
        [
            ("qty=1", True),
            ("qty=2", False),
            ("side=buy", True),
            ('side="buy"', True),
            ("px=101.25", True),
            ("ok=true", True),
            ("none=null", True),
            ("book.bid.px=100", True),
            ("book.bid=" + '{"px":100}', True),
            ("book.ask.px=100", False),
            ("missing=1", False),
            ("dotted.key=x", True),
        ],
    )
    def test_value_as_string_or_json_text(self, option: str, passes: bool) -> None:
        """A field matches its string or its JSON text; dotted keys go into nested fields."""
        fields = {
            "qty": 1,
            "side": "buy",
            "px": 101.25,
            "ok": True,
            "none": None,
            "book": {"bid": {"px": 100}},
            "dotted.key": "x",
        }
        query = Query(fields=(parse_field(option),))
        assert _passes(query, **fields) is passes

    def test_several_are_anded(self) -> None:
        """Every --field must match."""
        query = Query(fields=(("qty", "1"), ("side", "sell")))
        assert not _passes(query, qty=1, side="buy")
        assert _passes(query, qty=1, side="sell")

    def test_without_equals_is_an_error(self) -> None:
        """KEY=VALUE is required."""
        with pytest.raises(ValueError, match="KEY=VALUE"):
            parse_field("qty")


class TestQuery:
    def test_empty_passes_everything(self) -> None:
        """No filter: empty, and every entry passes."""
        assert Query().empty
        assert _passes(Query(), level="DEBUG")

    def test_filters_combine(self) -> None:
        """Level, logger and grep together: all must pass."""
        query = Query(level=30, logger="exchange", grep=re.compile("x"))
        assert _passes(query, level="ERROR", logger="exchange.gate", msg="x")
        assert not _passes(query, level="ERROR", logger="strategy", msg="x")


class TestLevelGate:
    def test_hft_lines_below_the_level_are_refused_unparsed(self) -> None:
        """The gate reads an hft line's level at its fixed place: below --level is False."""
        gate = level_gate(parse_level_option("WARNING"))
        assert gate is not None
        assert not gate(hft_line(level="INFO"))
        assert gate(hft_line(level="WARNING"))
        assert gate(hft_line(level="CRITICAL"))

    def test_anything_else_goes_on_to_be_parsed(self) -> None:
        """Other schemas, numbered levels and lines of no schema pass the gate (checked later)."""
        gate = level_gate(parse_level_option("WARNING"))
        assert gate is not None
        assert gate(ecs_line(level="INFO"))
        assert gate(otel_line(level="INFO"))
        assert gate(hft_line(level="INFO").replace(b'"INFO"', b'"LEVEL25"'))
        assert gate(b"garbage\n")

    def test_no_level_no_gate(self) -> None:
        """Without --level there is nothing to gate."""
        assert level_gate(None) is None
