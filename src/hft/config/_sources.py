"""The three layers settings come from: base file, environment file, ``HFT_*`` variables.

Each layer is a plain dict plus, for every leaf in it, the :class:`Source` that set it, so that
the loader can say where a value (or a mistake) came from.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from hft.config._errors import ConfigError
from hft.config._merge import iter_leaves
from hft.config._models import SECRET_FIELDS, ExchangeSettings, LoggingSettings, Settings

#: Prefix of the variables that override settings; ``__`` separates nested keys.
ENV_PREFIX = "HFT_"
ENV_NESTED_DELIMITER = "__"


@dataclass(frozen=True)
class Source:
    """Where a value came from: ``label`` heads error lines, ``description`` is provenance."""

    label: str
    description: str


@dataclass(frozen=True)
class Layer:
    """One layer of settings and the source of each of its leaves."""

    name: str
    data: Mapping[str, Any] = field(repr=False)
    sources: Mapping[str, Source] = field(repr=False)
    #: The layer as a whole, for problems no single leaf explains (e.g. a missing value).
    source: Source = field(repr=False)


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when below it, else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# Files


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping (PyYAML keeps the last)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    keys = [loader.construct_object(key_node) for key_node, _ in node.value]
    duplicates = sorted({str(key) for key in keys if keys.count(key) > 1})
    if duplicates:
        raise yaml.constructor.ConstructorError(
            None, None, f"duplicate key {', '.join(duplicates)}", node.start_mark
        )
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def file_layer(path: Path, kind: str) -> Layer:
    """Read ``path`` (``kind``: ``base`` or ``env``) into a layer; errors name the file."""
    label = display_path(path)
    if not path.is_file():
        raise ConfigError(f"{label}: settings file not found")
    data = _read_yaml(path, label)
    source = Source(label, f"{kind} file ({label})")
    return Layer(label, data, {leaf: source for leaf, _ in iter_leaves(data)}, source)


def _read_yaml(path: Path, label: str) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise ConfigError(f"{label}: invalid YAML: {_yaml_problem(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ConfigError(f"{label}: the top level must be a mapping of keys, not a {kind}")
    return data


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"{exc.problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(exc)


def secrets_in_file(layer: Layer) -> list[str]:
    """One problem per non-empty secret the file ``layer`` sets."""
    exchanges = layer.data.get("exchanges")
    if not isinstance(exchanges, Mapping):
        return []
    return [
        f"{layer.name}: exchanges.{name}.{key}: secrets come from environment variables, "
        f"never files (set {ENV_PREFIX}EXCHANGES__{str(name).upper()}__{key.upper()})"
        for name, section in exchanges.items()
        if isinstance(section, Mapping)
        for key in sorted(SECRET_FIELDS)
        if section.get(key) not in (None, "")
    ]


# Variables


class _VariablesShape(BaseSettings):
    """The shape pydantic-settings reads variables against; never instantiated."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_NESTED_DELIMITER, case_sensitive=False
    )

    logging: LoggingSettings
    exchanges: dict[str, ExchangeSettings]


class _InjectedEnvSource(EnvSettingsSource):
    """pydantic-settings' variables source, reading a given mapping instead of ``os.environ``."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._injected = env
        super().__init__(_VariablesShape)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {name.lower(): value for name, value in self._injected.items()}


def variables_layer(env: Mapping[str, str]) -> tuple[Layer, list[str]]:
    """The ``HFT_*`` variables as a layer, and problems with variables naming no settings key."""
    try:
        data = _InjectedEnvSource(env)()
    except SettingsError as exc:
        raise ConfigError(_unparsable_variables(env) or f"variables {ENV_PREFIX}*: {exc}") from None
    paths = _variable_paths(env)
    sources = {leaf: _variable_source(leaf, paths) for leaf, _ in iter_leaves(data)}
    whole = Source(f"{ENV_PREFIX}* variables", f"variables {ENV_PREFIX}*")
    return Layer("variables", data, sources, whole), _unknown_variables(paths)


def _unparsable_variables(env: Mapping[str, str]) -> str:
    """One line per variable whose value cannot be read (a list or mapping that is not JSON)."""
    problems = []
    for name, path in _variable_paths(env).items():
        try:
            _InjectedEnvSource({name: env[name]})()
        except SettingsError:
            problems.append(
                f"{name}: {'.'.join(path)}: cannot read {env[name]!r}"
                ' (lists and mappings are given as JSON, e.g. \'["a", "b"]\')'
            )
    return "\n".join(problems)


def _variable_paths(env: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Settings key path each ``HFT_*`` variable names, e.g. ``('logging', 'hft_settings')``."""
    start = len(ENV_PREFIX)
    return {
        name: tuple(name[start:].lower().split(ENV_NESTED_DELIMITER))
        for name in env
        if name.upper().startswith(ENV_PREFIX)
    }


def _variable_source(leaf: str, paths: Mapping[str, tuple[str, ...]]) -> Source:
    parts = tuple(leaf.split("."))
    matches = [name for name, path in paths.items() if parts[: len(path)] == path]
    name = max(matches, key=lambda match: len(paths[match]))
    return Source(name, f"variable {name}")


def _unknown_variables(paths: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Nested variables (``HFT_X__Y``) whose first key is not a section: a typo, not ignored."""
    known = list(Settings.model_fields)
    problems = []
    for name, path in sorted(paths.items()):
        if len(path) > 1 and path[0] not in known:
            close = difflib.get_close_matches(path[0], known, n=1)
            hint = f"; did you mean {ENV_PREFIX}{close[0].upper()}?" if close else ""
            problems.append(f"{name}: {path[0]}: unknown key{hint}")
    return problems
