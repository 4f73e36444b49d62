"""The HFT rules over the ``logging`` section, and readable pydantic errors."""

from __future__ import annotations

import difflib
import math
import typing
from collections.abc import Mapping
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from hft.config._errors import ConfigError
from hft.config._models import SECRET_FIELDS, BackendsSettings, LoggingSettings, Settings

#: Highest allowed ``hft_settings.max_latency_us`` (the 5 ms HFT ceiling).
MAX_LATENCY_US_LIMIT = 5000
#: Smallest allowed ``hft_settings.ring_buffer_size``.
MIN_RING_BUFFER_SIZE = 1000
#: Memory one ring slot is assumed to hold: the record tuple, its fields dict and a few short
#: strings. An estimate, deliberately generous; ``max_memory_mb`` must cover
#: ``ring_buffer_size * BYTES_PER_RING_SLOT``.
BYTES_PER_RING_SLOT = 1024

M = TypeVar("M", bound=BaseModel)

_HFT = "logging.hft_settings"
_GOT_MAX_CHARS = 60


class RuleViolation(NamedTuple):
    """A broken rule: the keys involved (the first is reported) and what is wrong."""

    paths: tuple[str, ...]
    message: str

    def __str__(self) -> str:
        return f"{self.paths[0]}: {self.message}"


def check_rules(config: LoggingSettings) -> list[RuleViolation]:
    """Every rule ``config`` breaks; empty when it is valid."""
    return [
        *_latency_rules(config),
        *_ring_rules(config),
        *_backend_rules(config),
    ]


def logging_settings(config: LoggingSettings | Settings | Mapping[str, Any]) -> LoggingSettings:
    """The ``logging`` section as a validated :class:`LoggingSettings`, whatever form it came in.

    ``config`` is a :class:`LoggingSettings` or a whole :class:`Settings`, used as it is, or
    the ``logging`` section as a plain dict: a dict enables the backends it names (each on
    unless it says ``enabled: false``) and no other; base.yaml's defaults fill in every key it
    leaves out. Every entry point that takes settings goes through here, once, so a dict gets
    the YAML loader's strict rules and its one-line errors: :class:`ConfigError`, one line per
    problem naming the key path. A model's HFT rules are checked too (a model built in code
    has passed only its field checks). What it returns is what the entry point hands down:
    nothing below it validates the settings again.
    """
    if isinstance(config, Settings):
        config = config.logging
    if not isinstance(config, LoggingSettings):
        if not isinstance(config, Mapping):
            kind = type(config).__name__
            raise TypeError(f"expected LoggingSettings, Settings or a mapping, got {kind}")
        config = _logging_from_mapping(config)
    violations = check_rules(config)
    if violations:
        raise ConfigError(str(violation) for violation in violations)
    return config


def validate_logging_configuration(config: LoggingSettings | Settings | Mapping[str, Any]) -> bool:
    """Check the ``logging`` section against the HFT rules; return ``True`` or raise.

    Takes what :func:`logging_settings` takes (a dict enables only the backends it names);
    raises :class:`ConfigError` naming every offending key path, one per line.
    """
    logging_settings(config)
    return True


def section_settings(model: type[M], section: object, path: str) -> M:
    """*section* (a *model* instance, another settings model or a mapping) validated as *model*;
    errors are :class:`ConfigError` lines prefixed with the section's key *path*."""
    if isinstance(section, model):
        return section
    if isinstance(section, BaseModel):
        section = section.model_dump()
    try:
        return model.model_validate(section)
    except ValidationError as exc:
        problems = explain_errors(exc, model)
        raise ConfigError(f"{_join(path, key)}: {message}" for key, message in problems) from None


def _logging_from_mapping(config: Mapping[str, Any]) -> LoggingSettings:
    try:
        return LoggingSettings.model_validate(_enabling_what_it_names(config))
    except ValidationError as exc:
        problems = explain_errors(exc, LoggingSettings)
        raise ConfigError(f"{_join('logging', path)}: {text}" for path, text in problems) from None


