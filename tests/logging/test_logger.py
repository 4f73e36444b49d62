"""HFTLogger: methods chosen once, context, exceptions, metrics, audit."""

from __future__ import annotations

from hft.logging import DEBUG, ERROR, INFO, WARNING, HFTLogger, LoggingPipeline, nop
from hft.logging.testing import CapturingBackend, capture_logs


class Counting(CapturingBackend):
    """A backend that takes no log record: it counts the calls from its level up."""

    takes_logs = False

    def __init__(self, level: int | str = DEBUG) -> None:
        super().__init__(level, "counting")


class TestLevels:
    def test_filtered_level_is_the_module_nop(self) -> None:
        """A level below every backend's level is the shared no-op function, not a check."""
        pipeline = LoggingPipeline([CapturingBackend(level=INFO)])
        logger = HFTLogger(pipeline, "x")
        assert logger.debug is nop
        assert logger.info is not nop

    def test_adding_a_lower_backend_enables_the_level(self) -> None:
        """Loggers are rebound when a backend with a lower level joins the pipeline."""
        pipeline = LoggingPipeline([CapturingBackend(level=INFO)])
        logger = HFTLogger(pipeline, "x")
        pipeline.add_backend(CapturingBackend(level="DEBUG", name="debug"))
        assert logger.debug is not nop

    def test_a_level_only_a_counting_backend_wants_is_count_only(self) -> None:
        """Below every other backend but at or above a counting one's level, a call is counted
        and makes no record: min_level is where records start, count_level where counts do."""
        file, counting = CapturingBackend(level=WARNING), Counting()
        pipeline = LoggingPipeline([file, counting]).start()
        logger = HFTLogger(pipeline, "x")
        assert (pipeline.min_level, pipeline.count_level) == (WARNING, DEBUG)
        assert logger.debug is not nop
        assert logger.info is not nop
        logger.debug("d")
        logger.info("i", k=1)
        logger.warning("w")
        assert pipeline.flush()
        assert file.messages() == ["w"]
        assert counting.records == []
        assert pipeline.record_counts()[("x", DEBUG)] == pipeline.record_counts()[("x", INFO)] == 1
        pipeline.close()

    def test_a_level_nobody_counts_stays_the_module_nop(self) -> None:
        """A level below the counting backend's level too is still the shared no-op."""
        pipeline = LoggingPipeline([CapturingBackend(level=WARNING), Counting(level=INFO)])
        logger = HFTLogger(pipeline, "x")
        assert logger.debug is nop
        assert logger.info is not nop
        assert ("x", DEBUG) not in pipeline.record_counts()
        pipeline.close()

    def test_exception_at_a_count_only_error_level_is_counted(self) -> None:
        """``exception`` follows ``error``: counted as an ERROR call when ERROR is count-only."""
        pipeline = LoggingPipeline([CapturingBackend(level="CRITICAL"), Counting()])
        logger = HFTLogger(pipeline, "x")
        try:
            raise ValueError("x")
        except ValueError:
            logger.exception("failed")
        assert logger.exception is logger.error
        assert pipeline.record_counts()[("x", ERROR)] == 1
        pipeline.close()

    def test_backends_get_only_their_levels(self) -> None:
        """Each backend receives the records at or above its own level."""
        low, high = CapturingBackend("DEBUG", "low"), CapturingBackend("ERROR", "high")
        pipeline = LoggingPipeline([low, high]).start()
        logger = HFTLogger(pipeline, "x")
        for method in ("debug", "info", "warning", "error", "critical"):
            getattr(logger, method)(method)
        pipeline.close()
        assert low.messages() == ["debug", "info", "warning", "error", "critical"]
        assert high.messages() == ["error", "critical"]


