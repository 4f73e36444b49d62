"""Backends: where records end up. One module (or subpackage) per backend; all share
``LoggingBackend``. The audit trail's backend lives with the rest of the audit code, in
:mod:`hft.logging.audit`; :func:`hft.logging.backends.registry.backend_classes` lists them all.
"""

from __future__ import annotations

from hft.logging.backends.base import BackendContext, BaseBackend, LoggingBackend
from hft.logging.backends.console import ConsoleBackend
from hft.logging.backends.file import FileBackend
from hft.logging.backends.prometheus import PrometheusBackend
from hft.logging.backends.syslog import SyslogBackend

__all__ = [
    "BackendContext",
    "BaseBackend",
    "ConsoleBackend",
    "FileBackend",
    "LoggingBackend",
    "PrometheusBackend",
    "SyslogBackend",
]
