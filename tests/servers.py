"""Real servers for integration tests, started on free loopback ports and stopped after."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

PUSHGATEWAY = "prometheus-pushgateway"
_INSTALL_HINT = (
    f"{PUSHGATEWAY} is not on PATH; the Prometheus integration tests need the real gateway. "
    f"Install it with: apt-get install {PUSHGATEWAY}"
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 2.0) -> str:
    """The body of a GET (raises on errors)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - test URLs
        return str(response.read().decode())


def wait_until(predicate: object, timeout: float = 10.0, what: str = "condition") -> None:
    """Poll *predicate* until it is true; fail the test with *what* if it never is."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


class Pushgateway:
    """A ``prometheus-pushgateway`` process without persistence, on one loopback port."""

    def __init__(self, port: int | None = None) -> None:
        binary = shutil.which(PUSHGATEWAY)
        if binary is None:
            pytest.fail(_INSTALL_HINT)
        self.binary = binary
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Pushgateway:
        """Start the process and wait until ``/-/ready`` answers."""
        self._process = subprocess.Popen(
            [
                self.binary,
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--persistence.file=",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._ready, what=f"{PUSHGATEWAY} on port {self.port}")
        return self

    def _ready(self) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            pytest.fail(f"{PUSHGATEWAY} exited with {self._process.returncode}")
        try:
            http_get(f"{self.url}/-/ready", timeout=0.5)
        except (urllib.error.URLError, OSError):
            return False
        return True

    def stop(self) -> None:
        """Terminate the process and wait for it."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)
        self._process = None

    def samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        """``(labels, value)`` of every series called *name* the gateway holds now."""
        text = http_get(f"{self.url}/metrics")
        return [
            (dict(sample.labels), sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name
        ]

    def value(self, name: str, /, **labels: str) -> float | None:
        """The value of the one series called *name* carrying *labels*, or None."""
        for found, value in self.samples(name):
            if labels.items() <= found.items():
                return value
        return None


def run_pushgateway() -> Iterator[Pushgateway]:
    """A started gateway for a fixture; stopped at teardown."""
    gateway = Pushgateway().start()
    try:
        yield gateway
    finally:
        gateway.stop()
