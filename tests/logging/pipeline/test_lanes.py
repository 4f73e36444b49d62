"""The byte lane in a pipeline: the file as the classic path writes it, drops exact, bound too."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from hft.logging import (
    DEBUG,
    INFO,
    HFTLogger,
    LoggingPipeline,
    PrometheusBackend,
    create_backend_from_config,
)
from hft.logging.pipeline import lanes
from hft.logging.pipeline.pipeline import OverflowPolicy

_TS = re.compile(rb'"ts":"[^"]*",')


def _pipeline(path: Path, *, lane: bool, **settings: Any) -> LoggingPipeline:
    backend = create_backend_from_config("file", {"file_path": str(path), "rotation": "none"})
    return LoggingPipeline([backend], lane=lane, **settings)


def _log_everything(logger: HFTLogger) -> None:
    """Plain records and every kind the lane leaves to the dispatcher, interleaved."""
    bound = logger.bind(order_id="o-1")
    logger.info("fill", i=-1, px=0.0, side="", ok=True, none=None)
    for i in range(3000):
        logger.info("fill", i=i, px=1.5 * i, side="buy", ok=i % 2 == 0, none=None)
        if i % 500 == 0:
            logger.info("odd", i=i, items=[1, 2], obj=Path("/x"))
            logger.info("secret", i=i, api_key="k-123")
            bound.info("bound", i=i)
            try:
                raise ValueError(i)
            except ValueError:
                logger.error("failed", i=i, exc_info=True)


@pytest.mark.skipif(lanes.Lane is None, reason="the C paths are off (HFT_PURE_PYTHON=1)")
class TestPipeline:
    def test_the_file_is_the_same_with_and_without_the_lane(self, tmp_path: Path) -> None:
        """Every line of the lane's file is byte-identical to the classic path's, timestamps
        aside; lines are in the same order once sorted by seq."""
        files = []
        for lane in (True, False):
            path = tmp_path / f"lane-{lane}.log"
            pipeline = _pipeline(path, lane=lane).start()
            _log_everything(HFTLogger(pipeline, "x", ["t"]))
            pipeline.close()
            lines = [_TS.sub(b"", line) for line in path.read_bytes().splitlines()]
            files.append(sorted(lines, key=lambda line: orjson.loads(line)["seq"]))
            if lane:
                assert pipeline._lane is not None
                assert pipeline._lane.lane.pushed > 2900  # the plain records went by the lane
        with_lane, classic = files
        assert len(with_lane) == len(classic) == 1 + 3000 + 4 * 6
        assert with_lane == classic

    @pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest", "block"])
    def test_drops_are_exact_against_the_file(self, tmp_path: Path, policy: OverflowPolicy) -> None:
        """A stopped dispatcher and a small ring: lines on disk + dropped == calls."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(
            path, lane=True, ring_buffer_size=1000, overflow_policy=policy, block_timeout_ms=1
        )
        logger = HFTLogger(pipeline, "x")
        logger.info("learn", i=-1)
        pipeline.flush()
        for i in range(5000):
            logger.info("m", i=i)
        dropped = pipeline.dropped
        pipeline.close()
        mine = [line for line in path.read_bytes().splitlines() if b'"msg":"m"' in line]
        assert dropped == 5000 - len(mine) > 0
        assert pipeline._lane is not None
        assert pipeline._lane.lane.pushed >= 1000
        kept = [orjson.loads(line)["fields"]["i"] for line in mine]
        newest = policy == "drop_oldest"
        assert kept == (list(range(4000, 5000)) if newest else list(range(1000)))

    def test_levels_another_backend_takes_stay_on_the_classic_path(self, tmp_path: Path) -> None:
        """With the console taking WARNING and up, only INFO records use the lane."""
        from hft.logging.testing import CapturingBackend

        capture = CapturingBackend(level="WARNING")
        path = tmp_path / "hft.log"
        backend = create_backend_from_config("file", {"file_path": str(path)})
        pipeline = LoggingPipeline([backend, capture]).start()
        logger = HFTLogger(pipeline, "x")
        for i in range(100):
            logger.info("i", n=i)
            logger.warning("w", n=i)
        pipeline.close()
        assert [r.fields["n"] for r in capture.records if r.msg == "w"] == list(range(100))
        assert pipeline._lane is not None
        assert pipeline._lane.lane.pushed == 100  # from the first call: `n` learned at once
        assert len(path.read_bytes().splitlines()) == 200


def _fields_on_disk(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line)["fields"] for line in path.read_bytes().splitlines()]


