"""The fault shim, built once per session with gcc, and a harness in a fresh folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crash.sweep import Harness, build_shim


@pytest.fixture(scope="session")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``faultshim.so``, compiled from ``tests/crash/faultshim.c`` (gcc is always there)."""
    return build_shim(tmp_path_factory.mktemp("shim"))


@pytest.fixture
def harness(shim: Path, tmp_path: Path) -> Harness:
    """Runs the sweep's workloads under the shim, below this test's folder."""
    return Harness(shim, tmp_path / "points")
