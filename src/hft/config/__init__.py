"""Settings: models, strict layered loading (base.yaml < <env>.yaml < HFT_* variables), rules.

Nothing here is global. Build a :class:`LoggingConfigManager` once and inject what it returns.
"""

from hft.config._errors import ConfigError
from hft.config._loader import LoggingConfigManager, load_settings
from hft.config._models import (
    AuditBackendSettings,
    BackendsSettings,
    BacktraceSettings,
    ConsoleBackendSettings,
    ControlSettings,
    ExchangeSettings,
    FileBackendSettings,
    HftSettings,
    LoggingSettings,
    PerformanceSettings,
    PerformanceThresholds,
    PrometheusBackendSettings,
    Settings,
    SyslogBackendSettings,
)
from hft.config._render import describe_sources, render_config_show
from hft.config._validation import logging_settings, validate_logging_configuration

__all__ = [
    "AuditBackendSettings",
    "BackendsSettings",
    "BacktraceSettings",
    "ConfigError",
    "ConsoleBackendSettings",
    "ControlSettings",
    "ExchangeSettings",
    "FileBackendSettings",
    "HftSettings",
    "LoggingConfigManager",
    "LoggingSettings",
    "PerformanceSettings",
    "PerformanceThresholds",
    "PrometheusBackendSettings",
    "Settings",
    "SyslogBackendSettings",
    "describe_sources",
    "load_settings",
    "logging_settings",
    "render_config_show",
    "validate_logging_configuration",
]
