"""Fixtures for the settings tests: a private copy of the real settings directory."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from hft.config import LoggingConfigManager

REPO_SETTINGS = Path(__file__).resolve().parents[2] / "settings"


@pytest.fixture
def settings_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the repository's settings/ that a test may break, as ./settings.

    The working directory is its parent, so errors name files as ``settings/dev.yaml``.
    """
    target = tmp_path / "settings"
    shutil.copytree(REPO_SETTINGS, target)
    monkeypatch.chdir(tmp_path)
    return target


def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping in ``path``."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def write_yaml(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` to ``path`` as YAML."""
    path.write_text(yaml.safe_dump(dict(data), sort_keys=False), encoding="utf-8")


def load(
    settings_dir: Path, environment: str | None = "dev", env: Mapping[str, str] | None = None
) -> LoggingConfigManager:
    """A manager over ``settings_dir`` that sees only the variables in ``env``."""
    return LoggingConfigManager(environment, settings_dir, env={} if env is None else env)
