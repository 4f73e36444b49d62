"""The ``hft`` logger: a ring buffer at the call site, a dispatcher thread behind it."""

from hft.logging.audit import (
    AuditBackend,
    AuditChainError,
    AuditPathError,
    AuditProblem,
    AuditReport,
    AuditWriteError,
    verify_audit_files,
)
from hft.logging.backends import (
    BackendContext,
    BaseBackend,
    ConsoleBackend,
    FileBackend,
    LoggingBackend,
    PrometheusBackend,
    SyslogBackend,
)
from hft.logging.factory import (
    create_backend_from_config,
    create_backends_from_config,
    create_hft_logger_from_config,
    create_pipeline_from_config,
    exchange_logger,
    get_exchange_logger_with_config,
    get_strategy_logger_with_config,
    pipeline_settings,
    strategy_logger,
)
from hft.logging.levels import AUDIT, CRITICAL, DEBUG, ERROR, INFO, METRIC, WARNING
from hft.logging.logger import HFTLogger, HFTLoggerInterface
from hft.logging.monitor import (
    ConfigurablePerformanceMonitor,
    PerformanceVerdict,
    ThresholdViolation,
    monitor_hft_logging_performance,
    validate_hft_logging_compliance,
)
from hft.logging.native import native_paths
from hft.logging.pipeline.callsites import nop
from hft.logging.pipeline.metrics import BackendStats, LatencySummary, LoggingMetrics
from hft.logging.pipeline.pipeline import LoggingPipeline
from hft.logging.render.secrets import settings_secrets
from hft.logging.stdlib import HFTBridgeHandler, install_stdlib_bridge
from hft.logging.task_context import (
    bind_context,
    clear_context,
    context,
    get_context,
    reset_context,
    unbind_context,
)
from hft.logging.timer import LoggingTimer

__all__ = [
    "AUDIT",
    "CRITICAL",
    "DEBUG",
    "ERROR",
    "INFO",
    "METRIC",
    "WARNING",
    "AuditBackend",
    "AuditChainError",
    "AuditPathError",
    "AuditProblem",
    "AuditReport",
    "AuditWriteError",
    "BackendContext",
    "BackendStats",
    "BaseBackend",
    "ConfigurablePerformanceMonitor",
    "ConsoleBackend",
    "FileBackend",
    "HFTBridgeHandler",
    "HFTLogger",
    "HFTLoggerInterface",
    "LatencySummary",
    "LoggingBackend",
    "LoggingMetrics",
    "LoggingPipeline",
    "LoggingTimer",
    "PerformanceVerdict",
    "PrometheusBackend",
    "SyslogBackend",
    "ThresholdViolation",
    "bind_context",
    "clear_context",
    "context",
    "create_backend_from_config",
    "create_backends_from_config",
    "create_hft_logger_from_config",
    "create_pipeline_from_config",
    "exchange_logger",
    "get_context",
    "get_exchange_logger_with_config",
    "get_strategy_logger_with_config",
    "install_stdlib_bridge",
    "monitor_hft_logging_performance",
    "native_paths",
    "nop",
    "pipeline_settings",
    "reset_context",
    "settings_secrets",
    "strategy_logger",
    "unbind_context",
    "validate_hft_logging_compliance",
    "verify_audit_files",
]
