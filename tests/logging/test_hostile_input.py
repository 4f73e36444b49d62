"""Hostile and odd input: never crashes or blocks the pipeline, every line stays one JSON line."""

from __future__ import annotations

import io
import math
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hft.logging import (
    AuditBackend,
    ConsoleBackend,
    FileBackend,
    HFTLogger,
    LoggingPipeline,
    PrometheusBackend,
)
from hft.logging.render.lines import TRUNCATED_MARK, JsonLineRenderer, sanitize
from hft.logging.testing import CapturingBackend

LIMIT = 64


class BrokenRepr:
    """An object whose ``__repr__`` and ``__str__`` raise."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __str__(self) -> str:
        raise RuntimeError("no str")


class BrokenOnDispatcher:
    """``__repr__`` raises on the dispatcher thread only (hypothesis may print the value)."""

    def __repr__(self) -> str:
        if threading.current_thread().name == "hft-dispatcher":
            raise RuntimeError("no repr")
        return "BrokenOnDispatcher()"


class BrokenStrError(Exception):
    """An exception whose ``__str__`` raises."""

    def __str__(self) -> str:
        raise RuntimeError("no str")


def _cyclic() -> list[Any]:
    loop: list[Any] = [1]
    loop.append(loop)
    return loop


def _deep(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"d": [value]}
    return value


ODD_VALUES: dict[str, Any] = {
    "object": object(),
    "set": {3, 1, 2},
    "bytes": b"\x00\xff",
    "nan": math.nan,
    "inf": -math.inf,
    "deep": _deep(400),
    "cycle": _cyclic(),
    "huge": "x" * 100_000,
    "surrogate": "a\ud800b",
    "big_int": 2**200,
    "gigantic_int": 10**5000,
    "broken_repr": BrokenRepr(),
    "non_str_keys": {1: "a", (2, 3): "b", None: "c", BrokenRepr(): "d"},
    "ansi": "\x1b[2J\x1b[31mred",
    "newline": 'a\n{"level":"CRITICAL","msg":"forged"}',
}


@dataclass
class Outputs:
    """One pipeline writing to every backend, and where each writes."""

    pipeline: LoggingPipeline
    console: io.StringIO
    file: Path
    audit: Path
    capture: CapturingBackend

    def json_lines(self, path: Path) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@contextmanager
def every_backend(tmp: Path, **options: Any) -> Iterator[Outputs]:
    """Console (to a StringIO), file, audit, capture and prometheus (no push, no scrape)."""
    console = io.StringIO()
    capture = CapturingBackend()
    backends = [
        ConsoleBackend(stream=console, level="DEBUG", max_field_chars=LIMIT),
        FileBackend(file_path=tmp / "hft.log", level="DEBUG", max_field_chars=LIMIT),
        # no audit.checkpoint records among the counted lines while a test runs
        AuditBackend(
            file_path=tmp / "audit.log", max_field_chars=LIMIT, checkpoint_interval_ms=3_600_000
        ),
        PrometheusBackend(push_gateway_url="", scrape_enabled=False),
        capture,
    ]
    pipeline = LoggingPipeline(backends, max_field_chars=LIMIT, **options).start()
    try:
        yield Outputs(pipeline, console, tmp / "hft.log", tmp / "audit.log", capture)
    finally:
        pipeline.close()


class TestOddValues:
    @pytest.mark.parametrize("name", sorted(ODD_VALUES))
    def test_each_odd_value_reaches_every_backend(self, tmp_path: Path, name: str) -> None:
        """Each odd value is logged, audited and counted; every JSON line parses."""
        with every_backend(tmp_path) as out:
            logger = HFTLogger(out.pipeline, "x")
            logger.info("odd", value=ODD_VALUES[name])
            logger.audit("odd", value=ODD_VALUES[name])
            logger.metric("odd_metric", 1.0, tags={"k": "v"})
            assert out.pipeline.flush()
        assert len(out.json_lines(out.file)) == 2  # the log record and the audit record
        assert len(out.json_lines(out.audit)) == 1
        assert out.console.getvalue().count("\n") == 2
        assert out.pipeline.dispatch_errors == 0
        assert all(s.lost == s.failed_over == 0 for s in out.pipeline.metrics().backends.values())

    def test_huge_string_is_truncated_and_marked_in_the_file(self, tmp_path: Path) -> None:
        """A huge string in the fast path is cut at max_field_chars by the long-line re-render."""
        with every_backend(tmp_path) as out:
            HFTLogger(out.pipeline, "x").info("big", value="y" * 100_000, small=1)
        (line,) = out.json_lines(out.file)
        assert line["fields"] == {"value": "y" * LIMIT + TRUNCATED_MARK, "small": 1}
        assert line["msg"] == "big"

    def test_long_line_re_render_keeps_the_fast_layout(self) -> None:
        """A long line without any long string comes out byte for byte as the fast path made it."""
        renderer = JsonLineRenderer(max_field_chars=100)
        record = (1, 0, 20, _source(), "m", {f"k{i}": "v" * 50 for i in range(80)})
        fast = JsonLineRenderer(max_field_chars=10**9)(record)
        assert renderer(record) == fast

    def test_messages_cannot_forge_lines(self, tmp_path: Path) -> None:
        """A message holding a newline and a JSON object stays inside one line."""
        with every_backend(tmp_path) as out:
            HFTLogger(out.pipeline, "x").info(ODD_VALUES["newline"])
        (line,) = out.json_lines(out.file)
        assert line["level"] == "INFO"
        assert out.console.getvalue().count("\n") == 1

    def test_reserved_field_names_do_not_overwrite(self, tmp_path: Path) -> None:
        """Fields named like the record's own keys sit under ``fields`` and change nothing."""
        reserved = {"level": "CRITICAL", "msg": "forged", "seq": -1, "ts": "x", "logger": "y"}
        with every_backend(tmp_path) as out:
            HFTLogger(out.pipeline, "x").info("real", **reserved)
        (line,) = out.json_lines(out.file)
        assert (line["level"], line["msg"], line["logger"]) == ("INFO", "real", "x")
        assert line["fields"] == reserved

    def test_console_escapes_ansi_and_controls(self, tmp_path: Path) -> None:
        """ANSI escapes and control characters from data are shown escaped on the console."""
        with every_backend(tmp_path) as out:
            HFTLogger(out.pipeline, "x").info("m\x1b[2J", v="\x1b[31m\r\x07\u202e\ud800")
        text = out.console.getvalue()
        assert "\x1b" not in text
        assert "\r" not in text
        assert "\\u001b[31m" in text
        assert "\\u202e" in text
        assert "\\ud800" in text

    def test_exception_is_a_structured_traceback(self, tmp_path: Path) -> None:
        """``exc_info=True`` logs type, message, frames and the formatted traceback."""
        with every_backend(tmp_path) as out:
            logger = HFTLogger(out.pipeline, "x")
            try:
                raise ValueError("bad price")
            except ValueError:
                logger.error("failed", exc_info=True)
            try:
                raise BrokenStrError
            except BrokenStrError:
                logger.error("broken", exc_info=True)
        first, second = out.json_lines(out.file)
        exc = first["fields"]["exc_info"]
        assert (exc["type"], exc["message"]) == ("ValueError", "bad price")
        assert exc["frames"][-1]["function"] == "test_exception_is_a_structured_traceback"
        assert "Traceback" in exc["traceback"]
        assert second["fields"]["exc_info"]["type"] == "BrokenStrError"


