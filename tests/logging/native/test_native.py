"""The C fast paths: built where required; HFT_PURE_PYTHON switches them off."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import Any

import orjson
import pytest

import hft.logging
from hft.logging import native_paths
from hft.logging.native import require_native
from tests.native import native_module

MODULES = ("hft.logging.native._caller", "hft.logging.native._writer")
EXTENSION_PREFIXES = ("hft.logging.native._caller", "hft.logging.native._writer")


class TestBuilt:
    @pytest.mark.parametrize("name", MODULES)
    def test_each_extension_is_built_when_required(self, name: str) -> None:
        """With HFT_REQUIRE_SPEEDUPS=1 (CI) every extension imports: setup.py builds them as
        optional for users, so a compile error would otherwise pass unnoticed as the Python
        path (and with that variable set, setup.py makes a compile error fail the build)."""
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
        """native_paths names the three C paths and, where they are required built, all load."""
        paths = native_paths()
        assert set(paths) == {"callsite", "scan", "render"}
        if os.environ.get("HFT_REQUIRE_SPEEDUPS") == "1" and not os.environ.get("HFT_PURE_PYTHON"):
            assert all(paths.values())

    def test_pure_python_is_reported(self) -> None:
        """Under HFT_PURE_PYTHON=1 a fresh interpreter reports every path as not loaded."""
        code = "from hft.logging import native_paths; print(sorted(native_paths().items()))"
        env = {**os.environ, "HFT_PURE_PYTHON": "1"}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True)
        assert out.stdout.decode().count("False") == 3


# Runs the script on stdin in a subinterpreter with its own GIL: there CPython refuses any
# extension with single-phase init or without Py_MOD_PER_INTERPRETER_GIL_SUPPORTED.
_ISOLATED = """
import sys
from collections import deque
from typing import Any
try:
    import _interpreters as interpreters  # 3.13
    iid = interpreters.create("isolated")
except ImportError:
    import _xxsubinterpreters as interpreters  # 3.12
    iid = interpreters.create(isolated=True)
failure = interpreters.run_string(iid, sys.stdin.read())
interpreters.destroy(iid)
sys.exit(str(failure) if failure else 0)
"""
# The extension is loaded from its file, without importing hft.logging (whose other imports,
# orjson among them, need not support isolated subinterpreters).
_LOAD = """
import importlib.machinery, importlib.util
def load(name, path):
    loader = importlib.machinery.ExtensionFileLoader(name, path)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module
"""
_RECORD = """
import collections, itertools, json
source = ("s", (), {}, b'"logger":"s",')
record = (1, 1_700_000_000_123_456_789, 20, source, "m", {"a": 1})
"""
# What each module does in the subinterpreter: its main entry points, results checked.
_USE = {
    "hft.logging.native._caller": """
caller = load("hft.logging.native._caller", PATH)
ring = collections.deque()
caller.Emitter(ring, itertools.count().__next__, 20, source, -1, None)("m", a=1)
assert ring[0][2:] == (20, source, "m", {"a": 1}), ring
assert caller.scan([record], {"a"}, 10)[:3] == (1, 20, 20)
""",
    "hft.logging.native._writer": """
