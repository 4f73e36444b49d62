"""Loading: base.yaml < <env>.yaml < HFT_* variables, validated strictly, with provenance.

Nothing here is global: the caller passes the environment, the settings directory and the
variables mapping (``os.environ`` by default), and keeps the manager it gets back.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import reduce
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from hft.config._errors import ConfigError
from hft.config._merge import deep_merge, iter_leaves
from hft.config._models import ExchangeSettings, LoggingSettings, Settings
from hft.config._sources import (
    Layer,
    Source,
    display_path,
    file_layer,
    secrets_in_file,
    variables_layer,
)
from hft.config._validation import check_rules, explain_errors

#: Variable choosing the environment, and the environment used without one.
ENV_VARIABLE = "HFT_ENV"
DEFAULT_ENVIRONMENT = "dev"
#: Variable pointing at the settings directory.
SETTINGS_DIR_VARIABLE = "HFT_SETTINGS_DIR"
#: Provenance of a value no layer set (the model's default, equal to base.yaml's by contract).
DEFAULT_SOURCE = Source("defaults", "default (hft.config models)")

_ENVIRONMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
#: The settings an installed hft carries (the build copies the repository's settings/ here).
PACKAGED_SETTINGS = Path(__file__).resolve().parent / "defaults"
# src/hft/config/_loader.py -> the checkout's root, which holds settings/ in a source tree.
_CHECKOUT_SETTINGS = Path(__file__).resolve().parents[3] / "settings"


def default_settings_dir() -> Path | None:
    """The settings that come with hft: the installed package's copy, else (running from a
    source checkout) the checkout's ``settings/``; None when neither is there."""
    for folder in (PACKAGED_SETTINGS, _CHECKOUT_SETTINGS):
        if (folder / "base.yaml").is_file():
            return folder
    return None


def resolve_settings_dir(settings_dir: str | Path | None, env: Mapping[str, str]) -> Path:
    """The settings directory: the argument, else ``$HFT_SETTINGS_DIR``, else ``./settings``.

    When ``./settings`` does not exist either, the settings that come with hft are used
    (:func:`default_settings_dir`): an installed hft runs in an empty folder on its defaults
    and ``HFT_*`` variables.
    """
    chosen = settings_dir if settings_dir is not None else env.get(SETTINGS_DIR_VARIABLE)
    if chosen is not None:
        return Path(chosen)
    local = Path("settings")
    shipped = default_settings_dir()
    return shipped if not local.is_dir() and shipped is not None else local


def resolve_environment(environment: str | None, env: Mapping[str, str]) -> str:
    """The environment: the argument, else ``$HFT_ENV``, else ``dev``; must be a plain name."""
    name = environment or env.get(ENV_VARIABLE) or DEFAULT_ENVIRONMENT
    if not _ENVIRONMENT_NAME.fullmatch(name) or name == "base":
        raise ConfigError(f"environment {name!r}: expected a settings file name such as 'prod'")
    return name


