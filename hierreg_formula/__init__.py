"""hierreg-formula: hierarchical regression from lme4-style formulas.

>>> import hierreg_formula as hierreg
>>> df = hierreg.load_dataset("sleepstudy")
>>> res = hierreg.fit("Reaction ~ Days + (Days | Subject)", df)
>>> round(float(res.params["Days"]), 4)
10.4673
"""

from __future__ import annotations

from .api import compare_mixedlm, compare_pooling, fit
from .datasets import list_datasets, load_dataset
from .exceptions import (
    ConvergenceWarning,
    DataError,
    EstimationError,
    FormulaError,
    HierregError,
    HierregWarning,
    MissingDataWarning,
    RankDeficiencyWarning,
    ResponseWarning,
    SeparationWarning,
    SingularFitWarning,
)
from .results.comparison import anova, compare_models

__version__ = "0.1.0"

_LAZY = {
    "HierarchicalRegression": "hierreg_formula.estimators",
    "HierarchicalClassifier": "hierreg_formula.estimators",
    "FormulaHierarchicalRegression": "hierreg_formula.estimators",
}


def __getattr__(name: str):
    """Optional pieces (scikit-learn estimators, comparisons) load on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hierreg_formula' has no attribute {name!r}")


__all__ = [
    "anova",
    "compare_models",
    "FormulaHierarchicalRegression",
    "HierarchicalClassifier",
    "HierarchicalRegression",
    "compare_mixedlm",
    "compare_pooling",
    "ConvergenceWarning",
    "DataError",
    "EstimationError",
    "FormulaError",
    "HierregError",
    "HierregWarning",
    "MissingDataWarning",
    "RankDeficiencyWarning",
    "ResponseWarning",
    "SeparationWarning",
    "SingularFitWarning",
    "__version__",
    "fit",
    "list_datasets",
    "load_dataset",
]
