"""dashboards/hft.json: valid JSON whose queries name only series hft exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import generate_latest

from hft.logging import HFTLogger, LoggingPipeline, PrometheusBackend

_DASHBOARD = Path(__file__).resolve().parents[1] / "dashboards" / "hft.json"
_NAME = re.compile(r"\b([a-z_][a-z0-9_]*)\{")
#: Series the Pushgateway adds to every pushed group.
_GATEWAY_SERIES = {"push_time_seconds"}


def _exported_names() -> set[str]:
    backend = PrometheusBackend(push_gateway_url="http://127.0.0.1:1")
    pipeline = LoggingPipeline([backend]).start()
    logger = HFTLogger(pipeline, "system", [])
    logger.info("one record")
    for name in (
        "logging_performance_compliant",
        "logging_latency_us",
        "logging_throughput_msgs_per_sec",
    ):
        logger.metric(name, 1)  # the performance monitor's metrics
    logger.flush()
    text = generate_latest(backend.registry).decode()
    pipeline.close()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"}


class TestDashboard:
    def test_every_queried_series_is_exported(self) -> None:
        """Each metric a panel queries is one the backend (or the gateway) exposes."""
        dashboard = json.loads(_DASHBOARD.read_text())
        exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
        queried = {name for expr in exprs for name in _NAME.findall(expr)}
        assert queried
        assert queried - _GATEWAY_SERIES <= _exported_names()
