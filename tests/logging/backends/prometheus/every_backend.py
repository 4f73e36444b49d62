"""A process that logs through every backend, then prints its own ``/metrics`` page.

Run as ``python every_backend.py DIR GATEWAY_URL [SYSLOG_PORT]``: console (to stderr), JSON file
(writer process), audit trail, Prometheus (scrape and push) and, given a port, syslog over TCP.
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

from hft.logging import (
    AuditBackend,
    ConsoleBackend,
    FileBackend,
    HFTLogger,
    LoggingBackend,
    LoggingPipeline,
    LoggingTimer,
    PrometheusBackend,
    SyslogBackend,
)


def main(directory: Path, gateway: str, syslog_port: int | None) -> None:
    """Log records, metrics and audit events, print the scrape page, push and close."""
    prometheus = PrometheusBackend(
        push_gateway_url=gateway, job_name="hft_every", push_interval=3600, scrape_enabled=True,
        scrape_port=0,
    )  # fmt: skip
    backends: list[LoggingBackend] = [
        ConsoleBackend(stream=sys.stderr, colored_output=False),
        FileBackend(file_path=directory / "hft.log"),
        AuditBackend(file_path=directory / "audit.log"),
        prometheus,
    ]
    if syslog_port is not None:
        backends.append(SyslogBackend(host="127.0.0.1", port=syslog_port, transport="tcp"))
    pipeline = LoggingPipeline(backends).start()
    logger = HFTLogger(pipeline, "strategy.arb", ["arb"])
    for i in range(1000):
        logger.info("quote", i=i)
        logger.metric("tick_to_trade_us", 100 + i, tags={"venue": "mexc"})
        with LoggingTimer(logger, "ws_connection"):  # ws_connection_duration_us
            pass
    logger.metric("orders_total", 3, tags={"job": "mine", "symbol": "BTCUSDT"})
    logger.audit("order.placed", order_id="o-1")
    pipeline.flush()
    assert prometheus.scrape_url is not None
    with urllib.request.urlopen(prometheus.scrape_url, timeout=10) as reply:  # noqa: S310 - http
        sys.stdout.write(reply.read().decode())
    sys.stdout.flush()
    pipeline.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None)
