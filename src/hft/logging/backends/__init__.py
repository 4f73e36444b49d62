"""Backends: where records end up. One module per backend; all share ``LoggingBackend``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from hft.logging.backends._base import BaseBackend, LoggingBackend
from hft.logging.backends.audit import AuditBackend
from hft.logging.backends.console import ConsoleBackend
from hft.logging.backends.file import FileBackend
from hft.logging.backends.prometheus import PrometheusBackend
from hft.logging.backends.syslog import SyslogBackend

#: Backend classes by their name in the ``backends`` settings section.
BACKENDS: Final[dict[str, Callable[..., LoggingBackend]]] = {
    "audit": AuditBackend,
    "console": ConsoleBackend,
    "file": FileBackend,
    "prometheus": PrometheusBackend,
    "syslog": SyslogBackend,
}

__all__ = [
    "BACKENDS",
    "AuditBackend",
    "BaseBackend",
    "ConsoleBackend",
    "FileBackend",
    "LoggingBackend",
    "PrometheusBackend",
    "SyslogBackend",
]
