"""Comparisons of a fitted model, built on the public results API.

- :func:`compare_results` (:mod:`.mixedlm`): the same model fitted by
  statsmodels' ``MixedLM``, table by table;
- :func:`pooling_table` (:mod:`.pooling`): complete, no and partial pooling per
  level, and the shrinkage figure (drawn by :mod:`hierreg_formula.plots`).

They compute from a fitted model and never fit one of this package themselves;
the one-call forms ``hierreg.compare_mixedlm(formula, data)`` and
``hierreg.compare_pooling(formula, data)`` (:mod:`hierreg_formula.api`) fit first.

Example
-------
>>> import hierreg_formula as hierreg
>>> res = hierreg.fit("Yield ~ 1 + (1 | Batch)", hierreg.load_dataset("Dyestuff"))
>>> pooling_table(res).table["Batch"].shape
(6, 4)
"""

from .mixedlm import (
    MixedLMComparison,
    MixedLMSpec,
    NotExpressibleError,
    compare_results,
    translate,
)
from .pooling import PoolingComparison, no_pooling, pooling_table

__all__ = [
    "MixedLMComparison",
    "MixedLMSpec",
    "NotExpressibleError",
    "PoolingComparison",
    "compare_results",
    "no_pooling",
    "pooling_table",
    "translate",
]
