"""Numeric core: pure functions on numpy arrays (no pandas).

- :mod:`.structure`: the random-effects terms as arrays and the cross-products
  computed once per fit (the only pass over the ``n`` rows).
- :mod:`.pls`: the blocked Cholesky factor of the penalized least-squares system
  for a given relative covariance factor, and its solution.
- :mod:`.theta`: the map between the parameter vector ``theta`` and the
  per-term lower-triangular factors.
- :mod:`.lmm`: the (RE)ML profiled deviance, its optimisation and the
  quantities derived at the optimum.
"""

from .lmm import LMMEstimate, fit_lmm, profiled_deviance
from .pls import PLSFactor, factorize
from .structure import CrossProducts, TermArrays, cross_products
from .theta import ThetaMap

__all__ = [
    "CrossProducts",
    "LMMEstimate",
    "PLSFactor",
    "TermArrays",
    "ThetaMap",
    "cross_products",
    "factorize",
    "fit_lmm",
    "profiled_deviance",
]
