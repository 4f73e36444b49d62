"""Calls counted at the call site: one counter per (logger, level), kept for the pipeline's life."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from hft.logging import DEBUG, ERROR, INFO, WARNING, HFTLogger, LoggingPipeline
from hft.logging.pipeline import callsites, counts
from hft.logging.testing import CapturingBackend
from tests.logging.test_logger import Counting

_LEVELS = {"debug": DEBUG, "info": INFO, "warning": WARNING, "error": ERROR}


def _log_some(pipeline: LoggingPipeline) -> None:
    """Log 1, 2, 3, 4 calls at DEBUG..ERROR from "a", a bound view of it, and a logger "b"
    that is garbage-collected before anyone reads the counts."""
    a = HFTLogger(pipeline, "a")
    for n, method in enumerate(_LEVELS, start=1):
        for i in range(n):
            getattr(a.bind(k=i) if i % 2 else a, method)("m", i=i)
    b = HFTLogger(pipeline, "b")
    gone = weakref.ref(b)
    for i in range(7):
        b.info("m", i=i)
    del b
    gc.collect()
    assert gone() is None


def _expected() -> dict[tuple[str, int], int]:
    counts = {("a", level): n for n, level in enumerate(_LEVELS.values(), start=1)}
    return {**counts, ("a", 50): 0, **{("b", level): 0 for level in (*_LEVELS.values(), 50)},
            ("b", INFO): 7}  # fmt: skip


class TestCounts:
    def test_counts_are_exact_per_logger_and_level_after_the_logger_is_gone(self) -> None:
        """Calls per (logger, level) are exact, bound views included, and a garbage-collected
        logger keeps its count."""
        pipeline = LoggingPipeline([CapturingBackend()])
        _log_some(pipeline)
        assert pipeline.record_counts() == _expected()
        pipeline.close()

    def test_a_new_logger_of_the_same_name_adds_to_the_count(self) -> None:
        """A logger made later under a name adds to the same counter."""
        pipeline = LoggingPipeline([CapturingBackend()])
        HFTLogger(pipeline, "a").info("first")
        HFTLogger(pipeline, "a", ["other", "tags"]).info("second")
        assert pipeline.record_counts()[("a", INFO)] == 2
        assert pipeline.record_counter("a", INFO) is pipeline.record_counter("a", INFO)
        pipeline.close()

    def test_dropped_calls_are_counted(self) -> None:
        """A call whose record the full ring refuses is a call: counted, and dropped too."""
        pipeline = LoggingPipeline(
            [CapturingBackend()], ring_buffer_size=100, overflow_policy="drop_newest"
        )
        logger = HFTLogger(pipeline, "a")
        for i in range(500):
            logger.info("m", i=i)
        assert (pipeline.record_counts()[("a", INFO)], pipeline.dropped) == (500, 400)
        pipeline.close()

    def test_the_pure_python_twin_gives_the_same_counts(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The pure-Python call sites and counters count exactly what the C ones count."""
        seen = []
        for pure in (False, True):
            if pure:
                monkeypatch.setattr(callsites, "Emitter", None)
                monkeypatch.setattr(counts, "Counter", None)
            pipeline = LoggingPipeline([CapturingBackend()])
            _log_some(pipeline)
            assert isinstance(pipeline.record_counter("a", INFO), counts.PyCounter) or not pure
            seen.append(pipeline.record_counts())
            pipeline.close()
        assert seen[0] == seen[1] == _expected()

    @pytest.mark.skipif(
        isinstance(counts.new_counter(), counts.PyCounter),
        reason="the C paths are off (HFT_PURE_PYTHON=1)",
    )
    def test_counts_from_many_threads_are_exact(self) -> None:
        """Four threads calling one logger's methods: not one call is lost (C counter)."""
        pipeline = LoggingPipeline([CapturingBackend(level=WARNING)], ring_buffer_size=100,
                                   overflow_policy="drop_newest")  # fmt: skip
        pipeline.add_backend(Counting())
        logger = HFTLogger(pipeline, "a")

        def work() -> None:
            for i in range(20_000):
                logger.debug("m", i=i)  # count-only
                logger.warning("m", i=i)  # a record (mostly refused: the ring is small)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        counts = pipeline.record_counts()
        assert (counts[("a", DEBUG)], counts[("a", WARNING)]) == (80_000, 80_000)
        pipeline.close()
