"""The solvers of the regularized mode, in one place.

- :func:`solve_squared` (:mod:`.squared`): the squared loss with a ridge
  penalty, one factorization of the mixed model's PLS system;
- :func:`solve_logistic` (:mod:`.logistic`): penalized IRLS on the same core;
- :func:`solve_cvxpy` (:mod:`.convex`): hierreg's un-squared norms and the
  l1 / l-infinity penalties with cvxpy + Clarabel (slower).

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core import TermArrays
>>> g = np.array([0, 0, 1, 1]); X = np.ones((4, 1))
>>> w, v = solve_squared(X, np.array([1.0, 2.0, 3.0, 6.0]), [TermArrays(g, 2, X)], alpha=1e9)
>>> round(float(w[0]), 6)
3.0
"""

from __future__ import annotations

from .convex import solve_cvxpy
from .logistic import linear_predictor, solve_logistic
from .penalty import group_weights
from .squared import heldout_sse, solve_squared, solve_with_factors

__all__ = [
    "group_weights",
    "heldout_sse",
    "linear_predictor",
    "solve_cvxpy",
    "solve_logistic",
    "solve_squared",
    "solve_with_factors",
]
