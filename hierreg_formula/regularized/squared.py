"""The squared loss with a ridge penalty: one factorization of the PLS system.

``(1/n) ||y - X w - Z v||^2 + alpha ||d * v||^2 + main_l2 ||w||^2`` times ``n`` is
the mixed model's penalized least-squares problem with ``v = Lambda u``,
``Lambda_k = I / (sqrt(n alpha) d_k)`` per level and ``n main_l2 I`` added to
``X'X`` (see :mod:`.penalty`).  The cross-products are computed once (one pass
over the rows); every further ``alpha`` is a factorization that never touches
the rows, which is what makes cross-validation cheap.  No cvxpy and no dense
``n x q`` matrix.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core import TermArrays
>>> rng = np.random.default_rng(0)
>>> g = rng.integers(0, 3, 60); X = np.column_stack([np.ones(60), rng.normal(size=60)])
>>> y = X @ [1.0, 2.0] + rng.normal(size=60)
>>> w, v = solve_squared(X, y, [TermArrays(g, 3, X)], alpha=0.1)
>>> w.shape, v[0].shape
((2,), (3, 2))
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from ..core import TermArrays, cross_products, factorize
from ..core.structure import CrossProducts, split_by_term
from .penalty import group_weights, ridge_lambdas


def solve_ridge(
    cp: CrossProducts,
    weights: Sequence[np.ndarray],
    scale: float,
    main_scale: float = 0.0,
) -> tuple[np.ndarray, list[np.ndarray], float]:
    """``argmin ||r||^2 + scale ||d v||^2 + main_scale ||w||^2`` on precomputed cross-products.

    ``weights`` are the per-term ``d``.  Returns ``w``, the deviations per term and
    the minimum.
    """
    lams = ridge_lambdas(weights, [t.k for t in cp.terms], scale)
    xpen = main_scale * np.eye(cp.p) if main_scale > 0 else None
    f = factorize(cp, lams, xpen=xpen)
    _, b, beta = f.solution()
    # the bordered factor's last pivot^2 is the minimum of the penalized objective
    return beta, split_by_term(b, cp.terms), f.pwrss


def solve_squared(
    X: np.ndarray,
    y: np.ndarray,
    terms: Sequence[TermArrays],
    alpha: float,
    main_l2: float = 0.0,
    weight_by_nobs: bool = True,
    cp: CrossProducts | None = None,
    with_objective: bool = False,
    groups: Sequence[Hashable] | None = None,
) -> tuple:
    """``argmin (1/n)||y - Xw - Zv||^2 + alpha ||d v||^2 + main_l2 ||w||^2``.

    Parameters
    ----------
    X, y, terms:
        Fixed columns, response and random terms (``d`` from :func:`group_weights`).
    alpha, main_l2:
        hierreg's ``l2_reg`` (must be > 0) and ``main_l2_reg``.
    weight_by_nobs, groups:
        See :func:`~hierreg_formula.regularized.penalty.group_weights`.
    cp:
        Cross-products of ``X``, ``y`` and ``terms``, if already computed.
    with_objective:
        Also return the minimum of the objective.

    Returns
    -------
    tuple
        ``w``, the deviations per term (each ``(L, k)``) and, with
        ``with_objective``, the minimum.
    """
    if not alpha > 0:
        raise ValueError("alpha must be positive (alpha -> 0 is the unpooled fit)")
    n = len(y)
    weights = group_weights(terms, weight_by_nobs, groups)
    cp = cross_products(X, y, terms) if cp is None else cp
    w, v, pwrss = solve_ridge(cp, weights, n * alpha, n * main_l2)
    return (w, v, pwrss / n) if with_objective else (w, v)


def solve_with_factors(
    X: np.ndarray, y: np.ndarray, terms: Sequence[TermArrays], factors: Sequence[np.ndarray]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Ridge solve with one relative covariance factor per term, shared by its levels.

    With the REML estimate's factors ``T`` (``Sigma / sigma^2 = T T'``) this gives
    the mixed model's fixed effects and conditional modes.
    """
    cp = cross_products(X, y, terms)
    f = factorize(cp, [np.asarray(T, dtype=float) for T in factors])
    _, b, beta = f.solution()
    return beta, split_by_term(b, cp.terms)


def heldout_sse(cp: CrossProducts, w: np.ndarray, v: Sequence[np.ndarray]) -> float:
    """``||y - X w - Z v||^2`` on the rows behind ``cp`` (their cross-products only).

    ``[w; v; -1]' [X Z y]'[X Z y] [w; v; -1]`` block by block, in ``O(q k)``:
    scoring a held-out fold at another ``alpha`` never touches its rows.
    """
    a = np.append(np.asarray(w, dtype=float), -1.0)
    vi = [np.asarray(x, dtype=float) for x in v]
    v1 = vi[0]
    sse = a @ cp.XYXY @ a
    sse += 2.0 * np.einsum("la,lab,b->", v1, cp.P1, a)
    sse += np.einsum("la,lab,lb->", v1, cp.D1, v1)
    if cp.C is not None:
        vr = np.concatenate([x.ravel() for x in vi[1:]])
        sse += 2.0 * vr @ (cp.RXY @ a) + vr @ cp.R @ vr + 2.0 * vr @ (cp.C @ v1.ravel())
    return float(max(sse, 0.0))
