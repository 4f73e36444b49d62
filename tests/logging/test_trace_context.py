"""Trace correlation: real OpenTelemetry SDK spans, their ids read back from the file on disk."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from hft.config import LoggingSettings
from hft.logging import (
    HFTLogger,
    LoggingPipeline,
    context,
    create_backend_from_config,
)
from hft.logging.factory import pipeline_options
from hft.logging.native import Emitter
from hft.logging.pipeline import lanes
from hft.logging.record import TRACE_FIELD
from hft.logging.trace_context import load_trace_spec, span_reader

_TS = re.compile(rb'"ts":"[^"]*",')


class CountingIds(IdGenerator):
    """Ids that count up from a seed: the same spans in two processes, and no random bit."""

    def __init__(self, seed: int = 1) -> None:
        self._next = itertools.count(seed)

    def generate_span_id(self) -> int:
        return 0x1000 + next(self._next)

    def generate_trace_id(self) -> int:
        return 0xABC0_0000_0000_0000_0000 + next(self._next)


def _tracer(**options: Any) -> trace.Tracer:
    """A tracer of its own provider (the global one is left alone), counting ids."""
    options.setdefault("id_generator", CountingIds())
    return TracerProvider(**options).get_tracer("hft.tests")


def _pipeline(path: Path, *, lane: bool = True, **settings: Any) -> LoggingPipeline:
    """A running pipeline with trace_context on, writing *path* through the writer process."""
    backend = create_backend_from_config("file", {"file_path": str(path), "rotation": "none"})
    settings.setdefault("trace_context", True)
    return LoggingPipeline([backend], lane=lane, **settings).start()


def _lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _ids(span: trace.Span) -> tuple[str, str, str]:
    ctx = span.get_span_context()
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}", f"{int(ctx.trace_flags):02x}"


def _of(line: dict[str, Any]) -> tuple[str, str, str] | None:
    """A line's span keys (None: it has none, and no key of them at all)."""
    keys = ("trace_id", "span_id", "trace_flags")
    if not any(key in line for key in keys):
        return None
    return line["trace_id"], line["span_id"], line["trace_flags"]


