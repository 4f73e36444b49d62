"""The ecs schema (render.ecs): real files checked against Elastic's ecs-logging and ECS 8.11."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ecs_logging
import orjson
import pytest
import yaml

from hft.logging.levels import CRITICAL, DEBUG, ERROR, INFO, WARNING
from hft.logging.record import Source
from hft.logging.render.ecs import ECS_VERSION, EcsLineRenderer
from tests.logging.render.schema_files import LOGGER, SPAN_ID, TRACE_ID, TRACED, every_kind, written

#: name -> (type, normalize), vendored from elastic/ecs v8.11.0 (see the file's header).
ECS_FIELDS: dict[str, dict[str, Any]] = yaml.safe_load(
    Path(__file__).with_name("ecs_8_11_fields.yml").read_text()
)
_TYPES: dict[str, type] = {"keyword": str, "match_only_text": str, "date": str, "long": int}
_TOP = ("@timestamp", "log.level", "message", "ecs.version")


@pytest.fixture(scope="module")
def ecs_lines(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Every line a writer process wrote under schema ecs, parsed (one of each kind)."""
    lines = written(tmp_path_factory.mktemp("ecs"), "ecs", every_kind)
    return [orjson.loads(line) for line in lines]


def ecs_logging_line(level: str, logger: str, message: str) -> dict[str, Any]:
    """What Elastic's own ``ecs_logging.StdlibFormatter`` writes for the same record."""
    number = logging.getLevelNamesMapping()[level.upper()]
    record = logging.LogRecord(logger, number, __file__, 1, message, None, None)
    parsed: dict[str, Any] = orjson.loads(ecs_logging.StdlibFormatter().format(record))
    return parsed


def key_paths(obj: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every leaf key path of *obj* (nested objects joined with dots) and its value."""
    for key, value in obj.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from key_paths(value, f"{path}.")
        else:
            yield path, value


class TestAgainstEcsLogging:
    def test_the_top_keys_are_ecs_loggings_in_its_order_and_types(
        self, ecs_lines: list[dict[str, Any]]
    ) -> None:
        """Each line starts with @timestamp, log.level, message, ecs.version exactly as
        ecs-logging writes them for the same level, logger and message (order, types, level)."""
        assert len(ecs_lines) == 7
        for line in ecs_lines:
            theirs = ecs_logging_line(line["log.level"], line["log"]["logger"], line["message"])
            assert list(line)[:4] == list(theirs)[:4] == list(_TOP)
            for key in _TOP:
                assert type(line[key]) is type(theirs[key]), key
            assert (line["log.level"], line["message"]) == (theirs["log.level"], theirs["message"])
            assert line["log"]["logger"] == theirs["log"]["logger"] == LOGGER

    def test_every_level_is_spelled_as_ecs_logging_spells_it(self) -> None:
        """debug, info, warning, error, critical: the stdlib's names in lower case."""
        renderer, source = EcsLineRenderer(), Source.create(LOGGER, (), {})
        for level in (DEBUG, INFO, WARNING, ERROR, CRITICAL):
            ours = orjson.loads(renderer((1, 10**18, level, source, "m", {})))
            name = logging.getLevelName(level)
            assert ours["log.level"] == ecs_logging_line(name, LOGGER, "m")["log.level"]

    def test_timestamps_are_utc_with_nanoseconds(self, ecs_lines: list[dict[str, Any]]) -> None:
        """@timestamp is ISO 8601 UTC ending in Z, nine digits after the second."""
        for line in ecs_lines:
            stamp = line["@timestamp"]
            assert stamp.endswith("Z")
            assert len(stamp.split(".")[1]) == 10
            parsed = datetime.datetime.fromisoformat(stamp[:26] + "+00:00")
            assert parsed.tzinfo is not None


class TestAgainstEcs811:
    def test_every_key_we_write_is_an_ecs_field_of_its_type(
        self, ecs_lines: list[dict[str, Any]]
    ) -> None:
        """Every key path outside the custom ``fields`` object is an ECS 8.11 field, with a
        value of its type (tags: an array of keywords)."""
        seen: set[str] = set()
        for line in map(dict, ecs_lines):
            custom = line.pop("fields")
            assert isinstance(custom, dict)
            for path, value in key_paths(line):
                field = ECS_FIELDS[path]
                if "array" in field["normalize"]:
                    assert all(type(v) is _TYPES[field["type"]] for v in value), path
                else:
                    assert type(value) is _TYPES[field["type"]], path
                seen.add(path)
        assert seen == set(ECS_FIELDS)  # trace.id and span.id included

    def test_version_and_layout(self, ecs_lines: list[dict[str, Any]]) -> None:
        """ecs.version is 8.11.0; the keys come in the contract's order, fields last."""
        assert ECS_VERSION == "8.11.0"
        traced = next(line for line in ecs_lines if "trace" in line)
        assert list(traced) == [*_TOP, "log", "event", "tags", "trace", "span", "fields"]
        plain = next(line for line in ecs_lines if line["message"] == "filled")
        assert list(plain) == [*_TOP, "log", "event", "tags", "fields"]
        assert plain["tags"] == ["mexc", "spot"]
        assert plain["fields"] == {"qty": 1, "px": 1.5, "side": "buy", "ok": True, "none": None}


class TestTrace:
    def test_the_span_goes_to_trace_id_and_span_id_never_to_fields(
        self, ecs_lines: list[dict[str, Any]]
    ) -> None:
        """A record carrying a span writes trace.id and span.id; its fields keep only the
        caller's own."""
        traced = next(line for line in ecs_lines if line["message"] == "traced")
        assert (traced["trace"], traced["span"]) == ({"id": TRACE_ID}, {"id": SPAN_ID})
        assert traced["fields"] == {"qty": 2}

    def test_the_careful_path_places_the_span_too(self) -> None:
        """A record that takes the careful path (an odd field) still writes its span."""
        fields: dict[Any, Any] = {**TRACED, 1: object()}
        record = (1, 10**18, INFO, Source.create(LOGGER, (), {}), "m", fields)
        line = orjson.loads(EcsLineRenderer()(record))
        assert (line["trace"]["id"], line["span"]["id"]) == (TRACE_ID, SPAN_ID)
        assert list(line["fields"]) == ["1"]
