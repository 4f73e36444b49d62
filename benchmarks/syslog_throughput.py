"""Throughput of the syslog backend to a real rsyslogd, per transport, beside the file backend.

Not a test. Each run logs N records through a pipeline with one backend and times until the
last one is where it belongs: in the file for the file backend, in rsyslog's output file for
syslog (so the collector's own speed is part of the figure). Needs Debian's rsyslog,
rsyslog-relp, rsyslog-gnutls and openssl.
Run: ``.venv/bin/python -m benchmarks.syslog_throughput [N]``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hft.logging import FileBackend, HFTLogger, LoggingPipeline, SyslogBackend
from tests.servers import Rsyslog, make_tls_files


def _log(backend: Any, n: int) -> LoggingPipeline:
    pipeline = LoggingPipeline([backend], block_timeout_ms=60_000).start()
    logger = HFTLogger(pipeline, "bench.syslog", ["bench"])
    for i in range(n):
        logger.info("order filled", i=i, px=101.25, qty=3)
    return pipeline


def _wait(count: Any, n: int) -> None:
    while count() < n:
        time.sleep(0.005)


def file_rate(folder: Path, n: int) -> float:
    """Records per second through the file backend."""
    path = folder / "hft.log"
    start = time.perf_counter()
    pipeline = _log(FileBackend(file_path=path, rotation="none"), n)
    pipeline.close()
    _wait(lambda: path.read_bytes().count(b"\n"), n)
    return n / (time.perf_counter() - start)


def syslog_rate(folder: Path, transport: str, n: int) -> float:
    """Records per second from the call sites into rsyslog's output file."""
    tls = make_tls_files(folder / "tls") if transport == "tls" else None
    server = Rsyslog(folder / transport, transport, tls).start()
    try:
        ca = str(tls.ca) if tls else None
        backend = SyslogBackend(
            port=server.port, transport=transport, tls_ca_file=ca, spool_dir=folder / "spool"
        )
        start = time.perf_counter()
        pipeline = _log(backend, n)
        _wait(server.count, n)
        elapsed = time.perf_counter() - start
        pipeline.close()
        return n / elapsed
    finally:
        server.stop()


def main() -> None:
    """Print one line per backend."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"{'file':>10}: {file_rate(folder, n):>10,.0f} records/s")
        for transport in ("tcp", "tls", "relp"):
            rate = syslog_rate(folder / f"s-{transport}", transport, n)
            print(f"{'syslog ' + transport:>10}: {rate:>10,.0f} records/s")


if __name__ == "__main__":
    main()
