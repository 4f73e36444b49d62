"""The call sites' side of the rings: when a call wakes the dispatcher, and the ring's bound."""

from __future__ import annotations

import pytest

from hft.logging import HFTLogger, LoggingPipeline
from hft.logging.pipeline.rings import OverflowPolicy
from hft.logging.testing import CapturingBackend


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
        pipeline.rings.wakeup.clear()
        for i in range(499):
            logger.info("m", i=i)
        assert not pipeline.rings.wakeup.is_set()
        logger.info("m", i=499)
        assert pipeline.rings.wakeup.is_set()
        pipeline.close()


class TestBound:
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
