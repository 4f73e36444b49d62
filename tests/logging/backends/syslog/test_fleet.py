"""A fleet: several hft processes ship to one rsyslog and are scraped by a real Prometheus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import hft
from tests.servers import PrometheusServer, Rsyslog, free_port, parse_sd, wait_until

_SRC = str(Path(hft.__file__).resolve().parents[1])
_APP = str(Path(__file__).with_name("syslog_app.py"))
_COUNTS = {"host-a": 3000, "host-b": 5000, "host-c": 7000}


def _start(
    host: str, count: int, syslog_port: int, scrape_port: int, spool: Path
) -> subprocess.Popen[str]:
    config = {
        "count": count,
        "wait": True,
        "syslog": {"port": syslog_port, "hostname": host, "spool_dir": str(spool)},
        "prometheus": {"push_gateway_url": "", "scrape_enabled": True, "scrape_port": scrape_port},
    }
    return subprocess.Popen(
        [sys.executable, _APP, json.dumps(config)], env={**os.environ, "PYTHONPATH": _SRC},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip


class TestFleet:
    def test_prometheus_and_rsyslog_see_every_process(
        self, rsyslog: Callable[..., Rsyslog], tmp_path: Path
    ) -> None:
        """Each process's hft_log_records_total in Prometheus equals what it logged, and
        rsyslog holds every one of its records."""
        server = rsyslog("tcp")
        ports = {host: free_port() for host in _COUNTS}
        apps = {
            host: _start(host, n, server.port, ports[host], tmp_path / host)
            for host, n in _COUNTS.items()
        }
        prometheus = PrometheusServer(tmp_path, [f"127.0.0.1:{p}" for p in ports.values()])
        try:
            for app in apps.values():
                assert app.stdout is not None
                assert app.stdout.readline().strip() == "logged"
            prometheus.start()
            wanted = {f"127.0.0.1:{ports[h]}": float(n) for h, n in _COUNTS.items()}
            query = 'sum by (instance) (hft_log_records_total{logger="bot"})'
            wait_until(
                lambda: {m["instance"]: v for m, v in prometheus.query(query)} == wanted,
                timeout=30, what="Prometheus to scrape every process",
            )  # fmt: skip
            acked = prometheus.query("hft_syslog_acknowledged_total")
            assert len(acked) == 3
            wait_until(lambda: server.count() >= sum(_COUNTS.values()), what="all records")
        finally:
            for app in apps.values():
                app.communicate("\n", timeout=30)
            prometheus.stop()
        received = Counter(
            r["hostname"] for r in server.records() if int(parse_sd(r["sd"])[1]["seq"]) >= 0
        )
        assert received == _COUNTS
