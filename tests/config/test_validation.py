"""validate_logging_configuration: the spec's HFT rules."""

from __future__ import annotations

from typing import Any

import pytest

from hft.config import (
    BackendsSettings,
    ConfigError,
    FileBackendSettings,
    HftSettings,
    LoggingSettings,
    Settings,
    validate_logging_configuration,
)
from hft.config._validation import logging_settings
from tests.config.conftest import REPO_SETTINGS, read_yaml

BASE_LOGGING: dict[str, Any] = read_yaml(REPO_SETTINGS / "base.yaml")["logging"]
ALL_OFF = {name: {"enabled": False} for name in ("console", "file", "prometheus", "audit")}
#: A dict enables only the backends it names: rule tests name one, so only their rule breaks.
ONE_BACKEND: dict[str, Any] = {"backends": {"file": {}}}


def _hft(**values: object) -> dict[str, Any]:
    return {"hft_settings": values, **ONE_BACKEND}


def _enabled(config: Any) -> tuple[str, ...]:
    return logging_settings(config).backends.enabled_names()


class TestAccepts:
    def test_model(self) -> None:
        """A valid LoggingSettings passes."""
        assert validate_logging_configuration(LoggingSettings()) is True

    def test_whole_settings(self) -> None:
        """A whole Settings is checked through its logging section."""
        assert validate_logging_configuration(Settings(exchanges={})) is True

    def test_plain_dict(self) -> None:
        """The spec's plain dict of the logging section passes."""
        assert validate_logging_configuration(BASE_LOGGING) is True

    def test_partial_dict(self) -> None:
        """Keys missing from a dict take base.yaml's defaults."""
        assert validate_logging_configuration(_hft(max_latency_us=5000)) is True


class TestRules:
    def test_error_is_value_error(self) -> None:
        """ConfigError is a ValueError, as the spec raises."""
        assert issubclass(ConfigError, ValueError)

    def test_max_latency(self) -> None:
        """max_latency_us above 5000 is refused, naming the key."""
        with pytest.raises(ConfigError, match=r"logging\.hft_settings\.max_latency_us: 6000"):
            validate_logging_configuration(_hft(max_latency_us=6000, warning_threshold_us=500))

    def test_ring_buffer_size(self) -> None:
        """ring_buffer_size below 1000 is refused, naming the key."""
        with pytest.raises(ConfigError, match=r"logging\.hft_settings\.ring_buffer_size: 999"):
            validate_logging_configuration(_hft(ring_buffer_size=999))

    def test_no_backend(self) -> None:
        """At least one backend must be enabled."""
        with pytest.raises(ConfigError, match=r"logging\.backends: at least one backend"):
            validate_logging_configuration({"backends": ALL_OFF})

    def test_warning_above_max(self) -> None:
        """warning_threshold_us may not exceed max_latency_us."""
        with pytest.raises(ConfigError, match=r"hft_settings\.warning_threshold_us: 900"):
            validate_logging_configuration(_hft(max_latency_us=800, warning_threshold_us=900))

    def test_memory_for_ring(self) -> None:
        """max_memory_mb must hold ring_buffer_size slots at the per-slot estimate."""
        with pytest.raises(ConfigError, match=r"max_memory_mb: 100 MiB .*needs at least 196 MiB"):
            validate_logging_configuration(_hft(ring_buffer_size=200_000))

    def test_all_problems_listed(self) -> None:
        """Several broken rules are reported together, one per line."""
        config = {**_hft(max_latency_us=9000, ring_buffer_size=10), "backends": ALL_OFF}
        with pytest.raises(ConfigError) as caught:
            validate_logging_configuration(config)
        assert len(str(caught.value).splitlines()) == 3
        assert len(caught.value.problems) == 3

    def test_dict_of_wrong_type(self) -> None:
        """A wrong type in a dict is a ConfigError naming the full key path."""
        with pytest.raises(ConfigError, match=r"logging\.hft_settings\.batch_size: .*'many'"):
            validate_logging_configuration(_hft(batch_size="many"))


class TestADictEnablesWhatItNames:
    def test_only_the_named_backends_are_on(self) -> None:
        """Naming the audit trail alone enables it (off in base.yaml) and nothing else."""
        assert _enabled({"backends": {"audit": {"file_path": "trail.log"}}}) == ("audit",)

    def test_a_named_backend_switched_off_stays_off(self) -> None:
        """A named backend with enabled: false is off; the others it names are on."""
        assert _enabled({"backends": {"console": {"enabled": False}, "file": {}}}) == ("file",)

    def test_every_backend_named_with_its_switch(self) -> None:
        """A dict naming every backend (a model's dump) keeps each one's enabled flag."""
        config = LoggingSettings().model_dump()
        for section in config["backends"].values():
            section["enabled"] = False
        config["backends"]["syslog"]["enabled"] = True
        assert _enabled(config) == ("syslog",)

    @pytest.mark.parametrize("config", [{}, {"backends": {}}, {"hft_settings": {"batch_size": 7}}])
    def test_naming_none_is_the_at_least_one_backend_error(self, config: dict[str, Any]) -> None:
        """A dict naming no backend breaks the one-backend rule, which names logging.backends."""
        with pytest.raises(ConfigError) as caught:
            validate_logging_configuration(config)
        assert str(caught.value) == "logging.backends: at least one backend must be enabled"

    def test_a_named_backends_missing_keys_take_base_yaml(self) -> None:
        """Keys a named backend leaves out are base.yaml's (its level, rotation, writer_cpu...)."""
        file = logging_settings({"backends": {"file": {"file_path": "x.log"}}}).backends.file
        expected = {**BASE_LOGGING["backends"]["file"], "file_path": "x.log"}
        assert file == FileBackendSettings.model_validate(expected)

    def test_hft_settings_take_base_yaml(self) -> None:
        """hft_settings a dict leaves out (all of them, or some) are base.yaml's."""
        base = HftSettings.model_validate(BASE_LOGGING["hft_settings"])
        assert logging_settings(ONE_BACKEND).hft_settings == base
        some = logging_settings(_hft(batch_size=7)).hft_settings
        assert some == base.model_copy(update={"batch_size": 7})

    def test_a_model_is_used_as_it_is(self) -> None:
        """A LoggingSettings or Settings keeps its own switches (base.yaml's console and file)."""
        assert _enabled(LoggingSettings()) == ("console", "file")
        assert _enabled(Settings(exchanges={})) == ("console", "file")

    def test_a_backends_model_in_a_dict_is_used_as_it_is(self) -> None:
        """A BackendsSettings model under backends is not a dict naming backends: taken as is."""
        assert _enabled({"backends": BackendsSettings()}) == ("console", "file")

    def test_an_unknown_backend_is_named_in_the_error(self) -> None:
        """A misspelt backend name is an unknown key under logging.backends, as in YAML."""
        with pytest.raises(ConfigError, match=r"^logging\.backends\.consle: unknown key"):
            validate_logging_configuration({"backends": {"consle": {}}})
