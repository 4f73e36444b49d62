"""Trace correlation end to end: real OpenTelemetry SDK spans, their ids read back from the
file on disk (threads, asyncio tasks, nested spans, the lane, the backtrace, each schema)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import orjson
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from hft.logging import (
    HFTLogger,
    LoggingPipeline,
    context,
    create_backend_from_config,
)
from hft.logging.pipeline import lanes
from hft.logging.record import TRACE_FIELD
from tests.logging.trace_helpers import (
    TS,
    CountingIds,
    make_tracer,
    read_lines,
    span_ids,
    span_keys,
    traced_pipeline,
)


class TestSpans:
    def test_main_thread_in_and_out_of_a_span(self, tmp_path: Path) -> None:
        """Lines logged inside a span carry its ids between seq and msg; outside, none."""
        path = tmp_path / "hft.log"
        pipeline = traced_pipeline(path)
        log = HFTLogger(pipeline, "orders", ["mexc"])
        log.info("before")
        with make_tracer().start_as_current_span("order") as span:
            log.info("inside", qty=1)
            log.warning("inside too")
        log.info("after")
        pipeline.close()
        lines = read_lines(path)
        assert [span_keys(line) for line in lines] == [None, span_ids(span), span_ids(span), None]
        assert list(lines[1]) == [
            "ts", "level", "logger", "tags", "seq",
            "trace_id", "span_id", "trace_flags", "msg", "fields",
        ]  # fmt: skip
        assert lines[1]["trace_flags"] == "01"
        assert lines[1]["fields"] == {"qty": 1}

    def test_nested_spans(self, tmp_path: Path) -> None:
        """The innermost span wins, and its parent's ids come back when it ends."""
        path = tmp_path / "hft.log"
        pipeline = traced_pipeline(path)
        log = HFTLogger(pipeline, "orders")
        tracer = make_tracer()
        with tracer.start_as_current_span("outer") as outer:
            log.info("outer")
            with tracer.start_as_current_span("inner") as inner:
                log.info("inner")
            log.info("outer again")
        pipeline.close()
        got = [span_keys(line) for line in read_lines(path)]
        assert got == [span_ids(outer), span_ids(inner), span_ids(outer)]
        assert got[0] is not None
        assert got[1] is not None
        assert got[0][0] == got[1][0]  # one trace
        assert got[0][1] != got[1][1]

    def test_threads_each_with_its_own_span(self, tmp_path: Path) -> None:
        """Four threads logging at once, each inside its own span: no line crosses over."""
        path = tmp_path / "hft.log"
        pipeline = traced_pipeline(path)
        log = HFTLogger(pipeline, "orders")
        tracer, start, spans = make_tracer(), threading.Barrier(4), {}

        def work(n: int) -> None:
            start.wait()
            with tracer.start_as_current_span(f"t{n}") as span:
                spans[n] = span_ids(span)
                for i in range(300):
                    log.info("t", n=n, i=i)
            log.info("after", n=n)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        pipeline.close()
        lines = read_lines(path)
        assert len(lines) == 4 * 301
        for line in lines:
            expected = None if line["msg"] == "after" else spans[line["fields"]["n"]]
            assert span_keys(line) == expected
        assert len(set(spans.values())) == 4

    def test_asyncio_tasks_each_with_its_own_span(self, tmp_path: Path) -> None:
        """Tasks with interleaved awaits, each in its own span: every line its task's span."""
        path = tmp_path / "hft.log"
        pipeline = traced_pipeline(path)
        log = HFTLogger(pipeline, "orders")
        tracer, spans = make_tracer(), {}

        async def order(task: int) -> None:
            with tracer.start_as_current_span(f"order-{task}") as span:
                spans[task] = span_ids(span)
                for step in range(10):
                    log.info("step", task=task, step=step)
                    await asyncio.sleep(0)

        async def main() -> None:
            await asyncio.gather(*(order(task) for task in range(30)))
            log.info("done")

        asyncio.run(main())
        pipeline.close()
        lines = read_lines(path)
        assert len(lines) == 30 * 10 + 1
        for line in lines[:-1]:
            assert span_keys(line) == spans[line["fields"]["task"]]
        assert span_keys(lines[-1]) is None

    def test_invalid_span_gives_no_ids(self, tmp_path: Path) -> None:
        """The invalid span (what OpenTelemetry has outside any span) writes no trace keys."""
        path = tmp_path / "hft.log"
        pipeline = traced_pipeline(path)
        log = HFTLogger(pipeline, "orders")
        with trace.use_span(trace.INVALID_SPAN):
            log.info("invalid")
        with trace.use_span(trace.NonRecordingSpan(trace.INVALID_SPAN_CONTEXT)):
            log.info("invalid, not recording")
        pipeline.close()
        assert [span_keys(line) for line in read_lines(path)] == [None, None]

    def test_a_span_not_sampled_still_has_ids_with_flags_00(self, tmp_path: Path) -> None:
        """A sampler that samples nothing gives a valid, non-recording span: its ids, flags 00."""
        path = tmp_path / "hft.log"
        pipeline = traced_pipeline(path)
        log = HFTLogger(pipeline, "orders")
        with make_tracer(sampler=ALWAYS_OFF).start_as_current_span("dropped") as span:
            assert not span.is_recording()
            log.info("not sampled")
        pipeline.close()
        (line,) = read_lines(path)
        assert span_keys(line) == span_ids(span)
        assert line["trace_flags"] == "00"

    def test_flags_are_written_as_opentelemetry_has_them(self, tmp_path: Path) -> None:
        """The SDK's default ids set the W3C random bit (02): the flags byte is written whole,
        as OpenTelemetry writes it (sampled: bit 0)."""
        path = tmp_path / "hft.log"
        pipeline = traced_pipeline(path)
        log = HFTLogger(pipeline, "orders")
        with TracerProvider().get_tracer("t").start_as_current_span("s") as span:
            log.info("random ids")
        pipeline.close()
        (line,) = read_lines(path)
        assert line["trace_flags"] == span_ids(span)[2]
        assert int(line["trace_flags"], 16) & 1 == 1

    def test_a_field_named_trace_id_stays_in_fields(self, tmp_path: Path) -> None:
        """The caller's own ``trace_id`` stays in ``fields`` and overwrites nothing."""
        path = tmp_path / "hft.log"
        pipeline = traced_pipeline(path)
        log = HFTLogger(pipeline, "orders")
        with make_tracer().start_as_current_span("s") as span:
            log.info("mine", trace_id="order-7", span_id=3)
            log.info("mine, odd", trace_id="order-7", items=[1])  # the classic path
        pipeline.close()
        for line in read_lines(path):
            assert span_keys(line) == span_ids(span)
            assert line["fields"]["trace_id"] == "order-7"
            assert TRACE_FIELD not in line["fields"]


