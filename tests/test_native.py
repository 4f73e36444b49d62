"""The C fast paths: built where required; HFT_PURE_PYTHON switches them off."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest

from hft.logging import native_paths
from hft.logging._native import require_native

MODULES = ("hft._callsite", "hft._frames", "hft._speedups")


class TestBuilt:
    @pytest.mark.parametrize("name", MODULES)
    def test_each_extension_is_built_when_required(self, name: str) -> None:
        """With HFT_REQUIRE_SPEEDUPS=1 (CI) every extension imports: setup.py builds them as
        optional, so a compile error would otherwise pass unnoticed as the Python path."""
        if os.environ.get("HFT_REQUIRE_SPEEDUPS") != "1":
            pytest.skip("HFT_REQUIRE_SPEEDUPS is not set: a build without a compiler is allowed")
        assert importlib.import_module(name).__file__.endswith(".so")  # type: ignore[union-attr]


class TestSwitch:
    def test_pure_python_refuses_the_native_import(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """HFT_PURE_PYTHON=1 makes require_native raise ImportError, so callers fall back."""
        monkeypatch.setenv("HFT_PURE_PYTHON", "1")
        with pytest.raises(ImportError, match="HFT_PURE_PYTHON"):
            require_native()

    @pytest.mark.parametrize("value", ["", "0", "yes"])
    def test_anything_else_allows_it(self, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """Only the exact value 1 switches the C paths off."""
        monkeypatch.setenv("HFT_PURE_PYTHON", value)
        require_native()


class TestNativePaths:
    def test_every_path_is_reported_loaded_when_built(self) -> None:
        """native_paths names the four C paths and, where they are required built, all load."""
        paths = native_paths()
        assert set(paths) == {"callsite", "scan", "render", "frames"}
        if os.environ.get("HFT_REQUIRE_SPEEDUPS") == "1" and not os.environ.get("HFT_PURE_PYTHON"):
            assert all(paths.values())

    def test_pure_python_is_reported(self) -> None:
        """Under HFT_PURE_PYTHON=1 a fresh interpreter reports every path as not loaded."""
        code = "from hft.logging import native_paths; print(sorted(native_paths().items()))"
        env = {**os.environ, "HFT_PURE_PYTHON": "1"}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True)
        assert out.stdout.decode().count("False") == 4
