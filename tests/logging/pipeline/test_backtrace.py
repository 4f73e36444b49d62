"""The backtrace: filtered records kept, written before the next error, on disk, in order."""

from __future__ import annotations

import calendar
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from hft.logging import DEBUG, ERROR, INFO, WARNING, HFTLogger, LoggingPipeline, context
from hft.logging.factory import create_pipeline_from_config
from hft.logging.pipeline.callsites import nop
from hft.logging.pipeline.limits import HELD_MSG
from hft.logging.testing import CapturingBackend


def _settings(path: Path, capacity: int = 2000, **backtrace: Any) -> dict[str, Any]:
    return {
        "backends": {
            "console": {"enabled": False},
            "file": {"file_path": str(path), "level": "INFO", "rotation": "none"},
        },
        "backtrace": {"enabled": True, "capacity": capacity, **backtrace},
    }


def _lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _written(settings: dict[str, Any], scenario: Any) -> list[dict[str, Any]]:
    """The file's lines after *scenario* ran on a real pipeline (writer process) and closed."""
    pipeline = create_pipeline_from_config(settings).start()
    try:
        scenario(HFTLogger(pipeline, "exchange.mexc", ["t"]))
    finally:
        pipeline.close()
    return _lines(Path(settings["backends"]["file"]["file_path"]))


class TestOnDisk:
    def test_kept_records_come_first_oldest_first_with_their_own_time_and_level(
        self, tmp_path: Path
    ) -> None:
        """The file at INFO shows the kept DEBUG records (and no other), marked, oldest first,
        each with the time it was logged (before the error was), then the error."""
        stamps: dict[str, int] = {}

        def scenario(log: HFTLogger) -> None:
            for i in range(5):
                log.debug("book", i=i)
            stamps["before_error"] = time.time_ns()
            log.error("order rejected", order_id="o-1")
            log.debug("kept after the error: dropped at close")

        lines = _written(_settings(tmp_path / "a.log"), scenario)
        assert [(x["level"], x["msg"]) for x in lines] == [("DEBUG", "book")] * 5 + [
            ("ERROR", "order rejected")
        ]
        kept, trigger = lines[:5], lines[5]
        assert [x["fields"] for x in kept] == [{"i": i, "backtrace": True} for i in range(5)]
        assert [x["seq"] for x in kept] == list(range(5))  # the backtrace's own numbering
        assert trigger["fields"] == {"order_id": "o-1"}
        times = [_ns(x["ts"]) for x in lines]
        assert times == sorted(times)
        assert times[4] <= stamps["before_error"] < times[5]  # logged then, not when flushed

    def test_only_the_last_capacity_records_are_kept(self, tmp_path: Path) -> None:
        """A full ring drops its oldest record: the error brings the last ``capacity``."""

        def scenario(log: HFTLogger) -> None:
            for i in range(50):
                log.debug("tick", i=i)
            log.error("gap")

        lines = _written(_settings(tmp_path / "c.log", capacity=7), scenario)
        assert [x["fields"].get("i") for x in lines] == [*range(43, 50), None]

    def test_a_second_error_brings_only_what_came_after_the_first(self, tmp_path: Path) -> None:
        """A flush empties the ring: the next error writes only records kept since."""

        def scenario(log: HFTLogger) -> None:
            log.debug("a")
            log.error("first")
            log.error("second, nothing kept")
            log.debug("b")
            log.warning("below flush_level: no flush")
            log.critical("third")

        msgs = [x["msg"] for x in _written(_settings(tmp_path / "t.log"), scenario)]
        lane = "below flush_level: no flush"  # the byte lane: framed before the next flush
        assert [m for m in msgs if m != lane] == [
            "a",
            "first",
            "second, nothing kept",
            "b",
            "third",
        ]
        assert msgs.index(lane) < msgs.index("b")

    def test_records_kept_at_close_are_dropped_unless_dumped(self, tmp_path: Path) -> None:
        """Close drops the ring (as spdlog does); ``dump_backtrace`` writes it on demand."""

        def scenario(log: HFTLogger) -> None:
            log.info("start")
            log.debug("dumped")
            assert log.pipeline.dump_backtrace() == 1
            assert log.pipeline.dump_backtrace() == 0
            log.debug("never written")

        lines = _written(_settings(tmp_path / "d.log"), scenario)
        assert [(x["msg"], x["fields"]) for x in lines] == [
            ("start", {}), ("dumped", {"backtrace": True})
        ]  # fmt: skip

    def test_flush_level_is_a_setting(self, tmp_path: Path) -> None:
        """``flush_level: WARNING``: a warning flushes; INFO is written as usual, not kept."""

        def scenario(log: HFTLogger) -> None:
            log.debug("kept")
            log.info("plain")
            log.warning("flush")

        lines = _written(_settings(tmp_path / "w.log", flush_level="WARNING"), scenario)
        assert [x["msg"] for x in lines] == ["plain", "kept", "flush"]

    def test_threads_lose_nothing_and_repeat_nothing(self, tmp_path: Path) -> None:
        """Threads keep records while others flush: each kept record is written once."""
        threads, per_thread = 4, 2000

        def scenario(log: HFTLogger) -> None:
            def work(t: int) -> None:
                for i in range(per_thread):
                    log.debug("k", t=t, i=i)
                    if i % 97 == 0:
                        log.error("e", t=t, i=i)

            workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            log.error("last")

        lines = _written(_settings(tmp_path / "x.log", capacity=100_000), scenario)
        kept = sorted((x["fields"]["t"], x["fields"]["i"]) for x in lines if x["msg"] == "k")
        assert kept == [(t, i) for t in range(threads) for i in range(per_thread)]
        assert lines[-1]["msg"] == "last"

    def test_no_record_counts_as_dropped(self, tmp_path: Path) -> None:
        """Kept records, flushed or dropped by the full ring, are not the pipeline's drops."""
        pipeline = create_pipeline_from_config(_settings(tmp_path / "n.log", capacity=10)).start()
        log = HFTLogger(pipeline, "x")
        for i in range(1000):
            log.debug("k", i=i)
            if i % 300 == 0:
                log.error("e")
        assert pipeline.flush()
        metrics = pipeline.metrics()
        pipeline.close()
        assert (pipeline.dropped, metrics.dropped) == (0, 0)


