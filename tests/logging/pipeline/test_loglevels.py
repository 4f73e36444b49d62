"""Levels per logger and their change while running: nop below, rebound at once, logged."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from hft.logging import DEBUG, INFO, WARNING, HFTLogger, LoggingPipeline, nop
from hft.logging.factory import create_pipeline_from_config
from hft.logging.pipeline.loglevels import CHANGED
from hft.logging.testing import CapturingBackend


def file_pipeline(path: Path, levels: dict[str, str]) -> LoggingPipeline:
    """A started pipeline writing every level to the JSON file *path* (no control socket)."""
    return create_pipeline_from_config(
        {
            "backends": {"file": {"file_path": str(path), "level": "DEBUG", "rotation": "none"}},
            "levels": levels,
            "control": {"enabled": False},
        }
    ).start()


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Every record in the JSON lines file *path*."""
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line]


class TestLoggerLevels:
    def test_a_level_below_the_loggers_own_is_the_module_nop(self) -> None:
        """Excluded by ``levels``, a method is the shared C no-op even if a backend takes it."""
        pipeline = LoggingPipeline([CapturingBackend(level=DEBUG)], levels={"": "INFO"})
        logger = HFTLogger(pipeline, "exchange.mexc.book")
        assert logger.debug is nop
        assert logger.info is not nop
        pipeline.close()

    def test_excluded_calls_are_not_even_counted(self) -> None:
        """Below its logger's level a call makes no record and no count."""
        backend = CapturingBackend(level=DEBUG)
        pipeline = LoggingPipeline([backend], levels={"x": "WARNING"}).start()
        logger = HFTLogger(pipeline, "x.y")
        logger.info("i")
        logger.warning("w")
        assert pipeline.flush()
        assert backend.messages() == ["w"]
        assert ("x.y", INFO) not in pipeline.record_counts()
        pipeline.close()

    def test_backend_levels_still_apply_after_the_logger_level(self) -> None:
        """A logger at DEBUG under a backend at WARNING still makes no DEBUG record."""
        pipeline = LoggingPipeline([CapturingBackend(level=WARNING)], levels={"x": "DEBUG"})
        logger = HFTLogger(pipeline, "x")
        assert logger.debug is nop
        assert pipeline.effective_level("x") == WARNING
        pipeline.close()

    def test_exception_follows_an_excluded_error(self) -> None:
        """With ERROR excluded by ``levels``, ``exception`` is the no-op too."""
        pipeline = LoggingPipeline([CapturingBackend(level=DEBUG)], levels={"": "CRITICAL"})
        logger = HFTLogger(pipeline, "x")
        assert logger.error is nop
        assert logger.exception is nop
        pipeline.close()