writer = load("hft.logging.native._writer", PATH)
dumps = lambda o: json.dumps(o, separators=(",", ":")).encode()
lines, slow = writer.render_lines([record], {20: b"INFO"}, {}, dumps, 1 << 20, [])
assert slow == [] and lines.endswith(b'"seq":1,"msg":"m","fields":{"a":1}}\\n'), lines
""",
}


class TestModuleState:
    @pytest.mark.skipif(sys.version_info < (3, 12), reason="own-GIL subinterpreters are 3.12+")
    @pytest.mark.parametrize("name", MODULES)
    def test_works_in_a_subinterpreter_with_its_own_gil(self, name: str) -> None:
        """Multi-phase init, module state, heap types: the module imports and works in an
        isolated subinterpreter (where CPython refuses a single-phase module)."""
        path = native_module(name).__file__
        script = (_LOAD + f"PATH = {path!r}\n" + _RECORD + _USE[name]).encode()
        run = subprocess.run(
            [sys.executable, "-c", _ISOLATED], input=script, capture_output=True, check=False
        )
        assert run.returncode == 0, run.stderr.decode()

    @pytest.mark.parametrize("name", MODULES)
    def test_a_second_load_is_a_module_of_its_own(self, name: str) -> None:
        """Loading an extension again makes a new module object, with state of its own."""
        spec = importlib.util.find_spec(name)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert module is not native_module(name)

    def test_a_second_caller_has_its_own_emitter_type(self) -> None:
        """Emitter is a heap type made by each load of _caller; each type's methods work."""
        callsite = native_module("hft.logging.native._caller")
        spec = importlib.util.find_spec("hft.logging.native._caller")
        assert spec is not None
        assert spec.loader is not None
        again = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(again)
        assert again.Emitter is not callsite.Emitter
        rings: list[deque[Any]] = [deque(), deque()]
        for module, ring in zip((callsite, again), rings, strict=True):
            module.Emitter(ring, iter(range(9)).__next__, 20, ("s", (), {}), -1, None)("m")
        assert [(r[0], *r[2:]) for r in rings[0]] == [(0, 20, ("s", (), {}), "m", {})]
        assert [(r[0], *r[2:]) for r in rings[1]] == [(0, 20, ("s", (), {}), "m", {})]

    def test_lines_of_a_second_writer_are_the_same(self) -> None:
        """A second _writer module (its own kept buffer) renders the very bytes of the first."""
        speedups = native_module("hft.logging.native._writer")
        spec = importlib.util.find_spec("hft.logging.native._writer")
        assert spec is not None
        assert spec.loader is not None
        again = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(again)
        source: tuple[Any, ...] = ("s", (), {}, b'"logger":"s",')
        records: list[Any] = [(i, 2, 20, source, "m", {"a": 1.5, "b": "x"}) for i in range(3)]
        lines = [
            m.render_lines(records, {20: b"INFO"}, {}, orjson.dumps, 1 << 20, [])
            for m in (speedups, again)
        ]
        assert lines[0] == lines[1]
        assert lines[0][0].count(b"\n") == 3


class TestOnePlace:
    def test_only_the_native_package_imports_the_extensions(self) -> None:
        """hft.logging.native is the one module that imports _caller or _writer at run time
        (others may name them for types only): it alone chooses C or Python."""
        root = Path(hft.logging.__file__).parent
        importers = set()
        for path in root.rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            typing_only = {
                id(node)
                for block in ast.walk(tree)
                if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
                for node in ast.walk(block)
            }
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and id(node) not in typing_only:
                    names = [f"{node.module}.{alias.name}" for alias in node.names]
                    if any(n.startswith(EXTENSION_PREFIXES) for n in [node.module or "", *names]):
                        importers.add(path.relative_to(root).as_posix())
        assert importers == {"native/__init__.py"}

    def test_the_modules_take_the_names_it_chose(self) -> None:
        """Each module that has a C path holds the very object hft.logging.native chose."""
        from hft.logging import native, record
        from hft.logging.pipeline import callsites, counts, lanes, prepare, rings
        from hft.logging.render import lines
        from hft.logging.writer import wire

        assert vars(callsites)["Emitter"] is native.Emitter
        assert vars(rings)["CSequence"] is native.Sequence
        assert vars(counts)["Counter"] is native.Counter
        assert lanes.Lane is native.Lane
        assert vars(prepare)["_c_scan"] is native.scan
        assert vars(lines)["render_lines"] is native.render_lines
        assert vars(lines)["render_lane"] is native.render_lane
        assert vars(record)["unpack_lane"] is vars(wire)["unpack_lane"] is native.unpack_lane
        if native.nop is not None:
            assert callsites.nop is native.nop
