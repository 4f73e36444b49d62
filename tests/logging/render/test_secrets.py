"""Secrets: sensitive fields, their values in text and the settings' secrets are masked before
any backend sees them, in every backend."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
from dependency_injector import providers
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from hft.containers import create_application
from hft.logging import (
    AuditBackend,
    ConsoleBackend,
    FileBackend,
    HFTLogger,
    LoggingPipeline,
)
from hft.logging.render.lines import REDACTED
from hft.logging.render.secrets import SecretMask, settings_secrets
from hft.logging.testing import CapturingBackend, capture_logs
from tests._apps import REPO_SETTINGS

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
        from hft.logging.render.redact import DEFAULT_REDACT_FIELDS

        assert list(DEFAULT_REDACT_FIELDS) == list(HftSettings().redact_fields)


def _outputs(console: io.StringIO, path: Path, capture: CapturingBackend) -> dict[str, str]:
    """What each backend holds: the console's text, the file read from disk, the captures."""
    return {
        "console": console.getvalue(),
        "file": path.read_text(),
        "capture": repr(capture.records),
    }


class TestSecretsByValue:
    def test_a_redacted_value_is_masked_in_the_message_and_exception_text(
        self, tmp_path: Path
    ) -> None:
        """``log.exception`` with the key under a redacted name: the key is in neither the
        message, the exception's message nor its traceback, in any backend."""
        console, capture, path = io.StringIO(), CapturingBackend(), tmp_path / "hft.log"
        backends = [
            ConsoleBackend(stream=console, level="DEBUG"),
            FileBackend(file_path=path),
            capture,
        ]
        pipeline = LoggingPipeline(backends).start()
        logger = HFTLogger(pipeline, "orders")
        key = "AK-live-7f3a9c2e"
        try:
            raise PermissionError(f"exchange refused key {key}")
        except PermissionError:
            logger.exception(f"order rejected for {key}", api_key=key, symbol="BTCUSDT")
        pipeline.close()
        for name, text in _outputs(console, path, capture).items():
            assert key not in text, name
        (line,) = [orjson.loads(raw) for raw in path.read_bytes().splitlines()]
        assert line["msg"] == f"order rejected for {REDACTED}"
        assert line["fields"]["exc_info"]["message"] == f"exchange refused key {REDACTED}"
        assert (
            f"PermissionError: exchange refused key {REDACTED}"
            in line["fields"]["exc_info"]["traceback"]
        )

    def test_values_shorter_than_four_characters_are_not_searched(self) -> None:
        """A 3-character secret is masked as a field but left in the text (masking every
        ``abc`` would blank the log); a 4-character one is masked in the text too."""
        with capture_logs() as (logger, captured):
            logger.info("pin abc used, code abcd used", password="abc", token="abcd")  # noqa: S106
        (record,) = captured.logs()
        assert record.msg == f"pin abc used, code {REDACTED} used"
        assert record.fields == {"password": REDACTED, "token": REDACTED}

    def test_the_new_default_names_are_masked(self) -> None:
        """``authorization``, ``private_key``, ``cookie`` and ``credentials`` are redacted by
        default, in header form and nested too."""
        with capture_logs() as (logger, captured):
            logger.info(
                "req",
                authorization="Bearer eyJ-1",
                private_key="-----BEGIN KEY-----",
                cookie="sid=s3ss10n",
                credentials={"user": "u", "pass": "p4ss"},
                headers={"Authorization": "Bearer eyJ-2", "Set-Cookie": "sid=2"},
            )
        (record,) = captured.logs()
        assert record.fields == {
            "authorization": REDACTED,
            "private_key": REDACTED,
            "cookie": REDACTED,
            "credentials": REDACTED,
            "headers": {"Authorization": REDACTED, "Set-Cookie": REDACTED},
        }


