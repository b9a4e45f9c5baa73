"""The logistic loss with a ridge penalty: penalized IRLS on the PLS core.

``mean(log(1 + exp(eta)) - y eta) + alpha ||d v||^2 + main_l2 ||w||^2`` with
``y`` in ``{0, 1}`` (hierreg writes the same loss with ``y`` in ``{-1, +1}``).
Each Newton step is the weighted squared problem with the working weights and
working response of :class:`~hierreg_formula.core.working.Response` (the GLMMs'
IRLS machinery: ``mu (1 - mu)`` and ``eta + (y - mu) / (mu (1 - mu))`` for the
logit link), i.e. one weighted cross-product pass and one factorization; a step
that does not lower the objective is halved.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core import TermArrays
>>> rng = np.random.default_rng(0)
>>> g = rng.integers(0, 3, 200); X = np.column_stack([np.ones(200), rng.normal(size=200)])
>>> y = (rng.uniform(size=200) < 1 / (1 + np.exp(-X @ [0.2, 1.5]))).astype(float)
>>> w, v, ok, obj = solve_logistic(X, y, [TermArrays(g, 3, X)], alpha=0.1)
>>> ok, v[0].shape
(True, (3, 2))
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from ..core import TermArrays, cross_products
from ..core.families import get_family
from ..core.structure import random_part
from ..core.working import Response
from .penalty import group_weights
from .squared import solve_ridge

_BINOMIAL = get_family("binomial")


def log_loss(y01: np.ndarray, eta: np.ndarray) -> float:
    """Mean logistic loss of 0/1 labels at linear predictor ``eta``."""
    return float(np.mean(np.logaddexp(0.0, eta) - y01 * eta))


def _penalty(v, w, alpha, main_l2, weights) -> float:
    pen = sum(float(np.sum((d[:, None] * vt) ** 2)) for d, vt in zip(weights, v, strict=True))
    return alpha * pen + main_l2 * float(w @ w)


def solve_logistic(
    X: np.ndarray,
    y01: np.ndarray,
    terms: Sequence[TermArrays],
    alpha: float,
    main_l2: float = 0.0,
    weight_by_nobs: bool = True,
    groups: Sequence[Hashable] | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
    start: tuple[np.ndarray, list[np.ndarray]] | None = None,
) -> tuple[np.ndarray, list[np.ndarray], bool, float]:
    """Penalized IRLS for ``mean logistic loss + alpha ||d v||^2 + main_l2 ||w||^2``.

    Parameters
    ----------
    X, y01, terms:
        Fixed columns, 0/1 response, random terms.
    alpha, main_l2, weight_by_nobs, groups:
        As in :func:`~hierreg_formula.regularized.squared.solve_squared`.
    tol, max_iter:
        Stop when the objective changes by less than ``tol`` (relative).
    start:
        Starting ``(w, v)`` (e.g. the fit at a neighbouring ``alpha``).

    Returns
    -------
    tuple
        ``w``, deviations per term, whether it converged, the objective.
    """
    if not alpha > 0:
        raise ValueError("alpha must be positive")
    n = len(y01)
    weights = group_weights(terms, weight_by_nobs, groups)
    if start is None:
        w = np.zeros(X.shape[1])
        v = [np.zeros((t.nlevels, t.k)) for t in terms]
    else:
        w, v = np.array(start[0], dtype=float), [np.array(x, dtype=float) for x in start[1]]
    # the working-weights machinery of the GLMMs (core/working.py): mean log-loss = dev / 2n
    resp = Response(_BINOMIAL, y01)
    eta = X @ w + random_part(terms, v)
    st = resp.state(eta)
    obj = st.dev / (2.0 * n) + _penalty(v, w, alpha, main_l2, weights)
    converged = False
    for _ in range(max_iter):
        cp = cross_products(X, eta + st.wres, terms, weights=st.w)
        # n * (quadratic model): 0.5 ||sqrt(W)(z - eta)||^2 + n alpha ||d v||^2 (+ main)
        w_new, v_new, _ = solve_ridge(cp, weights, 2.0 * n * alpha, 2.0 * n * main_l2)
        eta_new = X @ w_new + random_part(terms, v_new)
        step = 1.0
        for _ in range(30):
            wt = w + step * (w_new - w)
            vt = [a + step * (b - a) for a, b in zip(v, v_new, strict=True)]
            et = eta + step * (eta_new - eta)
            st_t = resp.state(et)
            new_obj = st_t.dev / (2.0 * n) + _penalty(vt, wt, alpha, main_l2, weights)
            if new_obj <= obj + 1e-15 * abs(obj):
                break
            step /= 2.0
        done = abs(obj - new_obj) <= tol * max(1.0, abs(obj))
        w, v, eta, obj, st = wt, vt, et, new_obj, st_t
        if done:
            converged = True
            break
    return w, v, converged, obj