class TestRecords:
    def test_record_carries_name_tags_and_fields(self) -> None:
        """A record keeps the logger's name and tags and the call's fields as given."""
        with capture_logs("exchange.mexc.ws", ["mexc", "ws"]) as (logger, captured):
            logger.info("order placed", symbol="BTCUSDT", price=123.45, qty=0.5)
        (record,) = captured.logs()
        assert (record.logger, record.tags, record.level) == (
            "exchange.mexc.ws",
            ("mexc", "ws"),
            "INFO",
        )
        assert record.fields == {"symbol": "BTCUSDT", "price": 123.45, "qty": 0.5}

    def test_bind_adds_context_and_call_fields_win(self) -> None:
        """Bound fields appear on every record; a call field of the same name overrides it."""
        with capture_logs() as (logger, captured):
            bound = logger.bind(strategy="arb", symbol="ETHUSDT")
            bound.info("a", symbol="BTCUSDT")
            logger.info("b")
        first, second = captured.logs()
        assert first.fields == {"strategy": "arb", "symbol": "BTCUSDT"}
        assert second.fields == {}

    def test_sequence_numbers_increase(self) -> None:
        """Records carry increasing sequence numbers in logging order."""
        with capture_logs() as (logger, captured):
            for i in range(100):
                logger.info("m", i=i)
        seqs = [r.seq for r in captured.logs()]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == 100

    def test_exception_is_structured(self) -> None:
        """``exception`` and ``exc_info=True`` capture the exception as type, message, frames."""
        with capture_logs() as (logger, captured):
            try:
                raise ValueError("bad price")
            except ValueError:
                logger.exception("failed")
                logger.error("failed again", exc_info=True)
        for record in captured.logs():
            info = record.fields["exc_info"]
            assert info["type"] == "ValueError"
            assert info["message"] == "bad price"
            assert info["frames"][-1]["function"] == "test_exception_is_structured"

    def test_secrets_are_redacted(self) -> None:
        """Fields named like secrets are masked before any backend sees them."""
        with capture_logs() as (logger, captured):
            secret = {"api_secret": "s"}
            logger.bind(api_key="k").info("login", user="bob", **secret)
        (record,) = captured.logs()
        assert record.fields == {"api_key": "**********", "user": "bob", "api_secret": "**********"}

    def test_metric_and_audit_records(self) -> None:
        """``metric`` sends a sample to metric backends; ``audit`` an AUDIT record."""
        with capture_logs() as (logger, captured):
            logger.metric("ws_connection_success", 1, tags={"exchange": "mexc"})
            logger.audit("order_placed", order_id="42")
        (metric,) = captured.metrics()
        assert (metric.msg, metric.fields) == (
            "ws_connection_success",
            {"value": 1, "tags": {"exchange": "mexc"}},
        )
        (audit,) = captured.logs()
        assert (audit.level, audit.msg, audit.fields) == (
            "AUDIT",
            "order_placed",
            {"order_id": "42"},
        )


class TestPerformanceApi:
    def test_configure_performance_grows_the_ring(self) -> None:
        """Asking for a larger ring grows the shared one; records logged before are kept."""
        with capture_logs(ring_buffer_size=1000) as (logger, captured):
            logger.info("before")
            logger.configure_performance(max_latency_us=800, ring_buffer_size=5000)
            logger.info("after")
            assert logger.pipeline.capacity == 5000
            assert logger.max_latency_us == 800
        assert captured.messages() == ["before", "after"]

    def test_call_latency_is_sampled(self) -> None:
        """After the dispatcher has armed sampling, the next call is timed and reported."""
        with capture_logs() as (logger, _captured):
            logger.pipeline._loggers.arm_sampling(force=True)
            logger.info("timed")
            logger.info("not timed")
            metrics = logger.get_performance_metrics()
        assert metrics.latency_samples == 1
        assert metrics.avg_latency_us > 0

    def test_armed_between_registration_and_binding(self) -> None:
        """The dispatcher may arm a logger it has just seen registered, before its methods
        are bound: that finds nothing to time yet, and never fails the dispatcher."""

        class Early(HFTLogger):
            __slots__ = ()

            def rebind(self) -> None:
                self.pipeline._loggers.arm_sampling(force=True)  # the dispatcher, in the gap
                super().rebind()

        with capture_logs() as (logger, captured):
            early = Early(logger.pipeline, "early")
            early.info("bound")
        assert captured.messages() == ["bound"]

    def test_a_method_kept_while_armed_times_one_call_only(self) -> None:
        """``log = logger.info`` taken while sampling is armed is the call site itself: it
        times the next call only, then every call takes the fast path again."""
        with capture_logs() as (logger, captured):
            logger.pipeline._loggers.arm_sampling(force=True)
            log = logger.info  # armed: a flag on the method, not another method
            assert log is logger.info
            for i in range(100):
                log("m", i=i)
            metrics = logger.get_performance_metrics()
        assert metrics.latency_samples == 1
        assert [r.fields["i"] for r in captured.records] == list(range(100))
