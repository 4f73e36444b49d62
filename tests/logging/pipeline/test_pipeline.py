"""LoggingPipeline's life cycle: delivery from start to close, fork, calls after close, and the
drain deadline."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest

from hft.logging import FileBackend, HFTLogger, LoggingPipeline
from hft.logging.record import Record
from hft.logging.testing import CapturingBackend


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


class TestFork:
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