class TestRouting:
    def test_every_backend_taking_the_trigger_takes_the_kept_records(self) -> None:
        """Backends at INFO and ERROR take the kept records with an error; one at CRITICAL
        takes none of them, and no backend takes a DEBUG record that is not a backtrace's."""
        info, error, critical = (CapturingBackend(level, str(level)) for level in (INFO, ERROR, 50))
        pipeline = LoggingPipeline([info, error, critical], backtrace=100).start()
        log = HFTLogger(pipeline, "x")
        log.debug("kept")
        log.info("info")
        log.error("error")
        log.debug("after")
        pipeline.close()
        assert info.messages() == ["info", "kept", "error"]
        assert error.messages() == ["kept", "error"]
        assert critical.messages() == []
        assert error.logs()[0].fields == {"backtrace": True}

    def test_kept_records_are_finished_like_any(self) -> None:
        """Bound context merged, a sensitive field masked, an odd value rendered."""
        backend = CapturingBackend(INFO)
        pipeline = LoggingPipeline([backend], backtrace=10).start()
        log = HFTLogger(pipeline, "x").bind(order_id="o-9")
        log.debug("login", api_key="k-123", path=Path("/x"))
        log.error("failed")
        pipeline.close()
        kept = backend.logs()[0]
        assert kept.fields["order_id"] == "o-9"
        assert kept.fields["api_key"] != "k-123"
        assert kept.fields["path"] == repr(Path("/x"))

    def test_an_exception_is_captured_at_the_trigger(self) -> None:
        """``exc_info=True`` on a flushing error is the exception being handled then."""
        backend = CapturingBackend(INFO)
        pipeline = LoggingPipeline([backend], backtrace=10).start()
        log = HFTLogger(pipeline, "x")
        log.debug("kept")
        try:
            raise ValueError("bad fill")
        except ValueError:
            log.exception("failed")
        pipeline.close()
        assert backend.logs()[-1].fields["exc_info"]["type"] == "ValueError"


