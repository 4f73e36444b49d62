"""dashboards/hft.json and the docs' metrics page: queries that name only series hft exports,
and latencies aggregated across processes from summed histogram buckets."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import generate_latest

from hft.logging import HFTLogger, LoggingPipeline, PrometheusBackend

_ROOT = Path(__file__).resolve().parents[1]
_DASHBOARD = _ROOT / "dashboards" / "hft.json"
_NAME = re.compile(r"\b([a-z_][a-z0-9_]*)\{")
_HFT_NAME = re.compile(r"\bhft_[a-z0-9_]*[a-z0-9]\b")
_BUCKETS = re.compile(r"[a-z0-9_]+_bucket\b")
#: How a latency is read for a fleet: a quantile of the buckets summed across processes.
_FLEET_QUANTILE = re.compile(
    r"histogram_quantile\(0\.\d+, sum by \(le\) \(rate\(([a-z0-9_]+_bucket)[{\[]"
)
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


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads(_DASHBOARD.read_text())
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def _docs_queries() -> list[str]:
    """The code spans of docs/metrics.md ("Metrics and Grafana") that are queries."""
    page = (_ROOT / "docs" / "metrics.md").read_text()
    return [span for span in re.findall(r"`([^`\n]+)`", page) if "(" in span and "hft_" in span]


class TestDashboard:
    def test_every_queried_series_is_exported(self) -> None:
        """Each metric a panel queries is one the backend (or the gateway) exposes."""
        queried = {name for expr in _dashboard_exprs() for name in _NAME.findall(expr)}
        assert queried
        assert queried - _GATEWAY_SERIES <= _exported_names()

    def test_latency_panels_aggregate_buckets_across_processes(self) -> None:
        """Every bucket series is read as histogram_quantile over a sum by (le) of its rate."""
        exprs = [e for e in _dashboard_exprs() if _BUCKETS.search(e)]
        wanted = {
            "hft_logging_call_duration_seconds_bucket",
            "hft_logging_delivery_latency_seconds_bucket",
        }
        assert wanted <= {m for e in exprs for m in _FLEET_QUANTILE.findall(e)}
        assert all(_FLEET_QUANTILE.search(e) for e in exprs)


class TestMetricsPage:
    def test_queries_name_exported_series(self) -> None:
        """Each hft_* series a query on the metrics page names is one the backend exposes."""
        queries = _docs_queries()
        named = {name for query in queries for name in _HFT_NAME.findall(query)}
        assert "hft_logging_call_duration_seconds_bucket" in named
        assert named <= _exported_names()

    def test_latency_queries_aggregate_buckets(self) -> None:
        """A query over buckets on the metrics page is histogram_quantile of a sum by (le)."""
        bucket_queries = [q for q in _docs_queries() if _BUCKETS.search(q)]
        assert bucket_queries
        assert all(_FLEET_QUANTILE.search(q) for q in bucket_queries)
