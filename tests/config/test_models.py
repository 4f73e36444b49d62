"""Settings models and their contract with settings/base.yaml."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr, ValidationError

from hft.config import (
    AuditBackendSettings,
    BackendsSettings,
    ConsoleBackendSettings,
    ExchangeSettings,
    HftSettings,
    LoggingSettings,
    Settings,
    SyslogBackendSettings,
)
from tests.config.conftest import REPO_SETTINGS, read_yaml

BASE = read_yaml(REPO_SETTINGS / "base.yaml")
EXCHANGE = dict(BASE["exchanges"]["mexc"])


def _missing_keys(model: type[BaseModel], data: dict[str, Any], prefix: str) -> list[str]:
    """Dotted paths of ``model``'s fields that ``data`` lacks, recursively."""
    missing = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        if name not in data:
            missing.append(path)
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            missing += _missing_keys(annotation, data[name], f"{path}.")
        elif typing.get_origin(annotation) is dict:
            value_type = typing.get_args(annotation)[-1]
            if isinstance(value_type, type) and issubclass(value_type, BaseModel):
                for key, item in data[name].items():
                    missing += _missing_keys(value_type, item, f"{path}.{key}.")
    return missing


class TestBaseYamlContract:
    def test_base_alone_validates(self) -> None:
        """base.yaml on its own is a complete, valid settings file."""
        settings = Settings.model_validate(BASE)
        assert set(settings.exchanges) == {"mexc", "gateio"}

    def test_every_field_is_in_base(self) -> None:
        """Every model field appears in base.yaml, so base.yaml documents every key."""
        assert _missing_keys(Settings, BASE, "") == []

    def test_logging_defaults_equal_base(self) -> None:
        """The models' defaults are exactly base.yaml's values: the two cannot drift."""
        assert LoggingSettings().model_dump(mode="json") == BASE["logging"]

    def test_exchange_defaults_equal_base(self) -> None:
        """The only exchange defaults, the secrets, are base.yaml's empty strings."""
        for name, field in ExchangeSettings.model_fields.items():
            if not field.is_required():
                assert field.default == SecretStr(BASE["exchanges"]["mexc"][name])


class TestStrictness:
    def test_unknown_key_rejected(self) -> None:
        """A typo is an error, not silently ignored."""
        with pytest.raises(ValidationError, match="flush_intervall_ms"):
            HftSettings.model_validate({"flush_intervall_ms": 5})

    def test_frozen(self) -> None:
        """Settings are read-only once built."""
        settings = HftSettings()
        with pytest.raises(ValidationError, match="frozen"):
            settings.batch_size = 1  # type: ignore[misc]

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("ring_buffer_size", 0),
            ("batch_size", -1),
            ("gc_threshold", 1.5),
            ("overflow_policy", "drop_all"),
            ("max_retry_attempts", -1),
        ],
    )
    def test_bounds(self, field: str, value: object) -> None:
        """Numbers outside their bounds and unknown choices are rejected."""
        with pytest.raises(ValidationError, match=field):
            HftSettings.model_validate({field: value})

    def test_numbers_from_strings(self) -> None:
        """Numeric strings (as variables give them) become numbers."""
        assert HftSettings.model_validate({"batch_size": "20"}).batch_size == 20


class TestLevels:
    def test_lowercase_normalised(self) -> None:
        """Levels may be written in lower case; they are stored upper case."""
        assert ConsoleBackendSettings(level="warning").level == "WARNING"

    def test_unknown_level_rejected(self) -> None:
        """Only the five standard level names are accepted."""
        with pytest.raises(ValidationError, match="level"):
            ConsoleBackendSettings(level="verbose")


class TestSyslog:
    def test_disabled_by_default(self) -> None:
        """The syslog backend is off unless switched on."""
        assert BackendsSettings().syslog == SyslogBackendSettings()
        assert not SyslogBackendSettings().enabled

    def test_transport_choices(self) -> None:
        """Only tcp, tls and relp transports exist."""
        with pytest.raises(ValidationError, match="transport"):
            SyslogBackendSettings(transport="udp")

    def test_enabled_names(self) -> None:
        """Enabled backends are listed in declaration order."""
        backends = BackendsSettings(syslog=SyslogBackendSettings(enabled=True))
        assert backends.enabled_names() == ("console", "file", "syslog")


class TestAudit:
    def test_failure_policy_choices(self) -> None:
        """on_failure is block or raise; failure_timeout_ms is positive."""
        with pytest.raises(ValidationError, match="on_failure"):
            AuditBackendSettings(on_failure="drop")
        with pytest.raises(ValidationError, match="failure_timeout_ms"):
            AuditBackendSettings(failure_timeout_ms=0)

    def test_file_mode_reads_octal_strings(self) -> None:
        """file_mode takes 0o640 / "640" as octal, and nothing above 0o777."""
        assert AuditBackendSettings(file_mode="0o640").file_mode == 0o640
        assert AuditBackendSettings(file_mode="640").file_mode == 0o640
        with pytest.raises(ValidationError, match="file_mode"):
            AuditBackendSettings(file_mode=0o1777)


class TestSecrets:
    def _exchange(self, secret: str) -> ExchangeSettings:
        return ExchangeSettings.model_validate({**EXCHANGE, "api_key": secret})

    def test_repr_masks(self) -> None:
        """repr and str never show a secret."""
        exchange = self._exchange("s3cr3t-value")
        settings = Settings(exchanges={"mexc": exchange})
        for text in (repr(exchange), str(exchange), repr(settings), str(settings)):
            assert "s3cr3t-value" not in text

    def test_json_dump_masks(self) -> None:
        """JSON dumps show a set secret as the mask and an unset one as empty."""
        dumped = self._exchange("s3cr3t-value").model_dump(mode="json")
        assert (dumped["api_key"], dumped["api_secret"]) == ("**********", "")

    def test_reveal_context(self) -> None:
        """The reveal_secrets context shows the value (for the container's override)."""
        dumped = self._exchange("s3cr3t-value").model_dump(
            mode="json", context={"reveal_secrets": True}
        )
        assert dumped["api_key"] == "s3cr3t-value"
