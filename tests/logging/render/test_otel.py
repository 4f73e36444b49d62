"""The otel schema (render.otel): real files parsed with the OTLP proto's own JSON mapping."""

from __future__ import annotations

import base64
import copy
import math
import os
from typing import Any

import orjson
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from hft.logging.levels import AUDIT, INFO, METRIC
from hft.logging.record import Source
from hft.logging.render.otel import OtelLineRenderer, any_value
from tests.logging.render.schema_files import (
    LOGGER,
    SCHEMA_KEY_NAMES,
    SPAN_ID,
    TAGS,
    TRACE_ID,
    every_kind,
    written,
)

#: The contract's severity numbers, by hft's level name (the severity text).
SEVERITIES = {"DEBUG": 5, "INFO": 9, "WARNING": 13, "ERROR": 17, "CRITICAL": 21, "METRIC": 9,
              "AUDIT": 9}  # fmt: skip


def parse(line: bytes) -> ExportLogsServiceRequest:
    """*line* parsed by protobuf's JSON mapping, unknown fields refused. OTLP/JSON writes
    traceId/spanId as hex where proto3 JSON expects base64: a copy is converted first, and
    the parsed bytes are checked to be the hex."""
    obj = orjson.loads(line)
    converted = copy.deepcopy(obj)
    for log in _records(converted):
        for key in ("traceId", "spanId"):
            if key in log:
                log[key] = base64.b64encode(bytes.fromhex(log[key])).decode()
    request = ExportLogsServiceRequest()
    json_format.Parse(orjson.dumps(converted), request, ignore_unknown_fields=False)
    for log, parsed in zip(_records(obj), _parsed_records(request), strict=True):
        assert parsed.trace_id.hex() == log.get("traceId", "")
        assert parsed.span_id.hex() == log.get("spanId", "")
    return request


def _records(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for rl in obj["resourceLogs"] for sl in rl["scopeLogs"] for r in sl["logRecords"]]


def _parsed_records(request: ExportLogsServiceRequest) -> list[LogRecord]:
    return [r for rl in request.resource_logs for sl in rl.scope_logs for r in sl.log_records]


def plain(value: AnyValue) -> Any:
    """A parsed AnyValue as a plain Python value (kvlist: dict; unset: None)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "kvlist_value":
        return {kv.key: plain(kv.value) for kv in value.kvlist_value.values}
    if kind == "array_value":
        return [plain(v) for v in value.array_value.values]
    return getattr(value, kind)


def attributes(log: LogRecord) -> dict[str, Any]:
    """A parsed record's attributes as a dict."""
    return {kv.key: plain(kv.value) for kv in log.attributes}


@pytest.fixture(scope="module")
def otel_lines(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """Every line a writer process wrote under schema otel (one of each kind)."""
    return written(tmp_path_factory.mktemp("otel"), "otel", every_kind)


class TestAgainstTheProto:
    def test_every_line_is_an_export_logs_service_request(self, otel_lines: list[bytes]) -> None:
        """Each line parses as one ExportLogsServiceRequest (unknown fields refused) holding
        one record, with its resource and its logger's scope."""
        assert len(otel_lines) == 7
        for line in otel_lines:
            request = parse(line)
            (resource_logs,) = request.resource_logs
            resource = {kv.key: plain(kv.value) for kv in resource_logs.resource.attributes}
            assert resource["service.name"] == "hft"
            assert resource["process.pid"] == os.getpid()  # the logging process, not the writer
            (scope_logs,) = resource_logs.scope_logs
            assert scope_logs.scope.name == LOGGER
            assert {kv.key: plain(kv.value) for kv in scope_logs.scope.attributes} == {
                "hft.tags": TAGS
            }
            (log,) = scope_logs.log_records
            assert log.time_unix_nano == log.observed_time_unix_nano > 1.7e18
            assert isinstance(attributes(log)["hft.seq"], int)

    def test_severity_numbers_and_texts(self, otel_lines: list[bytes]) -> None:
        """severityNumber follows the contract's table; severityText keeps hft's level name."""
        texts = []
        for line in otel_lines:
            (log,) = _parsed_records(parse(line))
            assert log.severity_number == SEVERITIES[log.severity_text]
            texts.append(log.severity_text)
        assert set(texts) == {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
        renderer, source = OtelLineRenderer(), Source.create("m", (), {})
        for level, name in ((METRIC, "METRIC"), (AUDIT, "AUDIT"), (INFO, "INFO")):
            (log,) = _parsed_records(parse(renderer((1, 10**18, level, source, "m", {}))))
            assert (log.severity_number, log.severity_text) == (SEVERITIES[name], name)

    def test_nested_field_values_keep_their_types(self, otel_lines: list[bytes]) -> None:
        """Fields become one kvlist attribute, hft.fields: str, bool, int, double, None,
        nested kvlists and arrays read back as what was logged."""
        logs = [_parsed_records(parse(line))[0] for line in otel_lines]
        by_body = {log.body.string_value: attributes(log)["hft.fields"] for log in logs}
        assert by_body["filled"] == {"qty": 1, "px": 1.5, "side": "buy", "ok": True, "none": None}
        nested = by_body["nested"]
        assert nested["book"] == {"bids": [[1.5, 2]], "asks": []}
        assert nested["ids"] == [1, 2]
        assert nested["big"] == str(2**63)  # beyond int64: a string, not a refused line

    def test_user_fields_named_like_schema_keys_stay_in_the_fields(
        self, otel_lines: list[bytes]
    ) -> None:
        """A field called message, @timestamp, severityText, hft.seq or traceId lands inside
        hft.fields and overwrites nothing."""
        line = next(x for x in otel_lines if b'"warned"' in x)
        (log,) = _parsed_records(parse(line))
        assert log.severity_text == "WARNING"
        assert log.body.string_value == "warned"
        assert log.trace_id == b""
        assert attributes(log)["hft.fields"] == dict.fromkeys(SCHEMA_KEY_NAMES, "user")
        assert isinstance(attributes(log)["hft.seq"], int)


class TestTrace:
    def test_the_span_goes_to_trace_id_span_id_and_flags(self, otel_lines: list[bytes]) -> None:
        """A record carrying a span writes traceId, spanId (hex) and flags; never in fields."""
        line = next(x for x in otel_lines if b'"traced"' in x)
        raw = _records(orjson.loads(line))[0]
        assert (raw["traceId"], raw["spanId"], raw["flags"]) == (TRACE_ID, SPAN_ID, 1)
        (log,) = _parsed_records(parse(line))
        assert attributes(log)["hft.fields"] == {"qty": 2}
        assert b"trace" not in line.split(b'"hft.fields"')[1].split(b'"traceId"')[0]


class TestAnyValue:
    def test_the_contracts_mapping(self) -> None:
        """str, bool, int (string), float, non-finite float (string), None, dict, list, tuple
        and anything else (the hft renderer's form, as a string)."""
        assert any_value("s") == {"stringValue": "s"}
        assert any_value(True) == {"boolValue": True}
        assert any_value(-(2**63)) == {"intValue": str(-(2**63))}
        assert any_value(1.5) == {"doubleValue": 1.5}
        assert any_value(math.inf) == {"stringValue": "inf"}
        assert any_value(None) == {}
        assert any_value({"a": (1,)}) == {
            "kvlistValue": {"values": [{"key": "a", "value": {"arrayValue": {"values": [
                {"intValue": "1"}]}}}]}}  # fmt: skip
        assert any_value(b"x") == {"stringValue": "b'x'"}
