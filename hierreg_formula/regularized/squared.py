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
from ..core.structure import CrossProducts
from .penalty import group_weights, ridge_lambdas


def core_terms(terms: Sequence[TermArrays]) -> list[TermArrays]:
    """Terms the core accepts: rows in no level (code ``-1``) get zero columns.

    Terms without such rows are returned as they are (same arrays).
    """
    out = []
    for t in terms:
        bad = t.codes < 0
        if bad.any():
            Xz = np.where(bad[:, None], 0.0, t.Xz)
            t = TermArrays(np.where(bad, 0, t.codes), t.nlevels, Xz)
        out.append(t)
    return out


def gram_full_rank(gram: np.ndarray) -> bool:
    """Whether ``X`` has full column rank, from ``X'X`` (no small Cholesky pivot).

    The fast path of :func:`hierreg_formula.models.checks.full_rank_columns`,
    on the Gram matrix that the cross-products already hold.
    """
    if gram.shape[0] == 0:
        return True
    scale2 = np.maximum(np.diag(gram), np.finfo(float).tiny)
    try:
        piv = np.diag(np.linalg.cholesky(gram)) ** 2
    except np.linalg.LinAlgError:
        return False
    return bool(np.all(piv > 1e-8 * scale2))


def split_by_term(b: np.ndarray, cp: CrossProducts) -> list[np.ndarray]:
    """Stacked ``b`` (``cp``'s internal order) -> per term in the caller's order, ``(L, k)``."""
    offs = np.concatenate([[0], np.cumsum([t.q for t in cp.terms])])
    per = [b[offs[i] : offs[i + 1]].reshape(t.nlevels, t.k) for i, t in enumerate(cp.terms)]
    inv = np.argsort(cp.order)
    return [per[j] for j in inv]


def solve_ridge(
    cp: CrossProducts,
    weights: Sequence[np.ndarray],
    scale: float,
    main_scale: float = 0.0,
) -> tuple[np.ndarray, list[np.ndarray], float]:
    """``argmin ||r||^2 + scale ||d v||^2 + main_scale ||w||^2`` on precomputed cross-products.

    ``weights`` are the per-term ``d`` in the caller's order.  Returns ``w``,
    the deviations per term (caller's order) and the minimum.
    """
    ordered = [weights[i] for i in cp.order]
    lams = ridge_lambdas(ordered, [t.k for t in cp.terms], scale)
    xpen = main_scale * np.eye(cp.p) if main_scale > 0 else None
    f = factorize(cp, lams, xpen=xpen)
    _, b, beta = f.solution()
    # the bordered factor's last pivot^2 is the minimum of the penalized objective
    return beta, split_by_term(b, cp), f.pwrss


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
    cp = cross_products(X, y, core_terms(terms)) if cp is None else cp
    w, v, pwrss = solve_ridge(cp, weights, n * alpha, n * main_l2)
    return (w, v, pwrss / n) if with_objective else (w, v)


def solve_with_factors(
    X: np.ndarray, y: np.ndarray, terms: Sequence[TermArrays], factors: Sequence[np.ndarray]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Ridge solve with one relative covariance factor per term, shared by its levels.

    With the REML estimate's factors ``T`` (``Sigma / sigma^2 = T T'``) this gives
    the mixed model's fixed effects and conditional modes.
    """
    cp = cross_products(X, y, core_terms(terms))
    f = factorize(cp, [np.asarray(factors[i], dtype=float) for i in cp.order])
    _, b, beta = f.solution()
    return beta, split_by_term(b, cp)


def heldout_sse(cp: CrossProducts, w: np.ndarray, v: Sequence[np.ndarray]) -> float:
    """``||y - X w - Z v||^2`` on the rows behind ``cp`` (their cross-products only).

    ``[w; v; -1]' [X Z y]'[X Z y] [w; v; -1]`` block by block, in ``O(q k)``:
    scoring a held-out fold at another ``alpha`` never touches its rows.
    """
    a = np.append(np.asarray(w, dtype=float), -1.0)
    vi = [np.asarray(v[i], dtype=float) for i in cp.order]
    v1 = vi[0]
    sse = a @ cp.XYXY @ a
    sse += 2.0 * np.einsum("la,lab,b->", v1, cp.P1, a)
    sse += np.einsum("la,lab,lb->", v1, cp.D1, v1)
    if cp.C is not None:
        vr = np.concatenate([x.ravel() for x in vi[1:]])
        sse += 2.0 * vr @ (cp.RXY @ a) + vr @ cp.R @ vr + 2.0 * vr @ (cp.C @ v1.ravel())
    return float(max(sse, 0.0))
