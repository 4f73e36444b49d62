"""The docs' settings page: generated from the models, every key, base.yaml's defaults."""

from __future__ import annotations

import functools
import importlib.util
import re
import sys
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from pydantic import BaseModel

from hft.config import Settings

ROOT = Path(__file__).resolve().parents[1]
HOOK = ROOT / "docs" / "hooks" / "settings_reference.py"
PAGE = ROOT / "docs" / "settings.md"
_HEADING = re.compile(r"^### `(?P<section>[^`]+)`$")
_ROW = re.compile(r"^\| `(?P<key>\w+)` \| (?P<default>[^|]+) \|")


@functools.cache
def _hook() -> ModuleType:
    """docs/hooks/settings_reference.py, imported from its file as mkdocs imports it."""
    spec = importlib.util.spec_from_file_location("hft_docs_settings_reference", HOOK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def _rendered_page() -> str:
    on_page_markdown: Callable[..., str] = _hook().on_page_markdown
    return on_page_markdown(PAGE.read_text(), page=None, config=None, files=None)


def _page_rows(markdown: str) -> dict[str, str]:
    """``{dotted.key: default cell}`` of every table row under a ``### `section` `` heading."""
    rows: dict[str, str] = {}
    section = ""
    for line in markdown.splitlines():
        if (heading := _HEADING.match(line)) is not None:
            section = heading["section"]
        elif (row := _ROW.match(line)) is not None and section:
            rows[f"{section}.{row['key']}"] = row["default"].strip()
    return rows


def _model_keys(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Leaf keys of the settings models, walked here independently of the hook."""
    for name, field in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        annotation = field.annotation
        if typing.get_origin(annotation) is dict:
            value = typing.get_args(annotation)[1]
            if isinstance(value, type) and issubclass(value, BaseModel):
                yield from _model_keys(value, f"{path}.<name>")
                continue
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _model_keys(annotation, path)
        else:
            yield path


def _flatten(tree: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and value:
            yield from _flatten(value, path)
        else:
            yield path, value


class TestSettingsPage:
    def test_page_has_one_marker_and_the_build_replaces_it(self) -> None:
        """docs/settings.md holds the marker once; the built page holds tables instead of it."""
        marker: str = _hook().MARKER
        assert PAGE.read_text().count(marker) == 1
        rendered = _rendered_page()
        assert marker not in rendered
        assert "### `logging.hft_settings`" in rendered

    def test_every_model_key_is_on_the_page_and_nothing_else(self) -> None:
        """The page's keys are exactly the leaf keys of hft.config.Settings."""
        expected = list(_model_keys(Settings))
        assert len(expected) > 80
        assert sorted(_page_rows(_rendered_page())) == sorted(expected)

    def test_defaults_on_the_page_are_base_yaml_values(self) -> None:
        """Each logging key's default on the page reads, as YAML, as the value in base.yaml."""
        rows = _page_rows(_rendered_page())
        base = yaml.safe_load((ROOT / "settings" / "base.yaml").read_text())
        checked = 0
        for path, value in _flatten(base["logging"], "logging"):
            if value == {} and f"{path}.<name>.interval_s" in rows:  # a map of sections (limits)
                continue  # empty by default: the page shows one entry's keys and their rules
            shown = yaml.safe_load(rows[path].strip("`"))
            assert shown == value or (isinstance(value, list) and shown == list(value)), path
            checked += 1
        assert checked == sum(1 for k in rows if k.startswith("logging.") and "<name>" not in k)

    def test_required_exchange_keys_say_so(self) -> None:
        """Keys without a default (an exchange's URLs, symbols, seed) are shown as required."""
        rows = _page_rows(_rendered_page())
        assert rows["exchanges.<name>.rest_url"] == "required"
        assert rows["exchanges.<name>.api_key"] == '`""`'

    def test_rules_come_from_the_models(self) -> None:
        """Bounds, choices and validators of a key are in its rule column."""
        page = _rendered_page()
        assert "| `gc_threshold` | `0.8` | number; > `0.0`; ≤ `1.0` |" in page
        assert "one of `drop_oldest`, `drop_newest`, `block`" in page
        assert "the owner keeps read and write" in page
        assert "`logging.hft_settings.max_latency_us` ≤ `5000`" in page
