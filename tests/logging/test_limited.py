"""Rate limits end to end: a real pipeline, its writer process, and the lines in the file."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from hft.config import ConfigError, LoggingConfigManager
from hft.logging import HFTLogger, LoggingPipeline, create_pipeline_from_config, nop
from hft.logging.levels import WARNING
from hft.logging.pipeline.limits import HELD_MSG

REPO_SETTINGS = Path(__file__).resolve().parents[2] / "settings"


def _config(log: Path, **logging: Any) -> dict[str, Any]:
    """A ``logging`` section with only the file backend (in its writer process), at DEBUG."""
    return {"backends": {"file": {"file_path": str(log), "rotation": "none"}}, **logging}


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    return tmp_path / "hft.log"


@pytest.fixture
def pipeline(log_file: Path) -> Iterator[LoggingPipeline]:
    started = create_pipeline_from_config(_config(log_file)).start()
    yield started
    started.close()


def lines(log_file: Path) -> list[dict[str, Any]]:
    """Every line of the file, parsed."""
    return [orjson.loads(line) for line in log_file.read_bytes().splitlines()]


def summaries(log_file: Path) -> list[dict[str, Any]]:
    return [line for line in lines(log_file) if line["msg"] == HELD_MSG]


def wait_for_summaries(pipeline: LoggingPipeline, log_file: Path, count: int) -> None:
    """Flush until *count* summaries are on disk (the sweep writes them with no later call)."""
    for _ in range(300):
        pipeline.flush()
        if len(summaries(log_file)) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"{count} summaries never reached the file")


class TestOneCallSite:
    def test_a_burst_keeps_ten_and_says_how_many_it_held(
        self, pipeline: LoggingPipeline, log_file: Path
    ) -> None:
        """1,000 calls at per_s=10: 10 lines and one summary of 990, first and last held."""
        log = HFTLogger(pipeline, "exchange.mexc.book")
        for i in range(1000):
            log.limit(per_s=10).warning("book gap", i=i, symbol="BTCUSDT")
        wait_for_summaries(pipeline, log_file, 1)  # no later call: the dispatcher's sweep
        written = lines(log_file)
        assert [line["fields"]["i"] for line in written[:10]] == list(range(10))
        (summary,) = written[10:]
        assert summary["msg"] == HELD_MSG
        assert summary["level"] == "WARNING"
        assert summary["logger"] == "exchange.mexc.book"
        assert summary["fields"] == {
            "held": 990, "limit": 10, "interval_s": 1.0,
            "first_msg": "book gap", "first_fields": {"i": 10, "symbol": "BTCUSDT"},
            "last_msg": "book gap", "last_fields": {"i": 999, "symbol": "BTCUSDT"},
        }  # fmt: skip

    def test_each_interval_lets_its_share_through(
        self, pipeline: LoggingPipeline, log_file: Path
    ) -> None:
        """Three bursts a window apart: 5 through each, and one summary of 95 for each."""
        log = HFTLogger(pipeline, "feed")
        for burst in range(3):
            for i in range(100):
                log.limit(per_s=10, interval_s=0.5).error("reconnect", burst=burst, i=i)
            time.sleep(0.6)
        wait_for_summaries(pipeline, log_file, 3)
        written = [line["fields"] for line in lines(log_file)]
        through = [(f["burst"], f["i"]) for f in written if "burst" in f]
        assert through == [(b, i) for b in range(3) for i in range(5)]
        held = [(s["held"], s["first_fields"], s["last_fields"]) for s in written if "held" in s]
        assert held == [(95, {"burst": b, "i": 5}, {"burst": b, "i": 99}) for b in range(3)]

    def test_the_call_that_opens_a_window_writes_the_last_summary_first(
        self, pipeline: LoggingPipeline, log_file: Path
    ) -> None:
        """A call after the window writes the summary itself, numbered before its own record
        (the summary takes the dispatcher's path, the record maybe the lane: seq orders them)."""
        book = HFTLogger(pipeline, "book").limit(per_s=4, interval_s=0.3)
        book.info("gap", n=1)
        book.info("gap", n=2)
        time.sleep(0.35)
        book.info("gap", n=3)
        pipeline.flush()
        written = [line["fields"] for line in sorted(lines(log_file), key=lambda x: x["seq"])]
        assert [fields.get("n", fields.get("held")) for fields in written] == [1, 1, 3]


class TestCallSites:
    def test_two_places_in_the_code_are_limited_apart(
        self, pipeline: LoggingPipeline, log_file: Path
    ) -> None:
        """The same limit at two lines: each lets its own 10 through and says its own count."""
        log = HFTLogger(pipeline, "orders")
        for i in range(50):
            log.limit(per_s=10).warning("a", i=i)
            log.limit(per_s=10).warning("b", i=i)
        wait_for_summaries(pipeline, log_file, 2)
        written = lines(log_file)
        assert sum(line["msg"] == "a" for line in written) == 10
        assert sum(line["msg"] == "b" for line in written) == 10
        held = sorted((s["fields"]["first_msg"], s["fields"]["held"]) for s in summaries(log_file))
        assert held == [("a", 40), ("b", 40)]

    def test_a_limited_logger_kept_in_a_variable_is_one_call_site(
        self, pipeline: LoggingPipeline, log_file: Path
    ) -> None:
        """Calls from two lines through one kept limited logger share its budget."""
        book = HFTLogger(pipeline, "book").limit(per_s=10)
        for i in range(30):
            book.info("bid", i=i)
            book.info("ask", i=i)
        wait_for_summaries(pipeline, log_file, 1)
        (summary,) = summaries(log_file)
        assert len(lines(log_file)) == 11
        assert summary["fields"]["held"] == 50
        assert (summary["fields"]["first_msg"], summary["fields"]["last_msg"]) == ("bid", "ask")

    def test_limit_gives_the_same_logger_at_one_place(self, pipeline: LoggingPipeline) -> None:
        """limit() in a loop is one object; another place, or another limit, is another."""
        log = HFTLogger(pipeline, "x")
        made = [log.limit(per_s=10) for _ in range(3)]
        assert made[0] is made[1] is made[2]
        assert log.limit(per_s=10) is not made[0]
        assert len({id(log.limit(per_s=n)) for n in (10, 20, 10, 20)}) == 2  # one place, 2 limits
        assert log.limit(per_s=10).warning is not log.warning

    def test_a_filtered_level_stays_the_no_op(self, tmp_path: Path) -> None:
        """A level the backends do not take is nop through a limit too."""
        config = {"backends": {"file": {"file_path": str(tmp_path / "x.log"), "level": "INFO"}}}
        pipeline = create_pipeline_from_config(config)
        log = HFTLogger(pipeline, "x")
        assert log.debug is nop
        assert log.limit(per_s=10).debug is nop
        pipeline.close()


class TestThreads:
    def test_threads_on_one_call_site_add_up_exactly(
        self, pipeline: LoggingPipeline, log_file: Path
    ) -> None:
        """8 threads x 2,000 calls on one limited site: let through + held = calls, on disk."""
        book = HFTLogger(pipeline, "book").limit(per_s=50, interval_s=0.05)

        def storm(t: int) -> None:
            warning = book.warning
            for i in range(2000):
                warning("gap", t=t, i=i)

        threads = [threading.Thread(target=storm, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        time.sleep(0.06)
        pipeline.close()  # a window still open is said at shutdown
        written = lines(log_file)
        through = sum(line["msg"] == "gap" for line in written)
        held = sum(s["fields"]["held"] for s in written if s["msg"] == HELD_MSG)
        assert through + held == 16_000
        assert through >= 2  # the first window's, at least
        assert pipeline.record_counts()[("book", WARNING)] == 16_000  # held calls are counted

    def test_close_says_what_an_open_window_held(self, log_file: Path) -> None:
        """A pipeline closed mid-window writes that window's summary first."""
        pipeline = create_pipeline_from_config(_config(log_file)).start()
        log = HFTLogger(pipeline, "x")
        for i in range(20):
            log.limit(per_s=0.001, interval_s=1000).info("m", i=i)  # 1 an interval
        pipeline.close()
        (summary,) = summaries(log_file)
        assert summary["fields"]["held"] == 19


class TestSettings:
    def test_a_prefix_limits_its_loggers_methods(self, log_file: Path) -> None:
        """logging.limits: the longest prefix's limit applies to each method of a logger."""
        limits = {"exchange": {"per_s": 100}, "exchange.mexc": {"per_s": 5}}
        pipeline = create_pipeline_from_config(_config(log_file, limits=limits)).start()
        book, gate, other = (
            HFTLogger(pipeline, n) for n in ("exchange.mexc.book", "exchange.gate", "s")
        )
        for i in range(200):
            book.warning("m", i=i)
            gate.warning("g", i=i)
            other.warning("o", i=i)
        pipeline.close()
        written = lines(log_file)
        count = {msg: sum(line["msg"] == msg for line in written) for msg in ("m", "g", "o")}
        assert count == {"m": 5, "g": 100, "o": 200}
        held = sorted((s["logger"], s["fields"]["held"]) for s in summaries(log_file))
        assert held == [("exchange.gate", 100), ("exchange.mexc.book", 195)]

    def test_a_limit_that_lets_nothing_through_names_its_key(self, tmp_path: Path) -> None:
        """A limit below one record an interval is refused, naming the file and the key."""
        settings = tmp_path / "settings"
        shutil.copytree(REPO_SETTINGS, settings)
        overlay = {"logging": {"limits": {"exchange.mexc": {"per_s": 0.5, "interval_s": 1}}}}
        (settings / "dev.yaml").write_text(yaml.safe_dump(overlay), encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            LoggingConfigManager("dev", settings, env={})
        message = str(caught.value)
        assert str(settings / "dev.yaml") in message
        assert "logging.limits.exchange.mexc" in message
        assert "must let one record through" in message
