"""hft.logging.trace_context: the setting, the span reader, and the C and pure-Python call
sites writing the same bytes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace

from hft.config import LoggingSettings
from hft.logging import (
    HFTLogger,
    LoggingPipeline,
)
from hft.logging.factory import pipeline_options
from hft.logging.native import Emitter
from hft.logging.trace_context import load_trace_spec, span_reader
from tests.logging.trace_helpers import (
    TS,
    make_tracer,
    read_lines,
    span_ids,
    span_keys,
    traced_pipeline,
)


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
        pipeline = traced_pipeline(path, trace_context=False)
        log = HFTLogger(pipeline, "orders")
        info: Any = log.info
        if Emitter is not None:
            assert type(info) is Emitter
            assert info.traced == 0
        else:
            assert info._put.__name__ == "put"
        with make_tracer().start_as_current_span("s"):
            log.info("in a span", n=1)
        pipeline.close()
        (line,) = read_lines(path)
        assert list(line) == ["ts", "level", "logger", "tags", "seq", "msg", "fields"]
        assert line["fields"] == {"n": 1}

    def test_on_the_call_site_reads_the_span(self, tmp_path: Path) -> None:
        """On, a logging method is a traced call site."""
        pipeline = traced_pipeline(tmp_path / "hft.log")
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


_TWIN = """
import sys
from pathlib import Path
from opentelemetry.sdk.trace import TracerProvider
from hft.logging import HFTLogger, LoggingPipeline, context, create_backend_from_config
from tests.logging.trace_helpers import CountingIds

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
        outputs.append(sorted(TS.sub(b"", line) for line in path.read_bytes().splitlines()))
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
        with make_tracer().start_as_current_span("s") as span:
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
            with make_tracer().start_as_current_span("s") as span:
                assert read() == "".join(span_ids(span))

    def test_fallback_on_the_pipeline(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Another runtime context, through a whole pipeline: the same ids on disk."""
        with self._runtime(monkeypatch):
            path = tmp_path / "hft.log"
            pipeline = traced_pipeline(path)
            log = HFTLogger(pipeline, "orders")
            with make_tracer().start_as_current_span("s") as span:
                log.info("fallback")
            log.info("none")
            pipeline.close()
        assert [span_keys(line) for line in read_lines(path)] == [span_ids(span), None]

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
        with make_tracer().start_as_current_span("s") as span:
            for _ in range(5):
                assert read() == "".join(span_ids(span))
        assert asked == [span]

    def test_the_call_site_asks_a_span_for_its_ids_once(self, tmp_path: Path) -> None:
        """The call site (C or its twin) keeps the last span met: many calls in one span ask
        it for its ids once, and a new span once more."""
        pipeline = traced_pipeline(tmp_path / "hft.log")
        spec, asked = load_trace_spec(), []

        def ids_of(span: object) -> str | None:
            asked.append(span)
            return spec.ids_of(span)

        pipeline.trace = spec._replace(ids_of=ids_of)
        log = HFTLogger(pipeline, "orders")
        tracer = make_tracer()
        with tracer.start_as_current_span("a") as first:
            for i in range(50):
                log.info("a", i=i)
        with tracer.start_as_current_span("b") as second:
            log.info("b")
        pipeline.close()
        assert asked == [first, second]


def test_a_span_freed_as_it_is_replaced_keeps_every_record_paired(tmp_path: Path) -> None:
    """Letting go of the call site's last span may run Python code that logs through the same
    call site (a ``__del__``): every record carries the ids of the span it was logged in."""
    path = tmp_path / "hft.log"
    pipeline = traced_pipeline(path)
    info = HFTLogger(pipeline, "orders").info  # one call site, C or its twin

    def span(n: int) -> trace.NonRecordingSpan:
        flags = trace.TraceFlags(trace.TraceFlags.SAMPLED)
        return trace.NonRecordingSpan(trace.SpanContext(n, n, False, trace_flags=flags))

    third = span(3)

    class Dying(trace.NonRecordingSpan):
        def __del__(self) -> None:
            with trace.use_span(third):
                info("from __del__")

    first = Dying(span(1).get_span_context())
    with trace.use_span(first):
        info("in first")
    del first  # the call site's cache holds it now, alone
    with trace.use_span(span(2)):
        info("in second")  # replaces the first span: its __del__ logs in the third
    with trace.use_span(third):
        info("in third")  # the span the __del__ left cached: it must have its own ids
    pipeline.close()
    got = [(line["msg"], line.get("span_id")) for line in read_lines(path)]
    assert got == [
        ("in first", f"{1:016x}"),
        ("from __del__", f"{3:016x}"),
        ("in second", f"{2:016x}"),
        ("in third", f"{3:016x}"),
    ]
