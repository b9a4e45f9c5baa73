"""Satterthwaite's denominator degrees of freedom for t and F tests of ``L beta``.

Following Kuznetsova, Brockhoff & Christensen (2017, J. Stat. Softw. 82(13),
sec. 3.1-3.2), for a single contrast ``l``:

    var = l' C l,   g_i = l' (d C / d varpar_i) l,   df = 2 var^2 / (g' A g)

with ``C = cov(beta)`` and ``A = cov(varpar)`` (:mod:`.varpar`).  For a matrix ``L``
(``q`` rows) the F statistic ``F = (L beta)'(L C L')^{-1}(L beta) / q`` is split
along the eigenvectors of ``L C L'`` into ``q`` independent ``t^2`` statistics
with ``df`` ``nu_m`` each; the F's denominator df matches the first moment of
``sum t_m^2``: ``E = sum nu_m / (nu_m - 2)``, ``ddf = 2E / (E - q)`` (2 if any
``nu_m <= 2``; the mean of the ``nu_m`` if they are all equal within ``1e-8``).
The numerator df is the rank of ``L C L'`` (eigenvalues above
``sqrt(machine eps)`` times the largest).

Example
-------
>>> import numpy as np
>>> round(fstat_ddf(np.array([10.0, 20.0])), 4)  # E = 10/8 + 20/18, 2E / (E - 2)
13.0769
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from .varpar import VarParCovariance

RANK_EPS = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True)
class TTestResult:
    """One row per contrast: estimate, standard error, df, t value, two-sided p-value."""

    estimate: np.ndarray
    std_error: np.ndarray
    df: np.ndarray
    t_value: np.ndarray
    p_value: np.ndarray


@dataclass(frozen=True)
class FTestResult:
    """An F test of ``L beta = 0`` with lmerTest's ANOVA-table columns.

    ``sum_sq = mean_sq * num_df`` and ``mean_sq = F_unscaled * sigma^2`` (lmerTest's
    definitions; for Kenward-Roger ``f_value`` is the scaled statistic and
    ``mean_sq`` uses the unscaled one).
    """

    sum_sq: float
    mean_sq: float
    num_df: int
    den_df: float
    f_value: float
    p_value: float
    f_scaling: float = 1.0


def _as_rows(L: np.ndarray, p: int) -> np.ndarray:
    L = np.atleast_2d(np.asarray(L, dtype=float))
    if L.shape[1] != p:
        raise ValueError(f"contrast has {L.shape[1]} columns, the model has {p} fixed effects")
    return L


def satterthwaite_df(vp: VarParCovariance, L: np.ndarray) -> np.ndarray:
    """Satterthwaite df of each row of ``L`` (each row a one-dimensional contrast)."""
    L = _as_rows(L, len(vp.beta))
    var = np.einsum("ip,pq,iq->i", L, vp.vcov_beta, L)
    grad = np.einsum("ip,kpq,iq->ik", L, vp.jacobian, L)
    denom = np.einsum("ik,kl,il->i", grad, vp.vcov_varpar, grad)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2.0 * var**2 / denom


def satterthwaite_t(vp: VarParCovariance, L: np.ndarray | None = None) -> TTestResult:
    """t tests of the rows of ``L`` (default: every coefficient, lmerTest's summary)."""
    p = len(vp.beta)
    L = np.eye(p) if L is None else _as_rows(L, p)
    est = L @ vp.beta
    se = np.sqrt(np.einsum("ip,pq,iq->i", L, vp.vcov_beta, L))
    df = satterthwaite_df(vp, L)
    t = est / se
    return TTestResult(est, se, df, t, 2.0 * stats.t.sf(np.abs(t), df))


def fstat_ddf(nu: np.ndarray, tol: float = 1e-8) -> float:
    """Denominator df of an F built from independent ``t^2`` with df ``nu``."""
    nu = np.asarray(nu, dtype=float)
    if nu.size == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < tol):
        return float(nu.mean())
    if np.any(nu <= 2):
        return 2.0
    E = float(np.sum(nu / (nu - 2.0)))
    return 2.0 * E / (E - nu.size)


def satterthwaite_f(vp: VarParCovariance, L: np.ndarray, eps: float = RANK_EPS) -> FTestResult:
    """F test of ``L beta = 0`` with Satterthwaite's denominator df (lmerTest's contestMD)."""
    L = _as_rows(L, len(vp.beta))
    s2 = vp.sigma**2
    if L.shape[0] == 1:
        r = satterthwaite_t(vp, L)
        F = float(r.t_value[0] ** 2)
        ddf = float(r.df[0])
        return FTestResult(F * s2, F * s2, 1, ddf, F, float(stats.f.sf(F, 1, ddf)))
    VL = L @ vp.vcov_beta @ L.T
    evals, evecs = np.linalg.eigh(0.5 * (VL + VL.T))
    evals, evecs = evals[::-1], evecs[:, ::-1]  # decreasing, as R's eigen()
    tol = max(eps * evals[0], 0.0)
    pos = evals > tol
    q = int(pos.sum())
    if q == 0:
        raise ValueError("the contrast has zero variance (L beta is not estimable)")
    PtL = evecs[:, :q].T @ L
    if q == 1:
        r = satterthwaite_t(vp, PtL)
        F = float(r.t_value[0] ** 2)
        ddf = float(r.df[0])
        return FTestResult(F * s2, F * s2, 1, ddf, F, float(stats.f.sf(F, 1, ddf)))
    d = evals[:q]
    t2 = (PtL @ vp.beta) ** 2 / d
    F = float(t2.sum() / q)
    grad = np.einsum("ip,kpq,iq->ik", PtL, vp.jacobian, PtL)
    nu = 2.0 * d**2 / np.einsum("ik,kl,il->i", grad, vp.vcov_varpar, grad)
    ddf = fstat_ddf(nu)
    ms = F * s2
    return FTestResult(ms * q, ms, q, ddf, F, float(stats.f.sf(F, q, ddf)))
