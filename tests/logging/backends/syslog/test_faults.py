"""SyslogBackend under faults, against a real rsyslogd (imtcp, gtls or imrelp with
``maxMessageSize=64k``): oversized records, refused certificates, and what is counted.

Each test counts the records in rsyslog's output and holds them against what was logged and
what the backend reported lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hft.logging import HFTLogger, LoggingPipeline, SyslogBackend
from hft.logging.backends.syslog.backend import CERTIFICATE_REFUSED
from hft.logging.testing import CapturingBackend
from tests.servers import Rsyslog, TlsFiles, parse_sd, wait_until

RsyslogFactory = Callable[..., Rsyslog]
_UP = "syslog collector reachable again; replaying the spool"
_pipelines: list[LoggingPipeline] = []


@pytest.fixture(autouse=True)
def _close_pipelines() -> Iterator[None]:
    """Every pipeline a test started is closed (its backends with it) after the test."""
    yield
    while _pipelines:
        _pipelines.pop().close()


Started = tuple[HFTLogger, SyslogBackend, CapturingBackend]


def _start(server: Rsyslog, tmp_path: Path, **settings: Any) -> Started:
    backend = SyslogBackend(
        port=server.port, hostname="test-host", spool_dir=tmp_path / "spool", **settings
    )
    capture = CapturingBackend()
    pipeline = LoggingPipeline([backend, capture], block_timeout_ms=60_000).start()
    _pipelines.append(pipeline)
    return HFTLogger(pipeline, "strategy.arb", ["arb"]), backend, capture


def _settings(transport: str, tls_files: TlsFiles) -> dict[str, Any]:
    """TLS settings for *transport*; over RELP with a client certificate (imrelp asks for one)."""
    if transport == "tcp":
        return {"transport": "tcp"}
    tls = {"transport": transport, "tls_ca_file": str(tls_files.ca)}
    if transport == "relp":
        tls |= {"tls_cert_file": str(tls_files.cert), "tls_key_file": str(tls_files.key)}
    return tls


def _received(server: Rsyslog) -> dict[int, tuple[dict[str, str], str]]:
    """Params and MSG of each record rsyslog parsed, by seq (internal warnings left out)."""
    found = {}
    for record in server.records():
        params = parse_sd(record["sd"])[1]
        if int(params["seq"]) >= 0:
            found[int(params["seq"])] = (params, record["msg"])
    return found


def _state(logger: HFTLogger) -> str:
    return logger.get_performance_metrics().backends["syslog"].state


class TestFramingCannotBePoisoned:
    @pytest.mark.parametrize("transport", ["tcp", "tls", "relp"])
    def test_one_megabyte_message_then_1000(
        self, transport: str, rsyslog: RsyslogFactory, tls_files: TlsFiles, tmp_path: Path
    ) -> None:
        """A 1 MB message, then 1,000 records: all 1,001 parsed by rsyslog, the big one cut
        to the 64 KiB frame and marked, nothing lost."""
        server = rsyslog(transport, tls_files if transport != "tcp" else None)
        logger, backend, _ = _start(server, tmp_path, **_settings(transport, tls_files))
        logger.info("é" * 524_288)  # 1 MiB of UTF-8
        for i in range(1000):
            logger.info("tick", i=i)
        wait_until(lambda: len(_received(server)) >= 1001, 60, "1,001 records in rsyslog")
        received = _received(server)
        assert sorted(received) == list(range(1001))
        params, msg = received[0]
        assert msg.endswith("…[truncated]")
        assert set(msg[: -len("…[truncated]")]) == {"é"}
        assert 60_000 < len(msg.encode()) < 65_536
        assert int(params["truncated"]) > 1_048_576
        assert all(received[i + 1][0]["i"] == str(i) for i in range(1000))
        assert backend.stats()["dropped"] == 0

    def test_ten_thousand_fields_then_1000(self, rsyslog: RsyslogFactory, tmp_path: Path) -> None:
        """A record with 10,000 fields, then 1,000 records: all parsed; the big one keeps the
        fields that fit, whole, and counts the rest in fields_dropped."""
        server = rsyslog("tcp")
        logger, backend, _ = _start(server, tmp_path)
        logger.info("wide", **{f"f{n}": "v" * 20 for n in range(10_000)})
        for i in range(1000):
            logger.info("tick", i=i)
        wait_until(lambda: len(_received(server)) >= 1001, 60, "1,001 records in rsyslog")
        received = _received(server)
        assert sorted(received) == list(range(1001))
        params, msg = received[0]
        kept = [k for k in params if k.startswith("f") and k != "fields_dropped"]
        assert all(params[k] == "v" * 20 for k in kept)
        assert len(kept) + int(params["fields_dropped"]) == 10_000
        assert msg == "wide"
        assert backend.stats()["dropped"] == 0


class TestRefusedCertificate:
    def test_refused_then_fixed(
        self,
        rsyslog: RsyslogFactory,
        tls_files: TlsFiles,
        untrusted_tls_files: TlsFiles,
        tmp_path: Path,
    ) -> None:
        """A collector whose certificate the CA does not sign: unhealthy, one warning saying
        why and which key to fix, records spooled. The right certificate on the same port:
        healthy again, the spool replayed; received + counted lost == logged."""
        wrong = rsyslog("tls", untrusted_tls_files)
        logger, backend, capture = _start(wrong, tmp_path, **_settings("tls", tls_files))
        n = 1000
        for i in range(n):
            logger.info("tick", i=i)
        wait_until(lambda: logger.flush() and _state(logger) == "unhealthy", what="unhealthy")
        wait_until(lambda: logger.flush() and backend.stats()["spooled"] >= n, what="spool")
        warnings = [r for r in capture.logs() if r.msg == CERTIFICATE_REFUSED]
        assert len(warnings) == 1
        fields = warnings[0].fields
        assert fields["setting"] == "logging.backends.syslog.tls_ca_file"
        assert "unable to get local issuer certificate" in fields["error"]
        assert "tls_ca_file" in fields["fix"]
        assert wrong.count() == 0
        wrong.stop()

        right = rsyslog("tls", tls_files, port=wrong.port)
        wait_until(lambda: logger.flush() and _state(logger) == "healthy", 30, "healthy again")
        wait_until(lambda: len(_received(right)) >= n, 60, f"{n} records in rsyslog")
        lost = backend.stats()["dropped"] + logger.get_performance_metrics().lost
        assert len(_received(right)) + lost == n
        assert sorted(_received(right)) == list(range(n))
        wait_until(lambda: logger.flush() and _UP in capture.messages(), what="recovery warning")
        messages = capture.messages()
        assert (messages.count(CERTIFICATE_REFUSED), messages.count(_UP)) == (1, 1)

    def test_ca_without_key_usage_explained(
        self, rsyslog: RsyslogFactory, legacy_tls_files: TlsFiles, tmp_path: Path
    ) -> None:
        """A CA made without key usage (refused by CPython 3.13's default, and by hft on every
        Python): the warning names the certificate error and says how to issue the CA."""
        server = rsyslog("tls", legacy_tls_files)
        logger, _, capture = _start(server, tmp_path, **_settings("tls", legacy_tls_files))
        logger.info("order")

        def warned() -> bool:
            return logger.flush() and CERTIFICATE_REFUSED in capture.messages()

        wait_until(warned, what="the certificate warning")
        (warning,) = [r for r in capture.logs() if r.msg == CERTIFICATE_REFUSED]
        assert "not marked critical" in warning.fields["error"]
        assert "keyUsage" in warning.fields["fix"]
        assert _state(logger) == "unhealthy"
        assert server.count() == 0


class TestRelpOverTls:
    def test_relp_with_a_ca_speaks_tls(
        self, rsyslog: RsyslogFactory, tls_files: TlsFiles, tmp_path: Path
    ) -> None:
        """relp with tls_ca_file and a client certificate against an imrelp that only speaks
        TLS and checks the client's certificate: every record arrives and is acknowledged."""
        server = rsyslog("relp", tls_files)
        logger, backend, _ = _start(server, tmp_path, **_settings("relp", tls_files))
        for i in range(1000):
            logger.info("tick", i=i)
        wait_until(lambda: len(_received(server)) >= 1000, 60, "1,000 records in rsyslog")
        assert sorted(_received(server)) == list(range(1000))
        wait_until(lambda: backend.stats()["acknowledged"] >= 1000, what="acknowledgements")
        assert _state(logger) == "healthy"
