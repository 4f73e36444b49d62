"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.logging import faultfs
from tests.servers import Pushgateway, Rsyslog, TlsFiles, make_tls_files, run_pushgateway


def pytest_sessionstart(session: pytest.Session) -> None:
    """Unmount the fault file systems a killed run left behind (tests/logging/faultfs.py)."""
    faultfs.unmount_stale()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Unmount and remove this process's fault file systems' folder."""
    faultfs.release()


@pytest.fixture
def pushgateway() -> Iterator[Pushgateway]:
    """A real ``prometheus-pushgateway`` on a free loopback port (fails if not installed)."""
    yield from run_pushgateway()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A test CA and a certificate for 127.0.0.1 signed by it (openssl)."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def untrusted_tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """Another CA and a server certificate of its own: a client trusting ``tls_files``'s CA
    refuses it."""
    return make_tls_files(tmp_path_factory.mktemp("tls-untrusted"))


@pytest.fixture(scope="session")
def legacy_tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A CA made without key usage (as the tests once made it), which strict X.509
    verification refuses, and a server certificate signed by it."""
    return make_tls_files(tmp_path_factory.mktemp("tls-legacy"), legacy_ca=True)


@pytest.fixture
def rsyslog(tmp_path: Path) -> Iterator[Callable[..., Rsyslog]]:
    """Makes real ``rsyslogd`` collectors on free loopback ports; all stopped after the test."""
    servers: list[Rsyslog] = []

    def make(
        transport: str = "tcp",
        tls: TlsFiles | None = None,
        *,
        start: bool = True,
        port: int | None = None,
    ) -> Rsyslog:
        server = Rsyslog(tmp_path / f"rsyslog-{len(servers)}", transport, tls, port)
        servers.append(server)
        return server.start() if start else server

    yield make
    for server in servers:
        server.stop()
