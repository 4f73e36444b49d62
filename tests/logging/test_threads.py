"""Many threads and many anyio tasks logging at once: per-producer order and exact totals."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import anyio
import pytest

from hft.logging import HFTLogger, LoggingPipeline
from hft.logging.backends.base import BaseBackend
from hft.logging.record import Record


class OrderChecker(BaseBackend):
    """Counts records per producer and remembers any that arrive out of order."""

    name = "order"

    def __init__(self) -> None:
        self.last: dict[object, int] = {}
        self.count: dict[object, int] = {}
        self.out_of_order: list[tuple[object, int]] = []

    def write(self, records: Sequence[Record]) -> None:
        """Check each producer's ``i`` grows by one."""
        for record in records:
            fields = record[5]
            if "p" not in fields:
                continue
            producer, i = fields["p"], fields["i"]
            if i != self.last.get(producer, -1) + 1:
                self.out_of_order.append((producer, i))
            self.last[producer] = i
            self.count[producer] = self.count.get(producer, 0) + 1


class TestThreads:
    @pytest.mark.slow
    def test_eight_threads_keep_their_order(self) -> None:
        """8 threads x 100,000 records under the block policy: each in order, none lost."""
        checker = OrderChecker()
        pipeline = LoggingPipeline([checker], overflow_policy="block", block_timeout_ms=10_000)
        pipeline.start()
        logger = HFTLogger(pipeline, "x")
        n = 100_000

        def produce(p: int) -> None:
            info = logger.info
            for i in range(n):
                info("m", p=p, i=i)

        threads = [threading.Thread(target=produce, args=(p,)) for p in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        pipeline.close()
        assert checker.out_of_order == []
        assert checker.count == dict.fromkeys(range(8), n)
        assert pipeline.metrics().dropped == 0


class TestTasks:
    def test_anyio_tasks_keep_their_order(self) -> None:
        """100 anyio tasks interleaving at every record: each task's records stay in order."""
        checker = OrderChecker()
        pipeline = LoggingPipeline([checker]).start()
        logger = HFTLogger(pipeline, "x")

        async def produce(p: int) -> None:
            for i in range(500):
                logger.info("m", p=p, i=i)
                await anyio.sleep(0)

        async def main() -> None:
            async with anyio.create_task_group() as group:
                for p in range(100):
                    group.start_soon(produce, p)

        anyio.run(main)
        pipeline.close()
        assert checker.out_of_order == []
        assert checker.count == dict.fromkeys(range(100), 500)