class TestSettingsSecrets:
    def test_a_settings_secret_is_masked_everywhere(self, tmp_path: Path) -> None:
        """An exchange key from the environment, built into the container, is masked in every
        record's message, field values (any name, any depth), bound context and exception
        text, in the console, the file on disk and a capture alike."""
        key, secret = "mx0vgl-LIVE-KEY-0042", "S3cr3t/With+Odd=Chars"
        env = {"HFT_EXCHANGES__MEXC__API_KEY": key, "HFT_EXCHANGES__MEXC__API_SECRET": secret}
        app = create_application("dev", REPO_SETTINGS, env=env)
        console, capture, path = io.StringIO(), CapturingBackend(), tmp_path / "hft.log"
        backends = [
            ConsoleBackend(stream=console, level="DEBUG"),
            FileBackend(file_path=path),
            capture,
        ]
        app.logging.backends.override(providers.Object(backends))
        app.init_resources()
        logger = app.logging.logger(name="leaky")
        logger.info("clean", note="nothing here")  # "note" becomes a known, harmless name
        logger.info(f"signing with {secret}", note=f"url?key={key}")
        logger.info("request", params=[("apiKey", key)], body={"q": f"k={key}"})
        logger.bind(endpoint=f"wss://x/?key={key}").warning("bound")
        try:
            raise ConnectionError(f"401 for key {key} / {secret}")
        except ConnectionError:
            logger.exception("login failed")
        logger.audit("order", note=f"signed by {key}")
        app.shutdown_resources()
        for name, text in _outputs(console, path, capture).items():
            assert key not in text, name
            assert secret not in text, name
            assert REDACTED in text, name
        assert "nothing here" in path.read_text()
        assert f"signing with {REDACTED}" in capture.messages()

    def test_settings_secrets_are_every_secretstr_in_the_tree(self) -> None:
        """Every non-empty ``SecretStr`` in models, dicts and lists is found; short ones (under
        four characters) and empty ones are left out, the longest comes first."""
        tree = {
            "exchanges": {"a": {"api_key": SecretStr("key-aaaa"), "api_secret": SecretStr("")}},
            "more": [SecretStr("longer-secret-bbbb"), SecretStr("abc"), "plain text"],
        }
        assert settings_secrets(tree) == ("longer-secret-bbbb", "key-aaaa")

    def test_no_secrets_configured_changes_nothing(self) -> None:
        """Without settings secrets and redacted fields the mask returns the same objects."""
        fields = {"a": "x" * 50}
        assert SecretMask().mask("m", fields, []) == ("m", fields)
        assert SecretMask().mask("m", fields, [])[1] is fields


#: Secrets may hold regex specials; never ``*`` (the mask's own character) nor NUL.
_secret_text = st.text(alphabet="aAz09-_/+=.()[]{}?^$|\\ ", min_size=4, max_size=12)
_around = st.text(alphabet="aAz09-_/+=.()[]{}?^$|\\ \n", max_size=12)


class TestMaskProperties:
    @settings(max_examples=200, deadline=None)
    @given(secret=_secret_text, before=_around, after=_around)
    def test_a_settings_secret_never_survives(self, secret: str, before: str, after: str) -> None:
        """Wherever a settings secret sits in the message, a string field or a nested one, it
        is gone after masking."""
        text = f"{before}{secret}{after}"
        msg, fields = SecretMask([secret]).mask(text, {"a": text, "b": [{"c": text}]}, [])
        assert secret not in msg
        assert secret not in repr(fields)

    @settings(max_examples=200, deadline=None)
    @given(value=_secret_text, before=_around, after=_around)
    def test_a_redacted_value_never_survives_in_the_text(
        self, value: str, before: str, after: str
    ) -> None:
        """A redacted field's value is gone from the message and the exception's text."""
        text = f"{before}{value}{after}"
        exc = {"type": "E", "message": text, "traceback": f"E: {text}\n"}
        msg, fields = SecretMask().mask(text, {"exc_info": exc}, [value])
        assert value not in msg
        assert value not in fields["exc_info"]["message"]
        assert value not in fields["exc_info"]["traceback"]
