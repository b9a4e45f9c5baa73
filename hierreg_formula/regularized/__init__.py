"""The regularized mode: hierreg's penalized group deviations on the mixed-model core.

See :mod:`hierreg_formula.regularized.fit` for the connection with REML.
"""

from .fit import fit_regularized, fit_regularized_blocks
from .results import RegularizedResults

__all__ = [
    "HierarchicalRegression",
    "FormulaHierarchicalRegression",
    "RegularizedResults",
    "fit_regularized",
    "fit_regularized_blocks",
]


def __getattr__(name: str):
    if name in ("HierarchicalRegression", "FormulaHierarchicalRegression"):
        from . import sklearn as _sk

        return getattr(_sk, name)
    raise AttributeError(name)
