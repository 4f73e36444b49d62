"""mkdocs hook: the settings reference, generated from hft's settings models at every build.

``docs/settings.md`` holds the marker ``<!-- settings-reference -->``; this hook replaces it with
one table per section: every key of :class:`hft.config.Settings`, its default and its rule (type,
bounds, choices, validators), read from the pydantic models, and what it does, read from the
comment beside the key in ``settings/base.yaml``. The rules that span several keys follow, with
their limits read from :mod:`hft.config._validation`. Nothing is written by hand, so the page
cannot drift from the models; ``tests/test_docs_settings.py`` holds the two together.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import annotated_types as at
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from hft.config import Settings
from hft.config._validation import (
    BYTES_PER_RING_SLOT,
    MAX_LATENCY_US_LIMIT,
    MIN_RING_BUFFER_SIZE,
)

MARKER = "<!-- settings-reference -->"
#: A mapping of sections (``exchanges``) is documented once, under this name.
ANY_NAME = "<name>"
BASE_YAML = Path(__file__).resolve().parents[2] / "settings" / "base.yaml"
_LENGTHS = (at.Len, at.MinLen, at.MaxLen)
_BOUNDS = ((at.Gt, ">"), (at.Ge, "≥"), (at.Lt, "<"), (at.Le, "≤"))
_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>\w+):(?P<value>[^#]*)(?:#\s?(?P<comment>.*))?$")
_COMMENT_LINE = re.compile(r"^(?P<indent> *)#\s?(?P<comment>.*)$")


@dataclass(frozen=True)
class SettingsKey:
    """One leaf key of the settings tree as the page shows it."""

    section: str
    name: str
    default: str
    rule: str
    meaning: str

    @property
    def path(self) -> str:
        """The dotted path, as in error messages and ``HFT_*`` variables."""
        return f"{self.section}.{self.name}"


def settings_keys(comments: dict[str, str] | None = None) -> list[SettingsKey]:
    """Every leaf key of :class:`~hft.config.Settings`, in the models' order."""
    known = base_yaml_comments() if comments is None else comments
    return list(_walk(Settings, "", known))


def _walk(model: type[BaseModel], prefix: str, comments: dict[str, str]) -> Iterator[SettingsKey]:
    for name, field in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        section = _section(field.annotation)
        if section is not None:
            yield from _walk(section, path, comments)
        elif (entry := _mapping_of_sections(field.annotation)) is not None:
            yield from _walk(entry, f"{path}.{ANY_NAME}", comments)
        else:
            meaning = comments.get(_comment_path(path), "")
            yield SettingsKey(prefix, name, _default(field), _rule(field), meaning)


def _section(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _mapping_of_sections(annotation: object) -> type[BaseModel] | None:
    if typing.get_origin(annotation) is dict:
        return _section(typing.get_args(annotation)[1])
    return None


def _comment_path(path: str) -> str:
    """base.yaml documents each exchange under its own name: mexc stands for all."""
    return path.replace(f"exchanges.{ANY_NAME}.", "exchanges.mexc.")


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if _is_file_mode(field) and isinstance(value, int):
        return f"`{value:04o}`"
    return f"`{_yaml(value)}`"


def _yaml(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_yaml(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str) and (not value or any(c in value for c in ":#{}[],@")):
        return f'"{value}"'
    return str(value)


def _rule(field: FieldInfo) -> str:
    parts = [_type_text(field.annotation)]
    parts += [
        f"{sign} {_bound(field, getattr(item, sign_attr(kind)))}"
        for item in field.metadata
        for kind, sign in _BOUNDS
        if isinstance(item, kind)
    ]
    parts += [f"length {_length(item)}" for item in field.metadata if isinstance(item, _LENGTHS)]
    parts += [_first_line(doc) for doc in _validator_docs(field)]
    if field.annotation is SecretStr:
        parts.append("secret: only from an `HFT_*` variable, never a file")
    return "; ".join(part for part in parts if part)


def sign_attr(kind: type) -> str:
    """The attribute holding an annotated-types bound's value (``gt``, ``ge``, ...)."""
    return kind.__name__.lower()


def _bound(field: FieldInfo, value: object) -> str:
    return f"`{value:04o}`" if _is_file_mode(field) and isinstance(value, int) else f"`{value}`"


def _length(item: at.Len | at.MinLen | at.MaxLen) -> str:
    low, high = getattr(item, "min_length", None), getattr(item, "max_length", None)
    if high is None:
        return f"≥ `{low}`"
    return f"≤ `{high}`" if low is None else f"`{low}` to `{high}`"


def _validator_docs(field: FieldInfo) -> Iterator[str]:
    for item in field.metadata:
        func = getattr(item, "func", None)
        if func is not None and func.__doc__:
            yield func.__doc__


def _is_file_mode(field: FieldInfo) -> bool:
    """A mode key (``file_mode``, ...): parsed by ``_octal``, shown in octal."""
    names = (getattr(getattr(item, "func", None), "__name__", "") for item in field.metadata)
    return "_octal" in names


def _first_line(text: str) -> str:
    """A validator's docstring as a rule: its first line, Markdown code marks, no full stop."""
    line = text.strip().splitlines()[0].rstrip(".").replace("``", "`")
    return line[:1].lower() + line[1:]


def _type_text(annotation: object) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        return "one of " + ", ".join(f"`{arg}`" for arg in args)
    if origin in (types.UnionType, typing.Union):
        kinds = [_type_text(arg) for arg in args if arg is not type(None)]
        return " or ".join(kinds) + (" or `null`" if type(None) in args else "")
    if origin is tuple:
        return f"list of {_type_text(args[0])}"
    if origin is dict:
        return f"mapping of {_type_text(args[0])} to {_type_text(args[1])}"
    if annotation is SecretStr:
        return "string"
    return _NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))


