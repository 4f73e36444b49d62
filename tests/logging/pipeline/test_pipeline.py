"""LoggingPipeline: lossless delivery, exact drop counts, flush, failover basics."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest

from hft.logging import FileBackend, HFTLogger, LoggingPipeline
from hft.logging.backends.base import BackendContext
from hft.logging.pipeline.pipeline import OverflowPolicy
from hft.logging.record import Record
from hft.logging.testing import CapturingBackend
from tests.logging.pipeline.test_prepare import SlowRepr


def _lines(path: object) -> list[dict[str, object]]:
    with open(str(path), "rb") as f:
        return [orjson.loads(line) for line in f]


class TestDelivery:
    def test_hundred_thousand_records_all_reach_the_file(self, tmp_path: Path) -> None:
        """Under the default block policy, 100,000 records logged in a loop all reach the disk."""
        path = tmp_path / "hft.log"
        pipeline = LoggingPipeline([FileBackend(file_path=path)]).start()
        logger = HFTLogger(pipeline, "bulk")
        for i in range(100_000):
            logger.info("order placed", i=i)
        pipeline.close()
        lines = _lines(path)
        assert len(lines) == 100_000
        assert [line["fields"]["i"] for line in lines] == list(range(100_000))  # type: ignore[index]
        assert pipeline.metrics().dropped == 0

    def test_flush_waits_for_delivery(self) -> None:
        """``flush`` returns once every earlier record has reached the backends."""
        captured = CapturingBackend()
        pipeline = LoggingPipeline([captured]).start()
        logger = HFTLogger(pipeline, "x")
        for i in range(500):
            logger.info("m", i=i)
        assert pipeline.flush()
        assert len(captured.logs()) == 500
        pipeline.close()

    def test_records_logged_before_start_are_delivered(self) -> None:
        """A pipeline not yet started keeps records and delivers them once it drains."""
        captured = CapturingBackend()
        pipeline = LoggingPipeline([captured], overflow_policy="drop_oldest")
        HFTLogger(pipeline, "x").info("early")
        pipeline.start()
        pipeline.close()
        assert captured.messages() == ["early"]


class TestDrops:
    @pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest"])
    def test_overflow_is_counted_exactly(self, policy: str) -> None:
        """When the ring overflows, the dispatcher knows exactly how many records were lost."""
        captured = CapturingBackend()
        pipeline = LoggingPipeline([captured], ring_buffer_size=1000, overflow_policy=policy)  # type: ignore[arg-type]
        logger = HFTLogger(pipeline, "x")
        for i in range(2500):
            logger.info("m", i=i)
        pipeline.close()
        kept = [r.fields["i"] for r in captured.logs() if r.logger == "x"]
        assert len(kept) == 1000
        assert kept == (list(range(1500, 2500)) if policy == "drop_oldest" else list(range(1000)))
        assert pipeline.metrics().dropped == 1500
        warning = [r for r in captured.logs() if r.logger == "hft.logging"]
        assert warning[0].fields["dropped"] == 1500


class TestExactDropsAtFlush:
    @pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest", "block"])
    def test_dropped_is_exact_as_soon_as_flush_returns(
        self, tmp_path: Path, policy: OverflowPolicy
    ) -> None:
        """A small ring overflows while the dispatcher is held up; right after ``flush()``
        (callers quiet) ``dropped`` is what was logged minus the lines in the file."""
        path = tmp_path / "hft.log"
        pipeline = LoggingPipeline(
            [FileBackend(file_path=path)],
            ring_buffer_size=64,
            overflow_policy=policy,
            block_timeout_ms=1,
        ).start()
        logger = HFTLogger(pipeline, "x")
        stall = SlowRepr("stall", delay_s=0.2)
        logger.info("stall", value=stall)
        assert stall.entered.wait(10)  # the dispatcher is rendering it: the ring fills
        for i in range(1000):
            logger.info("m", i=i)
        assert pipeline.flush(timeout=30)
        dropped, quiet = pipeline.metrics().dropped, pipeline.dropped
        on_disk = [line for line in _lines(path) if line["logger"] == "x"]
        pipeline.close()
        assert dropped > 0
        assert dropped == quiet == 1001 - len(on_disk)


class TestAuditPath:
    def test_pending_audit_records_are_not_counted_dropped(self) -> None:
        """Audit records waiting in their own ring are pending, not dropped."""
        pipeline = LoggingPipeline([CapturingBackend()])
        logger = HFTLogger(pipeline, "ops")
        logger.audit("a")
        logger.info("b")
        assert pipeline.dropped == 0
        pipeline.close()
        assert pipeline.dropped == 0

    def test_taking_audit_records_wakes_waiters_under_drop_oldest(self) -> None:
        """A call site blocked on a full audit ring is woken as soon as audit records are taken."""
        pipeline = LoggingPipeline([CapturingBackend()], overflow_policy="drop_oldest")
        notified: list[bool] = []

        class Spy(threading.Condition):
            def notify_all(self) -> None:
                notified.append(True)
                super().notify_all()

        pipeline._audit_gate.cond = Spy(threading.Lock())
        HFTLogger(pipeline, "ops").audit("a")
        pipeline._audit_gate.waiters = 1  # as if an audit call site were waiting for room
        pipeline._take(10)
        pipeline._audit_gate.waiters = 0
        assert notified == [True]
        pipeline.close()

    @pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
    def test_forked_child_loggers_reach_the_backends(self, tmp_path: Path) -> None:
        """After fork, existing loggers write to the child's new ring, which is drained."""
        path = tmp_path / "hft.log"
        pipeline = LoggingPipeline([FileBackend(file_path=path, level="DEBUG")]).start()
        logger = HFTLogger(pipeline, "ops")
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            logger.audit("from the child")
            pipeline.close()
            os._exit(0)
        assert os.waitpid(pid, 0)[1] == 0
        pipeline.close()
        assert b"from the child" in path.read_bytes()