class TestSetting:
    def test_off_by_default(self) -> None:
        """``logging.trace_context`` is off unless set, and a pipeline then reads no span."""
        assert LoggingSettings().trace_context is False
        assert pipeline_options(LoggingSettings())["trace_context"] is False
        assert pipeline_options(LoggingSettings(trace_context=True))["trace_context"] is True
        assert LoggingPipeline([]).trace is None

    def test_off_the_call_site_is_the_one_before(self, tmp_path: Path) -> None:
        """Off, a logging method is the call site it was before tracing existed (an untraced
        Emitter, or the plain Python closure), and a span changes nothing on disk."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path, trace_context=False)
        log = HFTLogger(pipeline, "orders")
        info: Any = log.info
        if Emitter is not None:
            assert type(info) is Emitter
            assert info.traced == 0
        else:
            assert info._put.__name__ == "put"
        with _tracer().start_as_current_span("s"):
            log.info("in a span", n=1)
        pipeline.close()
        (line,) = _lines(path)
        assert list(line) == ["ts", "level", "logger", "tags", "seq", "msg", "fields"]
        assert line["fields"] == {"n": 1}

    def test_on_the_call_site_reads_the_span(self, tmp_path: Path) -> None:
        """On, a logging method is a traced call site."""
        pipeline = _pipeline(tmp_path / "hft.log")
        log = HFTLogger(pipeline, "orders")
        info: Any = log.info
        if Emitter is not None:
            assert type(info) is Emitter
            assert info.traced == 1
        else:
            assert info._put.__name__ == "put_traced"
        pipeline.close()

    def test_without_the_api_it_fails_at_start_naming_the_key(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """trace_context: true without opentelemetry-api: a clear error at start, naming the
        setting and the extra that brings it."""
        monkeypatch.setitem(sys.modules, "opentelemetry.context", None)
        with pytest.raises(
            RuntimeError, match=r"logging\.trace_context.*pip install 'hft\[otel\]'"
        ):
            LoggingPipeline([], trace_context=True)


class TestSpans:
    def test_main_thread_in_and_out_of_a_span(self, tmp_path: Path) -> None:
        """Lines logged inside a span carry its ids between seq and msg; outside, none."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path)
        log = HFTLogger(pipeline, "orders", ["mexc"])
        log.info("before")
        with _tracer().start_as_current_span("order") as span:
            log.info("inside", qty=1)
            log.warning("inside too")
        log.info("after")
        pipeline.close()
        lines = _lines(path)
        assert [_of(line) for line in lines] == [None, _ids(span), _ids(span), None]
        assert list(lines[1]) == [
            "ts", "level", "logger", "tags", "seq",
            "trace_id", "span_id", "trace_flags", "msg", "fields",
        ]  # fmt: skip
        assert lines[1]["trace_flags"] == "01"
        assert lines[1]["fields"] == {"qty": 1}

    def test_nested_spans(self, tmp_path: Path) -> None:
        """The innermost span wins, and its parent's ids come back when it ends."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path)
        log = HFTLogger(pipeline, "orders")
        tracer = _tracer()
        with tracer.start_as_current_span("outer") as outer:
            log.info("outer")
            with tracer.start_as_current_span("inner") as inner:
                log.info("inner")
            log.info("outer again")
        pipeline.close()
        got = [_of(line) for line in _lines(path)]
        assert got == [_ids(outer), _ids(inner), _ids(outer)]
        assert got[0] is not None
        assert got[1] is not None
        assert got[0][0] == got[1][0]  # one trace
        assert got[0][1] != got[1][1]

    def test_threads_each_with_its_own_span(self, tmp_path: Path) -> None:
        """Four threads logging at once, each inside its own span: no line crosses over."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path)
        log = HFTLogger(pipeline, "orders")
        tracer, start, spans = _tracer(), threading.Barrier(4), {}

        def work(n: int) -> None:
            start.wait()
            with tracer.start_as_current_span(f"t{n}") as span:
                spans[n] = _ids(span)
                for i in range(300):
                    log.info("t", n=n, i=i)
            log.info("after", n=n)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        pipeline.close()
        lines = _lines(path)
        assert len(lines) == 4 * 301
        for line in lines:
            expected = None if line["msg"] == "after" else spans[line["fields"]["n"]]
            assert _of(line) == expected
        assert len(set(spans.values())) == 4

    def test_asyncio_tasks_each_with_its_own_span(self, tmp_path: Path) -> None:
        """Tasks with interleaved awaits, each in its own span: every line its task's span."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path)
        log = HFTLogger(pipeline, "orders")
        tracer, spans = _tracer(), {}

        async def order(task: int) -> None:
            with tracer.start_as_current_span(f"order-{task}") as span:
                spans[task] = _ids(span)
                for step in range(10):
                    log.info("step", task=task, step=step)
                    await asyncio.sleep(0)

        async def main() -> None:
            await asyncio.gather(*(order(task) for task in range(30)))
            log.info("done")

        asyncio.run(main())
        pipeline.close()
        lines = _lines(path)
        assert len(lines) == 30 * 10 + 1
        for line in lines[:-1]:
            assert _of(line) == spans[line["fields"]["task"]]
        assert _of(lines[-1]) is None

    def test_invalid_span_gives_no_ids(self, tmp_path: Path) -> None:
        """The invalid span (what OpenTelemetry has outside any span) writes no trace keys."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path)
        log = HFTLogger(pipeline, "orders")
        with trace.use_span(trace.INVALID_SPAN):
            log.info("invalid")
        with trace.use_span(trace.NonRecordingSpan(trace.INVALID_SPAN_CONTEXT)):
            log.info("invalid, not recording")
        pipeline.close()
        assert [_of(line) for line in _lines(path)] == [None, None]

    def test_a_span_not_sampled_still_has_ids_with_flags_00(self, tmp_path: Path) -> None:
        """A sampler that samples nothing gives a valid, non-recording span: its ids, flags 00."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path)
        log = HFTLogger(pipeline, "orders")
        with _tracer(sampler=ALWAYS_OFF).start_as_current_span("dropped") as span:
            assert not span.is_recording()
            log.info("not sampled")
        pipeline.close()
        (line,) = _lines(path)
        assert _of(line) == _ids(span)
        assert line["trace_flags"] == "00"

    def test_flags_are_written_as_opentelemetry_has_them(self, tmp_path: Path) -> None:
        """The SDK's default ids set the W3C random bit (02): the flags byte is written whole,
        as OpenTelemetry writes it (sampled: bit 0)."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path)
        log = HFTLogger(pipeline, "orders")
        with TracerProvider().get_tracer("t").start_as_current_span("s") as span:
            log.info("random ids")
        pipeline.close()
        (line,) = _lines(path)
        assert line["trace_flags"] == _ids(span)[2]
        assert int(line["trace_flags"], 16) & 1 == 1

    def test_a_field_named_trace_id_stays_in_fields(self, tmp_path: Path) -> None:
        """The caller's own ``trace_id`` stays in ``fields`` and overwrites nothing."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path)
        log = HFTLogger(pipeline, "orders")
        with _tracer().start_as_current_span("s") as span:
            log.info("mine", trace_id="order-7", span_id=3)
            log.info("mine, odd", trace_id="order-7", items=[1])  # the classic path
        pipeline.close()
        for line in _lines(path):
            assert _of(line) == _ids(span)
            assert line["fields"]["trace_id"] == "order-7"
            assert TRACE_FIELD not in line["fields"]


class TestPaths:
    def test_with_task_context_and_bound_fields(self, tmp_path: Path) -> None:
        """A span is per call, never bound: one call site in one task context logs in two
        spans, each line with its own ids and the same context fields."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path)
        log = HFTLogger(pipeline, "orders").bind(desk="mm")
        tracer, seen = _tracer(), []
        with context(order_id=7):
            for name in ("a", "b"):
                with tracer.start_as_current_span(name) as span:
                    seen.append(_ids(span))
                    log.info("fill")
            log.info("no span")
        pipeline.close()
        lines = _lines(path)
        assert [_of(line) for line in lines] == [*seen, None]
        assert all(line["fields"] == {"order_id": 7, "desk": "mm"} for line in lines)

    def test_kept_backtrace_records_keep_their_span(self, tmp_path: Path) -> None:
        """Records a backtrace kept are written with the span they were logged in, and the
        record that flushes them with its own."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path, backtrace=100)
        log = HFTLogger(pipeline, "orders")
        tracer = _tracer()
        with tracer.start_as_current_span("kept") as kept:
            log.debug("kept", n=1)
        log.debug("kept, no span")
        with tracer.start_as_current_span("error") as failing:
            log.error("boom")
        pipeline.close()
        lines = _lines(path)
        assert [(line["msg"], _of(line)) for line in lines] == [
            ("kept", _ids(kept)),
            ("kept, no span", None),
            ("boom", _ids(failing)),
        ]
        assert lines[0]["fields"] == {"n": 1, "backtrace": True}

    @pytest.mark.skipif(lanes.Lane is None, reason="the C paths are off (HFT_PURE_PYTHON=1)")
    def test_records_in_a_span_keep_the_lane(self, tmp_path: Path) -> None:
        """A record in a span goes by the byte lane, and the file matches the classic path's
        byte for byte, timestamps aside."""
        files = []
        for lane in (True, False):
            path = tmp_path / f"lane-{lane}.log"
            pipeline = _pipeline(path, lane=lane)
            log = HFTLogger(pipeline, "orders", ["mexc"])
            log.info("warm")
            pipeline.flush()
            bound = log.bind(venue="mexc")
            tracer = _tracer(id_generator=CountingIds())
            for i in range(100):
                with tracer.start_as_current_span("s"), context(order_id=i):
                    log.info("fill", i=i, px=1.5 * i, note="a\nb")
                    bound.warning("bound", i=i)
                    if i % 25 == 0:
                        log.info("odd", i=i, items=[i])
            if lane:
                assert pipeline._lane is not None
                assert pipeline._lane.lane.pushed == 1 + 100 * 2
            pipeline.close()
            lines = [_TS.sub(b"", line) for line in path.read_bytes().splitlines()]
            files.append(sorted(lines, key=lambda line: orjson.loads(line)["seq"]))
        with_lane, classic = files
        assert len(with_lane) == 1 + 100 * 2 + 4
        assert with_lane == classic
        assert b'"trace_id":"' in with_lane[1]


_TWIN = """
import sys
from pathlib import Path
from opentelemetry.sdk.trace import TracerProvider
from hft.logging import HFTLogger, LoggingPipeline, context, create_backend_from_config
from tests.logging.test_trace_context import CountingIds

