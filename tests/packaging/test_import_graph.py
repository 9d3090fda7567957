"""No import circles between rung's modules.

The graph is built from the source with `ast`, not by importing: every import
statement counts, at the top of a module or inside a function (a lazy import
that only hides a circle is still a circle), relative or absolute. The source
folders are the ones `[tool.setuptools] package-dir` in pyproject.toml maps.
"""

from __future__ import annotations

import ast
from pathlib import Path

from rung_sources import rung_modules


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """The module `name` is, or the closest package above it that is one of ours."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The rung modules that module `name` (at `path`) imports anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            # `from package import module` imports the module; `from module import name`, the module
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                       for alias in node.names]
        else:
            continue
        for target in targets:
            module = _known(target, modules)
            if module is not None and module != name:
                found.add(module)
    return found


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the components of `graph`, each a list of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def a_cycle(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """One circle through the component's first module, spelled out module by module."""
    start = component[0]
    members = set(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:  # breadth first: the shortest way back to the start
        nxt_frontier = []
        for node in frontier:
            for nxt in sorted(graph[node] & members):
                if nxt == start:
                    return paths[node] + [start]
                if nxt not in paths:
                    paths[nxt] = paths[node] + [nxt]
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    raise AssertionError(f"{component} is not a cycle")


def test_the_graph_sees_every_package():
    modules = rung_modules()
    for name in ["rung", "rung.cli", "rung.server.service", "rung.client", "rung.workers.loop",
                 "rung.v1.rung_pb2", "rung.server.dashboard.model", "rung.sim.benchmarks"]:
        assert _known(name, modules) == name, name


def test_no_import_circles():
    modules = rung_modules()
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    circles = [c for c in strongly_connected(graph) if len(c) > 1]
    assert not circles, "import circles among rung's modules:\n" + "\n".join(
        " -> ".join(a_cycle(c, graph)) + (f"  (component: {', '.join(c)})" if len(c) > 3 else "")
        for c in circles
    )
