"""The package's import graph has no cycles (imports inside functions included).

Every ``import`` and ``from ... import`` statement of every module of the package,
at any depth of the syntax tree, is an edge to the package module it names
(``from .x import name`` is an edge to ``x``, or to ``x.name`` when that is a
module).  The implicit loading of parent packages is not an edge.  The layers
this enforces are described in ``docs/architecture.md``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "hierreg_formula"
ROOT = "hierreg_formula"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PKG.rglob("*.py")}


def _resolve(module: str, is_pkg: bool, level: int, name: str | None) -> str:
    if level == 0:
        return name or ""
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join(base + ([name] if name else []))


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(mod, is_pkg, node.level, node.module)
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    targets.append(sub if sub in mods else base)
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
                if node.args and isinstance(node.args[0], ast.Constant):
                    targets = [str(node.args[0].value)]
            for t in targets:
                if t.startswith(ROOT) and t in mods and t != mod:
                    graph[mod].add(t)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return stack[stack.index(n) :] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_graph_is_built_from_the_sources():
    graph = import_graph()
    assert "hierreg_formula.api" in graph
    assert "hierreg_formula.core.pls" in graph["hierreg_formula.core.lmm"]


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_a_cycle_is_detected():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


@pytest.mark.parametrize(
    "lower, upper",
    [
        ("hierreg_formula.core", "hierreg_formula.formula"),
        ("hierreg_formula.core", "hierreg_formula.results"),
        ("hierreg_formula.formula", "hierreg_formula.core"),
        ("hierreg_formula.plots", "hierreg_formula.results"),
        ("hierreg_formula.plots", "hierreg_formula.compare"),
        ("hierreg_formula.results", "hierreg_formula.models"),
        ("hierreg_formula.compare", "hierreg_formula.models"),
        ("hierreg_formula.inference", "hierreg_formula.results"),
        ("hierreg_formula.inference", "hierreg_formula.models"),
        ("hierreg_formula.inference", "hierreg_formula.formula"),
        ("hierreg_formula.core", "hierreg_formula.inference"),
    ],
)
def test_layers(lower, upper):
    """A lower layer never imports a higher one; nothing below the top imports api."""
    graph = import_graph()
    for mod, deps in graph.items():
        if mod == lower or mod.startswith(lower + "."):
            bad = [d for d in deps if d == upper or d.startswith(upper + ".")]
            assert not bad, f"{mod} imports {bad}"


def test_only_the_top_imports_api():
    graph = import_graph()
    top = {"hierreg_formula", "hierreg_formula.cli", "hierreg_formula.__main__"}
    top |= {"hierreg_formula.estimators"}  # scikit-learn front end: fits through api
    users = {m for m, deps in graph.items() if "hierreg_formula.api" in deps}
    assert users <= top, f"modules below the top import api: {sorted(users - top)}"