class LoggingConfigManager:
    """Settings for one environment, loaded once at construction and then read-only.

    Raises :class:`ConfigError` listing every problem, each line naming the file (or variable)
    and the dotted key path.
    """

    def __init__(
        self,
        environment: str | None = None,
        settings_dir: str | Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if env is None else env
        self._env = env
        self.environment = resolve_environment(environment, env)
        self.settings_dir = resolve_settings_dir(settings_dir, env)
        base = file_layer(self.settings_dir / "base.yaml", "base")
        overlay = file_layer(self._environment_file(), "env")
        variables, problems = variables_layer(env)
        self.layers: tuple[Layer, ...] = (base, overlay, variables)
        self._provenance = _Provenance(self.layers)
        problems += [line for layer in (base, overlay) for line in secrets_in_file(layer)]
        self.settings = self._validate(deep_merge_layers(self.layers), problems)
        self._base = self._validate_base(base)

    def _environment_file(self) -> Path:
        """``<settings_dir>/<environment>.yaml``; missing: an error listing those that exist."""
        path = self.settings_dir / f"{self.environment}.yaml"
        if path.is_file() or not self.settings_dir.is_dir():
            return path  # (a missing folder is reported by the base file's layer)
        known = ", ".join(environments(self.settings_dir)) or "none"
        raise ConfigError(
            f"{display_path(path)}: no settings for environment {self.environment!r} "
            f"(environments in {display_path(self.settings_dir)}: {known})"
        )

    def reloaded(self) -> LoggingConfigManager:
        """The same environment, folder and variables, read again now (a SIGHUP's reload);
        :class:`ConfigError` if the files no longer validate."""
        return type(self)(self.environment, self.settings_dir, self._env)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(environment={self.environment!r}, "
            f"settings_dir={str(self.settings_dir)!r})"
        )

    @property
    def provenance(self) -> Mapping[str, str]:
        """Dotted path of every effective leaf -> the layer that set it last."""
        return self._provenance.describe(self.as_dict())

    @property
    def variables(self) -> tuple[str, ...]:
        """Names of the ``HFT_*`` variables that set at least one key, sorted."""
        return tuple(sorted({source.label for source in self.layers[-1].sources.values()}))

    def get_logging_config(self) -> LoggingSettings:
        """The effective ``logging`` section."""
        return self.settings.logging

    def get_exchange_config(self, name: str) -> ExchangeSettings:
        """One exchange's settings, by case-insensitive name; unknown -> :class:`ConfigError`."""
        by_name = {key.lower(): value for key, value in self.settings.exchanges.items()}
        try:
            return by_name[name.lower()]
        except KeyError:
            known = ", ".join(sorted(by_name)) or "none"
            raise ConfigError(f"exchanges.{name}: unknown exchange (known: {known})") from None

    def as_dict(self, *, reveal_secrets: bool = False) -> dict[str, Any]:
        """Effective settings as a JSON-able dict; secrets masked unless ``reveal_secrets``."""
        return dump(self.settings, reveal_secrets=reveal_secrets)

    def base_dict(self) -> dict[str, Any]:
        """``base.yaml`` alone, validated, as a JSON-able dict (holds no secrets by rule)."""
        return dump(self._base, reveal_secrets=False)

    def _validate(self, data: Mapping[str, Any], problems: list[str]) -> Settings:
        settings = None
        try:
            settings = Settings.model_validate(data)
        except ValidationError as exc:
            problems += self._provenance.locate_errors(exc)
        if settings is not None:
            problems += self._provenance.locate_rules(settings.logging)
        if problems or settings is None:
            raise ConfigError(dict.fromkeys(problems))
        return settings

    def _validate_base(self, base: Layer) -> Settings:
        try:
            return Settings.model_validate(base.data)
        except ValidationError as exc:
            problems = explain_errors(exc, Settings)
            raise ConfigError(f"{base.name}: {path}: {text}" for path, text in problems) from None


def environments(settings_dir: Path) -> list[str]:
    """The environments *settings_dir* holds settings for: its ``*.yaml`` files but base."""
    names = (path.stem for path in settings_dir.glob("*.yaml") if path.is_file())
    return sorted(name for name in names if name != "base" and _ENVIRONMENT_NAME.fullmatch(name))


def load_settings(
    environment: str | None = None,
    settings_dir: str | Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """The effective :class:`Settings` for ``environment`` (see :class:`LoggingConfigManager`)."""
    return LoggingConfigManager(environment, settings_dir, env).settings


def deep_merge_layers(layers: tuple[Layer, ...]) -> dict[str, Any]:
    """All layers merged, later ones winning."""
    return reduce(deep_merge, (layer.data for layer in layers), {})


def dump(settings: Settings, *, reveal_secrets: bool) -> dict[str, Any]:
    """``settings`` as plain JSON types, in file order."""
    return settings.model_dump(mode="json", context={"reveal_secrets": reveal_secrets})


class _Provenance:
    """Which layer set each leaf last, and where an error at a key path came from."""

    def __init__(self, layers: tuple[Layer, ...]) -> None:
        self._layers = layers
        self._by_path: dict[str, tuple[int, Source]] = {}
        for index, layer in enumerate(layers):
            self._by_path.update({path: (index, source) for path, source in layer.sources.items()})

    def describe(self, effective: Mapping[str, Any]) -> Mapping[str, str]:
        return MappingProxyType(
            {
                path: self._by_path.get(path, (-1, DEFAULT_SOURCE))[1].description
                for path, _ in iter_leaves(effective)
            }
        )

    def locate_errors(self, exc: ValidationError) -> list[str]:
        lines = []
        for error, (path, text) in zip(exc.errors(), explain_errors(exc, Settings), strict=True):
            missing = error["type"] == "missing"
            source = self._defining(path) if missing else self._last_setting(path)
            lines.append(f"{source.label}: {path}: {text}")
        return lines

    def locate_rules(self, logging: LoggingSettings) -> list[str]:
        lines = []
        for violation in check_rules(logging):
            sources = [self._last_setting_indexed(path) for path in violation.paths]
            lines.append(f"{max(sources, key=lambda found: found[0])[1].label}: {violation}")
        return lines

    def _last_setting(self, path: str) -> Source:
        return self._last_setting_indexed(path)[1]

    def _last_setting_indexed(self, path: str) -> tuple[int, Source]:
        """The source of ``path``, of its nearest ancestor leaf, or of its latest descendant,
        whichever layer came last (an empty map in base.yaml, ``limits: {}``, filled later)."""
        parts = path.split(".")
        below = [found for leaf, found in self._by_path.items() if leaf.startswith(f"{path}.")]
        for end in range(len(parts), 0, -1):
            found = self._by_path.get(".".join(parts[:end]))
            if found is not None:
                return max([found, *below], key=lambda found: found[0])
        return max(below, key=lambda found: found[0], default=(0, self._layers[0].source))

    def _defining(self, path: str) -> Source:
        """The first layer holding the section a missing ``path`` belongs to."""
        parent = path.rpartition(".")[0]
        for layer in self._layers:
            if any(leaf.startswith(f"{parent}.") for leaf in layer.sources):
                return layer.source
        return self._layers[0].source
