"""AuditBackend: sealed lines, its settings, through a pipeline."""

from __future__ import annotations

import hashlib
import hmac
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
from hft.logging.audit._chain import GENESIS
from hft.logging.backends.registry import backend_classes
from hft.logging.testing import CapturingBackend
from tests.logging.audit_files import lines, record, write_trail


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