@pytest.mark.skipif(lanes.Lane is None, reason="the C paths are off (HFT_PURE_PYTHON=1)")
class TestBoundContext:
    def test_a_bound_loggers_lines_are_the_classic_paths(self, tmp_path: Path) -> None:
        """A bound logger's plain records take the lane, and its lines are byte-identical to
        the classic path's: names and the settings' secrets masked, nested values, nan, long
        strings; a logger bound to an odd value keeps the classic path, lines alike too."""
        files = []
        for lane in (True, False):
            path = tmp_path / f"lane-{lane}.log"
            pipeline = _pipeline(
                path, lane=lane, secrets=["sk-live-0123456789"], max_field_chars=20
            ).start()
            logger = HFTLogger(pipeline, "x", ["t"])
            bound = logger.bind(order_id="o-1", px=1.25, nested={"a": [1, 2]}, token=None)
            bound = bound.bind(api_key="k1", note="key sk-live-0123456789", nan=math.nan)
            odd = logger.bind(where=Path("/x"))
            for i in range(300):
                fields = {"i": i, "px": 0.5 * i, "side": "buy" * (i % 9), "f": math.inf}
                bound.info("fill" if i % 3 else "m", **fields)
                odd.info("odd", **fields)
            pipeline.close()
            lines = [_TS.sub(b"", line) for line in path.read_bytes().splitlines()]
            files.append(sorted(lines, key=lambda line: orjson.loads(line)["seq"]))
            if lane:
                assert pipeline._lane is not None
                assert pipeline._lane.lane.pushed == 300
        with_lane, classic = files
        assert len(with_lane) == 600
        assert with_lane == classic
        first = orjson.loads(with_lane[0])["fields"]
        assert (first["api_key"], first["note"]) == ("**********", "key **********")

    def test_a_bound_secret_name_is_masked_on_disk(self, tmp_path: Path) -> None:
        """A bound ``api_key`` is masked in the file; a value long enough to be searched for in
        each message keeps its logger on the classic path, which masks it there too."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path, lane=True).start()
        logger = HFTLogger(pipeline, "x")
        short, long = logger.bind(api_key="k1"), logger.bind(api_key="k-123456")
        assert pipeline.lane_for(INFO, short._source)[0] is not None
        assert pipeline.lane_for(INFO, long._source) == (None, -1)
        short.info("short", i=1)
        long.info("long k-123456", i=2)
        pipeline.close()
        lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
        assert [(d["msg"], d["fields"]) for d in lines] == [
            ("short", {"api_key": "**********", "i": 1}),
            ("long **********", {"api_key": "**********", "i": 2}),
        ]
        assert b"k1" not in path.read_bytes()

    def test_a_call_field_overrides_a_bound_field(self, tmp_path: Path) -> None:
        """The call's value wins and keeps the bound field's place: ``{**context, **fields}``."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path, lane=True).start()
        HFTLogger(pipeline, "x").bind(a=1, b=2).info("m", c=4, b=3)
        pipeline.close()
        (fields,) = _fields_on_disk(path)
        assert list(fields.items()) == [("a", 1), ("b", 3), ("c", 4)]
        assert pipeline._lane is not None
        assert pipeline._lane.lane.pushed == 1

    def test_a_bound_source_has_a_lane(self, tmp_path: Path) -> None:
        """``lane_for`` gives a bound logger's source the lane, as it does an unbound one's."""
        pipeline = _pipeline(tmp_path / "hft.log", lane=True)
        bound = HFTLogger(pipeline, "x", ["t"]).bind(order_id="o-1")
        lane, source_id = pipeline.lane_for(INFO, bound._source)
        assert pipeline._lane is not None
        assert lane is pipeline._lane.lane
        assert source_id >= 0
        pipeline.close()

    def test_a_bound_value_is_written_as_it_was_when_bound(self, tmp_path: Path) -> None:
        """A bound value is rendered once, at bind time: a list changed later is not seen."""
        path = tmp_path / "hft.log"
        pipeline = _pipeline(path, lane=True).start()
        legs = [1]
        bound = HFTLogger(pipeline, "x").bind(legs=legs)
        legs.append(2)
        bound.info("m", i=1)
        pipeline.close()
        assert _fields_on_disk(path) == [{"legs": [1], "i": 1}]

    def test_prometheus_keeps_no_level_off_the_lane(self, tmp_path: Path) -> None:
        """Prometheus counting from DEBUG takes no log record: the file's INFO records still go
        down the lane, and DEBUG ones (only counted) go nowhere."""
        path = tmp_path / "hft.log"
        backend = create_backend_from_config("file", {"file_path": str(path)})
        pipeline = LoggingPipeline([backend, PrometheusBackend(push_gateway_url="")]).start()
        logger = HFTLogger(pipeline, "x")
        lane, source_id = pipeline.lane_for(INFO, logger._source)
        assert lane is not None
        assert source_id >= 0
        assert pipeline.lane_for(DEBUG, logger._source) == (None, -1)
        for i in range(100):
            logger.info("i", n=i)
            logger.debug("d", n=i)
        pipeline.close()
        assert lane.pushed == 100
        assert len(path.read_bytes().splitlines()) == 100
        assert pipeline.record_counts()[("x", DEBUG)] == 100
