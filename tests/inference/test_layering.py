"""``hierreg_formula.inference`` sits on the core: results may import it, so it must not
import the boundary (``models``), ``results`` or the entry points."""

from __future__ import annotations

from tests.test_architecture import import_graph


def test_inference_imports_only_lower_layers():
    graph = import_graph()
    forbidden = ("hierreg_formula.models", "hierreg_formula.results", "hierreg_formula.api")
    for mod, deps in graph.items():
        if mod.startswith("hierreg_formula.inference"):
            bad = [d for d in deps if d.startswith(forbidden)]
            assert not bad, f"{mod} imports {bad}"