class TestSetLevel:
    def test_set_level_rebinds_the_loggers_under_the_prefix(self) -> None:
        """A logger under the prefix changes methods at once; one outside keeps its own."""
        pipeline = LoggingPipeline([CapturingBackend(level=DEBUG)], levels={"": "INFO"})
        book, other = HFTLogger(pipeline, "exchange.mexc.book"), HFTLogger(pipeline, "exchangex")
        info = other.info
        pipeline.set_level("exchange.mexc", "DEBUG")
        assert book.debug is not nop
        assert other.debug is nop
        assert other.info is info  # not affected: not even rebound
        pipeline.set_level("exchange.mexc", None)
        assert book.debug is nop
        pipeline.close()

    def test_levels_and_effective_levels_are_readable(self) -> None:
        """``levels()`` is the map in force; ``logger_levels()`` each live logger's level."""
        pipeline = LoggingPipeline([CapturingBackend(level=DEBUG)], levels={"": "INFO"})
        loggers = [HFTLogger(pipeline, "a.b"), HFTLogger(pipeline, "c")]
        pipeline.set_level("a", "error")
        assert pipeline.levels() == {"": "INFO", "a": "ERROR"}
        assert pipeline.logger_levels() == {"a.b": "ERROR", "c": "INFO"}
        assert pipeline.level_for("a.b") == 40
        assert len(loggers) == 2
        pipeline.close()

    def test_a_bound_logger_follows_its_name(self) -> None:
        """``bind()`` makes a logger of the same name: the same level, changed alike."""
        pipeline = LoggingPipeline([CapturingBackend(level=DEBUG)], levels={"": "INFO"})
        bound = HFTLogger(pipeline, "x").bind(order_id=1)
        assert bound.debug is nop
        pipeline.set_level("x", DEBUG)
        assert bound.debug is not nop
        pipeline.close()

    def test_every_change_is_logged_with_who_asked(self, tmp_path: Path) -> None:
        """A change is a WARNING of ``hft.logging`` naming the prefix, old, new and who."""
        path = tmp_path / "hft.log"
        pipeline = file_pipeline(path, {"": "INFO"})
        pipeline.set_level("exchange.mexc", "DEBUG")
        pipeline.set_level("", "ERROR", by="tests")
        pipeline.close()
        changes = [r for r in read_lines(path) if r["msg"] == CHANGED]
        assert [(r["level"], r["logger"], r["fields"]) for r in changes] == [
            ("WARNING", "hft.logging", {"prefix": "exchange.mexc", "old": "NOTSET",
                                        "new": "DEBUG", "by": "api"}),
            ("WARNING", "hft.logging", {"prefix": "", "old": "INFO", "new": "ERROR",
                                        "by": "tests"}),
        ]  # fmt: skip

    def test_replace_levels_logs_each_prefix_it_changes(self) -> None:
        """A reload puts a whole map in place and names every prefix that moved."""
        backend = CapturingBackend(level=DEBUG)
        pipeline = LoggingPipeline([backend], levels={"": "INFO", "a": "DEBUG"}).start()
        changed = pipeline.replace_levels({"": "INFO", "b": "ERROR"}, by="SIGHUP")
        assert pipeline.flush()
        assert changed == 2
        moves = [(r.fields["prefix"], r.fields["old"], r.fields["new"]) for r in backend.records]
        assert moves == [("a", "DEBUG", "NOTSET"), ("b", "NOTSET", "ERROR")]
        pipeline.close()


class TestUnderLoad:
    def test_no_loss_and_no_excluded_record_while_levels_change(self, tmp_path: Path) -> None:
        """Threads log while another flips a prefix between DEBUG and INFO: every record a
        call made is on disk, and no DEBUG record whose method was looked up wholly inside an
        exclusion (the generation, read before and after the look-up, even and equal) is."""
        path = tmp_path / "hft.log"
        pipeline = file_pipeline(path, {"": "INFO"})
        book = HFTLogger(pipeline, "exchange.mexc.book")
        generation, done, cycles = [0], threading.Event(), 300
        made: Counter[str] = Counter()
        lock = threading.Lock()

        def log(thread: int) -> None:
            i = debug = 0
            while not done.is_set():
                before = generation[0]
                method = book.debug  # the look-up the guarantee is about
                after = generation[0]
                method("d", thread=thread, i=i, before=before, after=after)
                debug += method is not nop
                book.info("i", thread=thread, i=i)
                i += 1
                time.sleep(0)  # let the other threads in between two calls
            with lock:
                made.update(debug=debug, info=i)

        def flip() -> None:
            for _ in range(cycles):
                generation[0] += 1  # odd: DEBUG may be on from here
                pipeline.set_level("exchange.mexc", "DEBUG")
                time.sleep(0)
                pipeline.set_level("exchange.mexc", "INFO")
                generation[0] += 1  # even: set_level(INFO) has returned, DEBUG is off
                time.sleep(0)
            done.set()

        threads = [threading.Thread(target=log, args=(n,)) for n in range(3)]
        threads.append(threading.Thread(target=flip))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        pipeline.close()
        records = [r for r in read_lines(path) if r["logger"] == "exchange.mexc.book"]
        debug = [r["fields"] for r in records if r["level"] == "DEBUG"]
        infos = {(r["fields"]["thread"], r["fields"]["i"]) for r in records if r["level"] == "INFO"}
        assert len(infos) == made["info"]  # nothing lost, whatever the changes
        assert len(debug) == made["debug"]
        assert 0 < len(debug) < made["info"]  # both states were hit
        inside = [f for f in debug if f["before"] == f["after"] and f["before"] % 2 == 0]
        assert inside == []
        changes = [r for r in read_lines(path) if r["msg"] == CHANGED]
        assert len(changes) == 2 * cycles
