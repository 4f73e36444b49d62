"""Real servers for integration tests, started on free loopback ports and stopped after."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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


# -- rsyslog ------------------------------------------------------------------------------------

RSYSLOGD = "/usr/sbin/rsyslogd"
PROMETHEUS = "prometheus"
#: What rsyslog writes per message: its own parse of our RFC 5424 fields, as one JSON object.
_RSYSLOG_TEMPLATE = """
template(name="hftjson" type="list") {
  constant(value="{\\"hostname\\":\\"") property(name="hostname" format="json")
  constant(value="\\",\\"app\\":\\"") property(name="app-name" format="json")
  constant(value="\\",\\"procid\\":\\"") property(name="procid" format="json")
  constant(value="\\",\\"msgid\\":\\"") property(name="msgid" format="json")
  constant(value="\\",\\"severity\\":\\"") property(name="syslogseverity" format="json")
  constant(value="\\",\\"facility\\":\\"") property(name="syslogfacility" format="json")
  constant(value="\\",\\"sd\\":\\"") property(name="structured-data" format="json")
  constant(value="\\",\\"msg\\":\\"") property(name="msg" format="json")
  constant(value="\\"}\\n")
}
"""
_SD_PARAM = re.compile(r'([^ =\]"]+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class TlsFiles:
    """A CA and a server certificate for 127.0.0.1/localhost signed by it."""

    ca: Path
    cert: Path
    key: Path


#: X.509 v3 extensions as a real CA sets them: what CPython 3.13's strict verification (and
#: ``hft``'s, on every Python) requires of a CA (basicConstraints critical, keyUsage, SKI/AKI).
_OPENSSL_CNF = """
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[legacy_ca]
basicConstraints = CA:TRUE
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
"""


def make_tls_files(folder: Path, *, legacy_ca: bool = False) -> TlsFiles:
    """Generate a CA and a loopback server certificate signed by it with the openssl CLI.

    *legacy_ca* makes the CA the way the tests once did (no key usage, basic constraints not
    critical): strict verification refuses it, as CPython 3.13 does by default.
    """
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = folder / "ca.pem", folder / "ca-key.pem"
    cert, key, csr = folder / "server.pem", folder / "server-key.pem", folder / "server.csr"
    cnf = folder / "openssl.cnf"
    cnf.write_text(_OPENSSL_CNF)

    def openssl(*args: str | Path) -> None:
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)

    openssl("req", "-x509", "-config", cnf, "-extensions", "legacy_ca" if legacy_ca else "ca",
            "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
            "-subj", f"/CN=hft test CA {folder.name}")  # fmt: skip
    openssl("req", "-config", cnf, "-newkey", "rsa:2048", "-nodes", "-keyout", key,
            "-out", csr, "-subj", "/CN=localhost")  # fmt: skip
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
            "-out", cert, "-days", "2", "-extfile", cnf, "-extensions", "server")  # fmt: skip
    return TlsFiles(ca, cert, key)


def parse_sd(sd: str) -> tuple[str, dict[str, str]]:
    """SD-ID and unescaped params of one SD-ELEMENT as rsyslog kept it."""
    sd_id = sd[1:].split(" ", 1)[0].rstrip("]")
    params = {k: re.sub(r"\\(.)", r"\1", v) for k, v in _SD_PARAM.findall(sd)}
    return sd_id, params


class Rsyslog:
    """Debian's rsyslogd with a generated configuration: imtcp (optionally TLS) or imrelp
    (optionally TLS, then asking for a client certificate signed by the CA) on one loopback
    port, ``maxMessageSize=64k`` as the README advises, every message written by a JSON
    template of rsyslog's own properties."""

    def __init__(
        self,
        folder: Path,
        transport: str = "tcp",
        tls: TlsFiles | None = None,
        port: int | None = None,
    ) -> None:
        if shutil.which(RSYSLOGD) is None:
            pytest.fail(
                f"{RSYSLOGD} is missing: apt-get install rsyslog rsyslog-relp rsyslog-gnutls"
            )
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.transport, self.tls = transport, tls
        self.port = port or free_port()
        self.output = folder / "received.jsonl"
        self.conf = folder / "rsyslog.conf"
        self.pidfile = folder / "rsyslogd.pid"
        self.conf.write_text(self._config())
        self._process: subprocess.Popen[bytes] | None = None

    def _config(self) -> str:
        work = self.folder / "work"
        work.mkdir(exist_ok=True)
        tls = self.tls
        glob = f'workDirectory="{work}" maxMessageSize="64k" '
        glob += 'parser.escapeControlCharactersOnReceive="off"'
        if tls is not None:
            glob += (f' defaultNetstreamDriver="gtls" defaultNetstreamDriverCAFile="{tls.ca}"'
                     f' defaultNetstreamDriverCertFile="{tls.cert}"'
                     f' defaultNetstreamDriverKeyFile="{tls.key}"')  # fmt: skip
        return (
            f"global({glob})\n"
            'main_queue(queue.type="Direct")\n'  # written before acknowledged (RELP)
            + self._input()
            + _RSYSLOG_TEMPLATE
            + f'action(type="omfile" file="{self.output}" template="hftjson")\n'
        )

    def _input(self) -> str:
        if self.transport == "relp":
            tls = ""
            if self.tls is not None:
                tls = (f' tls="on" tls.caCert="{self.tls.ca}" tls.myCert="{self.tls.cert}"'
                       f' tls.myPrivKey="{self.tls.key}" tls.authMode="certvalid"')  # fmt: skip
            return (
                'module(load="imrelp")\n'
                f'input(type="imrelp" port="{self.port}" address="127.0.0.1"{tls})\n'
            )
        driver = ""
        if self.tls is not None:
            driver = ' streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon"'
        return (
            f'module(load="imtcp"{driver} maxSessions="10")\n'
            f'input(type="imtcp" port="{self.port}" address="127.0.0.1")\n'
        )

    def start(self) -> Rsyslog:
        """Start rsyslogd in the foreground and wait until its port takes connections."""
        self.pidfile.unlink(missing_ok=True)
        with (self.folder / "rsyslogd.err").open("ab") as err:
            self._process = subprocess.Popen(
                [RSYSLOGD, "-n", "-f", str(self.conf), "-i", str(self.pidfile)],
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        wait_until(self._listening, what=f"rsyslogd on port {self.port}")
        return self

    def _listening(self) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            err = (self.folder / "rsyslogd.err").read_text()
            pytest.fail(f"rsyslogd exited with {self._process.returncode}: {err}")
        if not self.pidfile.exists():
            return False
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Signal rsyslogd by its pid (SIGTERM: clean stop; SIGKILL: a crash) and wait."""
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, sig)
            self._process.wait(timeout=20)
        self._process = None

    def records(self) -> list[dict[str, str]]:
        """Every message rsyslog wrote so far, as parsed by rsyslog."""
        if not self.output.exists():
            return []
        data = self.output.read_bytes()
        lines = data[: data.rfind(b"\n") + 1].splitlines()
        return [json.loads(_last_record(line)) for line in lines]

    def seqs(self) -> list[int]:
        """The ``seq`` of every message received, in arrival order."""
        return [int(parse_sd(r["sd"])[1]["seq"]) for r in self.records()]

    def count(self) -> int:
        """Messages written so far (cheap: counts lines)."""
        if not self.output.exists():
            return 0
        return self.output.read_bytes().count(b"\n")


def _last_record(line: bytes) -> bytes:
    """The last whole record of an output line.

    rsyslog killed with SIGKILL in the middle of writing a line leaves it torn, and the next
    start appends its first record to the fragment. That record was acknowledged after the
    restart; the torn one never was (the sender replays it), so only the tail counts.
    """
    start = line.rfind(b'{"hostname":"')
    return line[start:] if start > 0 else line


def run_rsyslog(
    folder: Path, transport: str = "tcp", tls: TlsFiles | None = None
) -> Iterator[Rsyslog]:
    """A started rsyslogd for a fixture; stopped at teardown."""
    server = Rsyslog(folder, transport, tls).start()
    try:
        yield server
    finally:
        server.stop()


# -- Prometheus server --------------------------------------------------------------------------


class PrometheusServer:
    """Debian's Prometheus scraping *targets* every 200 ms, on a loopback port."""

    def __init__(self, folder: Path, targets: list[str]) -> None:
        binary = shutil.which(PROMETHEUS)
        if binary is None:
            pytest.fail(f"{PROMETHEUS} is not on PATH: apt-get install prometheus")
        self.binary, self.folder = binary, folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.conf = folder / "prometheus.yml"
        self.conf.write_text(
            "global: {scrape_interval: 200ms, scrape_timeout: 150ms}\n"
            "scrape_configs:\n"
            "  - job_name: hft\n"
            f"    static_configs: [{{targets: {json.dumps(targets)}}}]\n"
        )
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> PrometheusServer:
        """Start Prometheus and wait until ``/-/ready`` answers."""
        self._process = subprocess.Popen(
            [self.binary, f"--config.file={self.conf}",
             f"--web.listen-address=127.0.0.1:{self.port}",
             f"--storage.tsdb.path={self.folder / 'tsdb'}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(self._ready, timeout=30, what=f"prometheus on port {self.port}")
        return self

    def _ready(self) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            pytest.fail(f"prometheus exited with {self._process.returncode}")
        try:
            http_get(f"{self.url}/-/ready", timeout=0.5)
        except (urllib.error.URLError, OSError):
            return False
        return True

    def query(self, promql: str) -> list[tuple[dict[str, str], float]]:
        """``(labels, value)`` of an instant query's result vector."""
        url = f"{self.url}/api/v1/query?query={urllib.parse.quote(promql)}"
        body = json.loads(http_get(url))
        return [(r["metric"], float(r["value"][1])) for r in body["data"]["result"]]

    def stop(self) -> None:
        """Terminate Prometheus by its pid and wait."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=20)
        self._process = None
