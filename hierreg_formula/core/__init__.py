"""Numeric core: pure functions on numpy arrays (no pandas).

- :mod:`.structure`: the random-effects terms as arrays and the cross-products
  computed once per fit (the only pass over the ``n`` rows).
- :mod:`.pls`: the blocked Cholesky factor of the penalized least-squares system
  for a given relative covariance factor, and its solution.
- :mod:`.theta`: the map between the parameter vector ``theta`` and the
  per-term lower-triangular factors.
- :mod:`.lmm`: the (RE)ML profiled deviance, its optimisation and the
  quantities derived at the optimum.
- GLMMs: :mod:`.links` and :mod:`.families` (statsmodels links, R's family
  formulas), :mod:`.working` (IRLS working quantities), :mod:`.pirls`
  (conditional modes), :mod:`.single` (one-term fast path and the analytic
  Laplace gradient), :mod:`.agq` (adaptive Gauss-Hermite), :mod:`.finite_diff`
  (Hessian), :mod:`.glmm` (Laplace deviance, two-stage fit, estimate),
  :mod:`.negbin` (glmer.nb) and :mod:`.glmer` (:func:`fit_glmm`).
"""

from .families import Family, get_family
from .glmer import fit_glmm
from .glmm import GLMMEstimate
from .lmm import LMMEstimate, fit_lmm, profiled_deviance
from .pls import PLSFactor, factorize
from .structure import CrossProducts, TermArrays, cross_products
from .theta import ThetaMap

__all__ = [
    "Family",
    "GLMMEstimate",
    "fit_glmm",
    "get_family",
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