class TestSanitize:
    def test_sanitized_values_always_serialise(self) -> None:
        """sanitize turns every odd value into something orjson accepts."""
        for value in ODD_VALUES.values():
            orjson.dumps(sanitize(value, LIMIT))

    def test_big_containers_are_cut(self) -> None:
        """Containers with more than the limit of items are cut and marked."""
        assert sanitize(list(range(100)), 10) == [*range(10), TRUNCATED_MARK]
        assert sanitize(dict.fromkeys(range(100), 0), 10)[TRUNCATED_MARK] == 100


def _source() -> Any:
    from hft.logging.record import Source

    return Source.create("x", (), {})


names = st.text(st.characters(exclude_categories=()), min_size=1, max_size=12)
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(st.characters(exclude_categories=()), max_size=80)
    | st.binary(max_size=20)
    | st.sampled_from([BrokenOnDispatcher(), object(), "z" * 500, 2**70, {1, 2}])
)
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(names | st.integers(), inner, max_size=4)
        | st.tuples(inner, inner)
    ),
    max_leaves=12,
)


class TestProperty:
    def test_arbitrary_fields_through_every_backend(self, tmp_path: Path) -> None:
        """Arbitrary field names and values: the dispatcher survives, every line parses."""
        with every_backend(tmp_path) as out:
            logger = HFTLogger(out.pipeline, "x")
            sent = [0]

            @settings(
                max_examples=150,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            )
            @given(st.dictionaries(names, values, max_size=5), st.text(max_size=40))
            def check(fields: dict[str, Any], msg: str) -> None:
                logger.info(msg, **fields)
                logger.audit(msg, **fields)
                sent[0] += 1

            check()
            assert out.pipeline.flush()
            assert out.pipeline.running
        assert len(out.json_lines(out.file)) == 2 * sent[0]
        assert len(out.json_lines(out.audit)) == sent[0]
        assert out.console.getvalue().count("\n") == 2 * sent[0]
        assert len(out.capture.logs()) == 2 * sent[0]
        assert out.pipeline.dispatch_errors == 0
        assert sys.getrecursionlimit() > 0
