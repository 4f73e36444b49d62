"""The fakes for users' tests (``hft.logging.testing``)."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider

from hft.logging.record import TRACE_FIELD, TraceIds
from hft.logging.testing import capture_logs


class TestCapturedRecord:
    def test_a_span_is_its_trace_never_a_field(self) -> None:
        """With trace_context on, a record logged in a span has ``.trace`` (its ids) and no
        hidden field; one outside any span has ``.trace`` None."""
        tracer = TracerProvider().get_tracer("t")
        with capture_logs(trace_context=True) as (log, capture):
            with tracer.start_as_current_span("s") as span:
                log.info("inside", qty=1)
            log.info("outside")
        inside, outside = capture.logs()
        ctx = span.get_span_context()
        assert inside.trace == TraceIds(
            f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}", f"{int(ctx.trace_flags):02x}"
        )
        assert inside.fields == {"qty": 1}
        assert TRACE_FIELD not in inside.fields
        assert outside.trace is None
