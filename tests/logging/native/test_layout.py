"""The C sources' layout: no include cycle, self-contained headers, setup.py's lists complete."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sysconfig
from functools import cache
from pathlib import Path

import pytest

from tests.needs import cannot

REPO = Path(__file__).resolve().parents[3]
NATIVE = REPO / "src" / "hft" / "logging" / "native"
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]', re.MULTILINE)
MAX_LINES = 500
C_FILES = sorted(p.name for p in NATIVE.iterdir() if p.suffix in {".c", ".h"})
HEADERS = [name for name in C_FILES if name.endswith(".h")]


@cache
def includes(name: str) -> tuple[tuple[str, str], ...]:
    """The file's #includes in order: ("local", "lane.h") or ("system", "string.h")."""
    text = (NATIVE / name).read_text(encoding="utf-8")
    return tuple(
        ("local" if quote == '"' else "system", target) for quote, target in INCLUDE.findall(text)
    )


def local_includes(name: str) -> list[str]:
    """The project headers the file includes itself."""
    return [target for kind, target in includes(name) if kind == "local"]


def closure(name: str) -> set[str]:
    """Every project header the file includes, directly or through another."""
    seen: set[str] = set()
    todo = local_includes(name)
    while todo:
        header = todo.pop()
        if header not in seen:
            seen.add(header)
            todo.extend(local_includes(header))
    return seen


def extensions() -> dict[str, dict[str, list[str]]]:
    """setup.py's EXTENSIONS literal: each extension's sources and depends."""
    tree = ast.parse((REPO / "setup.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "EXTENSIONS" for target in node.targets
        ):
            value: dict[str, dict[str, list[str]]] = ast.literal_eval(node.value)
            return value
    raise AssertionError("setup.py defines no EXTENSIONS")


class TestIncludes:
    def test_every_local_include_is_a_file_here(self) -> None:
        """Each #include "..." names a header of the native folder (no path, no other folder)."""
        for name in C_FILES:
            for header in local_includes(name):
                assert header in HEADERS, f"{name} includes {header}, not a header here"

    def test_no_include_cycle(self) -> None:
        """No header includes, through others, the header that includes it."""
        for name in HEADERS:
            assert name not in closure(name), f"{name} includes itself through {closure(name)}"

    def test_python_h_comes_before_any_system_header(self) -> None:
        """Each file's first include leads to compat.h (Python.h first), so no unit depends on
        the order of its own includes."""
        for name in C_FILES:
            chain, current = [name], name
            while current != "compat.h":
                assert includes(current), f"{' -> '.join(chain)} includes nothing"
                first = includes(current)[0]
                assert first[0] == "local", f"{' -> '.join(chain)} starts with <{first[1]}>"
                current = first[1]
                chain.append(current)
        assert includes("compat.h")[0] == ("system", "Python.h")

    def test_every_header_has_a_guard(self) -> None:
        """Each header is guarded (HFT_<NAME>_H), so including it twice is harmless."""
        for name in HEADERS:
            guard = "HFT_" + name.removesuffix(".h").upper() + "_H"
            text = (NATIVE / name).read_text(encoding="utf-8")
            assert f"#ifndef {guard}\n#define {guard}\n" in text, name

    @pytest.mark.parametrize("name", HEADERS)
    def test_each_header_compiles_alone(self, name: str, tmp_path: Path) -> None:
        """A header included first and alone compiles warning-free: it includes what it uses,
        and defines no static function a unit would not use (only inline ones)."""
        gcc = shutil.which("gcc")
        if gcc is None:
            cannot("no gcc to compile the header with")
        unit = tmp_path / "alone.c"
        unit.write_text(f'#include "{name}"\n', encoding="utf-8")
        run = subprocess.run(
            [gcc, "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-I", str(NATIVE), "-I",
             sysconfig.get_paths()["include"], str(unit)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr


class TestSetup:
    def test_every_unit_is_built_once(self) -> None:
        """Each .c of the folder is a source of exactly one extension, and no source is missing."""
        sources = [s for files in extensions().values() for s in files["sources"]]
        assert sorted(sources) == sorted(n for n in C_FILES if n.endswith(".c"))

    def test_depends_lists_every_header_its_sources_include(self) -> None:
        """Each extension's depends is exactly the headers its sources include, transitively:
        the build redoes it when one of them changes."""
        for name, files in extensions().items():
            used = set().union(*(closure(source) for source in files["sources"]))
            assert sorted(files["depends"]) == sorted(used), name

    def test_every_header_is_used(self) -> None:
        """No header is left over: each is a dependency of an extension."""
        depends = {h for files in extensions().values() for h in files["depends"]}
        assert depends == set(HEADERS)


class TestSize:
    @pytest.mark.parametrize("name", C_FILES)
    def test_no_file_over_the_guide(self, name: str) -> None:
        """No C file or header is over 500 lines."""
        lines = (NATIVE / name).read_text(encoding="utf-8").count("\n")
        assert lines <= MAX_LINES, f"{name}: {lines} lines"
