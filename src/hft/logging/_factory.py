"""The spec's factory functions, with the configuration passed in rather than fetched.

``config`` is the ``logging`` section: a ``hft.config.LoggingSettings`` model or the same
shape as a plain dict. Loggers made from equal configurations share one pipeline (one ring,
one dispatcher thread); it is started on first use and drained at interpreter exit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import orjson

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


def create_backend_from_config(
    backend_name: str, backend_config: Any, **extra: Any
) -> LoggingBackend:
    """Build the backend called *backend_name* from its settings section.

    ``enabled`` is ignored (the caller decides); *extra* keyword arguments (such as
    ``max_field_chars``) are passed on where the backend takes them. ``writer: process``
    runs the backend in a writer process of its own (see ``backends._offload``).
    """
    registry = _registry()
    factory = registry.get(backend_name)
    if factory is None:
        known = ", ".join(sorted(registry))
        raise ValueError(f"Unknown backend type: {backend_name!r} (known: {known})")
    settings = {k: v for k, v in as_plain_dict(backend_config).items() if k != "enabled"}
    if settings.pop("writer", "thread") == "process":
        from hft.logging.backends._offload import ProcessBackend

        return ProcessBackend(
            backend_name,
            settings,
            extra.get("max_field_chars", 4096),
            spill_dir=extra.get("spill_dir", "logs/spill"),
        )
    accepted = getattr(factory, "extra_settings", ())
    settings.update({k: v for k, v in extra.items() if k in accepted})
    try:
        return factory(**settings)
    except TypeError as exc:
        raise ValueError(f"backends.{backend_name}: {exc}") from exc


def create_backends_from_config(config: Any) -> list[LoggingBackend]:
    """Every enabled backend of a ``logging`` section, in the order they are listed."""
    logging_config = as_plain_dict(config)
    hft_settings = as_plain_dict(logging_config.get("hft_settings", {}))
    extra = {k: hft_settings[k] for k in ("max_field_chars", "spill_dir") if k in hft_settings}
    return [
        create_backend_from_config(name, section, **extra)
        for name, section in logging_config.get("backends", {}).items()
        if section and as_plain_dict(section).get("enabled", False)
    ]


def pipeline_settings(config: Any) -> dict[str, Any]:
    """The ``hft_settings`` that shape a :class:`LoggingPipeline`, as keyword arguments."""
    hft_settings = as_plain_dict(as_plain_dict(config).get("hft_settings", {}))
    return {k: hft_settings[k] for k in PIPELINE_SETTINGS if k in hft_settings}


def create_pipeline_from_config(
    config: Any,
    backends: Iterable[LoggingBackend] | None = None,
    secrets: Iterable[object] = (),
) -> LoggingPipeline:
    """A (not yet started) pipeline for a ``logging`` section, with its enabled backends.

    The pipeline masks *secrets* (see :func:`hft.logging._secrets.settings_secrets`) and any
    ``SecretStr`` in *config* itself wherever they appear in a record.
    """
    chosen = create_backends_from_config(config) if backends is None else backends
    known = (*settings_secrets(config), *secrets)
    return LoggingPipeline(chosen, **pipeline_settings(config), secrets=known)


_shared: dict[bytes, LoggingPipeline] = {}
_shared_lock = threading.Lock()


def _shared_pipeline(config: Any) -> LoggingPipeline:
    key = orjson.dumps(as_plain_dict(config), option=orjson.OPT_SORT_KEYS, default=str)
    with _shared_lock:
        pipeline = _shared.get(key)
        if pipeline is None or pipeline._closed:
            pipeline = _shared[key] = create_pipeline_from_config(config).start()
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
