"""A fleet's call-site latency: a real Prometheus scrapes three hft processes and answers one
p99 for them all from their summed histogram buckets."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import hft
from hft.logging.pipeline.metrics import CALL_BUCKETS_NS
from tests.servers import PrometheusServer, free_port, wait_until

_SRC = str(Path(hft.__file__).resolve().parents[1])
_APP = str(Path(__file__).with_name("metrics_app.py"))
_BUCKETS = "hft_logging_call_duration_seconds_bucket"
_FLEET_P99 = f"histogram_quantile(0.99, sum by (le) (rate({_BUCKETS}[1m])))"
_COUNTS = "sum by (instance) (hft_logging_call_duration_seconds_count)"


def _start(port: int) -> subprocess.Popen[str]:
    config = {"scrape_port": port, "samples": 300, "wait": True}
    return subprocess.Popen(
        [sys.executable, _APP, json.dumps(config)], env={**os.environ, "PYTHONPATH": _SRC},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip


def _p99_bucket(counts: list[int]) -> tuple[float, float]:
    """Bounds (s) of the bucket that holds a process's own 99th percentile sample."""
    bounds = [0.0, *(b / 1e9 for b in CALL_BUCKETS_NS)]
    rank, seen = 0.99 * sum(counts), 0
    for i, count in enumerate(counts):
        seen += count
        if seen >= rank:
            return bounds[i], bounds[min(i + 1, len(bounds) - 1)]
    raise AssertionError(f"no samples: {counts}")


class TestFleet:
    def test_prometheus_answers_a_fleet_wide_p99_call_latency(self, tmp_path: Path) -> None:
        """Prometheus holds each process's timed calls, and histogram_quantile over the summed
        buckets gives one p99 between the lowest and highest of the processes' own p99 buckets."""
        ports = [free_port() for _ in range(3)]
        apps = [_start(port) for port in ports]
        prometheus = PrometheusServer(tmp_path, [f"127.0.0.1:{p}" for p in ports])
        try:
            for app in apps:
                assert app.stdout is not None
                assert app.stdout.readline().strip() == "ready"
            prometheus.start()  # sees every histogram empty first: rate() then covers it all
            wait_until(lambda: len(prometheus.query(_COUNTS)) == 3, timeout=30, what="scrapes")
            assert {v for _, v in prometheus.query(_COUNTS)} == {0.0}
            reports = []
            for app in apps:
                assert app.stdin is not None
                assert app.stdout is not None
                app.stdin.write("go\n")
                app.stdin.flush()
                reports.append(json.loads(app.stdout.readline()))
            timed = [float(sum(r["counts"])) for r in reports]
            wanted = {f"127.0.0.1:{p}": n for p, n in zip(ports, timed, strict=True)}
            wait_until(
                lambda: {m["instance"]: v for m, v in prometheus.query(_COUNTS)} == wanted,
                timeout=30, what="Prometheus to scrape every timed call",
            )  # fmt: skip
            ((labels, p99),) = prometheus.query(_FLEET_P99)
        finally:
            for app in apps:
                app.communicate("\n", timeout=30)
            prometheus.stop()
        assert labels == {}
        assert math.isfinite(p99)
        buckets = [_p99_bucket(r["counts"]) for r in reports]
        assert min(low for low, _ in buckets) <= p99 <= max(high for _, high in buckets)
