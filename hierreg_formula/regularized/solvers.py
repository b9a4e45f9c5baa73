"""Solvers of the regularized mode.

- :func:`solve_squared`: the squared loss with a ridge penalty, one factorization
  of the mixed model's PLS system (no cvxpy, no dense ``n x q`` matrix).
- :func:`solve_logistic`: penalized IRLS for the logistic loss on the same core.
- :func:`solve_cvxpy`: hierreg's un-squared norms (and l1 / l-infinity penalties)
  with cvxpy and the Clarabel interior-point solver; slower, ``Z`` kept sparse.

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

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from ..core import TermArrays, cross_products, factorize
from ..core.structure import z_matrix
from .penalty import group_weights, ridge_lambdas


def level_weights(terms: list[TermArrays], by_nobs: bool) -> list[np.ndarray]:
    return [group_weights(t.codes, t.nlevels, t.k, by_nobs) for t in terms]


def _solve(cp, terms, weights, scale, main_scale, with_objective=False):
    lams = ridge_lambdas(weights, [t.k for t in terms], scale)
    p = cp.p
    xpen = main_scale * np.eye(p) if main_scale > 0 else None
    f = factorize(cp, [lams[i] for i in cp.order], xpen=xpen)
    if with_objective:  # the bordered factor's last pivot^2 is the minimised n * objective
        return f.beta, f.b_by_term(), f.pwrss / cp.n
    return f.beta, f.b_by_term()


def solve_squared(
    X: np.ndarray,
    y: np.ndarray,
    terms: list[TermArrays],
    alpha: float,
    main_l2: float = 0.0,
    weight_by_nobs: bool = True,
    cp=None,
    with_objective: bool = False,
) -> tuple:
    """``argmin (1/n)||y - Xw - Zv||^2 + alpha ||d v||^2 + main_l2 ||w||^2``.

    Returns ``w`` and the deviations per term, each ``(L, k)`` (and the minimum
    of the objective with ``with_objective=True``).
    """
    if alpha <= 0:
        raise ValueError("alpha must be positive (alpha -> 0 is the unpooled fit)")
    n = len(y)
    cp = cross_products(X, y, terms) if cp is None else cp
    weights = level_weights(terms, weight_by_nobs)
    return _solve(cp, terms, weights, n * alpha, n * main_l2, with_objective)


def solve_with_factors(
    X: np.ndarray, y: np.ndarray, terms: list[TermArrays], factors: list[np.ndarray]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Ridge solve with a shared relative covariance factor per term (the REML choice)."""
    cp = cross_products(X, y, terms)
    f = factorize(cp, [factors[i] for i in cp.order])
    return f.beta, f.b_by_term()


def _eta(X, terms, w, v):
    eta = X @ w
    for t, vt in zip(terms, v, strict=True):
        eta = eta + np.einsum("nk,nk->n", t.Xz, vt[t.codes])
    return eta


def logistic_objective(X, y01, terms, w, v, alpha, main_l2, weights) -> float:
    eta = _eta(X, terms, w, v)
    loss = np.mean(np.logaddexp(0.0, eta) - y01 * eta)
    pen = sum(float(np.sum((d[:, None] * vt) ** 2)) for d, vt in zip(weights, v, strict=True))
    return float(loss + alpha * pen + main_l2 * float(w @ w))


def solve_logistic(
    X: np.ndarray,
    y01: np.ndarray,
    terms: list[TermArrays],
    alpha: float,
    main_l2: float = 0.0,
    weight_by_nobs: bool = True,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> tuple[np.ndarray, list[np.ndarray], bool]:
    """Penalized IRLS for ``mean logistic loss + alpha ||d v||^2 + main_l2 ||w||^2``.

    Each Newton step is a weighted PLS solve on the core (working weights
    ``mu (1 - mu)``), with step halving if the objective does not decrease.
    """
    n = len(y01)
    weights = level_weights(terms, weight_by_nobs)
    w = np.zeros(X.shape[1])
    v = [np.zeros((t.nlevels, t.k)) for t in terms]
    obj = logistic_objective(X, y01, terms, w, v, alpha, main_l2, weights)
    converged = False
    for _ in range(max_iter):
        eta = _eta(X, terms, w, v)
        mu = expit(eta)
        h = np.clip(mu * (1.0 - mu), 1e-10, None)
        z = eta + (y01 - mu) / h
        cp = cross_products(X, z, terms, weights=h)
        w_new, v_new = _solve(cp, terms, weights, 2.0 * n * alpha, 2.0 * n * main_l2)
        step = 1.0
        for _ in range(30):
            wt = w + step * (w_new - w)
            vt = [a + step * (b - a) for a, b in zip(v, v_new, strict=True)]
            new_obj = logistic_objective(X, y01, terms, wt, vt, alpha, main_l2, weights)
            if new_obj <= obj + 1e-15 * abs(obj):
                break
            step /= 2.0
        done = abs(obj - new_obj) <= tol * max(1.0, abs(obj))
        w, v, obj = wt, vt, new_obj
        if done:
            converged = True
            break
    return w, v, converged


def solve_cvxpy(
    X: np.ndarray,
    y: np.ndarray,
    terms: list[TermArrays],
    alpha: float,
    l1: float = 0.0,
    linf: float = 0.0,
    main_l2: float = 0.0,
    weight_by_nobs: bool = True,
    loss: str = "norm",
    family: str = "gaussian",
    solver: str = "CLARABEL",
) -> tuple[np.ndarray, list[np.ndarray], float]:
    """hierreg's objective with cvxpy (un-squared norms by default).

    ``loss="norm"``: ``||r||_2 / sqrt(n) + alpha ||d v||_2 + l1 ||d v||_1 +
    linf ||v||_inf + main_l2 ||w||_2``; ``loss="squared"`` squares the data
    and l2 terms.  ``family="binomial"`` replaces the data term by the mean
    logistic loss (``y`` in ``{0, 1}``).
    """
    import cvxpy as cvx

    n, p = X.shape
    Z = sp.hstack([z_matrix(t) for t in terms], format="csr")
    d = np.concatenate(
        [
            np.repeat(wt, t.k)
            for wt, t in zip(level_weights(terms, weight_by_nobs), terms, strict=True)
        ]
    )
    w = cvx.Variable(p)
    v = cvx.Variable(Z.shape[1])
    eta = X @ w + Z @ v
    dv = cvx.multiply(d, v)
    if family == "binomial":
        data = cvx.sum(cvx.logistic(eta) - cvx.multiply(y, eta)) / n
    elif loss == "norm":
        data = cvx.norm(y - eta, 2) / np.sqrt(n)
    else:
        data = cvx.sum_squares(y - eta) / n
    if loss == "norm":
        pen = alpha * cvx.norm(dv, 2) + main_l2 * cvx.norm(w, 2)
    else:
        pen = alpha * cvx.sum_squares(dv) + main_l2 * cvx.sum_squares(w)
    if l1 > 0:
        pen = pen + l1 * cvx.norm(dv, 1)
    if linf > 0:
        pen = pen + linf * cvx.norm(v, "inf")
    prob = cvx.Problem(cvx.Minimize(data + pen))
    prob.solve(solver=solver)
    if w.value is None:
        raise RuntimeError(f"cvxpy could not solve the problem (status {prob.status})")
    vv = np.asarray(v.value)
    offs = np.concatenate([[0], np.cumsum([t.q for t in terms])])
    v_terms = [vv[offs[i] : offs[i + 1]].reshape(t.nlevels, t.k) for i, t in enumerate(terms)]
    return np.asarray(w.value), v_terms, float(prob.value)
