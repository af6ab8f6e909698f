"""No import cycles in aime/: the graph of every module's imports, module-level and function-local alike.

A function-local import is still an edge: hiding one inside a function only moves the cycle to run time.
The graph is read with `ast` (nothing is imported), one node per module, an edge for each aime module a
module names in an `import` or `from ... import` statement anywhere in it.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "aime"

def module_files(package_dir: Path = PACKAGE_DIR) -> dict[str, tuple[Path, bool]]:
    """{dotted module name: (file, is a package __init__)} for every .py file under the package."""
    modules = {}
    for path in package_dir.rglob("*.py"):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        modules[".".join(parts)] = (path, is_package)
    return modules


def _owning_module(name: str, modules) -> str | None:
    # `from aime.x import y`: aime.x.y when y is a module, else aime.x; a name below a module is that module.
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            names.extend(f"{source}.{alias.name}" for alias in node.names)
    return [name for name in names if name == "aime" or name.startswith("aime.")]


def import_graph(package_dir: Path = PACKAGE_DIR) -> dict[str, set[str]]:
    """{module: the aime modules it imports, anywhere in its code}."""
    modules = module_files(package_dir)
    graph = {}
    for module, (path, is_package) in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets = {_owning_module(name, modules) for name in _imported_names(tree, module, is_package)}
        graph[module] = {target for target in targets if target and target != module}
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """The groups of modules that import each other, directly or not (Tarjan; only groups of 2 or more)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def one_cycle(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group: a -> b -> ... -> a."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & group):
                if target == start:
                    return paths[node] + [start]
                if target not in paths:
                    paths[target] = paths[node] + [target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"{sorted(group)} is not a cycle")


def test_the_graph_sees_module_level_relative_and_function_local_imports():
    graph = import_graph()
    assert "aime.server.worker_io" in graph["aime.server.worker"]  # `from aime.server.worker_io import ...`
    assert "aime.health.registry" in graph["aime.health.readiness"]  # `from .registry import ...`
    assert "aime.health.validation" in graph["aime.cli"]  # `from .health.validation import ...`
    assert "aime.api.collection" in graph["aime.api"]  # `from . import collection, ...` names modules
    # create_app imports the app's parts inside the function (see aime/__init__.py): edges all the same.
    assert {"aime.api", "aime.web", "aime.health", "aime.cli"} <= graph["aime"]


def test_strongly_connected_finds_a_cycle_and_names_it():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert strongly_connected(graph) == [{"a", "b", "c"}]
    assert one_cycle(graph, {"a", "b", "c"}) == ["a", "b", "c", "a"]


def test_no_import_cycles():
    graph = import_graph()
    cycles = strongly_connected(graph)
    described = "\n".join(f"{len(group)} modules import each other, e.g. " + " -> ".join(one_cycle(graph, group))
                          for group in cycles)
    assert not cycles, f"import cycles in aime/:\n{described}"


def test_what_the_gunicorn_master_imports_before_on_starting_leaves_prometheus_client_alone():
    # gunicorn.conf.py (aime.config), the worker class and on_starting (metrics_dir) are imported before
    # PROMETHEUS_MULTIPROC_DIR is set; prometheus_client imported then would stay single-process for good.
    code = ("import sys, aime.config, aime.server.worker, aime.observability.metrics_dir; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'prometheus_client'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=PACKAGE_DIR.parent)
    assert result.stdout.strip() == "[]"