_NAMES: dict[Any, str] = {bool: "boolean", int: "integer", float: "number", str: "string"}


def base_yaml_comments(path: Path = BASE_YAML) -> dict[str, str]:
    """``{dotted.key: comment}`` from ``base.yaml``: the comment after a key, its continuation
    lines, and comment lines just above it."""
    comments: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] = []
    last = ""
    for line in path.read_text().splitlines():
        if (key := _KEY_LINE.match(line)) is not None:
            indent = len(key["indent"])
            stack = [(i, k) for i, k in stack if i < indent] + [(indent, key["key"])]
            last = ".".join(k for _, k in stack)
            text = [*pending, key["comment"] or ""]
            comments[last] = " ".join(part.strip() for part in text if part.strip())
            pending = []
        elif (comment := _COMMENT_LINE.match(line)) is not None:
            if stack and len(comment["indent"]) > stack[-1][0] + len(stack[-1][1]) + 2:
                comments[last] = f"{comments[last]} {comment['comment'].strip()}".strip()
            else:
                pending.append(comment["comment"])
        else:
            pending = []
    return comments


def render_settings_reference() -> str:
    """The Markdown that replaces :data:`MARKER`: a table per section, then the cross-key rules."""
    lines: list[str] = []
    section = None
    for key in settings_keys():
        if key.section != section:
            section = key.section
            lines += ["", f"### `{section}`", "", "| key | default | rule | what it does |",
                      "| --- | --- | --- | --- |"]  # fmt: skip
        lines.append(f"| `{key.name}` | {key.default} | {key.rule} | {_cell(key.meaning)} |")
    return "\n".join([*lines, "", *_cross_key_rules()])


def _cell(text: str) -> str:
    """A base.yaml comment in a table cell: no column break, no HTML tag (``<file_path>``)."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _cross_key_rules() -> list[str]:
    hft = "logging.hft_settings"
    return [
        "### Rules across keys",
        "",
        "Checked after every key is valid on its own; a broken rule names every key involved.",
        "",
        f"- `{hft}.max_latency_us` ≤ `{MAX_LATENCY_US_LIMIT}` (the HFT ceiling).",
        f"- `{hft}.warning_threshold_us` ≤ `{hft}.max_latency_us`.",
        f"- `{hft}.ring_buffer_size` ≥ `{MIN_RING_BUFFER_SIZE}`.",
        f"- `{hft}.max_memory_mb` ≥ `ring_buffer_size` times {BYTES_PER_RING_SLOT} bytes, in MiB.",
        "- At least one of `logging.backends.<backend>.enabled` is `true`.",
        "- `exchanges.<name>.api_key` and `api_secret` are empty in every settings file.",
    ]


def on_page_markdown(markdown: str, **_: object) -> str:
    """mkdocs event: put the generated reference where the page has the marker."""
    return markdown.replace(MARKER, render_settings_reference())
