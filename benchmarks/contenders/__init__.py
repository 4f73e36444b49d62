"""The contenders and the tiny protocol they share.

A contender module exposes ``setup(path) -> Contender``; the contender logs the benchmark's one
call through ``log`` (and ``log_filtered`` at a level below the threshold, if the library has
levels), writes one JSON object per line to *path*, and ``close()`` drains and closes the file.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "DEFAULT",
    "REGISTRY",
    "Contender",
    "LogCall",
    "Setup",
    "load",
    "unavailable",
]


class LogCall(Protocol):
    """``log("order placed", symbol=..., price=..., qty=...)``: the call every contender makes."""

    def __call__(self, msg: str, /, **fields: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class Contender:
    """A configured logger: the call site, the filtered call site and its shutdown."""

    log: LogCall
    log_filtered: LogCall | None
    close: Callable[[], None]
    writes_file: bool = True


Setup = Callable[[Path], Contender]


@dataclass(frozen=True, slots=True)
class _Entry:
    target: str  # "module:function" inside this package
    requires: str  # the module whose absence means "skip this contender"


REGISTRY: dict[str, _Entry] = {
    "floor": _Entry("floor:setup", "collections"),
    "baseline": _Entry("baseline:setup", "orjson"),
    "stdlib-queue": _Entry("stdlib_logging:setup", "logging.handlers"),
    "structlog": _Entry("structlog_json:setup", "structlog"),
    "loguru": _Entry("loguru_sink:setup", "loguru"),
    "loguru-enqueue": _Entry("loguru_sink:setup_enqueue", "loguru"),
    "picologging": _Entry("picologging_json:setup", "picologging"),
    "picologging-queue": _Entry("picologging_json:setup_queue", "picologging.handlers"),
    "hft": _Entry("hft_logger:setup", "hft.logging"),
    "hft-drop": _Entry("hft_logger:setup_drop", "hft.logging"),
    "hft-prod": _Entry("hft_shipped:setup_prod", "hft.logging"),
    "hft-dev": _Entry("hft_shipped:setup_dev", "hft.logging"),
    # hft-prod writing the other schemas (docs/tools/schemas.md); never in DEFAULT.
    "hft-prod-ecs": _Entry("hft_shipped:setup_prod_ecs", "hft.logging"),
    "hft-prod-otel": _Entry("hft_shipped:setup_prod_otel", "hft.logging"),
    # hft-prod rotating every few MB, each compression: for the paced mode; never in DEFAULT.
    "hft-rotating-none": _Entry("hft_rotating:setup_none", "hft.logging"),
    "hft-rotating-gzip": _Entry("hft_rotating:setup_gzip", "hft.logging"),
    "hft-rotating-zstd": _Entry("hft_rotating:setup_zstd", "hft.logging"),
    # Fakes for the suite's own tests; never in DEFAULT.
    "lossy": _Entry("testing:setup_lossy", "orjson"),
}

DEFAULT: tuple[str, ...] = tuple(
    name
    for name in REGISTRY
    if name != "lossy" and not name.startswith(("hft-rotating", "hft-prod-"))
)


def unavailable(name: str) -> str | None:
    """Why *name* cannot run here (unknown, or its library is missing), or None if it can."""
    entry = REGISTRY.get(name)
    if entry is None:
        return f"unknown contender {name!r}; known: {', '.join(REGISTRY)}"
    try:
        found = importlib.util.find_spec(entry.requires) is not None
    except ModuleNotFoundError:
        found = False
    except Exception as error:  # noqa: BLE001  # a half-written parent package may raise anything
        return f"{entry.requires} failed to import: {type(error).__name__}: {error}"
    return None if found else f"{entry.requires} is not importable"


def load(name: str) -> Setup:
    """The ``setup`` function of contender *name* (imports its library)."""
    module_name, _, function = REGISTRY[name].target.partition(":")
    module = importlib.import_module(f"{__name__}.{module_name}")
    setup: Setup = getattr(module, function)
    return setup
