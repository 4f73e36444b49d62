"""The task context: fields that follow a task or thread into every record, read on disk."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from hft.logging import (
    HFTLogger,
    LoggingPipeline,
    bind_context,
    clear_context,
    context,
    create_backend_from_config,
    get_context,
    nop,
    reset_context,
    unbind_context,
)
from hft.logging.pipeline import lanes
from hft.logging.render.lines import REDACTED

_TS = re.compile(rb'"ts":"[^"]*",')


def _pipeline(path: Path, *, lane: bool = True, **settings: Any) -> LoggingPipeline:
    """A running pipeline writing *path* through the writer process."""
    backend = create_backend_from_config("file", {"file_path": str(path), "rotation": "none"})
    return LoggingPipeline([backend], lane=lane, **settings).start()


def _lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


class TestApi:
    def test_the_block_binds_and_restores(self) -> None:
        """Inside ``with context`` the fields are there, nested blocks add to them, and each
        exit restores what was before, whatever the block bound."""
        assert get_context() == {}
        with context(order_id=1, strategy="mm") as fields:
            assert fields == {"order_id": 1, "strategy": "mm"}
            with context(order_id=2, venue="mexc"):
                assert get_context() == {"order_id": 2, "strategy": "mm", "venue": "mexc"}
                bind_context(extra=True)
            assert get_context() == {"order_id": 1, "strategy": "mm"}
        assert get_context() == {}

    def test_bind_unbind_clear_and_reset(self) -> None:
        """The functions, as structlog.contextvars users expect them; a token restores."""
        first = bind_context(a=1, b=2)
        unbind_context("a", "missing")
        assert get_context() == {"b": 2}
        clear_context()
        assert get_context() == {}
        reset_context(first)
        assert get_context() == {}

    def test_one_instance_nests_in_itself(self) -> None:
        """The same ``context`` object entered twice restores in order."""
        block = context(n=1)
        with block, context(n=2), block:
            assert get_context() == {"n": 1}
        assert get_context() == {}


class TestTasks:
    def test_concurrent_asyncio_tasks_each_log_their_own_order(self, tmp_path: Path) -> None:
        """Many tasks, interleaved awaits, one logger: every line carries its task's id."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path)
        log = HFTLogger(pipeline, "orders")

        async def order(task: int) -> None:
            with context(order_id=f"o-{task}"):
                for step in range(20):
                    log.info("step", task=task, step=step)
                    await asyncio.sleep(0)

        async def main() -> None:
            await asyncio.gather(*(order(task) for task in range(50)))

        asyncio.run(main())
        pipeline.close()
        lines = _lines(path)
        assert len(lines) == 50 * 20
        assert all(line["fields"]["order_id"] == f"o-{line['fields']['task']}" for line in lines)

    def test_anyio_child_tasks_inherit_and_do_not_leak_back(self, tmp_path: Path) -> None:
        """A child started inside a context has it; what a child binds stays in the child."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path)
        log = HFTLogger(pipeline, "orders")

        async def child(name: str) -> None:
            log.info("child starts", who=name)
            bind_context(leg=name)
            await anyio.sleep(0)
            log.info("child bound", who=name)

        async def main() -> None:
            with context(strategy="arb"):
                async with anyio.create_task_group() as group:
                    for name in ("a", "b"):
                        group.start_soon(child, name)
                log.info("parent after")
            log.info("parent outside")

        anyio.run(main)
        pipeline.close()
        got = {(line["msg"], line["fields"].get("who")): line["fields"] for line in _lines(path)}
        assert got["child starts", "a"] == {"strategy": "arb", "who": "a"}
        assert got["child bound", "b"] == {"strategy": "arb", "leg": "b", "who": "b"}
        assert got["parent after", None] == {"strategy": "arb"}
        assert got["parent outside", None] == {}

    def test_threads_do_not_see_each_others_context(self, tmp_path: Path) -> None:
        """Four threads, each in its own context, logging at once: no line crosses over."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path)
        log = HFTLogger(pipeline, "orders")
        start = threading.Barrier(4)

        def work(n: int) -> None:
            start.wait()
            with context(thread=n):
                for i in range(500):
                    log.info("t", n=n, i=i)
            log.info("after", n=n)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        pipeline.close()
        lines = _lines(path)
        assert len(lines) == 4 * 501
        for line in lines:
            fields = line["fields"]
            expected = {} if line["msg"] == "after" else {"thread": fields["n"]}
            assert {k: v for k, v in fields.items() if k == "thread"} == expected


