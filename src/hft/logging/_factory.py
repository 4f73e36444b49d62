"""The spec's factory functions, with the configuration passed in rather than fetched.

``config`` is the ``logging`` section: a ``hft.config.LoggingSettings`` model, a whole
``Settings``, or the same shape as a plain dict, validated the same way in every case.
Loggers made from equal configurations share one pipeline (one ring, one dispatcher thread);
it is started on first use and drained at interpreter exit.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import orjson
from pydantic import BaseModel

from hft.config._errors import ConfigError
from hft.config._models import BackendsSettings
from hft.config._validation import logging_settings, section_settings
from hft.logging._logger import HFTLogger
from hft.logging._pipeline import LoggingPipeline
from hft.logging._secrets import settings_secrets
from hft.logging.backends._base import LoggingBackend

BackendFactory = Callable[..., LoggingBackend]

#: Settings of ``hft_settings`` that shape the pipeline itself.
PIPELINE_SETTINGS: Final = (
    "ring_buffer_size",
    "batch_size",
    "flush_interval_ms",
    "gc_threshold",
    "overflow_policy",
    "block_timeout_ms",
    "enable_failover",
    "max_retry_attempts",
    "max_field_chars",
    "redact_fields",
    "spill_dir",
    "retry_backoff_ms",
    "probe_interval_ms",
)


def _registry() -> dict[str, BackendFactory]:
    from hft.logging.backends import BACKENDS

    return BACKENDS


def as_plain_dict(config: Any) -> dict[str, Any]:
    """A settings model (anything with ``model_dump``) or mapping as a plain dict."""
    if hasattr(config, "model_dump"):
        return dict(config.model_dump())
    if isinstance(config, Mapping):
        return dict(config)
    raise TypeError(f"expected a settings model or a mapping, got {type(config).__name__}")


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


def create_backend_from_config(
    backend_name: str, backend_config: Any, **extra: Any
) -> LoggingBackend:
    """Build the backend called *backend_name* from its settings section.

    The section (a settings model or a dict of the same shape) is validated like base.yaml
    itself and takes its defaults, so ``{"file_path": "x.log"}`` builds exactly the file
    backend base.yaml describes (a writer process). ``enabled`` is ignored (the caller
    decides); *extra* keyword arguments (such as ``max_field_chars``) are passed on where the
    backend takes them. A resource the settings name but the backend cannot open (a path, a
    port) is a :class:`ConfigError` naming the key and the resource.
    """
    section = backend_section(backend_name, backend_config)
    settings = section.model_dump(exclude={"enabled"})
    try:
        return _build(backend_name, settings, extra)
    except OSError as exc:
        raise ConfigError(start_error(f"logging.backends.{backend_name}", settings, exc)) from exc


def _build(backend_name: str, settings: dict[str, Any], extra: dict[str, Any]) -> LoggingBackend:
    if settings.get("writer") == "process":
        from hft.logging.backends._offload import ProcessBackend

        return ProcessBackend(
            backend_name,
            {**settings, "writer": "thread"},  # what the writer process itself builds
            extra.get("max_field_chars", 4096),
            spill_dir=extra.get("spill_dir", "logs/spill"),
        )
    settings.pop("writer", None)
    factory = _registry()[backend_name]
    accepted = getattr(factory, "extra_settings", ())
    settings.update({k: v for k, v in extra.items() if k in accepted})
    return factory(**settings)


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


def create_backends_from_config(config: Any) -> list[LoggingBackend]:
    """Every enabled backend of a ``logging`` section, in the order they are listed.

    *config* is validated first (see :func:`hft.config.logging_settings`).
    """
    settings = logging_settings(config)
    hft = settings.hft_settings
    extra = {"max_field_chars": hft.max_field_chars, "spill_dir": hft.spill_dir}
    return [
        create_backend_from_config(name, getattr(settings.backends, name), **extra)
        for name in settings.backends.enabled_names()
    ]


def pipeline_settings(config: Any) -> dict[str, Any]:
    """The ``hft_settings`` that shape a :class:`LoggingPipeline`, as keyword arguments."""
    hft_settings = logging_settings(config).hft_settings.model_dump()
    return {k: hft_settings[k] for k in PIPELINE_SETTINGS}


def create_pipeline_from_config(
    config: Any,
    backends: Iterable[LoggingBackend] | None = None,
    secrets: Iterable[object] = (),
) -> LoggingPipeline:
    """A (not yet started) pipeline for a ``logging`` section, with its enabled backends.

    *config* is a ``LoggingSettings``, a whole ``Settings`` or a dict of the same shape,
    validated as base.yaml is (unknown keys, types, bounds and the HFT rules). The pipeline
    masks *secrets* and every ``SecretStr`` in *config* itself (a whole ``Settings``: the
    exchanges' keys) wherever they appear in a record (see :mod:`hft.logging._secrets`).
    """
    settings = logging_settings(config)
    chosen = create_backends_from_config(settings) if backends is None else backends
    known = (*settings_secrets(config), *secrets)
    return LoggingPipeline(chosen, **pipeline_settings(settings), secrets=known)


_shared: dict[bytes, LoggingPipeline] = {}
_shared_lock = threading.Lock()


def _shared_pipeline(config: Any) -> LoggingPipeline:
    settings, secrets = logging_settings(config), settings_secrets(config)
    key = orjson.dumps([settings.model_dump(mode="json"), secrets], option=orjson.OPT_SORT_KEYS)
    with _shared_lock:
        pipeline = _shared.get(key)
        if pipeline is None or pipeline._closed:
            pipeline = create_pipeline_from_config(settings, secrets=secrets).start()
            _shared[key] = pipeline
        return pipeline


def create_hft_logger_from_config(name: str, tags: Iterable[str], config: Any) -> HFTLogger:
    """A logger named *name* with *tags* on the shared pipeline for *config*."""
    return HFTLogger(_shared_pipeline(config), name, tags)


def get_exchange_logger_with_config(
    exchange_name: str, component_type: str, config: Any
) -> HFTLogger:
    """``exchange.<exchange>.<component>``, tagged ``[exchange, component]``."""
    return create_hft_logger_from_config(
        f"exchange.{exchange_name}.{component_type}", [exchange_name, component_type], config
    )


def get_strategy_logger_with_config(
    strategy_path: str, tags: Iterable[str], config: Any
) -> HFTLogger:
    """``strategy.<path>`` with the given tags."""
    return create_hft_logger_from_config(f"strategy.{strategy_path}", tags, config)


def exchange_logger(
    pipeline: LoggingPipeline, exchange_name: str, component_type: str
) -> HFTLogger:
    """The container's form of :func:`get_exchange_logger_with_config`."""
    return HFTLogger(
        pipeline, f"exchange.{exchange_name}.{component_type}", [exchange_name, component_type]
    )


def strategy_logger(
    pipeline: LoggingPipeline, strategy_path: str, tags: Iterable[str]
) -> HFTLogger:
    """The container's form of :func:`get_strategy_logger_with_config`."""
    return HFTLogger(pipeline, f"strategy.{strategy_path}", tags)
