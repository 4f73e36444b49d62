"""Sizes a reader can hold in mind: modules of at most 500 lines, classes of at most 300.

Every Python module under ``src/``, ``benchmarks/`` and ``tests/`` is counted, and so is every C
source and header beside the native code (``src/hft/logging/native/*.c``, ``*.h``); a class runs
from its first decorator to its last line. :data:`OVERSIZED` is empty and stays so: an
entry that fits again fails the test too, so a new exception must argue its way past review.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODULE_LINES = 500
CLASS_LINES = 300

#: Modules (by path) and classes (``path::Class``) allowed over their limit: none.
OVERSIZED: frozenset[str] = frozenset()


def sources() -> Iterator[Path]:
    """The files whose size is held: Python modules of the three trees, the native C files."""
    for tree in ("src", "benchmarks", "tests"):
        yield from sorted((REPO / tree).rglob("*.py"))
    for pattern in ("*.c", "*.h"):
        yield from sorted((REPO / "src/hft/logging/native").glob(pattern))


@functools.cache
def sizes() -> dict[str, tuple[int, int]]:
    """Each module's and each class's name (as :data:`OVERSIZED` writes it), its lines and
    its limit."""
    found: dict[str, tuple[int, int]] = {}
    for path in sources():
        name, text = str(path.relative_to(REPO)), path.read_text()
        found[name] = (len(text.splitlines()), MODULE_LINES)
        if path.suffix != ".py":
            continue
        for node in ast.walk(ast.parse(text, name)):
            if isinstance(node, ast.ClassDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                lines = (node.end_lineno or node.lineno) - first + 1
                found[f"{name}::{node.name}"] = (lines, CLASS_LINES)
    return found


class TestSizes:
    """Module and class lengths against their limits."""

    def test_nothing_over_its_limit(self) -> None:
        """No module over 500 lines and no class over 300, but those listed as being split."""
        over = {
            f"{name}: {lines} lines (limit {limit})"
            for name, (lines, limit) in sizes().items()
            if lines > limit and name not in OVERSIZED
        }
        assert not over, "split these: " + "; ".join(sorted(over))

    def test_every_listed_exception_is_still_needed(self) -> None:
        """A listed module or class that fits its limit again (or is gone) leaves the list."""
        found = sizes()
        fits = sorted(
            name for name in OVERSIZED if name not in found or found[name][0] <= found[name][1]
        )
        assert not fits, f"take these out of OVERSIZED, they fit now: {fits}"

    def test_counts_c_sources_and_classes(self) -> None:
        """The count covers the C sources and headers and each class of a module."""
        found = sizes()
        assert {Path(name).suffix for name in found} >= {".py", ".c", ".h"}
        assert "tests/test_sizes.py::TestSizes" in found
