"""Dispatcher: drop counts and reports, flush markers, shutdown, and a slice that fails."""

from __future__ import annotations

import threading
from pathlib import Path

import orjson
import pytest

from hft.logging import FileBackend, HFTLogger, LoggingPipeline
from hft.logging.backends.base import BackendContext
from hft.logging.pipeline.rings import OverflowPolicy
from hft.logging.record import Record
from hft.logging.testing import CapturingBackend
from tests.logging.pipeline.test_prepare import SlowRepr
from tests.servers import wait_until


def _lines(path: object) -> list[dict[str, object]]:
    with open(str(path), "rb") as f:
        return [orjson.loads(line) for line in f]


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


class TestFlushMarkers:
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


class TestFailedSlice:
    def test_a_slice_that_fails_is_counted_warned_about_once_and_the_loop_goes_on(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A slice the dispatcher cannot dispatch (a bug) is counted and its records dropped;
        the first failure is warned about, later ones only counted, and later slices go out."""
        captured = CapturingBackend()
        pipeline = LoggingPipeline([captured])
        dispatcher = pipeline._dispatcher
        dispatch, calls = dispatcher.dispatch, []

        def failing_twice(batch: list[Record]) -> None:
            calls.append(batch)
            if len(calls) <= 2:
                raise RuntimeError("bug")
            dispatch(batch)

        monkeypatch.setattr(dispatcher, "dispatch", failing_twice)
        HFTLogger(pipeline, "x").info("lost with its slice")
        pipeline.start()
        wait_until(lambda: pipeline.dispatch_errors == 2, what="two failed slices")
        HFTLogger(pipeline, "x").info("after")
        assert pipeline.flush(timeout=30)
        pipeline.close()
        assert (pipeline.dispatch_errors, pipeline.dropped) == (2, 1)
        assert [r.msg for r in captured.logs() if r.logger == "x"] == ["after"]
        (warning,) = [r for r in captured.logs() if r.msg == "log dispatch failed"]
        assert warning.fields["error"] == "RuntimeError: bug"

    def test_a_failing_housekeeping_step_is_counted_and_the_loop_goes_on(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A bug in a cycle's housekeeping (arming the latency samples, here) is counted and
        warned about like a failed slice; the dispatcher thread lives on and delivers."""
        captured = CapturingBackend()
        pipeline = LoggingPipeline([captured])
        loggers, failures = pipeline._loggers, []

        def arm_failing(force: bool = False) -> None:
            failures.append(force)
            raise RuntimeError("arming bug")

        monkeypatch.setattr(loggers, "arm_sampling", arm_failing)
        pipeline.start()
        wait_until(lambda: pipeline.dispatch_errors >= 2, what="two failed cycles")
        HFTLogger(pipeline, "x").info("after")
        assert pipeline.flush(timeout=30)
        assert pipeline._dispatcher.running
        pipeline.close()
        assert [r.msg for r in captured.logs() if r.logger == "x"] == ["after"]
        (warning,) = [r for r in captured.logs() if r.msg == "log dispatch failed"]
        assert warning.fields["error"] == "RuntimeError: arming bug"
