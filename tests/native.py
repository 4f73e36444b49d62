"""Importing the optional C extensions in tests: skipped where none was built, required in CI."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def native_module(name: str) -> ModuleType:
    """The compiled module *name*. Without it its tests are skipped, unless
    ``HFT_REQUIRE_SPEEDUPS=1`` (set by ``.ci/run``): then a missing build fails them."""
    if os.environ.get("HFT_REQUIRE_SPEEDUPS") == "1":
        return importlib.import_module(name)
    module: ModuleType = pytest.importorskip(name)
    return module
