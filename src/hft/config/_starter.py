"""``hft init``: a starter ``settings/`` for a new project, from the settings hft ships."""

from __future__ import annotations

import shutil
from pathlib import Path

from hft.config._errors import ConfigError
from hft.config._loader import default_settings_dir

__all__ = ["write_starter_settings"]

#: What a starter holds: every key with its default and a comment, and the two environments.
STARTER_FILES = ("base.yaml", "dev.yaml", "prod.yaml")


def write_starter_settings(target: Path, *, force: bool = False) -> list[Path]:
    """Copy the shipped base.yaml (commented), dev.yaml and prod.yaml into *target*.

    Existing files are left alone unless *force*: the error names them all. Returns the paths
    written.
    """
    source = default_settings_dir()
    if source is None:
        raise ConfigError("hft init: this installation carries no settings (a broken build?)")
    existing = [target / name for name in STARTER_FILES if (target / name).exists()]
    if existing and not force:
        names = ", ".join(str(path) for path in existing)
        raise ConfigError(f"{target}: already holds {names} (--force replaces them)")
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in STARTER_FILES:
        shutil.copyfile(source / name, target / name)
        written.append(target / name)
    return written
