"""The public factory functions: loggers, pipelines and backends from settings passed in.

``config`` is the ``logging`` section: a ``hft.config.LoggingSettings`` model, a whole
``Settings``, or the same shape as a plain dict, validated the same way in every case (a dict
enables only the backends it names; see :func:`hft.config.logging_settings`).
Loggers made from equal configurations share one pipeline (one ring, one dispatcher thread);
it is started on first use and drained at interpreter exit.

Each public function validates its ``config`` once, then hands the typed settings down:
:func:`backends_for`, :func:`pipeline_options` and :func:`pipeline_for` take a
``LoggingSettings`` that has been validated (the container calls them after validating its
configuration) and validate nothing again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any, Final

import orjson
from pydantic import BaseModel

from hft.config import LoggingSettings, logging_settings
from hft.logging.backends.base import LoggingBackend
from hft.logging.backends.registry import backend_section, build_in_process
from hft.logging.control import ControlSpec
from hft.logging.control.reload import LevelsSource
from hft.logging.levels import parse_level
from hft.logging.logger import HFTLogger
from hft.logging.pipeline.pipeline import LoggingPipeline
from hft.logging.render.secrets import settings_secrets

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
    "drain_deadline_ms",
)
#: The backends one writer process hosts (a plain record reaches them all down one path).
WRITER_SINKS: Final = ("file", "console", "syslog")


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

    The section (a settings model or a dict of the same shape) is validated like base.yaml
    itself and takes its defaults, so ``{"file_path": "x.log"}`` builds exactly the file
    backend base.yaml describes (a sink of a writer process of its own; the console, syslog and
    the rest are built in this process: :func:`create_backends_from_config` puts every backend
    that renders into one writer). ``enabled`` is ignored (the caller
    decides); *extra* keyword arguments (such as ``max_field_chars``) are passed on where the
    backend takes them. A resource the settings name but the backend cannot open (a path, a
    port) is a :class:`ConfigError` naming the key and the resource.
    """
    return _backend_for(backend_name, backend_section(backend_name, backend_config), extra)


def _backend_for(name: str, section: BaseModel, extra: Mapping[str, Any]) -> LoggingBackend:
    """The backend *name* from its validated *section*: the file in a writer process of its
    own, any other here."""
    if name != "file":
        return build_in_process(name, section, **extra)
    from hft.logging.writer import ProcessBackend

    return ProcessBackend(
        [(name, section)],
        extra.get("max_field_chars", 4096),
        spill_dir=extra.get("spill_dir", "logs/spill"),
    )


def create_backends_from_config(config: Any) -> list[LoggingBackend]:
    """Every enabled backend of a ``logging`` section, in the order they are listed.

    *config* is validated first (see :func:`hft.config.logging_settings`), then
    built by :func:`backends_for`.
    """
    return backends_for(logging_settings(config))


def backends_for(settings: LoggingSettings) -> list[LoggingBackend]:
    """Every enabled backend of validated *settings*, in the order they are listed.

    The backends that render records (:data:`WRITER_SINKS`: the file, the console, syslog)
    share one writer process, each a sink of its own there: every plain record takes one path
    to them, and a console that stops taking data stalls neither the file nor the caller.
    """
    hft = settings.hft_settings
    extra = {"max_field_chars": hft.max_field_chars, "spill_dir": hft.spill_dir}
    backends: list[LoggingBackend] = []
    hosted: list[tuple[str, BaseModel]] = []
    place = 0  #: the writer process takes the place of its first sink
    for name in settings.backends.enabled_names():
        section = getattr(settings.backends, name)
        if name in WRITER_SINKS:
            place = place if hosted else len(backends)
            hosted.append((name, section))
        else:
            backends.append(_backend_for(name, section, extra))
    if hosted:
        from hft.logging.writer import ProcessBackend

        writer = ProcessBackend(
            hosted,
            hft.max_field_chars,
            spill_dir=hft.spill_dir,
            drain_deadline_s=hft.drain_deadline_ms / 1000,
            queue_records=hft.sink_queue_records,
        )
        backends.insert(place, writer)
    return backends


def pipeline_settings(config: Any) -> dict[str, Any]:
    """The ``hft_settings`` that shape a :class:`LoggingPipeline`, as keyword arguments.

    *config* is validated first; :func:`pipeline_options` is the same for validated settings.
    """
    return pipeline_options(logging_settings(config))


def pipeline_options(settings: LoggingSettings) -> dict[str, Any]:
    """The ``hft_settings`` of validated *settings* that shape a :class:`LoggingPipeline`,
    its rate ``limits`` and its backtrace."""
    hft_settings, backtrace = settings.hft_settings.model_dump(), settings.backtrace
    limits = {name: (rule.per_s, rule.interval_s) for name, rule in settings.limits.items()}
    return {
        **{k: hft_settings[k] for k in PIPELINE_SETTINGS},
        "limits": limits,
        "backtrace": backtrace.capacity if backtrace.enabled else 0,
        "backtrace_flush_level": parse_level(backtrace.flush_level),
        "trace_context": settings.trace_context,
    }


def create_pipeline_from_config(
    config: Any,
    backends: Iterable[LoggingBackend] | None = None,
    secrets: Iterable[object] = (),
) -> LoggingPipeline:
    """A (not yet started) pipeline for a ``logging`` section, with its enabled backends.

    *config* is a ``LoggingSettings``, a whole ``Settings`` or a dict of the same shape,
    validated as base.yaml is (unknown keys, types, bounds and the HFT rules). The pipeline
    masks *secrets* and every ``SecretStr`` in *config* itself (a whole ``Settings``: the
    exchanges' keys) wherever they appear in a record (see :mod:`hft.logging.render.secrets`).
    """
    settings = logging_settings(config)
    return pipeline_for(settings, backends, (*settings_secrets(config), *secrets))


def pipeline_for(
    settings: LoggingSettings,
    backends: Iterable[LoggingBackend] | None = None,
    secrets: Iterable[object] = (),
    reload_levels: LevelsSource | None = None,
) -> LoggingPipeline:
    """A (not yet started) pipeline for validated *settings*, masking *secrets*; its backends
    are *backends*, or else those *settings* enable (:func:`backends_for`). Its loggers take
    ``settings.levels``; SIGHUP re-reads them from *reload_levels* (None: no settings files,
    SIGHUP leaves the levels alone and says so)."""
    chosen = backends_for(settings) if backends is None else backends
    control = ControlSpec(settings.control.enabled, settings.control.runtime_dir, reload_levels)
    options = pipeline_options(settings)
    return LoggingPipeline(
        chosen, **options, secrets=secrets, levels=settings.levels, control=control
    )


_shared: dict[bytes, LoggingPipeline] = {}
_shared_lock = threading.Lock()


def _shared_pipeline(config: Any) -> LoggingPipeline:
    settings, secrets = logging_settings(config), settings_secrets(config)
    key = orjson.dumps([settings.model_dump(mode="json"), secrets], option=orjson.OPT_SORT_KEYS)
    with _shared_lock:
        pipeline = _shared.get(key)
        if pipeline is None or pipeline._closed:
            pipeline = pipeline_for(settings, secrets=secrets).start()
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
