"""hft.logging.backends.base: the declared protocol, its optional hooks and their defaults."""

from __future__ import annotations

from collections.abc import Sequence

from hft.logging import (
    BackendContext,
    BaseBackend,
    HFTLogger,
    LoggingBackend,
    LoggingMetrics,
    LoggingPipeline,
)
from hft.logging.backends.base import Hooks
from hft.logging.levels import DEBUG, INFO
from hft.logging.record import Record
from hft.logging.testing import CapturingBackend


class OnlyTheProtocol:
    """A user's backend with the required attributes and methods and nothing else."""

    name = "mine"
    level = DEBUG
    takes_metrics = False
    takes_audit = False

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.flushes = 0
        self.closed = False

    def write(self, records: Sequence[Record]) -> None:
        self.lines.extend(str(record[4]) for record in records)

    def flush(self) -> None:
        self.flushes += 1

    def close(self) -> None:
        self.closed = True


class Reporting(CapturingBackend):
    """A backend that reports through the context it is given when it joins."""

    def attach(self, context: BackendContext) -> None:
        self.context = context
        context.warn("joined", backend=self.name)
        self.seen: LoggingMetrics = context.metrics()


class TestOnlyTheProtocol:
    def test_it_is_a_backend(self) -> None:
        """The required part alone satisfies LoggingBackend (runtime check)."""
        assert isinstance(OnlyTheProtocol(), LoggingBackend)

    def test_it_works_in_a_pipeline(self) -> None:
        """Records are delivered, flush and close are called, its stats are counted."""
        backend = OnlyTheProtocol()
        pipeline = LoggingPipeline([backend]).start()
        logger = HFTLogger(pipeline, "user")
        for i in range(100):
            logger.info(f"m{i}")
        assert pipeline.flush()
        assert backend.lines == [f"m{i}" for i in range(100)]
        assert backend.flushes >= 1
        stats = pipeline.metrics().backends["mine"]
        assert (stats.written, stats.state, dict(stats.extra)) == (100, "healthy", {})
        pipeline.close()
        assert backend.closed

    def test_hooks_fall_back_to_the_declared_defaults(self) -> None:
        """A backend without hooks gets the no-op defaults: synced, no stats, healthy."""
        hooks = Hooks.of(OnlyTheProtocol())
        context = BackendContext(warn=print, note=print, metrics=LoggingMetrics)
        hooks.attach(context)
        hooks.after_fork_in_child()
        assert (hooks.sync(1.0), dict(hooks.stats()), hooks.handover(), hooks.healthy) == (
            True, {}, None, True,
        )  # fmt: skip
        assert hooks.takes_logs
        assert dict(context.record_counts()) == {}


class TestBaseBackend:
    def test_declares_every_hook_with_a_default(self) -> None:
        """BaseBackend's defaults are the same as those Hooks gives a plain backend."""

        class Minimal(BaseBackend):
            def write(self, records: Sequence[Record]) -> None:
                del records

        backend = Minimal()
        assert (backend.sync(1.0), dict(backend.stats()), backend.handover(), backend.healthy) == (
            True, {}, None, True,
        )  # fmt: skip
        assert backend.takes_logs is Hooks.of(backend).takes_logs is True

    def test_a_backend_that_takes_no_logs_gets_metrics_only_and_reads_counts(self) -> None:
        """``takes_logs = False``: log records are not routed to it, metric records are, and
        its context reads the calls per logger and level."""

        class Counting(Reporting):
            takes_logs = False

        counting, capture = Counting(), CapturingBackend()
        pipeline = LoggingPipeline([counting, capture]).start()
        logger = HFTLogger(pipeline, "x")
        logger.info("i")
        logger.metric("m", 1)
        assert pipeline.flush()
        assert [r.msg for r in counting.records] == ["m"]
        assert sorted(capture.messages()) == ["i", "joined"]
        assert counting.context.record_counts()[("x", INFO)] == 1
        pipeline.close()

    def test_context_reports_as_the_pipeline(self) -> None:
        """attach gets a context: its warn reaches the other backends, metrics() answers."""
        reporting, capture = Reporting(), CapturingBackend()
        pipeline = LoggingPipeline([reporting, capture]).start()
        assert pipeline.flush()
        assert [r.msg for r in capture.records] == ["joined"]
        assert capture.records[0].fields == {"backend": "capture"}
        assert reporting.seen.queue_capacity == pipeline.capacity
        pipeline.close()
