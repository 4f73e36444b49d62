"""Backends by their name in the ``backends`` settings section, built in this process.

:func:`hft.logging.create_backend_from_config` decides where a backend runs (a writer process
for the file); the writer process and that public function both build the backend
itself here. :func:`backend_section` validates a section against the backend's settings model,
once, where settings come in (a public function, the writer process's spec);
:func:`build_in_process` builds from a section so validated and validates nothing again.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from hft.config._errors import ConfigError
from hft.config._models import BackendsSettings
from hft.config._validation import section_settings
from hft.logging.backends.base import LoggingBackend

__all__ = [
    "BackendFactory",
    "backend_classes",
    "backend_section",
    "build_in_process",
]

BackendFactory = Callable[..., LoggingBackend]


def backend_classes() -> dict[str, BackendFactory]:
    """Each backend class by its name in the ``backends`` settings section."""
    from hft.logging.audit.backend import AuditBackend
    from hft.logging.backends.console import ConsoleBackend
    from hft.logging.backends.file import FileBackend
    from hft.logging.backends.prometheus import PrometheusBackend
    from hft.logging.backends.syslog import SyslogBackend

    return {
        "audit": AuditBackend,
        "console": ConsoleBackend,
        "file": FileBackend,
        "prometheus": PrometheusBackend,
        "syslog": SyslogBackend,
    }


def backend_section(backend_name: str, backend_config: Any) -> BaseModel:
    """*backend_config* validated against backend *backend_name*'s settings model, with the
    defaults of base.yaml; an unknown name or a bad section is a :class:`ConfigError` naming
    ``logging.backends.<name>`` and the key (with "did you mean" for a typo)."""
    models = BackendsSettings.model_fields
    if backend_name not in models:
        known = ", ".join(sorted(models))
        raise ConfigError(
            f"logging.backends.{backend_name}: unknown backend type {backend_name!r}"
            f" (known: {known})"
        )
    model = models[backend_name].annotation
    if not (isinstance(model, type) and issubclass(model, BaseModel)):  # pragma: no cover
        raise TypeError(f"BackendsSettings.{backend_name} is not a settings model")
    return section_settings(model, backend_config, f"logging.backends.{backend_name}")


def build_in_process(backend_name: str, section: BaseModel, **extra: Any) -> LoggingBackend:
    """The backend *backend_name* built here from its validated settings *section*.

    *extra* keyword arguments are passed on where the backend's ``extra_settings`` takes them.
    A resource the settings name but the backend cannot open is a :class:`ConfigError` naming
    the key and the resource.
    """
    settings = section.model_dump(exclude={"enabled", "writer_cpu"})
    factory = backend_classes()[backend_name]
    accepted = getattr(factory, "extra_settings", ())
    try:
        return factory(**settings, **{k: v for k, v in extra.items() if k in accepted})
    except OSError as exc:
        raise ConfigError(start_error(f"logging.backends.{backend_name}", settings, exc)) from exc


def start_error(path: str, settings: Mapping[str, Any], exc: OSError) -> str:
    """One line for a resource that could not be opened: the key that names it, the resource
    and the system's reason (``logging.backends.file.file_path: cannot open '/x': ...``)."""
    reason = exc.strerror or str(exc)
    if reason.startswith(f"{path}."):
        return reason  # the backend named the key itself
    if exc.filename is not None:
        name = str(exc.filename)
        for key, value in settings.items():
            if isinstance(value, str) and value and _names(value, name):
                same = Path(value).absolute() == Path(name).absolute()
                return (
                    f"{path}.{key}: cannot open {value!r}: {'' if same else f'{name!r}: '}{reason}"
                )
        return f"{path}: cannot open {name!r}: {reason}"
    if exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL) and "scrape_port" in settings:
        where = f"{settings.get('scrape_address')}:{settings['scrape_port']}"
        return f"{path}.scrape_port: cannot listen on {where}: {reason}"
    return f"{path}: cannot start: {reason}"


def _names(value: str, filename: str) -> bool:
    """Whether setting *value* names *filename*: the same path, or a folder on its way."""
    chosen, failed = Path(value).absolute(), Path(filename).absolute()
    return chosen == failed or chosen in failed.parents or failed in chosen.parents
