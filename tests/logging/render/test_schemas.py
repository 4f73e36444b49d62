"""The three layouts (render.schemas): any field renders, spans go to the schema's keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from hft.logging.backends.file import FileBackend
from hft.logging.levels import ERROR, INFO
from hft.logging.record import TRACE_FIELD, BacktraceRecords, Record, Source
from hft.logging.render.lines import TRUNCATED_MARK
from hft.logging.render.schemas import SCHEMAS, line_renderer, line_seq
from tests.logging.render.schema_files import LOGGER, SPAN_ID, TRACE_ID, TRACED, odd_fields
from tests.logging.render.test_otel import attributes, parse

SOURCE = Source.create(LOGGER, ("mexc",), {})
_TS = 1_796_612_400_123_456_789


def record(seq: int, fields: Any, msg: object = "m", level: int = INFO) -> Record:
    """A record of SOURCE at a fixed time."""
    return (seq, _TS + seq, level, SOURCE, msg, fields)  # type: ignore[return-value]


def fields_of(schema: str, line: bytes) -> Any:
    """The caller's fields as *schema* writes them (otel: the parsed hft.fields attribute)."""
    if schema == "otel":
        (log,) = [r for rl in parse(line).resource_logs for sl in rl.scope_logs
                  for r in sl.log_records]  # fmt: skip
        return attributes(log)["hft.fields"]
    return orjson.loads(line)["fields"]


def file_lines(tmp_path: Path, schema: str, records: list[Record], **kw: Any) -> list[bytes]:
    """The lines an in-process file backend under *schema* wrote for *records*, from disk."""
    backend = FileBackend(file_path=tmp_path / f"{schema}.log", rotation="none", schema=schema,  # type: ignore[arg-type]
                          **kw)  # fmt: skip
    backend.write(records)
    backend.close()
    return (tmp_path / f"{schema}.log").read_bytes().splitlines()


@pytest.mark.parametrize("schema", SCHEMAS)
class TestOddValues:
    def test_odd_fields_write_a_valid_line_and_lose_no_field(
        self, schema: str, tmp_path: Path
    ) -> None:
        """A raising __repr__, a cycle, huge ints, NaN, bytes, a lone surrogate, a non-str key:
        one valid JSON line per record, every field present."""
        odd = odd_fields()
        lines = file_lines(tmp_path, schema, [record(1, odd), record(2, {"x": 1}, msg=b"raw")])
        assert len(lines) == 2
        written = fields_of(schema, lines[0])
        assert sorted(written) == sorted(odd)
        assert written["bad"] == "<unrepresentable BadRepr: RuntimeError>"
        assert written["huge"] == str(10**40)
        assert written["lone"] == "a\\ud800b"
        assert "<cycle>" in written["cycle"]
        assert line_seq(lines[1]) == 2

    def test_long_strings_are_cut_to_max_field_chars(self, schema: str, tmp_path: Path) -> None:
        """A field longer than max_field_chars is cut and marked, in every schema."""
        (line,) = file_lines(
            tmp_path, schema, [record(1, {"s": "x" * 10_000})], max_field_chars=100
        )
        assert fields_of(schema, line)["s"] == "x" * 100 + TRUNCATED_MARK

    def test_a_backtrace_is_rendered_record_by_record(self, schema: str) -> None:
        """A backtrace's records (BacktraceRecords) render as one line each, in order."""
        kept = BacktraceRecords([record(1, {"backtrace": True}), record(2, {}, level=ERROR)], ERROR)
        lines = line_renderer(schema).many(kept).splitlines()
        assert [line_seq(line) for line in lines] == [1, 2]

    def test_line_seq_reads_back_the_sequence_number(self, schema: str) -> None:
        """line_seq finds the record's seq in a line of each schema (a restarted writer's
        de-duplication reads it); a line that is not a record gives None."""
        renderer = line_renderer(schema)
        assert line_seq(renderer.many([record(2**40, {"seq": 5, "hft.seq": 6})])) == 2**40
        assert line_seq(b'{"msg":"no"}\n') is None
        assert line_seq(b"torn {") is None


@pytest.mark.parametrize("schema", ["ecs", "otel"])
class TestTraceIds:
    @pytest.mark.parametrize("odd", [False, True])
    def test_trace_ids_go_to_the_schemas_keys_never_to_fields(
        self, schema: str, odd: bool, tmp_path: Path
    ) -> None:
        """Fields carrying a span (TRACE_FIELD) write it in the schema's own keys and keep it
        out of the fields, on the fast path and on the careful one."""
        fields = {**TRACED, "qty": 1, **({"bad": odd_fields()["bad"]} if odd else {})}
        (line,) = file_lines(tmp_path, schema, [record(1, fields)])
        obj = orjson.loads(line)
        if schema == "ecs":
            assert (obj["trace"], obj["span"]) == ({"id": TRACE_ID}, {"id": SPAN_ID})
        else:
            log = obj["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
            assert (log["traceId"], log["spanId"], log["flags"]) == (TRACE_ID, SPAN_ID, 1)
        assert TRACE_FIELD not in fields_of(schema, line)
        assert b"\\u001ftrace" not in line
        assert TRACE_ID + SPAN_ID not in line.decode()

    def test_a_malformed_span_value_stays_a_field(self, schema: str, tmp_path: Path) -> None:
        """A TRACE_FIELD that is not 50 hex digits is the caller's own: left in the fields."""
        (line,) = file_lines(tmp_path, schema, [record(1, {TRACE_FIELD: "zz"})])
        assert fields_of(schema, line) == {TRACE_FIELD: "zz"}
        assert b'trace":{' not in line
        assert b"traceId" not in line


class TestChoice:
    def test_an_unknown_schema_is_refused_naming_the_known_ones(self) -> None:
        """line_renderer refuses a schema it does not know, listing hft, ecs and otel."""
        with pytest.raises(ValueError, match=r"unknown schema 'elk' \(known: hft, ecs, otel\)"):
            line_renderer("elk")

    def test_hft_is_todays_renderer(self) -> None:
        """Schema hft writes today's lines, byte for byte."""
        from hft.logging.render.lines import JsonLineRenderer

        records = [record(1, {"a": 1}), record(2, odd_fields())]
        assert line_renderer("hft").many(records) == JsonLineRenderer().many(records)