class TestRecords:
    def test_call_fields_win_over_bound_over_task(self, tmp_path: Path) -> None:
        """Precedence as in structlog: the call's fields, then the bound context, then the
        task context; keys keep the task context's order first."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path)
        bound = HFTLogger(pipeline, "orders").bind(strategy="bound", venue="mexc")
        with context(strategy="task", order_id=7, side="buy"):
            bound.info("m", side="sell")
        pipeline.close()
        (line,) = _lines(path)
        assert line["fields"] == {
            "strategy": "bound",
            "order_id": 7,
            "side": "sell",
            "venue": "mexc",
        }
        assert list(line["fields"]) == ["strategy", "order_id", "side", "venue"]

    def test_sensitive_names_and_settings_secrets_are_masked(self, tmp_path: Path) -> None:
        """A sensitive name in the context is redacted and a settings secret masked in its
        values, on the lane and on the classic path alike."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path, secrets=["s3cr3t-value"])
        log = HFTLogger(pipeline, "orders")
        with context(api_key="k-123456", note="has s3cr3t-value inside"):
            log.info("plain", n=1)
            log.info("odd", items=[1, 2])
        pipeline.close()
        text = path.read_text()
        assert "k-123456" not in text
        assert "s3cr3t-value" not in text
        assert [line["fields"]["api_key"] for line in _lines(path)] == [REDACTED, REDACTED]

    def test_a_filtered_level_stays_the_no_op(self, tmp_path: Path) -> None:
        """With DEBUG off, ``log.debug`` is ``nop`` inside a context too: no lookup, no record."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path)
        log = HFTLogger(pipeline, "orders")
        with context(order_id=1):
            assert log.debug is nop
            log.debug("never")
        pipeline.close()
        assert path.read_bytes() == b""


@pytest.mark.skipif(lanes.Lane is None, reason="the C paths are off (HFT_PURE_PYTHON=1)")
class TestLane:
    def test_records_with_context_take_the_lane_and_match_the_classic_path(
        self, tmp_path: Path
    ) -> None:
        """With the lane, records inside contexts go by it (counted there), and the file is
        byte-identical, timestamps aside, to the classic path's."""
        files = []
        for lane in (True, False):
            path = tmp_path / f"lane-{lane}.log"
            pipeline = _pipeline(path, lane=lane)
            log = HFTLogger(pipeline, "orders", ["mexc"])
            log.info("warm", i=-1)
            pipeline.flush()
            bound = log.bind(venue="mexc")
            for i in range(200):
                with context(order_id=i, strategy="mm"):
                    log.info("fill", i=i, px=1.5 * i)
                    bound.warning("bound", i=i)
                    if i % 50 == 0:
                        log.info("odd", i=i, items=[i])
            if lane:
                assert pipeline._lane is not None
                assert pipeline._lane.lane.pushed == 1 + 200 * 2  # every plain one by the lane
            pipeline.close()
            lines = [_TS.sub(b"", line) for line in path.read_bytes().splitlines()]
            files.append(sorted(lines, key=lambda line: orjson.loads(line)["seq"]))
        with_lane, classic = files
        assert len(with_lane) == 1 + 200 * 2 + 4
        assert with_lane == classic

    def test_lane_ids_stay_bounded_over_many_contexts(self, tmp_path: Path) -> None:
        """A context per order, thousands of orders: the ids leased stay few (reused once the
        lane took their records), and every record is on disk with its own order."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path)
        log = HFTLogger(pipeline, "orders")
        log.info("warm", i=-1)
        for i in range(5000):
            with context(order_id=i):
                log.info("fill", i=i)
            if i % 500 == 0:
                pipeline.flush()
        feed = pipeline._lane
        assert feed is not None
        leased = feed.context_ids.leased
        pipeline.close()
        assert leased <= 1000
        lines = _lines(path)[1:]
        assert [(line["fields"]["i"], line["fields"]["order_id"]) for line in lines] == [
            (i, i) for i in range(5000)
        ]
