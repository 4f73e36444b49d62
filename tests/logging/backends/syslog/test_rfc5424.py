"""RFC 5424 formatting and RFC 6587 octet-counted framing."""

from __future__ import annotations

import re
from typing import Any

import pytest

from hft.logging import AUDIT, DEBUG, ERROR, INFO
from hft.logging.backends.syslog._rfc5424 import (
    Rfc5424Formatter,
    check_sd_id,
    escape,
    octet_frame,
    printable,
    sd_name,
    split_frames,
)
from hft.logging.record import TRACE_FIELD, Record, Source
from hft.logging.render.schemas import Schema, line_renderer
from tests.servers import parse_sd

_TS = 1_700_000_000_123_456_789
_SD = r'(\[(?:"(?:[^"\\]|\\.)*"|[^\]"])*\])'
_HEADER = re.compile(r"<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) " + _SD + r" (.*)", re.DOTALL)


def _format(level: int = INFO, msg: object = "hello", **fields: object) -> str:
    formatter = Rfc5424Formatter(
        app_name="hft", facility="local0", hostname="host-1", sd_id="hft@32473",
        instance_id="inst-1",
    )  # fmt: skip
    source = Source.create("strategy.arb", ("arb", "mexc"), {})
    record: Record = (7, _TS, level, source, msg, fields)  # type: ignore[assignment]
    return formatter.one(record).decode()


def _parts(message: str) -> tuple[str, ...]:
    found = _HEADER.fullmatch(message)
    assert found is not None, message
    return found.groups()


class TestHeader:
    def test_fields_in_order(self) -> None:
        """PRI, version, UTC timestamp with microseconds, host, app, procid, msgid, SD, MSG."""
        pri, ts, host, app, procid, msgid, _sd, msg = _parts(_format())
        assert (pri, ts, host, app, msgid, msg) == (
            "134", "2023-11-14T22:13:20.123456Z", "host-1", "hft", "strategy.arb", "hello"
        )  # fmt: skip
        assert procid.isdigit()

    @pytest.mark.parametrize(("level", "pri"), [(DEBUG, 135), (ERROR, 131), (AUDIT, 133)])
    def test_pri_from_facility_and_level(self, level: int, pri: int) -> None:
        """PRI is facility * 8 + the level's severity (local0 = 16)."""
        assert _parts(_format(level))[0] == str(pri)

    def test_printable_ascii_within_limit(self) -> None:
        """Header text keeps printable US-ASCII only, is cut, and is '-' when empty."""
        assert printable("exchange.mexc ws/ü" * 4, 32) == "exchange.mexc_ws/_exchange.mexc_"
        assert printable("", 32) == "-"