def _enabling_what_it_names(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """A ``logging`` dict as the backends it names: those on (unless ``enabled: false``), the
    rest off, as the spec's factory builds only the backends its config lists.

    Not base.yaml's on/off switches: a caller naming only the audit trail gets no console and no
    ``logs/hft.log``. A section that is not a dict (a model, a typo) is left for the model to
    take as it is or to report.
    """
    named = config.get("backends", {})
    if not isinstance(named, Mapping):
        return config
    backends: dict[str, Any] = {name: {"enabled": False} for name in BackendsSettings.model_fields}
    backends.update({name: _switched_on(section) for name, section in named.items()})
    return {**config, "backends": backends}


def _switched_on(section: object) -> object:
    return {"enabled": True, **section} if isinstance(section, Mapping) else section


def _join(section: str, key: str) -> str:
    return f"{section}.{key}" if key else section


def _latency_rules(config: LoggingSettings) -> list[RuleViolation]:
    hft = config.hft_settings
    found = []
    if hft.max_latency_us > MAX_LATENCY_US_LIMIT:
        found.append(
            RuleViolation(
                (f"{_HFT}.max_latency_us",),
                f"{hft.max_latency_us} exceeds the HFT limit of {MAX_LATENCY_US_LIMIT} us",
            )
        )
    if hft.warning_threshold_us > hft.max_latency_us:
        found.append(
            RuleViolation(
                (f"{_HFT}.warning_threshold_us", f"{_HFT}.max_latency_us"),
                f"{hft.warning_threshold_us} is above max_latency_us ({hft.max_latency_us})",
            )
        )
    return found


def _ring_rules(config: LoggingSettings) -> list[RuleViolation]:
    hft = config.hft_settings
    if hft.ring_buffer_size < MIN_RING_BUFFER_SIZE:
        return [
            RuleViolation(
                (f"{_HFT}.ring_buffer_size",),
                f"{hft.ring_buffer_size} is too small for HFT operations "
                f"(at least {MIN_RING_BUFFER_SIZE})",
            )
        ]
    needed_mb = math.ceil(hft.ring_buffer_size * BYTES_PER_RING_SLOT / 2**20)
    if hft.max_memory_mb < needed_mb:
        return [
            RuleViolation(
                (f"{_HFT}.max_memory_mb", f"{_HFT}.ring_buffer_size"),
                f"{hft.max_memory_mb} MiB cannot hold ring_buffer_size {hft.ring_buffer_size} "
                f"(needs at least {needed_mb} MiB at {BYTES_PER_RING_SLOT} bytes per slot)",
            )
        ]
    return []


def _backend_rules(config: LoggingSettings) -> list[RuleViolation]:
    if config.backends.enabled_names():
        return []
    paths = tuple(f"logging.backends.{name}.enabled" for name in type(config.backends).model_fields)
    return [RuleViolation(("logging.backends", *paths), "at least one backend must be enabled")]


# Pydantic errors


def explain_errors(exc: ValidationError, root: type[BaseModel]) -> list[tuple[str, str]]:
    """``(dotted.path, message)`` for each error of ``exc``, raised validating ``root``."""
    return [(".".join(map(str, error["loc"])), _explain(error, root)) for error in exc.errors()]


def _explain(error: ErrorDetails, root: type[BaseModel]) -> str:
    loc = error["loc"]
    if error["type"] == "extra_forbidden":
        return "unknown key" + _suggestion(str(loc[-1]), model_at(root, loc[:-1]))
    if error["type"] == "missing":
        return "missing value"
    return error["msg"] + _got(error, loc)


def _suggestion(key: str, model: type[BaseModel] | None) -> str:
    if model is None:
        return ""
    close = difflib.get_close_matches(key, list(model.model_fields), n=1)
    return f"; did you mean {close[0]}?" if close else ""


def _got(error: ErrorDetails, loc: tuple[int | str, ...]) -> str:
    value = error.get("input")
    if isinstance(value, Mapping | list | tuple) or (loc and loc[-1] in SECRET_FIELDS):
        return ""  # containers may hold secrets, and secrets are never echoed
    text = repr(value)
    if len(text) > _GOT_MAX_CHARS:
        text = text[: _GOT_MAX_CHARS - 3] + "..."
    return f" (got {text})"


def model_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class found at ``loc`` below ``root`` (``dict[str, M]`` values count)."""
    current: Any = root
    for key in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(key))
            current = field.annotation if field else None
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[-1]
        else:
            current = None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None