class TestPaths:
    def test_with_task_context_and_bound_fields(self, tmp_path: Path) -> None:
        """A span is per call, never bound: one call site in one task context logs in two
        spans, each line with its own ids and the same context fields."""
        path = tmp_path / "hft.log"
        pipeline = traced_pipeline(path)
        log = HFTLogger(pipeline, "orders").bind(desk="mm")
        tracer, seen = make_tracer(), []
        with context(order_id=7):
            for name in ("a", "b"):
                with tracer.start_as_current_span(name) as span:
                    seen.append(span_ids(span))
                    log.info("fill")
            log.info("no span")
        pipeline.close()
        lines = read_lines(path)
        assert [span_keys(line) for line in lines] == [*seen, None]
        assert all(line["fields"] == {"order_id": 7, "desk": "mm"} for line in lines)

    def test_kept_backtrace_records_keep_their_span(self, tmp_path: Path) -> None:
        """Records a backtrace kept are written with the span they were logged in, and the
        record that flushes them with its own."""
        path = tmp_path / "hft.log"
        pipeline = traced_pipeline(path, backtrace=100)
        log = HFTLogger(pipeline, "orders")
        tracer = make_tracer()
        with tracer.start_as_current_span("kept") as kept:
            log.debug("kept", n=1)
        log.debug("kept, no span")
        with tracer.start_as_current_span("error") as failing:
            log.error("boom")
        pipeline.close()
        lines = read_lines(path)
        assert [(line["msg"], span_keys(line)) for line in lines] == [
            ("kept", span_ids(kept)),
            ("kept, no span", None),
            ("boom", span_ids(failing)),
        ]
        assert lines[0]["fields"] == {"n": 1, "backtrace": True}

    @pytest.mark.skipif(lanes.Lane is None, reason="the C paths are off (HFT_PURE_PYTHON=1)")
    def test_records_in_a_span_keep_the_lane(self, tmp_path: Path) -> None:
        """A record in a span goes by the byte lane, and the file matches the classic path's
        byte for byte, timestamps aside."""
        files = []
        for lane in (True, False):
            path = tmp_path / f"lane-{lane}.log"
            pipeline = traced_pipeline(path, lane=lane)
            log = HFTLogger(pipeline, "orders", ["mexc"])
            log.info("warm")
            pipeline.flush()
            bound = log.bind(venue="mexc")
            tracer = make_tracer(id_generator=CountingIds())
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
            lines = [TS.sub(b"", line) for line in path.read_bytes().splitlines()]
            files.append(sorted(lines, key=lambda line: orjson.loads(line)["seq"]))
        with_lane, classic = files
        assert len(with_lane) == 1 + 100 * 2 + 4
        assert with_lane == classic
        assert b'"trace_id":"' in with_lane[1]


@pytest.mark.parametrize("schema", ["ecs", "otel"])
def test_the_other_schemas_carry_the_span_under_their_own_keys(tmp_path: Path, schema: str) -> None:
    """Schema ecs: ``trace.id``/``span.id``; otel: ``traceId``/``spanId``/``flags``; a line
    outside any span has none, and no schema has the hidden field."""
    path = tmp_path / "hft.log"
    settings = {"file_path": str(path), "rotation": "none", "schema": schema}
    backend = create_backend_from_config("file", settings)
    pipeline = LoggingPipeline([backend], trace_context=True).start()
    log = HFTLogger(pipeline, "orders")
    with make_tracer().start_as_current_span("s") as span:
        log.info("inside", qty=1)
    log.info("outside")
    pipeline.close()
    trace_id, span_id, flags = span_ids(span)
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