class TestStructuredData:
    def test_carries_identity_and_fields(self) -> None:
        """The SD holds instance, logger, tags, seq, level and every field."""
        sd = _parts(_format(price=1.5, side="buy"))[6]
        assert parse_sd(sd) == ("hft@32473", {
            "instance": "inst-1", "logger": "strategy.arb", "tags": "arb,mexc", "seq": "7",
            "level": "INFO", "price": "1.5", "side": "buy",
        })  # fmt: skip

    def test_a_span_is_two_params_after_level(self) -> None:
        """A record logged in a span (TRACE_FIELD) has trace_id and span_id after level, and
        its own trace_id field is kept, renamed as a reserved name is."""
        ids = "4bf92f3577b34da6a3ce929d0e0e473600f067aa0ba902b701"
        fields: dict[str, Any] = {TRACE_FIELD: ids, "trace_id": "mine"}
        sd = _parts(_format(**fields))[6]
        expected = f'level="INFO" trace_id="{ids[:32]}" span_id="{ids[32:48]}" _trace_id="mine"]'
        assert expected in sd
        assert "\x1f" not in sd

    def test_the_json_payload_has_no_span_field(self) -> None:
        """With include_fields_json, the hft payload is the call's fields without the span."""
        formatter = Rfc5424Formatter(
            app_name="hft", facility="local0", hostname="host-1", sd_id="hft@32473",
            instance_id="inst-1", include_fields_json=True,
        )  # fmt: skip
        ids = "4bf92f3577b34da6a3ce929d0e0e473600f067aa0ba902b701"
        source = Source.create("strategy.arb", (), {})
        record: Record = (7, _TS, INFO, source, "hello", {TRACE_FIELD: ids, "qty": 1})
        message = formatter.one(record).decode()
        assert message.endswith('] hello {"qty":1}')
        assert f'trace_id="{ids[:32]}"' in message

    def test_escapes_quote_backslash_bracket(self) -> None:
        """``"``, ``\\`` and ``]`` in values are escaped so the SD cannot be cut short."""
        assert escape('a"b\\c]d') == 'a\\"b\\\\c\\]d'
        sd = _parts(_format(note='x"]\\y'))[6]
        assert parse_sd(sd)[1]["note"] == 'x"]\\y'

    def test_field_names_are_valid_and_never_shadow(self) -> None:
        """Names lose ``= ]"`` and spaces, are cut to 32, and reserved names get ``_``."""
        assert sd_name('a b=c]"d') == "a_b_c__d"
        assert len(sd_name("x" * 50)) == 32
        assert sd_name("seq") == "_seq"

    def test_sd_id_must_be_name_at_pen(self) -> None:
        """A SD-ID without ``@PEN`` (or with forbidden characters) is refused."""
        assert check_sd_id("hft@32473") == "hft@32473"
        for bad in ("hft", "h ft@1", "hft@x", "a" * 40 + "@1"):
            with pytest.raises(ValueError, match="name@PEN"):
                check_sd_id(bad)


class TestMessage:
    def test_newlines_and_unicode_kept(self) -> None:
        """MSG is the message as UTF-8, newlines included (framing, not LF, ends it)."""
        assert _parts(_format(msg='a\nb ] "é"'))[7] == 'a\nb ] "é"'

    def test_fields_as_json_when_configured(self) -> None:
        """With include_fields_json, MSG ends with the fields as a JSON object."""
        formatter = Rfc5424Formatter(
            app_name="hft", facility="user", hostname="h", sd_id="x@1", instance_id="i",
            include_fields_json=True,
        )  # fmt: skip
        record: Record = (1, _TS, INFO, Source.create("l", (), {}), "m", {"a": [1]})
        assert formatter.one(record).endswith(b' m {"a":[1]}')

    @pytest.mark.parametrize("schema", ["ecs", "otel"])
    def test_the_payload_is_the_whole_record_in_the_schema(self, schema: Schema) -> None:
        """With schema ecs or otel, include_fields_json appends the record as the file backend
        writes it in that schema (service.name: the app name), even without fields."""
        formatter = Rfc5424Formatter(
            app_name="venue-a", facility="user", hostname="h", sd_id="x@1", instance_id="i",
            include_fields_json=True, schema=schema, pid=77,
        )  # fmt: skip
        source = Source.create("l", (), {})
        for fields in ({"a": [1], "\x1ftrace": "0" * 31 + "1" + "0" * 15 + "2" + "01"}, {}):
            record: Record = (1, _TS, INFO, source, "m", fields)
            line = line_renderer(schema, service_name="venue-a", pid=77).many([record])
            assert formatter.one(record).endswith(b"] m " + line[:-1])

    def test_odd_values_never_raise(self) -> None:
        """A message that is not a string and an unserialisable field still render."""
        text = _format(msg=123, obj=object(), big=2**70)
        assert "<object object" in text
        assert str(2**70) in text


