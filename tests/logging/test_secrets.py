"""Secrets: sensitive fields are masked before any backend sees them, in every backend."""

from __future__ import annotations

import io
from pathlib import Path

from hft.logging import (
    AuditBackend,
    ConsoleBackend,
    FileBackend,
    HFTLogger,
    LoggingPipeline,
)
from hft.logging._render import REDACTED
from hft.logging.testing import CapturingBackend, capture_logs

SECRETS = {
    "api_key": "AK-1111",
    "Exchange_Secret": "SEC-2222",
    "passphrase": "PP-3333",
    "auth_token": "TOK-4444",
    "signature": "SIG-5555",
}


class TestRedaction:
    def test_no_backend_ever_sees_a_secret(self, tmp_path: Path) -> None:
        """Call, bound and audit fields are masked in console, file, audit and capture."""
        console = io.StringIO()
        capture = CapturingBackend()
        backends = [
            ConsoleBackend(stream=console, level="DEBUG"),
            FileBackend(file_path=tmp_path / "hft.log", level="DEBUG"),
            AuditBackend(file_path=tmp_path / "audit.log"),
            capture,
        ]
        pipeline = LoggingPipeline(backends).start()
        logger = HFTLogger(pipeline, "x")
        logger.info("call", **SECRETS, safe="visible")
        logger.bind(api_key="AK-bound", token="TOK-bound").warning("bound")  # noqa: S106 - fake
        logger.audit("order", signature="SIG-audit", qty=1)
        pipeline.close()
        outputs = {
            "console": console.getvalue(),
            "file": (tmp_path / "hft.log").read_text(),
            "audit": (tmp_path / "audit.log").read_text(),
            "capture": repr(capture.records),
        }
        for name, text in outputs.items():
            for secret in (*SECRETS.values(), "AK-bound", "TOK-bound", "SIG-audit"):
                assert secret not in text, (name, secret)
            assert REDACTED in text, name
        assert "visible" in outputs["file"]
        (first,) = [r.fields for r in capture.logs() if r.msg == "call"]
        assert first == {**dict.fromkeys(SECRETS, REDACTED), "safe": "visible"}

    def test_patterns_come_from_settings(self) -> None:
        """``redact_fields`` replaces the default patterns."""
        capture = CapturingBackend()
        pipeline = LoggingPipeline([capture], redact_fields=("account",)).start()
        HFTLogger(pipeline, "x").info("m", account_id="A1", api_key="shown")
        pipeline.close()
        assert capture.logs()[0].fields == {"account_id": REDACTED, "api_key": "shown"}


class TestRedactionReach:
    def test_nested_camel_case_and_header_names(self) -> None:
        """Secrets inside dicts and lists, in camelCase or header form, are masked too."""
        with capture_logs() as (logger, captured):
            logger.info(
                "req",
                request={"api_key": "AK-1", "headers": {"X-MEXC-APIKEY": "AK-2"}},
                creds={"apiKey": "AK-3", "apiSecret": "S-4"},
                batch=[{"password": "P-5"}, {"qty": 1}],
            )
        (record,) = captured.logs()
        text = repr(record.fields)
        assert not any(secret in text for secret in ("AK-1", "AK-2", "AK-3", "S-4", "P-5"))
        assert record.fields["batch"][1] == {"qty": 1}

    def test_metric_tags_are_masked(self) -> None:
        """A metric tag named like a secret does not reach metric backends."""
        with capture_logs() as (logger, captured):
            logger.metric("m", 1, tags={"token": "T-5", "exchange": "mexc"})
        (metric,) = captured.metrics()
        assert metric.fields["tags"] == {"token": REDACTED, "exchange": "mexc"}

    def test_pipeline_default_matches_the_settings_default(self) -> None:
        """A pipeline built without settings masks the same names as settings/base.yaml."""
        from hft.config import HftSettings
        from hft.logging._render import DEFAULT_REDACT_FIELDS

        assert list(DEFAULT_REDACT_FIELDS) == list(HftSettings().redact_fields)
