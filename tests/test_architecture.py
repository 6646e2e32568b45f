"""The package's module structure: no import cycles, no private names across modules, no twin file names.

How the module graph is built (every ``.py`` file under ``src/vecbridge`` is parsed with :mod:`ast`;
nothing is imported):

* Every ``import`` and ``from ... import`` statement counts, wherever it stands: at module level, inside
  a function or a method (a deferred import is still a dependency), inside ``try``.  The one exception
  is a block under ``if TYPE_CHECKING:``, which never runs.
* Relative imports are resolved against the importing module (``from ..io import x`` in
  ``vecbridge.apps.merge`` names ``vecbridge.io``).
* ``from pkg import name`` is an edge to the submodule ``pkg.name`` when ``name`` is a module of the
  package, and otherwise an edge to ``pkg`` itself (its ``__init__``).  So ``from . import linear`` in a
  package ``__init__`` is an edge to ``linear``, not a self-loop, and ``from .base import Translator``
  is an edge to ``base`` only.
* Importing ``a.b.c`` also runs the ``__init__`` of ``a`` and ``a.b``; those implicit edges are *not*
  counted.  Otherwise every package ``__init__`` that re-exports its submodules would sit in a cycle
  with each of them.  The rule that follows: a package ``__init__`` may import (re-export) its own
  submodules, and a submodule must then never import from its package's ``__init__`` (write
  ``from .base import Translator``, not ``from . import Translator``).  A submodule that did would
  show up here as a cycle, because it is an explicit edge to the ``__init__``.
* Names in a lazy ``"module:function"`` registry (``translators.REGISTRY``, ``datasets.REGISTRY``)
  and ``importlib.import_module`` calls are not edges: they are looked up when used, which is the
  point of a lazy registry.

Only modules of ``vecbridge`` are nodes; third-party and standard-library imports are ignored.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "vecbridge"


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = module_files()


def is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def _type_checking_block(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, skipping ``if TYPE_CHECKING:`` bodies."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        children = list(ast.iter_child_nodes(node))
        if _type_checking_block(node):
            children = list(node.orelse)
        stack.extend(children)


def _base_of(module: str, node: ast.ImportFrom) -> str:
    """The absolute module named by ``from <node.module> import ...`` inside ``module``."""
    if node.level == 0:
        return node.module or ""
    package = module if is_package(module) else module.rpartition(".")[0]
    parts = package.split(".")
    if node.level > 1:
        parts = parts[: len(parts) - (node.level - 1)]
    base = ".".join(parts)
    return f"{base}.{node.module}" if node.module else base


@lru_cache(maxsize=None)
def imports_of(module: str) -> list[tuple[str, str, int]]:
    """``(imported module, imported name or '', line)`` for every import in ``module`` of a package module."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"), filename=str(MODULES[module]))
    out = []
    for node in _import_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    out.append((alias.name, "", node.lineno))
            continue
        base = _base_of(module, node)
        if base not in MODULES:
            continue
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            if sub in MODULES:
                out.append((sub, "", node.lineno))
            else:
                out.append((base, alias.name, node.lineno))
    return out


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module in MODULES:
        for target, _, _ in imports_of(module):
            if target != module:
                graph[module].add(target)
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0

    def visit(root: str) -> None:  # iterative Tarjan: the graph is small, but recursion depth is not our business
        nonlocal counter
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp.append(m)
                    if m == node:
                        break
                if len(comp) > 1:
                    components.append(sorted(comp))

    for m in sorted(graph):
        if m not in index:
            visit(m)
    return sorted(components)


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle through the first module of each strongly connected component."""
    cycles = []
    for comp in strongly_connected(graph):
        members = set(comp)
        start = comp[0]
        # breadth-first search for the shortest way back to start inside the component
        prev: dict[str, str] = {}
        frontier = [start]
        found = None
        while frontier and found is None:
            nxt = []
            for node in frontier:
                for child in sorted(graph[node] & members):
                    if child == start:
                        found = node
                        break
                    if child not in prev:
                        prev[child] = node
                        nxt.append(child)
                if found is not None:
                    break
            frontier = nxt
        path = [found]
        while path[-1] != start:
            path.append(prev[path[-1]])
        cycles.append(list(reversed(path)) + [start])
    return cycles


def _where(module: str, target: str) -> str:
    lines = sorted({line for t, _, line in imports_of(module) if t == target})
    return f"{MODULES[module].relative_to(SRC)}:{','.join(map(str, lines))}"


def test_the_graph_sees_every_kind_of_import():
    # a module-level import, a deferred one and a relative one of the translators all appear
    graph = import_graph()
    assert "vecbridge.translators.base" in graph["vecbridge.translators"]
    assert "vecbridge.embeddings" in graph["vecbridge"]


def test_find_cycles_reports_a_cycle():
    graph = {"a": {"b"}, "b": {"c", "a"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(graph) == [["a", "b", "c"]]
    assert find_cycles(graph) == [["a", "b", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    graph = import_graph()
    cycles = find_cycles(graph)
    if cycles:
        lines = []
        for cycle, comp in zip(cycles, strongly_connected(graph)):
            lines.append(" -> ".join(cycle))
            for a, b in zip(cycle, cycle[1:]):
                lines.append(f"    {a} -> {b}  ({_where(a, b)})")
            members = set(comp)
            shown = set(zip(cycle, cycle[1:]))
            rest = [(a, b) for a in comp for b in sorted(graph[a] & members) if (a, b) not in shown]
            if rest:
                lines.append("  other imports inside this group (each lies on a cycle too):")
                lines += [f"    {a} -> {b}  ({_where(a, b)})" for a, b in rest]
        pytest.fail(f"{len(cycles)} group(s) of modules that import each other:\n" + "\n".join(lines))


def test_no_private_names_imported_across_modules():
    found = []
    for module in MODULES:
        for target, name, line in imports_of(module):
            if target != module and name.startswith("_") and not name.startswith("__"):
                found.append(f"{MODULES[module].relative_to(SRC)}:{line} imports {name} from {target}")
    assert not found, "private names imported from another module (make them public or move them):\n" + "\n".join(
        found
    )


#: file names that mean the same kind of thing wherever they stand (each package's table of named entries)
SAME_KIND = {"registry"}


def test_no_two_modules_share_a_file_name():
    """Except ``__init__``, modules that are the same kind of thing (:data:`SAME_KIND`), and a ``cli/`` module
    named after the engine it drives: it imports that module, or a module that imports it (``cli/neighbors``
    -> ``retrieval`` -> ``neighbors``)."""
    by_name: dict[str, list[str]] = {}
    for module, path in MODULES.items():
        if path.name != "__init__.py" and path.stem not in SAME_KIND:
            by_name.setdefault(path.stem, []).append(module)
    clashes = []
    for name, modules in sorted(by_name.items()):
        if len(modules) < 2:
            continue
        cli = [m for m in modules if m.split(".")[-2] == "cli"]
        others = [m for m in modules if m not in cli]
        drives = False
        if len(cli) == 1 and len(others) == 1:
            direct = {t for t, _, _ in imports_of(cli[0])}
            drives = others[0] in direct or any(others[0] in {t for t, _, _ in imports_of(m)} for m in direct)
        if not drives:
            clashes.append(f"{name}.py: " + ", ".join(str(MODULES[m].relative_to(SRC)) for m in modules))
    assert not clashes, "modules with the same file name in different folders:\n" + "\n".join(clashes)
