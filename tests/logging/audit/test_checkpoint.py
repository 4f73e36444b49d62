"""Audit checkpoints: written beside the trail, sent through the pipeline, honoured at restart."""

from __future__ import annotations

import hashlib
import hmac
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from hft.config import AuditBackendSettings, ConfigError
from hft.logging import (
    AuditBackend,
    HFTLogger,
    LoggingPipeline,
    PrometheusBackend,
    SyslogBackend,
    create_backend_from_config,
    verify_audit_files,
)
from hft.logging.audit._chain import GENESIS
from hft.logging.audit._checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointKeyError,
    decode,
    read_checkpoint,
    write_checkpoint,
)
from hft.logging.audit.backend import AuditChainError
from hft.logging.testing import CapturingBackend
from tests.config.conftest import REPO_SETTINGS, load
from tests.logging.audit_files import lines, record, write_trail
from tests.servers import Rsyslog, http_get, parse_sd, wait_until

SRC = Path(__file__).resolve().parents[2] / "src"


def _checkpoint(path: Path, key: bytes | None = None) -> dict[str, object]:
    cp = read_checkpoint(path.with_name(path.name + ".checkpoint"), key)
    return {"seq": cp.seq, "digest": cp.digest, "file_first_seq": cp.file_first_seq}


def _seq(checkpoint: Path) -> int:
    return read_checkpoint(checkpoint, None).seq


def _last(path: Path) -> tuple[int, str]:
    obj = orjson.loads(lines(path)[-1])
    return obj["seq"], obj["digest"]