class TestCallSites:
    def test_off_a_filtered_level_is_the_no_op(self) -> None:
        """Without a backtrace DEBUG stays ``nop`` and ERROR the plain call site."""
        pipeline = LoggingPipeline([CapturingBackend(INFO)])
        log = HFTLogger(pipeline, "x")
        assert log.debug is nop
        assert pipeline.backtrace is None
        pipeline.close()

    def test_on_filtered_levels_keep_and_flush_levels_trigger(self) -> None:
        """With one, the filtered levels keep (not nop), enabled ones below flush_level are
        the plain call site, and a later close makes every method count again."""
        pipeline = LoggingPipeline([CapturingBackend(WARNING)], backtrace=5)
        log = HFTLogger(pipeline, "x")
        assert log.debug is not nop
        assert log.info is not nop
        log.debug("d")
        log.info("i")
        assert [r[4] for r in pipeline.backtrace.ring] == ["d", "i"]  # type: ignore[union-attr]
        assert [r[2] for r in pipeline.backtrace.ring] == [DEBUG, INFO]  # type: ignore[union-attr]
        pipeline.close()
        assert log.debug == pipeline.count_after_close

    @pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
    def test_a_forked_child_starts_with_an_empty_ring(self) -> None:
        """The parent's kept records are the parent's: a child's error does not write them."""
        pipeline = LoggingPipeline([CapturingBackend(INFO)], backtrace=10)
        log = HFTLogger(pipeline, "x")
        log.debug("parent's")
        backtrace = pipeline.backtrace
        assert backtrace is not None
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            os._exit(len(backtrace.ring))
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert len(backtrace.ring) == 1
        pipeline.close()


class TestTwin:
    def test_the_pure_python_twin_writes_the_same_file(self, tmp_path: Path) -> None:
        """The same calls with HFT_PURE_PYTHON=1 give the same lines, times aside."""
        script = (
            "import sys, json\n"
            "from hft.logging import HFTLogger\n"
            "from hft.logging.factory import create_pipeline_from_config\n"
            "p = create_pipeline_from_config(json.loads(sys.argv[1])).start()\n"
            "log = HFTLogger(p, 'x', ['t'])\n"
            "for i in range(20):\n"
            "    log.debug('k', i=i, px=1.5 * i)\n"
            "    log.info('i', i=i)\n"
            "    if i % 7 == 6: log.error('e', i=i)\n"
            "p.close()\n"
        )
        files = []
        for pure in ("0", "1"):
            path = tmp_path / f"pure-{pure}.log"
            settings = orjson.dumps(_settings(path, capacity=4)).decode()
            env = {**os.environ, "HFT_PURE_PYTHON": pure}
            subprocess.run([sys.executable, "-c", script, settings], env=env, check=True)
            lines = [{k: v for k, v in x.items() if k != "ts"} for x in _lines(path)]
            files.append(sorted(lines, key=lambda x: (x["msg"] == "k", x["seq"])))
        assert files[0] == files[1]
        assert len([x for x in files[0] if x["fields"].get("backtrace")]) == 2 * 4


