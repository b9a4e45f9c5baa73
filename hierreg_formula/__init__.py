"""hierreg-formula: hierarchical regression from lme4-style formulas.

>>> import hierreg_formula as hierreg
>>> df = hierreg.load_dataset("sleepstudy")
>>> res = hierreg.fit("Reaction ~ Days + (Days | Subject)", df)
>>> round(float(res.params["Days"]), 4)
10.4673
"""

from __future__ import annotations

from .api import fit
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
    SingularFitWarning,
)

__version__ = "0.1.0"

__all__ = [
    "ConvergenceWarning",
    "DataError",
    "EstimationError",
    "FormulaError",
    "HierregError",
    "HierregWarning",
    "MissingDataWarning",
    "RankDeficiencyWarning",
    "SingularFitWarning",
    "__version__",
    "fit",
    "list_datasets",
    "load_dataset",
]
