"""No import cycles: the module graph of aime/, function-local imports included (they count: they only hide a cycle).

Restricted for now to cycles through aime.jobs and aime.services; extend PACKAGES as other packages are untangled.
"""
import ast
from pathlib import Path

import aime

ROOT = Path(aime.__file__).parent
PACKAGES = ("aime.jobs", "aime.services")


def module_name(path: Path) -> str:
    """aime.x.y for aime/x/y.py (aime.x for aime/x/__init__.py)."""
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """Modules of aime that one file imports, anywhere in it (resolving relative imports and submodules)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:  # a submodule if there is one, else a name defined in `base`
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {module for module in found if module in modules and module != name}


def import_graph() -> dict[str, set[str]]:
    """Every module of aime -> the modules of aime it imports.

    Without the package root: `aime` is the composition root (create_app imports every part when called), and
    what the parts take from it (`__version__`, `__path__`) runs none of that.
    """
    files = {module_name(path): path for path in ROOT.rglob("*.py") if path != ROOT / "__init__.py"}
    modules = set(files)
    return {name: imported_modules(path, modules) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_through_jobs_or_services():
    involved = [component for component in cycles(import_graph())
                if any(module.startswith(PACKAGES) for module in component)]
    assert involved == []


if __name__ == "__main__":
    for component in cycles(import_graph()):
        print(" <-> ".join(component))