class TestFlushUnderOverflow:
    def test_flush_completes_while_drop_oldest_evicts(self) -> None:
        """flush() under drop_oldest returns once everything logged before it is taken or
        evicted, even while another thread keeps the ring full."""
        pipeline = LoggingPipeline(
            [CapturingBackend()], ring_buffer_size=1000, overflow_policy="drop_oldest"
        ).start()
        logger = HFTLogger(pipeline, "x")
        stop = threading.Event()

        def burst() -> None:
            while not stop.is_set():
                logger.info("b")

        thread = threading.Thread(target=burst)
        thread.start()
        try:
            assert pipeline.flush(timeout=30)
        finally:
            stop.set()
            thread.join()
            pipeline.close()

    def test_metrics_obey_the_ring_bound(self) -> None:
        """Under drop_newest a flood of metric samples cannot grow the ring past its size."""
        pipeline = LoggingPipeline(
            [CapturingBackend()], ring_buffer_size=1000, overflow_policy="drop_newest"
        )
        logger = HFTLogger(pipeline, "x")
        for i in range(5000):
            logger.metric("m", i)
        assert len(pipeline.ring) == 1000
        pipeline.close()
        assert pipeline.metrics().dropped == 4000


class TestAfterClose:
    def test_calls_after_close_are_counted_not_queued(self) -> None:
        """After close, logging (audit too) queues nothing where nobody drains; it is counted."""
        pipeline = LoggingPipeline([CapturingBackend()]).start()
        logger = HFTLogger(pipeline, "x")
        pipeline.close()
        for _ in range(1000):
            logger.info("late")
            logger.audit("late")
        HFTLogger(pipeline, "made-late").warning("late")
        assert (len(pipeline.ring), len(pipeline.audit_ring)) == (0, 0)
        assert pipeline.calls_after_close == 2001
        assert not pipeline.flush()


class _WarnsOnLastFlush(CapturingBackend):
    """Like the syslog backend: its flush reports an outage through the pipeline."""

    def attach(self, context: BackendContext) -> None:
        self.context = context

    def flush(self) -> None:
        if self.records and not any(r.msg == "outage" for r in self.records):
            self.context.warn("outage")


class TestShutdown:
    def test_warnings_queued_by_the_final_flush_are_delivered(self) -> None:
        """A warning a backend queues while the pipeline flushes at close still reaches it."""
        backend = _WarnsOnLastFlush()
        pipeline = LoggingPipeline([backend])  # not started: close drains and flushes once
        HFTLogger(pipeline, "x").info("one")
        pipeline.close()
        assert backend.messages() == ["one", "outage"]


class TestWakeUp:
    @pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest", "block"])
    def test_the_call_reaching_gc_threshold_wakes_the_dispatcher(
        self, policy: OverflowPolicy
    ) -> None:
        """The call that brings the ring to gc_threshold of its capacity sets the wake-up
        (not one before it): a burst faster than the dispatcher's poll is still taken in time."""
        pipeline = LoggingPipeline(
            [CapturingBackend()], ring_buffer_size=1000, gc_threshold=0.5, overflow_policy=policy
        )
        logger = HFTLogger(pipeline, "burst")
        assert pipeline.wake_at == 500
        pipeline._wake.clear()
        for i in range(499):
            logger.info("m", i=i)
        assert not pipeline._wake.is_set()
        logger.info("m", i=499)
        assert pipeline._wake.is_set()
        pipeline.close()


class TestDrainDeadline:
    def test_close_past_the_deadline_says_what_was_left_and_returns(
        self, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """A backend whose write never returns: close with a deadline returns about then and
        says on stderr how many records were still waiting."""
        release = threading.Event()

        class Stuck(CapturingBackend):
            def write(self, records: Sequence[Record]) -> None:
                release.wait()
                super().write(records)

        pipeline = LoggingPipeline([Stuck()]).start()
        logger = HFTLogger(pipeline, "x")
        for i in range(200):
            logger.info("m", i=i)
        started = time.monotonic()
        pipeline.close(timeout=0.3)
        took = time.monotonic() - started
        release.set()
        assert took < 3, took
        err = capfd.readouterr().err
        assert "log records not delivered by the drain deadline" in err
