"""A small application for subprocess tests: an hft process whose metrics are checked from outside.

Run as ``python metrics_app.py CONFIG_JSON``. Backends: ``prometheus`` always; ``console``,
``file`` (a writer process) and ``audit`` with ``"dir"``; ``syslog`` with ``"syslog_port"``.
It logs records and metrics from many loggers until ``"samples"`` calls were timed, then prints
one JSON line: its call-latency bucket counts, the records logged and its ``/metrics`` page.
With ``"wait": true`` it prints ``ready`` and waits for a line on stdin before logging, and for
another before closing (the final push).
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from hft.logging import (
    AuditBackend,
    ConsoleBackend,
    HFTLogger,
    LoggingBackend,
    LoggingPipeline,
    LoggingTimer,
    PrometheusBackend,
    SyslogBackend,
    create_backend_from_config,
)

_LOGGERS = 64  #: the dispatcher arms up to 64 loggers for a timed call at a time


def _backends(config: dict[str, Any], prometheus: PrometheusBackend) -> list[LoggingBackend]:
    backends: list[LoggingBackend] = [prometheus]
    if "dir" in config:
        folder = Path(config["dir"])
        backends += [
            ConsoleBackend(stream=sys.stderr, colored_output=False),
            create_backend_from_config(  # a writer process, as base.yaml has it
                "file", {"file_path": str(folder / "hft.log")}, spill_dir=str(folder / "spill")
            ),
            AuditBackend(file_path=folder / "audit.log"),
        ]
    if "syslog_port" in config:
        spool = Path(config["dir"]) / "spool"
        backends.append(SyslogBackend(port=config["syslog_port"], spool_dir=spool))
    return backends


def _log(pipeline: LoggingPipeline, samples: int) -> int:
    """Log from many loggers until *samples* calls were timed; the number of records logged."""
    loggers = [HFTLogger(pipeline, f"bot.{i}", ["fleet"]) for i in range(_LOGGERS)]
    logged = 0
    while pipeline.metrics().call_histogram.count < samples:
        for i, logger in enumerate(loggers):
            logger.info("quote", i=i)
            logger.metric("tick_to_trade_us", 100 + i, tags={"venue": "mexc"})
        logged += len(loggers)
        time.sleep(0.005)
    first = loggers[0]
    with LoggingTimer(first, "ws_connection"):  # ws_connection_duration_us
        first.metric("orders_total", 3, tags={"job": "mine", "pid": "7", "symbol": "BTCUSDT"})
    first.audit("order.placed", order_id="o-1")
    pipeline.flush()
    while pipeline.call_samples.fresh:  # no call is timed any more: the last ones are moved
        time.sleep(0.005)
    return logged


def main() -> None:
    """Build the pipeline, log, report, close."""
    config = json.loads(sys.argv[1])
    prometheus = PrometheusBackend(
        push_gateway_url=config.get("gateway", ""), job_name="hft_app", push_interval=3600,
        scrape_enabled=True, scrape_port=config.get("scrape_port", 0),
    )  # fmt: skip
    pipeline = LoggingPipeline(_backends(config, prometheus)).start()
    if config.get("wait"):
        print("ready", flush=True)
        sys.stdin.readline()
    logged = _log(pipeline, config["samples"])
    assert prometheus.scrape_url is not None
    with urllib.request.urlopen(prometheus.scrape_url, timeout=10) as reply:  # noqa: S310 - http
        page = reply.read().decode()
    report = {"counts": pipeline.metrics().call_histogram.counts, "logged": logged, "page": page}
    print(json.dumps(report), flush=True)
    if config.get("wait"):
        sys.stdin.readline()
    pipeline.close()


if __name__ == "__main__":
    main()
