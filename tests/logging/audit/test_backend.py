"""AuditBackend: sealed lines on real files, durability, rotation, restart after a crash."""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
import pytest

from hft.logging import (
    AuditBackend,
    HFTLogger,
    LoggingPipeline,
    create_backend_from_config,
    verify_audit_files,
)
from hft.logging.audit._chain import GENESIS, read_tail, side_files
from hft.logging.audit.backend import AuditChainError
from hft.logging.backends.registry import backend_classes
from hft.logging.testing import CapturingBackend
from tests.logging.audit_files import append_torn, lines, record, write_trail

SRC = Path(__file__).resolve().parents[3] / "src"


def _objects(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in lines(path)]


class TestFormat:
    def test_record_carries_chain_fields(self, tmp_path: Path) -> None:
        """Each line holds seq, prev, digest, pipeline_seq, event, logger, tags and fields."""
        path = tmp_path / "audit.log"
        write_trail(path, 2)
        first, second = _objects(path)
        assert (first["seq"], first["prev"], first["pipeline_seq"]) == (0, GENESIS, 0)
        assert (second["seq"], second["prev"]) == (1, first["digest"])
        assert (first["event"], first["logger"], first["tags"]) == (
            "order.placed",
            "strategy.arb",
            ["arb"],
        )
        assert first["fields"] == {"n": 0}
        assert first["alg"] == "sha256"

    def test_digest_is_sha256_of_sorted_record_without_digest(self, tmp_path: Path) -> None:
        """The digest is SHA-256 of orjson(record without digest, OPT_SORT_KEYS)."""
        path = tmp_path / "audit.log"
        write_trail(path, 1)
        (obj,) = _objects(path)
        digest = obj.pop("digest")
        canonical = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
        assert digest == hashlib.sha256(canonical).hexdigest()

    def test_hmac_when_key_variable_set(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With the key variable set, the digest is HMAC-SHA256 under that key."""
        monkeypatch.setenv("TEST_AUDIT_KEY", "k3y")
        path = tmp_path / "audit.log"
        backend = write_trail(path, 1, hmac_key_env="TEST_AUDIT_KEY")
        (obj,) = _objects(path)
        digest = obj.pop("digest")
        canonical = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
        assert backend.keyed
        assert obj["alg"] == "hmac-sha256"
        assert digest == hmac.new(b"k3y", canonical, hashlib.sha256).hexdigest()

    def test_unserialisable_fields_are_rendered(self, tmp_path: Path) -> None:
        """Objects and non-string keys become text instead of failing the batch."""
        path = tmp_path / "audit.log"
        backend = AuditBackend(file_path=path)
        backend.write([record(0, obj=object(), odd={1: "x"})])
        backend.close()
        (obj,) = _objects(path)
        assert obj["fields"]["odd"] == {"1": "x"}  # type: ignore[index]
        assert verify_audit_files([path]).exit_code == 0


class TestFile:
    def test_mode_0600_even_under_permissive_umask(self, tmp_path: Path) -> None:
        """The audit file is readable and writable by its owner only."""
        old = os.umask(0)
        try:
            write_trail(tmp_path / "audit.log", 1)
        finally:
            os.umask(old)
        assert stat.S_IMODE((tmp_path / "audit.log").stat().st_mode) == 0o600

    def test_existing_file_is_tightened_to_0600(self, tmp_path: Path) -> None:
        """A pre-existing file with a looser mode is set to 0600 on open."""
        path = tmp_path / "audit.log"
        path.touch(mode=0o644)
        AuditBackend(file_path=path).close()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def test_opened_append_only(self, tmp_path: Path) -> None:
        """The descriptor is O_APPEND, so every write lands at the end of the file."""
        backend = AuditBackend(file_path=tmp_path / "audit.log")
        try:
            assert fcntl.fcntl(backend._file.fd, fcntl.F_GETFL) & os.O_APPEND
        finally:
            backend.close()

    def test_failed_write_leaves_no_partial_batch(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A sync failure cuts the file back and keeps the chain state, so a retry is clean."""
        path = tmp_path / "audit.log"
        backend = AuditBackend(file_path=path)
        backend.write([record(0)])

        def failing_sync(_fd: int) -> None:
            raise OSError(5, "I/O error")

        monkeypatch.setattr("hft.logging.audit._trail._sync", failing_sync)
        with pytest.raises(OSError, match="I/O error"):
            backend.write([record(1)])
        monkeypatch.undo()
        backend.write([record(1)])
        backend.close()
        assert [o["seq"] for o in _objects(path)] == [0, 1]
        assert verify_audit_files([path]).exit_code == 0


class TestDurability:
    def test_every_batch_syncs_each_write(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``every_batch``: one fdatasync per write, before write returns."""
        synced: list[int] = []
        monkeypatch.setattr("hft.logging.audit._trail._sync", synced.append)
        backend = AuditBackend(file_path=tmp_path / "audit.log")
        backend.write([record(0)])
        backend.write([record(1), record(2)])
        assert len(synced) == 2
        backend.close()

    def test_interval_syncs_at_most_once_per_interval(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``interval_ms``: writes in one interval share a sync; flush or close syncs later."""
        synced: list[int] = []
        monkeypatch.setattr("hft.logging.audit._trail._sync", synced.append)
        backend = AuditBackend(
            file_path=tmp_path / "audit.log", fsync_policy="interval_ms", fsync_interval_ms=60_000
        )
        for n in range(5):
            backend.write([record(n)])
        backend.flush()
        assert synced == []
        backend.close()
        assert len(synced) == 1

    def test_interval_elapsed_flush_syncs(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Once the interval has passed, the dispatcher's periodic flush syncs pending records."""
        synced: list[int] = []
        monkeypatch.setattr("hft.logging.audit._trail._sync", synced.append)
        backend = AuditBackend(
            file_path=tmp_path / "audit.log", fsync_policy="interval_ms", fsync_interval_ms=1
        )
        backend._file.synced_at = time.monotonic()
        backend.write([record(0)])
        time.sleep(0.005)
        backend.flush()
        assert len(synced) >= 1
        backend.close()


class TestRotation:
    def test_explicit_rotate_keeps_one_chain(self, tmp_path: Path) -> None:
        """After ``rotate()``, the new file's first record links to the old file's last."""
        path = tmp_path / "audit.log"
        backend = AuditBackend(file_path=path)
        backend.write([record(0), record(1)])
        rotated = backend.rotate()
        backend.write([record(2)])
        backend.close()
        assert rotated is not None
        assert backend.rotated_files() == [rotated]
        assert _objects(path)[0]["prev"] == _objects(rotated)[-1]["digest"]
        report = verify_audit_files([path, rotated])
        assert (report.exit_code, report.records, report.last_seq) == (0, 3, 2)

    def test_size_rotation_and_restart_on_empty_file(self, tmp_path: Path) -> None:
        """Size rotation starts new files; a restart on an empty file continues from the last."""
        path = tmp_path / "audit.log"
        write_trail(path, 6, rotation="size", max_bytes=1)
        rotating = AuditBackend(file_path=path)
        rotating.rotate()  # the live file is now new and empty
        rotating.close()
        write_trail(path, 1, start=6)
        files = [path, *AuditBackend(file_path=path).rotated_files()]
        report = verify_audit_files(files)
        assert (report.exit_code, report.records, report.last_seq) == (0, 7, 6)
        assert len(files) == 7

    def test_rotate_empty_file_is_a_no_op(self, tmp_path: Path) -> None:
        """Rotating a file with nothing in it does not create an empty rotated file."""
        backend = AuditBackend(file_path=tmp_path / "audit.log")
        assert backend.rotate() is None
        backend.close()


class TestRestart:
    def test_reopen_continues_the_chain(self, tmp_path: Path) -> None:
        """A new backend on an existing file continues seq and prev from its last record."""
        path = tmp_path / "audit.log"
        write_trail(path, 3)
        write_trail(path, 2)
        report = verify_audit_files([path])
        assert (report.exit_code, report.records, report.last_seq) == (0, 5, 4)

    def test_torn_tail_set_aside_before_appending(self, tmp_path: Path) -> None:
        """A line cut short is moved to a side file, the file cut back, the chain continued."""
        path = tmp_path / "audit.log"
        write_trail(path, 3)
        intact = path.read_bytes()
        torn = append_torn(path)
        backend = write_trail(path, 1)
        assert backend.set_aside is not None
        assert backend.set_aside.read_bytes() == torn
        assert stat.S_IMODE(backend.set_aside.stat().st_mode) == 0o600
        assert path.read_bytes().startswith(intact)
        report = verify_audit_files([path])
        assert (report.records, report.last_seq) == (4, 3)
        assert [p.kind for p in report.problems] == ["side_file"]
        assert report.exit_code == 3

    def test_record_cut_before_its_checkpoint_is_not_reused(self, tmp_path: Path) -> None:
        """A record the checkpoint vouched for, cut short: its seq is skipped, verify exits 1."""
        path = tmp_path / "audit.log"
        write_trail(path, 3)
        path.write_bytes(path.read_bytes()[:-30])
        write_trail(path, 1)
        report = verify_audit_files([path])
        assert [(p.kind, p.seq) for p in report.problems] == [("gap", 3), ("side_file", None)]
        assert (report.records, report.last_seq, report.exit_code) == (3, 3, 1)

    def test_damaged_last_line_kept_and_its_seq_not_reused(self, tmp_path: Path) -> None:
        """A complete last line that does not parse stays; the chain goes on after its seq."""
        path = tmp_path / "audit.log"
        write_trail(path, 2)
        path.write_bytes(path.read_bytes() + b"\x00\x00garbage\n")
        backend = write_trail(path, 1)
        assert backend.set_aside is None
        assert lines(path)[2] == b"\x00\x00garbage\n"
        report = verify_audit_files([path])
        assert [(p.kind, p.line, p.seq) for p in report.problems] == [
            ("unparsable", 3, None),
            ("gap", 4, 3),
        ]
        assert (report.last_seq, report.exit_code) == (3, 1)

    def test_edited_last_record_then_restart_is_tampering(self, tmp_path: Path) -> None:
        """The last record edited, then a restart: kept in place, seq not reused, exit 1."""
        path = tmp_path / "audit.log"
        write_trail(path, 3)
        content = lines(path)
        content[2] = content[2].replace(b'"n":2', b'"n":9')
        path.write_bytes(b"".join(content))
        backend = write_trail(path, 1)
        assert (backend.set_aside, side_files(path)) == (None, [])
        report = verify_audit_files([path])
        assert [(p.kind, p.line, p.seq) for p in report.problems] == [("digest_mismatch", 3, 2)]
        assert "content was altered" in report.problems[0].detail
        assert (report.records, report.last_seq, report.exit_code) == (4, 3, 1)

    def test_key_change_refuses_to_extend(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Records that do not verify under the configured key stop the backend from opening."""
        path = tmp_path / "audit.log"
        monkeypatch.setenv("TEST_AUDIT_KEY", "old")
        write_trail(path, 2, hmac_key_env="TEST_AUDIT_KEY")
        monkeypatch.setenv("TEST_AUDIT_KEY", "new")
        before = path.read_bytes()
        with pytest.raises(AuditChainError, match="do not verify"):
            AuditBackend(file_path=path, hmac_key_env="TEST_AUDIT_KEY")
        assert path.read_bytes() == before
        assert side_files(path) == []

    def test_alg_change_refuses_to_extend(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A key set for an unkeyed chain is refused rather than mixing algorithms."""
        path = tmp_path / "audit.log"
        write_trail(path, 1)
        monkeypatch.setenv("TEST_AUDIT_KEY", "k")
        with pytest.raises(AuditChainError, match="sealed with sha256"):
            AuditBackend(file_path=path, hmac_key_env="TEST_AUDIT_KEY")

    def test_read_tail_beyond_first_chunk(self, tmp_path: Path) -> None:
        """The last line is found even when it is longer than the first chunk read."""
        path = tmp_path / "f"
        path.write_bytes(b"a\n" + b"b" * 100 + b"\ntorn")
        tail = read_tail(path, chunk=8)
        assert (tail.line, tail.start, tail.end, tail.size) == (b"b" * 100, 2, 103, 107)


class TestPipeline:
    def test_takes_only_audit_records(self, tmp_path: Path) -> None:
        """Through a pipeline, only ``audit`` calls reach the audit file; other levels stay on."""
        path = tmp_path / "audit.log"
        capture = CapturingBackend()
        pipeline = LoggingPipeline([AuditBackend(file_path=path), capture]).start()
        logger = HFTLogger(pipeline, "ops", ["ops"])
        logger.debug("noise")
        logger.audit("config.changed", key="max_qty", old=1, new=2)
        logger.metric("m", 1.0)
        pipeline.close()
        (obj,) = _objects(path)
        assert obj["event"] == "config.changed"
        assert obj["fields"] == {
            "key": "max_qty",
            "old": 1,
            "new": 2,
        }
        assert "noise" in capture.messages()

    def test_secrets_redacted_in_audit_file(self, tmp_path: Path) -> None:
        """Sensitive fields (and bound context) are masked before they are sealed."""
        path = tmp_path / "audit.log"
        pipeline = LoggingPipeline([AuditBackend(file_path=path)]).start()
        logger = HFTLogger(pipeline, "ops").bind(api_secret="s3cr3t")  # noqa: S106 - a fake secret to redact
        logger.audit("login", api_key="AKIA123", user="ann")
        pipeline.close()
        assert b"s3cr3t" not in path.read_bytes()
        assert b"AKIA123" not in path.read_bytes()
        (obj,) = _objects(path)
        assert obj["fields"] == {"api_secret": "**********", "api_key": "**********", "user": "ann"}
        assert verify_audit_files([path]).exit_code == 0

    @pytest.mark.slow
    def test_200k_records_through_a_small_ring_all_arrive_chained(self, tmp_path: Path) -> None:
        """200,000 audits under a 1,000-slot ring: all on disk, in order, one chain."""
        path = tmp_path / "audit.log"
        pipeline = LoggingPipeline([AuditBackend(file_path=path)], ring_buffer_size=1000).start()
        logger = HFTLogger(pipeline, "strategy.arb")
        for n in range(200_000):
            logger.audit("order.placed", n=n)
        pipeline.close()
        report = verify_audit_files([path])
        assert (report.exit_code, report.records, report.last_seq) == (0, 200_000, 199_999)
        pipeline_seqs = [orjson.loads(line)["fields"]["n"] for line in lines(path)]
        assert pipeline_seqs == list(range(200_000))
        assert pipeline.dropped == 0


class TestRegistry:
    def test_registered_under_audit(self) -> None:
        """The registry builds ``audit`` with this class."""
        assert backend_classes()["audit"] is AuditBackend

    def test_built_from_default_settings(self, tmp_path: Path) -> None:
        """Every key of the settings section is a constructor argument."""
        from hft.config import AuditBackendSettings

        settings = AuditBackendSettings(enabled=True, file_path=str(tmp_path / "a.log"))
        backend = create_backend_from_config("audit", settings, max_field_chars=100)
        assert isinstance(backend, AuditBackend)
        assert backend.takes_metrics is False
        backend.close()

    @pytest.mark.parametrize(
        ("setting", "value"),
        [("format", "text"), ("fsync_policy", "never"), ("rotation", "hourly")],
    )
    def test_bad_choice_rejected(self, tmp_path: Path, setting: str, value: str) -> None:
        """An unknown format, fsync policy or rotation is an error naming it."""
        with pytest.raises(ValueError, match=value):
            AuditBackend(file_path=tmp_path / "a.log", **{setting: value})  # type: ignore[arg-type]


_CHILD = textwrap.dedent(
    """
    import sys
    from hft.logging import AuditBackend, HFTLogger, LoggingPipeline
    backend = AuditBackend(file_path=sys.argv[1])
    pipeline = LoggingPipeline([backend], ring_buffer_size=1000).start()
    logger = HFTLogger(pipeline, "strategy.arb")
    limit = int(sys.argv[2])
    n = 0
    while limit < 0 or n < limit:
        logger.audit("order.placed", n=n, payload="x" * 2000)
        n += 1
    pipeline.close()
    """
)


def _child(path: Path, limit: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen([sys.executable, "-c", _CHILD, str(path), str(limit)], env=env)


def _wait_for_lines(path: Path, count: int, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and child.poll() is None:
        if path.exists() and path.read_bytes().count(b"\n") > count:
            return
        time.sleep(0.01)
    raise AssertionError("the child did not write enough audit records")


class TestCrash:
    @pytest.mark.slow
    def test_sigkill_mid_write_then_restart_keeps_one_chain(self, tmp_path: Path) -> None:
        """After SIGKILL, verify sees an intact prefix; a restart continues the chain."""
        path = tmp_path / "audit.log"
        child = _child(path, -1)
        _wait_for_lines(path, 2000, child)
        child.send_signal(signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
        after_kill = verify_audit_files([path])
        assert {p.kind for p in after_kill.problems} <= {"torn_tail"}
        assert after_kill.first_seq == 0
        assert after_kill.last_seq == after_kill.records - 1
        killed_at = after_kill.records
        restart = _child(path, 500)
        assert restart.wait(30) == 0
        final = verify_audit_files([path])
        torn = bool(after_kill.problems)
        assert [p.kind for p in final.problems] == (["side_file"] if torn else [])
        assert final.exit_code == (3 if torn else 0)
        assert (final.records, final.last_seq) == (killed_at + 500, killed_at + 499)
