"""SyslogBackend against a real rsyslogd: transports, restarts, the spool and its health."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import hft
from hft.config import SyslogBackendSettings
from hft.logging import (
    HFTLogger,
    LoggingPipeline,
    PrometheusBackend,
    SyslogBackend,
    create_backend_from_config,
)
from hft.logging.backends.syslog._spool import SpoolError
from hft.logging.backends.syslog.backend import CERTIFICATE_REFUSED
from hft.logging.testing import CapturingBackend
from tests.servers import Rsyslog, TlsFiles, free_port, http_get, parse_sd, wait_until

_SRC = str(Path(hft.__file__).resolve().parents[1])
_APP = str(Path(__file__).with_name("syslog_app.py"))
_DOWN = "syslog collector unreachable; spooling records"
_UP = "syslog collector reachable again; replaying the spool"
_ODD = ["two\nlines", 'quote " and ] bracket', "naïve \u2013 日本語 ✓", "back\\slash ]]"]
_pipelines: list[LoggingPipeline] = []

RsyslogFactory = Callable[..., Rsyslog]


@pytest.fixture(autouse=True)
def _close_pipelines() -> Iterator[None]:
    """Every pipeline a test started is closed (its backends with it) after the test."""
    yield
    while _pipelines:
        _pipelines.pop().close()


def _backend(tmp_path: Path, port: int, **settings: Any) -> SyslogBackend:
    settings.setdefault("hostname", "test-host")
    return SyslogBackend(port=port, spool_dir=tmp_path / "spool", **settings)


def _run(*backends: Any) -> tuple[HFTLogger, CapturingBackend]:
    capture = CapturingBackend()
    pipeline = LoggingPipeline([*backends, capture], block_timeout_ms=60_000).start()
    _pipelines.append(pipeline)
    return HFTLogger(pipeline, "strategy.arb", ["arb", "mexc"]), capture


def _wait_for(server: Rsyslog, count: int, timeout: float = 60) -> None:
    wait_until(lambda: server.count() >= count, timeout, f"{count} records in rsyslog's file")


def _app(config: dict[str, Any], **kwargs: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": _SRC}
    return subprocess.Popen(
        [sys.executable, _APP, json.dumps(config)], env=env, text=True,
        stdout=subprocess.PIPE, **kwargs,
    )  # fmt: skip


def _tls(transport: str, tls_files: TlsFiles) -> dict[str, Any]:
    return {"tls_ca_file": str(tls_files.ca)} if transport == "tls" else {}


class TestTransports:
    @pytest.mark.parametrize("transport", ["tcp", "tls", "relp"])
    def test_100k_records_parsed_by_rsyslog(
        self, transport: str, rsyslog: RsyslogFactory, tls_files: TlsFiles, tmp_path: Path
    ) -> None:
        """100,000 records arrive, each parsed by rsyslog into our host, app, msgid and SD."""
        server = rsyslog(transport, tls_files if transport == "tls" else None)
        backend = _backend(tmp_path, server.port, transport=transport, **_tls(transport, tls_files))
        logger, _ = _run(backend)
        for text in _ODD:
            logger.warning(text, note=text)
        n = 100_000
        for i in range(n):
            logger.info("tick", i=i)
        _wait_for(server, n + len(_ODD))
        records = server.records()
        assert len(records) == n + len(_ODD)
        heads = {(r["hostname"], r["app"], r["msgid"], r["facility"]) for r in records}
        assert heads == {("test-host", "hft", "strategy.arb", "16")}
        parsed = [parse_sd(r["sd"]) for r in records]
        assert {sd_id for sd_id, _ in parsed} == {"hft@32473"}
        assert sorted(int(p["seq"]) for _, p in parsed) == list(range(n + len(_ODD)))
        assert {p["instance"] for _, p in parsed} == {backend.instance_id}
        assert [(r["msg"], p["note"]) for r, (_, p) in zip(records[:4], parsed, strict=False)] == [
            (t, t) for t in _ODD
        ]
        assert backend.stats()["acknowledged"] == n + len(_ODD)

    @pytest.mark.parametrize("schema", ["hft", "ecs", "otel"])
    def test_the_json_payload_in_each_schema(
        self, schema: str, rsyslog: RsyslogFactory, tmp_path: Path
    ) -> None:
        """include_fields_json with each schema: rsyslog's MSG is the message, a space and one
        JSON object: the fields (hft) or the whole record in ECS or OTLP/JSON."""
        server = rsyslog("tcp")
        backend = _backend(tmp_path, server.port, include_fields_json=True, schema=schema)
        logger, _ = _run(backend)
        logger.info("filled", qty=1, note="two\nlines ]")
        _wait_for(server, 1)
        (record,) = server.records()
        text, payload = record["msg"].split(" ", 1)
        obj = json.loads(payload)
        assert text == "filled"
        expected = {"qty": 1, "note": "two\nlines ]"}
        if schema == "hft":
            assert obj == expected
        elif schema == "ecs":
            assert (obj["message"], obj["log"]["logger"], obj["fields"]) == (
                "filled", "strategy.arb", expected)  # fmt: skip
        else:
            (resource,) = obj["resourceLogs"]
            log = resource["scopeLogs"][0]["logRecords"][0]
            assert log["body"] == {"stringValue": "filled"}
            assert resource["resource"]["attributes"][0]["value"] == {"stringValue": "hft"}

    def test_tls_verifies_the_collector(
        self, rsyslog: RsyslogFactory, tls_files: TlsFiles, tmp_path: Path
    ) -> None:
        """Without the collector's CA (the system's CAs only) the TLS handshake fails: nothing
        is sent, all spooled, the backend unhealthy and the refusal reported."""
        server = rsyslog("tls", tls_files)
        backend = _backend(tmp_path, server.port, transport="tls")
        logger, capture = _run(backend)
        logger.info("secret order")
        wait_until(lambda: backend.sender.failures > 0, what="a refused handshake")
        assert "CERTIFICATE_VERIFY_FAILED" in backend.sender.last_error
        wait_until(
            lambda: logger.flush() and CERTIFICATE_REFUSED in capture.messages(), what="warning"
        )
        assert logger.get_performance_metrics().backends["syslog"].unhealthy
        assert server.count() == 0


class TestCollectorRestart:
    def _log_through_kill(
        self, transport: str, rsyslog: RsyslogFactory, tmp_path: Path, n: int
    ) -> tuple[Rsyslog, SyslogBackend]:
        server = rsyslog(transport)
        backend = _backend(tmp_path, server.port, transport=transport)
        logger, _ = _run(backend)
        for i in range(n):
            logger.info("tick", i=i)
            if i == n // 3:
                _wait_for(server, 1000)
                server.stop(signal.SIGKILL)
            if i == 2 * n // 3:
                time.sleep(2)
                server.start()
        assert logger.flush()
        wait_until(backend.drain, timeout=60, what="the backend to drain")
        _settle(server)
        return server, backend

    def test_relp_delivers_every_record(self, rsyslog: RsyslogFactory, tmp_path: Path) -> None:
        """RELP, rsyslog SIGKILLed mid-stream and back 2 s later: every record arrives;
        duplicates are no more than the unacknowledged ones counted as resent."""
        n = 30_000
        server, backend = self._log_through_kill("relp", rsyslog, tmp_path, n)
        seqs = _record_seqs(server)
        assert set(seqs) == set(range(n))
        duplicates = len(seqs) - n
        stats = backend.stats()
        assert duplicates <= stats["resent"]
        assert stats["disconnects"] >= 1
        assert stats["replayed"] > 0

    def test_tcp_loss_is_bounded_and_counted(self, rsyslog: RsyslogFactory, tmp_path: Path) -> None:
        """Plain TCP: what may have been lost in flight is resent and counted; anything
        missing is within that count."""
        n = 30_000
        server, backend = self._log_through_kill("tcp", rsyslog, tmp_path, n)
        seqs = _record_seqs(server)
        missing = n - len(set(seqs))
        stats = backend.stats()
        assert stats["disconnects"] >= 1
        assert 0 <= missing <= stats["resent"]
        assert len(seqs) - len(set(seqs)) <= stats["resent"]


class TestSpool:
    def test_next_start_replays_what_the_last_one_spooled(
        self, rsyslog: RsyslogFactory, tmp_path: Path
    ) -> None:
        """Collector down: 50,000 records are spooled at exit; the next start replays them."""
        server = rsyslog("tcp", start=False)
        spool = tmp_path / "spool"
        settings = {"port": server.port, "spool_dir": str(spool), "hostname": "app"}
        first = _app({"syslog": settings, "count": 50_000})
        stats = json.loads(first.communicate(timeout=120)[0])
        assert (stats["acknowledged"], stats["dropped"]) == (0, 0)
        # The outage warning is logged (and spooled) only if the sender thread saw the
        # collector down while the pipeline still ran; a fast run can close first.
        spooled = stats["spooled"]
        assert spooled in (50_000, 50_001), stats
        server.start()
        second = _app({"syslog": settings, "count": 0})
        stats = json.loads(second.communicate(timeout=120)[0])
        assert stats["replayed"] == spooled
        _wait_for(server, spooled)
        seqs = _record_seqs(server)
        assert sorted(seqs) == list(range(50_000))
        assert list(spool.glob("*.spool")) == []

    def test_overflow_counted_and_reported_once(self, tmp_path: Path) -> None:
        """A full spool drops new records, counts them and warns once."""
        backend = _backend(tmp_path, free_port(), spool_max_mb=1)
        logger, capture = _run(backend)
        for i in range(20_000):
            logger.info("tick", i=i, pad="x" * 100)
        assert logger.flush()
        wait_until(lambda: logger.flush() and backend.stats()["dropped"] > 0, what="overflow")
        stats = backend.stats()
        assert stats["spooled"] + stats["dropped"] >= 20_000  # and the warnings
        # The bound refuses appends; what was queued in memory when the collector went away
        # is put back in front of the spool on top of it. Once full, the spool stops growing.
        for i in range(1_000):
            logger.info("refused", i=i, pad="x" * 100)
        assert logger.flush()
        wait_until(lambda: backend.stats()["dropped"] >= stats["dropped"] + 1_000, what="drops")
        assert backend.stats()["spool_bytes"] == stats["spool_bytes"]
        full = "syslog spool full; records dropped"  # queued by a flush, out with the next batch
        wait_until(lambda: logger.flush() and full in capture.messages(), what=full)
        logger.info("one more")
        assert logger.flush()
        assert capture.messages().count(full) == 1


class TestHealth:
    def test_warns_once_down_and_once_up(self, rsyslog: RsyslogFactory, tmp_path: Path) -> None:
        """One warning when the collector is unreachable, one when it is back; not per record."""
        server = rsyslog("relp", start=False)
        backend = _backend(tmp_path, server.port, transport="relp")
        logger, capture = _run(backend)
        for i in range(1000):
            logger.info("tick", i=i)
        wait_until(lambda: logger.flush() and _DOWN in capture.messages(), what="outage warning")
        server.start()
        wait_until(lambda: logger.flush() and _UP in capture.messages(), what="recovery warning")
        wait_until(lambda: server.count() >= 1002, what="replay")  # and both warnings
        assert (capture.messages().count(_DOWN), capture.messages().count(_UP)) == (1, 1)

        def replayed() -> float:
            return logger.get_performance_metrics().backends["syslog"].extra["replayed"]

        wait_until(lambda: replayed() >= 1000, what="acknowledgements of the replay")
        assert logger.get_performance_metrics().backends["syslog"].extra["connected"] == 1.0

    def test_prometheus_exports_syslog_state(self, rsyslog: RsyslogFactory, tmp_path: Path) -> None:
        """With a Prometheus backend beside it, hft_syslog_* series appear on /metrics."""
        server = rsyslog("tcp")
        prom = PrometheusBackend(push_gateway_url="", scrape_enabled=True, scrape_port=0)
        logger, _ = _run(_backend(tmp_path, server.port), prom)
        logger.info("hello")
        _wait_for(server, 1)
        assert prom.scrape_url is not None
        text = http_get(prom.scrape_url)
        assert "hft_syslog_connected 1.0" in text
        assert "hft_syslog_acknowledged_total 1.0" in text

    def test_dead_collector_never_slows_the_dispatcher(self, tmp_path: Path) -> None:
        """A collector that accepts but never reads: records keep flowing to other backends."""
        import socket

        with socket.socket() as silent:
            silent.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            silent.bind(("127.0.0.1", 0))
            silent.listen()
            backend = _backend(tmp_path, silent.getsockname()[1], transport="relp")
            logger, capture = _run(backend)
            for i in range(20_000):
                logger.info("tick", i=i)
            assert logger.flush()
            assert capture.messages().count("tick") == 20_000
            assert logger.get_performance_metrics().dropped == 0


class TestSettings:
    def test_built_from_its_settings_section(self, tmp_path: Path) -> None:
        """Every key of backends.syslog is a constructor argument (enabled aside)."""
        settings = SyslogBackendSettings(spool_dir=str(tmp_path / "s"), port=free_port())
        backend = create_backend_from_config("syslog", settings, max_field_chars=100)
        assert isinstance(backend, SyslogBackend)
        backend.close()

    def test_symlinked_spool_dir_refused(self, tmp_path: Path) -> None:
        """A spool_dir that is a symbolic link stops the start with an error naming the key;
        nothing is written through it."""
        target = tmp_path / "target"
        target.mkdir()
        (tmp_path / "spool").symlink_to(target)
        with pytest.raises(SpoolError, match=r"logging\.backends\.syslog\.spool_dir: .*link"):
            _backend(tmp_path, free_port())
        assert list(target.iterdir()) == []

    def test_unknown_transport_refused(self, tmp_path: Path) -> None:
        """A transport other than tcp, tls or relp is a clear error."""
        with pytest.raises(ValueError, match="unknown transport"):
            SyslogBackend(transport="udp", spool_dir=tmp_path)  # type: ignore[arg-type]


def _record_seqs(server: Rsyslog) -> list[int]:
    """Sequence numbers of the records received (internal warnings, seq -1, left out)."""
    return [seq for seq in server.seqs() if seq >= 0]


def _settle(server: Rsyslog) -> None:
    """Wait until rsyslog has written what it took (its file stops growing for 0.5 s)."""
    last, still = -1, 0
    while still < 10:
        count = server.count()
        still = still + 1 if count == last else 0
        last = count
        time.sleep(0.05)