class TestFraming:
    def test_octet_counting_round_trip(self) -> None:
        """Frames are ``LEN SP MSG``; splitting returns every message and the bytes used."""
        messages = [b"one", b"two\nlines", "é".encode()]
        data = b"".join(map(octet_frame, messages))
        assert data.startswith(b"3 one9 two\nlines")
        assert split_frames(data) == (messages, len(data))

    def test_cut_frame_left_out(self) -> None:
        """A frame cut short (or garbled) is not returned."""
        data = octet_frame(b"whole") + b"10 cut"
        assert split_frames(data) == ([b"whole"], 7)
        assert split_frames(b"xx yy") == ([], 0)


def _bounded(msg: object = "hello", limit: int = 4096, **fields: object) -> bytes:
    formatter = Rfc5424Formatter(
        app_name="hft", facility="local0", hostname="host-1", sd_id="hft@32473",
        instance_id="inst-1", max_message_bytes=limit,
    )  # fmt: skip
    source = Source.create("strategy.arb", ("arb", "mexc"), {})
    record: Record = (7, _TS, INFO, source, msg, fields)  # type: ignore[assignment]
    return formatter.one(record)


class TestBound:
    @pytest.mark.parametrize("limit", [2048, 4096, 65536])
    def test_long_message_cut_to_the_frame_limit_and_marked(self, limit: int) -> None:
        """A message longer than the limit: its frame is at most max_message_bytes, MSG ends
        with the mark, ``truncated`` holds the whole size, the identity is intact."""
        whole = len(_bounded("x" * 300_000, limit=10**7))
        message = _bounded("x" * 300_000, limit=limit)
        assert len(octet_frame(message)) <= limit
        _, _, _, _, _, _, sd, msg = _parts(message.decode())
        assert msg.endswith("…[truncated]")
        assert msg.startswith("x" * 100)
        params = parse_sd(sd)[1]
        assert params["truncated"] == str(whole)
        identity = (params["seq"], params["instance"], params["logger"])
        assert identity == ("7", "inst-1", "strategy.arb")

    def test_never_splits_a_utf8_sequence(self) -> None:
        """Multi-byte characters are cut whole, wherever the limit falls: MSG stays UTF-8."""
        for limit in range(2048, 2060):
            message = _bounded("é日✓😀" * 2000, limit=limit)
            assert len(octet_frame(message)) <= limit
            message.decode("utf-8")  # raises on a split sequence

    def test_many_fields_kept_whole_while_they_fit(self) -> None:
        """10,000 fields: those that fit are kept whole, the rest counted in fields_dropped."""
        message = _bounded("hello", limit=65536, **{f"f{i}": i for i in range(10_000)})
        assert len(octet_frame(message)) <= 65536
        _, _, _, _, _, _, sd, msg = _parts(message.decode())
        params = parse_sd(sd)[1]
        kept = [k for k in params if k.startswith("f") and k != "fields_dropped"]
        assert all(params[k] == k[1:] for k in kept)
        assert len(kept) + int(params["fields_dropped"]) == 10_000
        assert msg == "hello"

    def test_fields_and_message_share_the_room(self) -> None:
        """A huge message and huge fields: each keeps about half of the room."""
        message = _bounded("m" * 100_000, limit=8192, **{f"f{i}": "v" * 50 for i in range(500)})
        _, _, _, _, _, _, sd, msg = _parts(message.decode())
        assert 3000 < len(msg) < 4500
        assert 3000 < len(sd) < 4500
        assert len(octet_frame(message)) <= 8192

    def test_small_records_untouched(self) -> None:
        """A record within the limit carries no truncation mark."""
        sd = _parts(_bounded("hello", limit=2048, side="buy").decode())[6]
        assert "truncated" not in parse_sd(sd)[1]

    def test_limit_below_rfc_minimum_refused(self) -> None:
        """max_message_bytes below RFC 5424's 2048 is refused."""
        with pytest.raises(ValueError, match="at least 2048"):
            _bounded(limit=1024)

    def test_integer_too_long_for_text(self) -> None:
        """An int with more digits than Python prints renders as its size, not an error."""
        sd = _parts(_bounded(big=10**5000).decode())[6]
        assert parse_sd(sd)[1]["big"].startswith("<int of ")
