"""validate_logging_configuration: the spec's HFT rules."""

from __future__ import annotations

from typing import Any

import pytest

from hft.config import ConfigError, LoggingSettings, Settings, validate_logging_configuration
from tests.config.conftest import REPO_SETTINGS, read_yaml

BASE_LOGGING: dict[str, Any] = read_yaml(REPO_SETTINGS / "base.yaml")["logging"]
ALL_OFF = {name: {"enabled": False} for name in ("console", "file", "prometheus", "audit")}


def _hft(**values: object) -> dict[str, Any]:
    return {"hft_settings": values}


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
