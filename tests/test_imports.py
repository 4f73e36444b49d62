"""No import cycle in ``src/`` or ``benchmarks/``, counting every import statement.

The graph is built from the source with :mod:`ast`, never by importing it, so an import inside a
function (run late, and so able to hide a cycle from the interpreter) counts as much as one at
the top of the module, and so does one under ``if TYPE_CHECKING:``. Its nodes are the modules of
``src/`` (``hft...``) and ``benchmarks/`` (``benchmarks...``); imports of anything else are left
out. The rules that turn a statement into edges:

- ``import a.b.c`` is an edge to ``a.b.c`` alone. Importing it runs the ``__init__`` of ``a`` and
  ``a.b`` too, but a module's parent packages are not its dependencies: a package's
  ``__init__`` importing its own submodules is the usual way to re-export them.
- ``from a.b import x`` is an edge to the module ``a.b.x`` when there is one. Otherwise ``x`` is a
  name: if ``a.b`` is a package whose ``__init__`` only re-exports ``x`` (``from .m import x``),
  the edge goes to the module that defines it (followed through any chain of re-exports), since
  that is the code the importer depends on; if the ``__init__`` defines ``x`` itself, the edge
  goes to the package.
- Relative imports resolve against the importing module's package, as the interpreter does.

So a submodule that imports a name through its own package's ``__init__`` is no cycle, while a
module reaching back to one that imports it, at any depth and by any path, is.

:data:`CYCLE_EDGES` lists imports allowed to close a cycle: none. An entry that no longer closes
one fails the test too.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOTS = (REPO / "src", REPO)  # where the dotted names of src/ and benchmarks/ start
TREES = (REPO / "src", REPO / "benchmarks")

#: Imports (importer, imported) allowed to close a cycle, each with why: none.
CYCLE_EDGES: dict[tuple[str, str], str] = {}


@dataclass(frozen=True, slots=True)
class Edge:
    """One import: the module it leads to, and where the statement is."""

    target: str
    where: str


def module_name(path: Path) -> str:
    """The dotted name of the module at *path* (a package's ``__init__.py`` names the package)."""
    root = ROOTS[0] if path.is_relative_to(ROOTS[0]) else ROOTS[1]
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every Python module of the trees, by dotted name."""
    return {module_name(p): p for tree in TREES for p in sorted(tree.rglob("*.py"))}


@functools.cache
def parsed() -> dict[str, ast.Module]:
    """Every module's syntax tree, by dotted name (parsed once per run)."""
    return {name: ast.parse(path.read_text(), str(path)) for name, path in modules().items()}


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _absolute(node: ast.ImportFrom, name: str, path: Path) -> str:
    """The module a ``from ... import`` statement names, relative levels resolved."""
    if not node.level:
        return node.module or ""
    base = _package_of(name, path).split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


class Graph:
    """The import graph of the trees, with re-exported names traced to where they are defined."""

    def __init__(self, leave_out: Collection[tuple[str, str]] = ()) -> None:
        self.paths = modules()
        self.trees = parsed()
        self.edges = {
            name: [e for e in self._edges(name) if (name, e.target) not in leave_out]
            for name in self.paths
        }

    def reaches(self, start: str, goal: str) -> bool:
        """Whether *goal* is imported from *start*, directly or through other modules."""
        seen, todo = {start}, [start]
        while todo:
            for edge in self.edges[todo.pop()]:
                if edge.target == goal:
                    return True
                if edge.target not in seen:
                    seen.add(edge.target)
                    todo.append(edge.target)
        return False

    def defining_module(self, package: str, attr: str, seen: frozenset[str] = frozenset()) -> str:
        """The module that defines *attr* imported from *package*: a submodule of that name, the
        module a re-export in its ``__init__`` leads to, or the package itself."""
        if f"{package}.{attr}" in self.paths:
            return f"{package}.{attr}"
        path = self.paths[package]
        if path.name != "__init__.py" or package in seen:
            return package
        for node in self.trees[package].body:
            if isinstance(node, ast.ImportFrom):
                source = _absolute(node, package, path)
                for alias in node.names:
                    if (alias.asname or alias.name) == attr and source in self.paths:
                        return self.defining_module(source, alias.name, seen | {package})
        return package

    def _edges(self, name: str) -> Iterator[Edge]:
        path = self.paths[name]
        for node in ast.walk(self.trees[name]):
            where = f"{path.relative_to(REPO)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                yield from (Edge(a.name, where) for a in node.names if a.name in self.paths)
            elif isinstance(node, ast.ImportFrom):
                source = _absolute(node, name, path)
                if source in self.paths:
                    for alias in node.names:
                        yield Edge(self.defining_module(source, alias.name), where)

    def cycles(self) -> list[list[str]]:
        """The strongly connected components of more than one module (Tarjan), each sorted."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        found: list[list[str]] = []

        def visit(node: str) -> None:
            index[node] = low[node] = len(index)
            stack.append(node)
            for edge in self.edges[node]:
                if edge.target not in index:
                    visit(edge.target)
                    low[node] = min(low[node], low[edge.target])
                elif edge.target in stack:
                    low[node] = min(low[node], index[edge.target])
            if low[node] == index[node]:
                component = []
                while (member := stack.pop()) != node:
                    component.append(member)
                component.append(node)
                if len(component) > 1:
                    found.append(sorted(component))

        for node in sorted(self.paths):
            if node not in index:
                visit(node)
        return found

    def path_within(self, component: list[str]) -> list[Edge]:
        """One cycle through *component*, as the import statements that close it."""
        members, start = set(component), component[0]
        trail: dict[str, Edge] = {}
        frontier = [start]
        while frontier:  # breadth first from start, back to start, within the component
            node = frontier.pop(0)
            for edge in self.edges[node]:
                if edge.target in members and edge.target not in trail:
                    trail[edge.target] = Edge(node, edge.where)
                    frontier.append(edge.target)
            if start in trail:
                break
        steps, node = [], start
        while True:  # trail[x] holds the module importing x, and where
            back = trail[node]
            steps.append(Edge(node, back.where))
            node = back.target
            if node == start:
                return steps[::-1]


def describe(graph: Graph, component: list[str]) -> str:
    """A cycle as the reader should see it: each module, and the import that leads on."""
    steps = graph.path_within(component)
    lines = [f"  {step.where} imports {step.target}" for step in steps]
    return f"cycle among {', '.join(component)}:\n" + "\n".join(lines)


class TestImportGraph:
    """The graph of every import in src/ and benchmarks/."""

    def test_no_cycle(self) -> None:
        """No module reaches back to itself through imports, function-level ones included."""
        graph = Graph(leave_out=CYCLE_EDGES)
        assert not (cycles := graph.cycles()), "\n".join(describe(graph, c) for c in cycles)

    def test_every_listed_edge_still_closes_a_cycle(self) -> None:
        """An import left out of the check is still there and still leads back to its importer."""
        graph = Graph()
        targets = {name: {e.target for e in edges} for name, edges in graph.edges.items()}
        stale = [
            f"{importer} -> {imported}"
            for importer, imported in CYCLE_EDGES
            if imported not in targets.get(importer, ()) or not graph.reaches(imported, importer)
        ]
        assert not stale, f"no longer a cycle: take these out of CYCLE_EDGES: {stale}"

    def test_function_level_imports_count(self) -> None:
        """An import inside a function body is an edge: it is how a cycle hides."""
        graph = Graph()
        assert {"benchmarks.paced"} <= {e.target for e in graph.edges["benchmarks.child"]}
        cli = {e.target for e in graph.edges["hft.cli"]}
        assert "hft.logging.preflight" in cli  # imported inside a command's function

    def test_re_exports_lead_to_the_defining_module(self) -> None:
        """``from hft.logging import LoggingTimer`` is an edge to the module defining it."""
        graph = Graph()
        assert graph.defining_module("hft.logging", "LoggingTimer") == "hft.logging.timer"
        assert graph.defining_module("hft.logging", "native") == "hft.logging.native"

    def test_a_cycle_is_reported_with_its_imports(self) -> None:
        """The failure names each module of a cycle and the line of each import closing it."""
        graph = Graph(leave_out=CYCLE_EDGES)
        graph.edges["benchmarks.paced"].append(Edge("benchmarks.child", "benchmarks/paced.py:1"))
        [component] = graph.cycles()
        [where] = [e.where for e in graph.edges["benchmarks.child"] if e.target.endswith("paced")]
        assert describe(graph, component).splitlines() == [
            "cycle among benchmarks.child, benchmarks.paced:",
            f"  {where} imports benchmarks.paced",
            "  benchmarks/paced.py:1 imports benchmarks.child",
        ]
