"""``hft config validate --check``: what the settings name (paths, a port), tried without
starting anything.

Each problem is one line naming the settings key, the path or address and why it cannot be
used, the same form a backend's start-up error takes (see
``hft.logging.backends.registry.start_error``). Nothing is created: a folder that does not
exist yet passes when its nearest existing ancestor lets folders be made in it.

*settings* are the typed ``LoggingSettings`` the loader validated; nothing here validates them
again.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

from hft.config import LoggingSettings
from hft.logging.trace_context import SETTING, load_trace_spec

__all__ = ["check_resources"]

_BACKENDS = "logging.backends"


def check_resources(settings: LoggingSettings) -> list[str]:
    """One line per resource the enabled parts of *settings* could not open; empty if none."""
    return [f"{key}: {problem}" for key, problem in _problems(settings)]


def _problems(settings: LoggingSettings) -> Iterator[tuple[str, str]]:
    backends = settings.backends
    yield from _folder("logging.hft_settings.spill_dir", settings.hft_settings.spill_dir)
    if backends.file.enabled:
        yield from _file(f"{_BACKENDS}.file.file_path", backends.file.file_path)
    if backends.audit.enabled:
        yield from _file(f"{_BACKENDS}.audit.file_path", backends.audit.file_path)
    if backends.syslog.enabled:
        syslog = backends.syslog
        yield from _folder(f"{_BACKENDS}.syslog.spool_dir", syslog.spool_dir)
        for name in ("tls_ca_file", "tls_cert_file", "tls_key_file"):
            if (value := getattr(syslog, name)) is not None:
                yield from _readable(f"{_BACKENDS}.syslog.{name}", value)
    prometheus = backends.prometheus
    if prometheus.enabled and prometheus.scrape_enabled and prometheus.scrape_port:
        yield from _port(prometheus.scrape_address, prometheus.scrape_port)
    if settings.trace_context:
        yield from _opentelemetry()


def _opentelemetry() -> Iterator[tuple[str, str]]:
    """``trace_context: true`` without opentelemetry-api: what the pipeline would refuse."""
    try:
        load_trace_spec()
    except RuntimeError:
        yield SETTING, "opentelemetry-api is not installed (pip install 'hft[otel]')"


def _file(key: str, value: str) -> Iterator[tuple[str, str]]:
    path = Path(value)
    if path.is_symlink():
        yield key, f"cannot open {value!r}: it is a symbolic link (hft writes only its own files)"
    elif path.exists() and not path.is_file():
        yield key, f"cannot open {value!r}: it is not a regular file"
    elif path.exists() and not os.access(path, os.W_OK):
        yield key, f"cannot open {value!r}: it is not writable"
    elif reason := _folder_reason(path.parent):
        yield key, f"cannot open {value!r}: {reason}"


def _folder(key: str, value: str) -> Iterator[tuple[str, str]]:
    if reason := _folder_reason(Path(value)):
        yield key, f"cannot use folder {value!r}: {reason}"


def _folder_reason(folder: Path) -> str | None:
    """Why files cannot be made in *folder* (creating it first if need be), or None."""
    existing = folder.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{str(existing)!r} is not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{str(existing)!r} is not writable"
    return None


def _readable(key: str, value: str) -> Iterator[tuple[str, str]]:
    try:
        with open(value, "rb"):
            pass
    except OSError as exc:
        yield key, f"cannot read {value!r}: {exc.strerror or exc}"


def _port(address: str, port: int) -> Iterator[tuple[str, str]]:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            probe.bind((address, port))
        except OSError as exc:
            key = f"{_BACKENDS}.prometheus.scrape_port"
            yield key, f"cannot listen on {address}:{port}: {exc.strerror or exc}"