class TestWithTheOtherFeatures:
    """Levels per logger, task context and rate limits (issue 29's other parts) with it on."""

    def test_levels_below_a_loggers_own_level_are_kept_too(self, tmp_path: Path) -> None:
        """A logger the ``levels`` map puts at WARNING keeps its DEBUG and INFO records (the
        file at DEBUG has them only from the backtrace); another logger's are written."""
        path = tmp_path / "l.log"
        settings = {**_settings(path), "levels": {"exchange": "WARNING"}}
        settings["backends"]["file"]["level"] = "DEBUG"
        pipeline = create_pipeline_from_config(settings).start()
        try:
            quiet, other = HFTLogger(pipeline, "exchange.mexc"), HFTLogger(pipeline, "oms")
            assert quiet.debug is not nop
            quiet.debug("book", i=1)
            quiet.info("fill", i=2)
            other.debug("route")
            quiet.error("order rejected")
        finally:
            pipeline.close()
        lines = [(x["logger"], x["msg"], x["fields"]) for x in _lines(path)]
        assert lines == [
            ("oms", "route", {}),
            ("exchange.mexc", "book", {"i": 1, "backtrace": True}),
            ("exchange.mexc", "fill", {"i": 2, "backtrace": True}),
            ("exchange.mexc", "order rejected", {}),
        ]

    def test_off_both_kinds_of_exclusion_are_the_no_op(self) -> None:
        """Without a backtrace a level no backend takes and one below the logger's level are
        both ``nop``, and so is ``exception`` when ``error`` is."""
        pipeline = LoggingPipeline([CapturingBackend(INFO)], levels={"x": "CRITICAL"})
        log, other = HFTLogger(pipeline, "x"), HFTLogger(pipeline, "y")
        assert (log.debug, log.warning, log.error, log.exception) == (nop, nop, nop, nop)
        assert other.debug is nop
        assert other.info is not nop
        pipeline.close()

    def test_a_level_change_at_run_time_turns_keeping_into_writing(self) -> None:
        """``set_level`` rebinds: DEBUG written while the logger is at DEBUG, kept again after."""
        backend = CapturingBackend(DEBUG)
        pipeline = LoggingPipeline([backend], backtrace=10, levels={"x": "INFO"}).start()
        log = HFTLogger(pipeline, "x")
        log.debug("kept 1")
        pipeline.set_level("x", "DEBUG")
        log.debug("written")
        pipeline.set_level("x", "INFO")
        log.debug("kept 2")
        log.error("e")
        pipeline.close()
        mine = [(r.msg, r.fields.get("backtrace")) for r in backend.logs() if r.logger == "x"]
        assert mine == [("written", None), ("kept 1", True), ("kept 2", True), ("e", None)]

    def test_the_task_context_is_merged_into_kept_records(self) -> None:
        """A record kept inside ``context(...)`` carries its fields when written, the trigger
        its own context (or none), as records written at once do."""
        backend = CapturingBackend(INFO)
        pipeline = LoggingPipeline([backend], backtrace=10).start()
        log = HFTLogger(pipeline, "x")
        with context(order_id="o-7"):
            log.debug("inside")
        log.debug("outside")
        with context(order_id="o-8"):
            log.error("e")
        pipeline.close()
        assert [(r.msg, r.fields.get("order_id")) for r in backend.logs()] == [
            ("inside", "o-7"), ("outside", None), ("e", "o-8")
        ]  # fmt: skip

    def test_rate_limits_apply_to_written_records_not_to_kept_ones(self) -> None:
        """Under a limit of one record an interval every kept record is kept, the first error
        flushes them, the second is held back (and said so at close); a limited logger's
        error flushes as the logger's does."""
        backend = CapturingBackend(INFO)
        limits = {"x": (0.001, 1000.0)}  # one record in 1000 s
        pipeline = LoggingPipeline([backend], backtrace=10, limits=limits).start()
        log, free = HFTLogger(pipeline, "x"), HFTLogger(pipeline, "y")
        for i in range(5):
            log.debug("k", i=i)
        log.error("first")
        log.error("held back")
        free.debug("kept by y")
        free.limit(per_s=0.001, interval_s=1000).error("limited y")
        pipeline.close()
        msgs = [r.msg for r in backend.logs()]
        assert msgs[:8] == [*["k"] * 5, "first", "kept by y", "limited y"]
        assert "held back" not in msgs
        assert HELD_MSG in msgs[8:]


def _ns(stamp: str) -> int:
    """``2026-01-01T00:00:00.123456789Z`` as nanoseconds (order only)."""
    seconds, _, fraction = stamp.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(seconds, "%Y-%m-%dT%H:%M:%S")) * 10**9 + int(fraction)
