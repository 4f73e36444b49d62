"""hft's own series under Prometheus' linter and through a real Pushgateway, from a process that
used every backend."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hft
from tests.servers import Pushgateway, Rsyslog, http_get, wait_until

_SRC = str(Path(hft.__file__).resolve().parents[1])
_APP = str(Path(__file__).with_name("metrics_app.py"))
#: The application's own metric names, kept as given though promtool flags their unit.
_USER_FLAGGED = {
    "tick_to_trade_us", "tick_to_trade_us_created",
    "ws_connection_duration_us", "ws_connection_duration_us_created",
}  # fmt: skip
_TYPE = re.compile(r"^# TYPE (\S+) (\S+)$", re.MULTILINE)


def _promtool(page: str) -> set[str]:
    """The metric names ``promtool check metrics`` flags on *page* (empty when clean)."""
    done = subprocess.run(
        ["promtool", "check", "metrics"], input=page, capture_output=True, text=True, check=False
    )
    flagged = {line.split()[0] for line in (done.stdout + done.stderr).splitlines() if line}
    assert (done.returncode == 0) == (not flagged), done.stdout + done.stderr
    return flagged


def _run_app(config: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": _SRC}
    app = subprocess.Popen(
        [sys.executable, _APP, json.dumps(config)], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    out, _ = app.communicate(timeout=120)
    assert app.returncode == 0
    return app.pid, json.loads(out)


class TestConventions:
    def test_promtool_is_clean_on_every_hft_series_and_the_gateway_has_them(
        self, pushgateway: Pushgateway, rsyslog: Callable[..., Rsyslog], tmp_path: Path
    ) -> None:
        """promtool flags no hft_* series of a process that used console, file, audit, syslog
        and Prometheus (only the application's own ``_us`` names); its final push holds the
        same call-latency histogram, the records it logged and the renamed grouping-key tags."""
        server = rsyslog("tcp")
        config = {"dir": str(tmp_path), "gateway": pushgateway.url,
                  "syslog_port": server.port, "samples": 200}  # fmt: skip
        pid, report = _run_app(config)
        page, timed, logged = report["page"], sum(report["counts"]), report["logged"]
        assert _promtool(page) == _USER_FLAGGED
        types = dict(_TYPE.findall(page))
        for prefix in ("hft_logging_", "hft_syslog_", "hft_audit_", "hft_file_"):
            assert any(name.startswith(prefix) for name in types), prefix
        assert types["hft_logging_call_duration_seconds"] == "histogram"
        assert types["hft_syslog_acknowledged_total"] == "counter"
        assert types["hft_syslog_spool_bytes"] == "gauge"
        assert types["hft_audit_checkpoints_written_total"] == "counter"
        assert types["hft_file_writer_restarts_total"] == "counter"

        group = {"job": "hft_app", "instance": socket.gethostname(), "pid": str(pid)}
        assert pushgateway.value("hft_logging_call_duration_seconds_count", **group) == timed
        # its own loggers' records: not the INFO notes of the audit chain's head
        pushed = sum(v for labels, v in pushgateway.samples("hft_log_records_total")
                     if labels["pid"] == str(pid) and labels["level"] == "INFO"
                     and labels["logger"].startswith("bot."))  # fmt: skip
        assert pushed == logged
        ((labels, value),) = pushgateway.samples("orders_total")
        assert (labels, value) == ({**group, "exported_job": "mine", "exported_pid": "7",
                                    "symbol": "BTCUSDT"}, 3)  # fmt: skip
        gateway_page = http_get(f"{pushgateway.url}/metrics")
        assert not {name for name in _promtool(gateway_page) if name.startswith("hft_")}

        on_disk = (tmp_path / "hft.log").read_text().splitlines()
        assert sum('"quote"' in line for line in on_disk) == logged
        wait_until(lambda: server.count() >= logged, what="every record at rsyslog")
        assert sum(r["msg"].startswith("quote") for r in server.records()) == logged