backend = create_backend_from_config("file", {"file_path": sys.argv[1], "rotation": "none"})
pipeline = LoggingPipeline([backend], trace_context=True, backtrace=10).start()
log = HFTLogger(pipeline, "orders", ["mexc"])
tracer = TracerProvider(id_generator=CountingIds()).get_tracer("twin")
log.info("outside", n=0)
with tracer.start_as_current_span("a"):
    log.info("plain", n=1, px=1.25, s="x", none=None, flag=True)
    log.info("odd", items=[1, 2], trace_id="mine")
    log.debug("kept", n=2)
    with tracer.start_as_current_span("b"), context(order_id=9):
        log.bind(desk="mm").warning("bound", n=3)
        log.error("flush", n=4)
pipeline.close()
"""


def test_c_and_pure_python_write_the_same_bytes(tmp_path: Path) -> None:
    """The C call site and renderers and their pure-Python twins write the same lines."""
    outputs = []
    for pure in ("0", "1"):
        path = tmp_path / f"pure-{pure}.log"
        env = {**os.environ, "HFT_PURE_PYTHON": pure}
        subprocess.run([sys.executable, "-c", _TWIN, str(path)], check=True, env=env, timeout=60)
        outputs.append(sorted(_TS.sub(b"", line) for line in path.read_bytes().splitlines()))
    c_lines, pure_lines = outputs
    assert len(c_lines) == 6
    assert c_lines == pure_lines


class TestReader:
    @contextmanager
    def _runtime(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        """OpenTelemetry's runtime context swapped for one that is not the contextvars one."""
        from opentelemetry import context as otel_context

        class Other(type(otel_context._RUNTIME_CONTEXT)):  # type: ignore[misc]
            """Another runtime context (as OTEL_PYTHON_CONTEXT would name)."""

        monkeypatch.setattr(otel_context, "_RUNTIME_CONTEXT", Other())
        yield

    def test_contextvars_runtime_reads_the_variable(self) -> None:
        """With the default runtime context the spec names its variable and the span key."""
        spec = load_trace_spec()
        assert spec.var is not None
        with _tracer().start_as_current_span("s") as span:
            assert spec.var.get()[spec.key] is span

    def test_another_runtime_falls_back_to_get_current_span(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Another runtime context: the spec calls get_current_span, and the ids are the same."""
        with self._runtime(monkeypatch):
            spec = load_trace_spec()
            assert spec.var is None
            read = span_reader(spec)
            assert read() is None
            with _tracer().start_as_current_span("s") as span:
                assert read() == "".join(_ids(span))

    def test_fallback_on_the_pipeline(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Another runtime context, through a whole pipeline: the same ids on disk."""
        with self._runtime(monkeypatch):
            path = tmp_path / "hft.log"
            pipeline = _pipeline(path)
            log = HFTLogger(pipeline, "orders")
            with _tracer().start_as_current_span("s") as span:
                log.info("fallback")
            log.info("none")
            pipeline.close()
        assert [_of(line) for line in _lines(path)] == [_ids(span), None]

    def test_ids_of_odd_spans(self) -> None:
        """ids_of: a span's context read by its attributes when it is not the usual tuple;
        no ids for what is not a span or for a span that raises."""
        ids_of = load_trace_spec().ids_of
        ctx = trace.SpanContext(0xAB, 0xCD, is_remote=False, trace_flags=trace.TraceFlags(1))

        class Attributes:
            trace_id, span_id, trace_flags, is_valid = ctx.trace_id, ctx.span_id, 1, True

        class Odd(trace.NonRecordingSpan):
            def get_span_context(self) -> Any:
                return Attributes()

        class Broken(trace.NonRecordingSpan):
            def get_span_context(self) -> Any:
                raise RuntimeError("broken")

        expected = f"{0xAB:032x}{0xCD:016x}01"
        assert ids_of(trace.NonRecordingSpan(ctx)) == expected
        assert ids_of(Odd(ctx)) == expected
        assert ids_of(Broken(ctx)) is None
        assert ids_of(object()) is None
        assert ids_of(trace.INVALID_SPAN) is None

    def test_a_span_is_asked_for_its_ids_once(self) -> None:
        """The reader keeps the last span met: a repeated span costs no get_span_context."""
        spec = load_trace_spec()
        asked = []

        def ids_of(span: object) -> str | None:
            asked.append(span)
            return spec.ids_of(span)

        read = span_reader(spec._replace(ids_of=ids_of))
        with _tracer().start_as_current_span("s") as span:
            for _ in range(5):
                assert read() == "".join(_ids(span))
        assert asked == [span]

    def test_the_call_site_asks_a_span_for_its_ids_once(self, tmp_path: Path) -> None:
        """The call site (C or its twin) keeps the last span met: many calls in one span ask
        it for its ids once, and a new span once more."""
        pipeline = _pipeline(tmp_path / "hft.log")
        spec, asked = load_trace_spec(), []

        def ids_of(span: object) -> str | None:
            asked.append(span)
            return spec.ids_of(span)

        pipeline.trace = spec._replace(ids_of=ids_of)
        log = HFTLogger(pipeline, "orders")
        tracer = _tracer()
        with tracer.start_as_current_span("a") as first:
            for i in range(50):
                log.info("a", i=i)
        with tracer.start_as_current_span("b") as second:
            log.info("b")
        pipeline.close()
        assert asked == [first, second]


@pytest.mark.parametrize("schema", ["ecs", "otel"])
def test_the_other_schemas_carry_the_span_under_their_own_keys(tmp_path: Path, schema: str) -> None:
    """Schema ecs: ``trace.id``/``span.id``; otel: ``traceId``/``spanId``/``flags``; a line
    outside any span has none, and no schema has the hidden field."""
    path = tmp_path / "hft.log"
    settings = {"file_path": str(path), "rotation": "none", "schema": schema}
    backend = create_backend_from_config("file", settings)
    pipeline = LoggingPipeline([backend], trace_context=True).start()
    log = HFTLogger(pipeline, "orders")
    with _tracer().start_as_current_span("s") as span:
        log.info("inside", qty=1)
    log.info("outside")
    pipeline.close()
    trace_id, span_id, flags = _ids(span)
    inside, outside = path.read_bytes().splitlines()
    assert b"\\u001ftrace" not in inside
    line = orjson.loads(inside)
    if schema == "ecs":
        assert (line["trace"], line["span"]) == ({"id": trace_id}, {"id": span_id})
        assert "trace" not in orjson.loads(outside)
    else:
        (record,) = line["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
        assert (record["traceId"], record["spanId"], record["flags"]) == (
            trace_id,
            span_id,
            int(flags, 16),
        )
        (other,) = orjson.loads(outside)["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
        assert "traceId" not in other
