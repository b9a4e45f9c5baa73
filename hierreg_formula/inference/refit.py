"""Refit a linear mixed model on modified cross-products (no design rebuild).

Refits in the bootstrap, the ML refit of a REML model and the fixed-effect
profiles change only the response (or a linear transform of ``[X y]``), so only the
cross-products involving those columns change; the random-effects structure (the
core's ``CrossProducts`` of the sorted terms, its fill-in pair index) is reused:

- :func:`with_response` replaces the ``y`` column's cross-products (``Z'y``,
  ``X'y``, ``y'y``) given them for the new response,
- :func:`transform_xy` maps ``[X y] -> [X y] T`` (e.g. drop column ``j`` and move
  ``x_j beta_j`` into the offset),
- :func:`fit_cp` minimises the (RE)ML profiled deviance with the core's
  optimisers and returns the estimate in the caller's term order.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.structure import TermArrays
>>> from hierreg_formula.inference.problem import LMMProblem
>>> rng = np.random.default_rng(0)
>>> g = np.repeat(np.arange(8), 5)
>>> y = rng.normal(size=8)[g] + rng.normal(size=40)
>>> prob = LMMProblem.from_arrays(np.ones((40, 1)), y, [TermArrays(g, 8, np.ones((40, 1)))])
>>> est = fit_cp(prob, prob.cp, reml=True)
>>> from hierreg_formula.core.lmm import fit_lmm
>>> ref = fit_lmm(prob.X, prob.y, list(prob.terms))
>>> bool(abs(est.objective - ref.objective) < 1e-8)
True
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core.lmm import (
    DevianceFunction,
    LMMEstimate,
    _optimize,
    _optimize_gradient,
    estimate_at,
    moment_start,
)
from ..core.structure import CrossProducts
from ..core.theta import ThetaMap
from .problem import LMMProblem


# ------------------------------------------------------------- cross-products
def with_response(
    cp: CrossProducts, zy_sorted: np.ndarray, xy: np.ndarray, yy: float
) -> CrossProducts:
    """Cross-products for another response: ``Z'y`` (sorted terms' order), ``X'y``, ``y'y``."""
    q1 = cp.P1.shape[0] * cp.P1.shape[1]
    P1 = cp.P1.copy()
    P1[:, :, -1] = zy_sorted[:q1].reshape(P1.shape[:2])
    RXY = cp.RXY.copy()
    if RXY.shape[0]:
        RXY[:, -1] = zy_sorted[q1:]
    XYXY = cp.XYXY.copy()
    XYXY[:-1, -1] = XYXY[-1, :-1] = xy
    XYXY[-1, -1] = yy
    return dataclasses.replace(cp, P1=P1, RXY=RXY, XYXY=XYXY)


def transform_xy(cp: CrossProducts, T: np.ndarray) -> CrossProducts:
    """Cross-products after ``[X y] -> [X y] T`` (``T`` of shape ``(p + 1, p' + 1)``)."""
    T = np.asarray(T, dtype=float)
    P1 = np.einsum("lkc,cd->lkd", cp.P1, T)
    RXY = cp.RXY @ T
    XYXY = T.T @ cp.XYXY @ T
    return dataclasses.replace(cp, p=T.shape[1] - 1, P1=P1, RXY=RXY, XYXY=XYXY)


def fix_coefficient(cp: CrossProducts, j: int, value: float) -> CrossProducts:
    """Drop column ``j`` of ``X`` and subtract ``value * x_j`` from ``y``."""
    p = cp.p
    keep = [i for i in range(p) if i != j]
    T = np.zeros((p + 1, p))
    T[keep, np.arange(p - 1)] = 1.0
    T[p, p - 1] = 1.0
    T[j, p - 1] = -value
    return transform_xy(cp, T)


def sorted_response_products(
    prob: LMMProblem, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """``Z'y`` (sorted terms' order), ``X'y`` and ``y'y`` for one response."""
    zy = np.asarray(prob.Z.T @ y).ravel()
    off = prob.offsets
    perm = np.concatenate([np.arange(off[i], off[i + 1]) for i in prob.order])
    return zy[perm], prob.X.T @ y, float(y @ y)


# ---------------------------------------------------------------- estimates
def _sorted_tmap(prob: LMMProblem) -> ThetaMap:
    return ThetaMap([prob.terms[i].k for i in prob.order])


def theta_to_sorted(prob: LMMProblem, theta: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(theta)[prob.theta_slices[i]] for i in prob.order])


def theta_from_sorted(prob: LMMProblem, theta_s: np.ndarray) -> np.ndarray:
    out = np.empty(prob.ntheta)
    start = 0
    for i in prob.order:
        sl = prob.theta_slices[i]
        m = sl.stop - sl.start
        out[sl] = theta_s[start : start + m]
        start += m
    return out


def unsort_estimate(prob: LMMProblem, est: LMMEstimate) -> LMMEstimate:
    """An estimate computed on the sorted terms, back in the caller's term order."""
    inv = np.argsort(prob.order)
    return dataclasses.replace(
        est,
        theta=theta_from_sorted(prob, est.theta),
        factors=[est.factors[j] for j in inv],
        b=[est.b[j] for j in inv],
        cond_cov=[est.cond_cov[j] for j in inv],
        singular_terms=sorted(prob.order[j] for j in est.singular_terms),
    )


def fit_cp(
    prob: LMMProblem,
    cp: CrossProducts,
    reml: bool,
    theta0: np.ndarray | None = None,
    gradient: bool | None = None,
    xtol: float = 1e-10,
    ftol: float = 1e-12,
    maxeval: int = 100_000,
) -> LMMEstimate:
    """Minimise the (RE)ML profiled deviance on ``cp`` (cross-products of the sorted terms).

    ``theta0`` (caller's order) defaults to the core's moment start on ``prob``'s
    arrays.  The optimisers are the core's (L-BFGS-B with the analytic gradient
    for scalar terms, else BOBYQA), as in :func:`~hierreg_formula.core.lmm.fit_lmm`.
    """
    tmap = _sorted_tmap(prob)
    fun = DevianceFunction(cp, tmap, reml)
    if theta0 is None:
        terms_s = [prob.terms[i] for i in prob.order]
        x0 = moment_start(prob.X, prob.y, terms_s, tmap)
    else:
        x0 = theta_to_sorted(prob, np.asarray(theta0, dtype=float))
    if gradient is None:
        gradient = all(t.k == 1 for t in prob.terms)
    converged = False
    msg = ""
    theta = x0
    if gradient:
        theta, _, converged, msg = _optimize_gradient(fun, x0, tmap.lower, maxeval)
        x0 = theta
    if not converged:
        theta, _, converged, msg = _optimize(fun, x0, tmap.lower, xtol, ftol, maxeval)
    return unsort_estimate(prob, estimate_at(fun, theta, converged=converged, message=msg))


def refit_ml(prob: LMMProblem, est: LMMEstimate) -> LMMEstimate:
    """The ML fit (started at ``est``'s ``theta``); ``est`` itself if already ML."""
    if not est.reml:
        return est
    return fit_cp(prob, prob.cp, reml=False, theta0=est.theta)
