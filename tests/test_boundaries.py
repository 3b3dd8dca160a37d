"""`flags/` and `shadow/` stay free of Flask and of the `app` package; the house has no import loops."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _loaded_after_importing(modules: str) -> list[str]:
    code = (
        f"import sys, {modules}\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'app', 'werkzeug'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def _every_module(package: str) -> str:
    return ", ".join(f"{package}.{p.stem}" for p in sorted((ROOT / package).glob("*.py")) if p.stem != "__init__")


def test_importing_every_flags_module_loads_neither_flask_nor_app():
    assert _loaded_after_importing(_every_module("flags")) == []


def test_importing_every_shadow_module_loads_neither_flask_nor_app():
    assert _loaded_after_importing(_every_module("shadow")) == []


def _imports(path: Path, package: str) -> set[str]:
    """Modules of `package` that `path` imports at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {n for n in names if n.split(".")[0] == package}
    return found


@pytest.mark.parametrize("package", ["app", "flags", "shadow"])
def test_no_module_imports_itself_back_through_others(package):
    modules = {}
    for path in (ROOT / package).rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    graph = {name: {m for m in _imports(path, package) if m in modules and m != name} for name, path in modules.items()}
    # A package's __init__ re-exporting its modules is not a loop of concepts: drop edges into packages.
    packages = {name for name, path in modules.items() if path.name == "__init__.py"}
    graph = {name: edges - packages for name, edges in graph.items()}
    loops = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                loops.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert loops == []
