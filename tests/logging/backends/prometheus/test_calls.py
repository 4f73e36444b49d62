"""``hft_log_records_total``: calls counted at the call site, read when pushed or scraped, with
the shipped prod levels (file at WARNING, Prometheus at DEBUG)."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from hft.logging import (
    WARNING,
    HFTLogger,
    LoggingPipeline,
    PrometheusBackend,
    create_backend_from_config,
)
from hft.logging.pipeline import lanes
from tests.servers import Pushgateway, http_get

_NAME = "strategy.arb"


def _scraped(url: str) -> dict[tuple[str, str], float]:
    """``hft_log_records_total`` of a scrape, by (logger, level)."""
    return {
        (s.labels["logger"], s.labels["level"]): s.value
        for family in text_string_to_metric_families(http_get(url))
        for s in family.samples
        if s.name == "hft_log_records_total"
    }


def _prod_like(path: Path, gateway_url: str = "") -> tuple[LoggingPipeline, PrometheusBackend]:
    """The shipped prod levels: a file (writer process) at WARNING, Prometheus at DEBUG, with
    a scrape endpoint and, given a gateway, an hour's push interval (pushed at close)."""
    file = create_backend_from_config("file", {"file_path": str(path), "level": "WARNING"})
    prometheus = PrometheusBackend(
        push_gateway_url=gateway_url, job_name="hft_test", push_interval=3600,
        scrape_enabled=True, scrape_port=0,
    )  # fmt: skip
    return LoggingPipeline([file, prometheus]), prometheus


def _log(pipeline: LoggingPipeline) -> HFTLogger:
    """3 DEBUG, 5 INFO, 2 WARNING calls from strategy.arb; 4 INFO from a logger that is
    garbage-collected at once."""
    logger = HFTLogger(pipeline, _NAME, ["arb"])
    for i in range(5):
        if i < 3:
            logger.debug("quote", i=i)
        logger.info("fill", i=i)
        if i < 2:
            logger.warning("slow venue", i=i)
    gone = HFTLogger(pipeline, "gone")
    collected = weakref.ref(gone)
    for i in range(4):
        gone.info("m", i=i)
    del gone
    gc.collect()
    assert collected() is None
    return logger


_COUNTS = {(_NAME, "DEBUG"): 3, (_NAME, "INFO"): 5, (_NAME, "WARNING"): 2, ("gone", "INFO"): 4}


class TestProdLevels:
    def test_debug_and_info_are_counted_only_and_pushed_and_scraped_exactly(
        self, pushgateway: Pushgateway, tmp_path: Path
    ) -> None:
        """DEBUG and INFO calls write nothing to the file; a scrape and the final push to a
        real gateway count every call, a garbage-collected logger's too; WARNING takes the
        lane."""
        path = tmp_path / "hft.log"
        pipeline, prometheus = _prod_like(path, pushgateway.url)
        pipeline.start()
        logger = _log(pipeline)
        assert prometheus.scrape_url is not None
        scraped = _scraped(prometheus.scrape_url)
        assert {k: v for k, v in scraped.items() if v} == _COUNTS
        if lanes.Lane is not None:  # the C call site: WARNING records go down the byte lane
            assert pipeline.lane_for(WARNING, logger._source)[0] is not None
        pipeline.close()
        lines = path.read_text().splitlines()
        assert len(lines) == 2
        assert all('"level":"WARNING"' in line for line in lines)
        for (name, level), calls in _COUNTS.items():
            assert pushgateway.value("hft_log_records_total", logger=name, level=level) == calls
        assert pushgateway.value("hft_log_records_total", logger=_NAME, level="ERROR") == 0

    def test_counts_are_read_at_scrape_time_without_the_dispatcher(self, tmp_path: Path) -> None:
        """A pipeline whose dispatcher never ran still shows every call at the next scrape."""
        pipeline, prometheus = _prod_like(tmp_path / "hft.log")
        logger = _log(pipeline)
        assert prometheus.scrape_url is not None
        assert not pipeline.running
        assert _scraped(prometheus.scrape_url)[(_NAME, "INFO")] == 5
        logger.info("one more")
        assert _scraped(prometheus.scrape_url)[(_NAME, "INFO")] == 6
        pipeline.close()

    def test_prometheus_is_routed_metric_records_only(self, tmp_path: Path) -> None:
        """Log records of every level pass Prometheus by; its metric records still reach it."""
        pipeline, prometheus = _prod_like(tmp_path / "hft.log")
        pipeline.start()
        logger = _log(pipeline)
        logger.error("e")
        logger.metric("orders_total", 2)
        assert pipeline.flush()
        assert pipeline.metrics().backends["prometheus"].routed == 1
        assert prometheus.registry.get_sample_value("orders_total") == 2
        pipeline.close()
