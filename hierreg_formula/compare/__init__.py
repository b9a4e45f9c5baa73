"""Comparisons built on the public results API: statsmodels MixedLM, pooling.

- :func:`compare_mixedlm` / :func:`compare_results` (:mod:`.mixedlm`): the same
  model fitted by statsmodels' ``MixedLM``, table by table;
- :func:`compare_pooling` (:mod:`.pooling`): complete, no and partial pooling
  per level, and the shrinkage figure.

Example
-------
>>> from hierreg_formula.compare import compare_mixedlm, compare_pooling
>>> callable(compare_mixedlm) and callable(compare_pooling)
True
"""

from .mixedlm import (
    MixedLMComparison,
    MixedLMSpec,
    NotExpressibleError,
    compare_mixedlm,
    compare_results,
    translate,
)
from .pooling import PoolingComparison, compare_pooling, no_pooling, pooling_table

__all__ = [
    "MixedLMComparison",
    "MixedLMSpec",
    "NotExpressibleError",
    "PoolingComparison",
    "compare_mixedlm",
    "compare_pooling",
    "compare_results",
    "no_pooling",
    "pooling_table",
    "translate",
]