class TestFile:
    def test_written_on_open_for_an_empty_chain(self, tmp_path: Path) -> None:
        """A new trail gets a checkpoint at once: seq -1, the genesis digest, mode 0600 (beside
        the loss note reserved for a full disk)."""
        path = tmp_path / "audit.log"
        AuditBackend(file_path=path).close()
        checkpoint = path.with_name("audit.log.checkpoint")
        assert _checkpoint(path) == {"seq": -1, "digest": GENESIS, "file_first_seq": 0}
        assert stat.S_IMODE(checkpoint.stat().st_mode) == 0o600
        names = sorted(p.name for p in tmp_path.iterdir())
        assert names == ["audit.log", "audit.log.checkpoint", "audit.log.lost"]

    def test_sealed_with_sha256_when_unkeyed(self, tmp_path: Path) -> None:
        """Unkeyed: ``seal`` is SHA-256 of the object without it, keys sorted."""
        path = tmp_path / "audit.log"
        write_trail(path, 3)
        obj = orjson.loads(path.with_name("audit.log.checkpoint").read_bytes())
        seal = obj.pop("seal")
        assert obj["alg"] == "sha256"
        assert seal == hashlib.sha256(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)).hexdigest()
        assert (obj["seq"], obj["digest"]) == _last(path)

    def test_sealed_with_hmac_when_keyed(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Keyed: ``seal`` is HMAC-SHA256 under the audit key; reading it needs the key."""
        monkeypatch.setenv("TEST_AUDIT_KEY", "s3cret")
        path = tmp_path / "audit.log"
        write_trail(path, 2, hmac_key_env="TEST_AUDIT_KEY")
        data = path.with_name("audit.log.checkpoint").read_bytes()
        obj = orjson.loads(data)
        seal = obj.pop("seal")
        canonical = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
        assert seal == hmac.new(b"s3cret", canonical, hashlib.sha256).hexdigest()
        assert decode(data, b"s3cret").seq == 1
        with pytest.raises(CheckpointKeyError):
            decode(data, None)
        with pytest.raises(CheckpointError, match="seal does not match"):
            decode(data, b"other")

    def test_edited_checkpoint_does_not_verify(self, tmp_path: Path) -> None:
        """Raising the seq of a checkpoint without re-sealing it is caught."""
        path = tmp_path / "audit.log"
        write_trail(path, 2)
        data = path.with_name("audit.log.checkpoint").read_bytes()
        with pytest.raises(CheckpointError, match="seal does not match"):
            decode(data.replace(b'"seq":1', b'"seq":5'), None)


class TestWhen:
    def test_every_write_with_interval_zero(self, tmp_path: Path) -> None:
        """``checkpoint_interval_ms: 0``: after each batch the checkpoint names its last record."""
        path = tmp_path / "audit.log"
        backend = AuditBackend(file_path=path, checkpoint_interval_ms=0)
        for n in range(3):
            backend.write([record(n)])
            assert (_checkpoint(path)["seq"], _checkpoint(path)["digest"]) == _last(path)
        backend.close()

    def test_not_before_the_interval_but_on_close(self, tmp_path: Path) -> None:
        """Within the interval the checkpoint lags; ``close`` brings it to the head."""
        path = tmp_path / "audit.log"
        backend = AuditBackend(file_path=path, checkpoint_interval_ms=3_600_000)
        backend.write([record(0), record(1)])
        backend.flush()
        assert _checkpoint(path)["seq"] == -1
        backend.close()
        assert (_checkpoint(path)["seq"], _checkpoint(path)["digest"]) == _last(path)

    def test_on_rotation(self, tmp_path: Path) -> None:
        """A rotation checkpoints the rotated file's last record and the new file's first seq."""
        path = tmp_path / "audit.log"
        backend = AuditBackend(file_path=path, checkpoint_interval_ms=3_600_000)
        backend.write([record(n) for n in range(4)])
        rotated = backend.rotate()
        assert rotated is not None
        seq, digest = _last(rotated)
        assert _checkpoint(path) == {"seq": seq, "digest": digest, "file_first_seq": 4}
        backend.close()

    def test_records_synced_before_the_checkpoint(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Under ``interval_ms`` a checkpoint first syncs what it vouches for: it never leads."""
        synced: list[int] = []
        monkeypatch.setattr("hft.logging.audit._trail._sync", synced.append)
        path = tmp_path / "audit.log"
        backend = AuditBackend(
            file_path=path,
            fsync_policy="interval_ms",
            fsync_interval_ms=3_600_000,
            checkpoint_interval_ms=0,
        )
        backend.write([record(0)])
        assert len(synced) == 1
        assert _checkpoint(path)["seq"] == 0
        backend.close()

    def test_failed_checkpoint_is_counted_and_loses_no_record(self, tmp_path: Path) -> None:
        """A checkpoint that cannot be written is counted and warned; records still land."""
        path = tmp_path / "audit.log"
        backend = AuditBackend(file_path=path, checkpoint_interval_ms=0)
        capture = CapturingBackend()
        pipeline = LoggingPipeline([backend, capture]).start()
        checkpoint = path.with_name("audit.log.checkpoint")
        checkpoint.unlink()
        checkpoint.mkdir()  # a real failure: rename over a directory
        logger = HFTLogger(pipeline, "strategy.arb")
        for n in range(5):
            logger.audit("order.placed", n=n)
        assert pipeline.flush()
        stats = backend.stats()
        pipeline.close()
        assert len(lines(path)) == 5
        assert stats["checkpoint_failures"] >= 1
        assert stats["chain_head_seq"] == 4
        warnings = [r for r in capture.records if r.msg == "audit checkpoint not written"]
        assert len(warnings) == 1
        assert "IsADirectoryError" in warnings[0].fields["error"]


class TestSettings:
    def test_interval_from_settings(self, tmp_path: Path) -> None:
        """``checkpoint_interval_ms`` reaches the backend from its settings section."""
        section = AuditBackendSettings(file_path=str(tmp_path / "audit.log"))
        assert section.checkpoint_interval_ms == 1000
        backend = create_backend_from_config(
            "audit", section.model_copy(update={"checkpoint_interval_ms": 0})
        )
        assert isinstance(backend, AuditBackend)
        backend.write([record(0)])
        assert _seq(tmp_path / "audit.log.checkpoint") == 0
        backend.close()

    def test_negative_interval_names_the_key(self) -> None:
        """A negative interval is refused with an error naming the settings key."""
        with pytest.raises(ConfigError) as caught:
            load(REPO_SETTINGS, env={"HFT_LOGGING__BACKENDS__AUDIT__CHECKPOINT_INTERVAL_MS": "-1"})
        assert "logging.backends.audit.checkpoint_interval_ms" in str(caught.value)


class TestRestart:
    def test_truncated_trail_continues_after_the_checkpoint(self, tmp_path: Path) -> None:
        """Tail cut, then a restart: no seq reused, the gap stays, a warning says so."""
        path = tmp_path / "audit.log"
        write_trail(path, 10)
        path.write_bytes(b"".join(lines(path)[:6]))
        backend = AuditBackend(file_path=path)
        capture = CapturingBackend()
        pipeline = LoggingPipeline([backend, capture]).start()
        HFTLogger(pipeline, "strategy.arb").audit("order.placed", n=10)
        pipeline.close()
        assert [orjson.loads(x)["seq"] for x in lines(path)] == [0, 1, 2, 3, 4, 5, 10]
        report = verify_audit_files([path])
        assert [(p.kind, p.detail) for p in report.problems] == [
            ("gap", "seqs 6..9 missing (4 records deleted)")
        ]
        warned = [r.msg for r in capture.records if r.level == "WARNING"]
        assert any("seqs 6..9 missing" in m for m in warned)

    def test_rewritten_head_refuses_to_open(self, tmp_path: Path) -> None:
        """A last record that differs from the checkpoint's stops the backend from opening."""
        path = tmp_path / "audit.log"
        write_trail(path, 3)
        other = Checkpoint(2, "f" * 64, 0, "sha256", "audit.log", time.time_ns())
        write_checkpoint(path.with_name("audit.log.checkpoint"), other, None)
        before = path.read_bytes()
        with pytest.raises(AuditChainError, match="does not match its checkpoint"):
            AuditBackend(file_path=path)
        assert path.read_bytes() == before
        assert read_checkpoint(path.with_name("audit.log.checkpoint"), None) == other

    def test_checkpoint_that_does_not_verify_refuses_to_open(self, tmp_path: Path) -> None:
        """An edited checkpoint stops the backend rather than being overwritten."""
        path = tmp_path / "audit.log"
        write_trail(path, 2)
        checkpoint = path.with_name("audit.log.checkpoint")
        checkpoint.write_bytes(checkpoint.read_bytes().replace(b'"seq":1', b'"seq":7'))
        with pytest.raises(AuditChainError, match="seal does not match"):
            AuditBackend(file_path=path)


class TestHeadReported:
    def test_checkpoint_record_and_gauge(self, tmp_path: Path) -> None:
        """``audit.checkpoint`` (INFO) and ``hft_audit_chain_head_seq`` match the trail."""
        path = tmp_path / "audit.log"
        audit = AuditBackend(file_path=path, checkpoint_interval_ms=0)
        prom = PrometheusBackend(push_gateway_url="", scrape_enabled=True, scrape_port=0)
        capture = CapturingBackend()
        pipeline = LoggingPipeline([audit, prom, capture]).start()
        logger = HFTLogger(pipeline, "strategy.arb")
        for n in range(25):
            logger.audit("order.placed", n=n)
        assert pipeline.flush()
        assert prom.scrape_url is not None
        scraped = http_get(prom.scrape_url)
        pipeline.flush()
        pipeline.close()
        seq, digest = _last(path)
        assert f"hft_audit_chain_head_seq {float(seq)}" in scraped
        assert f"hft_audit_checkpoint_seq {float(seq)}" in scraped
        heads = [r for r in capture.records if r.msg == "audit.checkpoint"]
        assert all(r.level == "INFO" and r.logger == "hft.logging" for r in heads)
        assert (heads[-1].fields["head_seq"], heads[-1].fields["head_digest"]) == (seq, digest)

    def test_head_sent_at_start_of_an_existing_chain(self, tmp_path: Path) -> None:
        """A restart sends the head it found at once; a new, empty chain sends none."""
        path = tmp_path / "audit.log"
        capture = CapturingBackend()
        pipeline = LoggingPipeline([AuditBackend(file_path=path), capture]).start()
        assert pipeline.flush()
        pipeline.close()
        assert [r for r in capture.records if r.msg == "audit.checkpoint"] == []
        write_trail(path, 3)
        capture = CapturingBackend()
        pipeline = LoggingPipeline([AuditBackend(file_path=path), capture]).start()
        assert pipeline.flush()
        pipeline.close()
        heads = [r.fields["head_seq"] for r in capture.records if r.msg == "audit.checkpoint"]
        assert heads == [2]

    def test_head_reaches_rsyslog(self, tmp_path: Path, rsyslog: Callable[..., Rsyslog]) -> None:
        """The head goes to the syslog stream: rsyslog's copy verifies the trail's end."""
        server = rsyslog()
        path = tmp_path / "audit.log"
        audit = AuditBackend(file_path=path, checkpoint_interval_ms=0)
        syslog = SyslogBackend(port=server.port, spool_dir=tmp_path / "spool", hostname="h")
        pipeline = LoggingPipeline([audit, syslog]).start()
        logger = HFTLogger(pipeline, "strategy.arb")
        for n in range(10):
            logger.audit("order.placed", n=n)
        assert pipeline.flush()
        logger.info("after")  # carries the last checkpoint record out with it
        assert pipeline.flush()
        wait_until(lambda: any(r["msg"] == "after" for r in server.records()), 30, "rsyslog")
        pipeline.close()
        heads = [parse_sd(r["sd"])[1] for r in server.records() if r["msg"] == "audit.checkpoint"]
        assert heads
        seq, digest = int(heads[-1]["head_seq"]), heads[-1]["head_digest"]
        assert (seq, digest) == _last(path)
        path.write_bytes(b"".join(lines(path)[:-1]))
        path.with_name("audit.log.checkpoint").unlink()
        report = verify_audit_files([path], expect=(seq, digest))
        assert [p.kind for p in report.problems] == ["truncated"]


_CHILD = textwrap.dedent(
    """
    import sys
    from hft.logging import AuditBackend, HFTLogger, LoggingPipeline
    backend = AuditBackend(file_path=sys.argv[1], checkpoint_interval_ms=int(sys.argv[2]))
    pipeline = LoggingPipeline([backend], ring_buffer_size=1000).start()
    logger = HFTLogger(pipeline, "strategy.arb")
    n = 0
    while True:
        logger.audit("order.placed", n=n, payload="x" * 200)
        n += 1
    """
)


@pytest.fixture(params=[5, 250], ids=["interval_5ms", "interval_250ms"])
def child(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[subprocess.Popen[bytes]]:
    """A process writing audit records to ``tmp_path/audit.log`` until killed."""
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    argv = [sys.executable, "-c", _CHILD, str(tmp_path / "audit.log"), str(request.param)]
    process = subprocess.Popen(argv, env=env)
    yield process
    if process.poll() is None:
        process.kill()
        process.wait(10)


class TestKill:
    @pytest.mark.slow
    def test_kill_9_then_verify_with_its_checkpoint(
        self, tmp_path: Path, child: subprocess.Popen[bytes]
    ) -> None:
        """kill -9 mid-stream: trail plus (lagging) checkpoint verify, only a torn tail at most."""
        path = tmp_path / "audit.log"
        checkpoint = path.with_name("audit.log.checkpoint")
        wait_until(lambda: checkpoint.exists() and _seq(checkpoint) >= 1000, 60, "checkpoint")
        time.sleep(0.1)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
        report = verify_audit_files([path])
        assert {p.kind for p in report.problems} <= {"torn_tail"}
        assert report.exit_code in (0, 3)
        assert report.anchor_seq is not None
        assert report.last_seq is not None
        assert 1000 <= report.anchor_seq <= report.last_seq
        assert report.records == report.last_seq + 1
        print(  # the figures for the record: kept on disk, vouched for, torn
            f"kill -9: {report.records} records on disk, checkpoint at seq {report.anchor_seq},"
            f" verdict {report.render().split(':')[0]}"
        )
