"""Kenward-Roger adjusted covariance of ``beta`` and denominator df (REML fits).

Kenward & Roger (1997, Biometrics 53, 983-997), in the form of Halekoh &
Hojsgaard (2014, J. Stat. Softw. 59(9), sec. 3): the marginal covariance is
linear in the covariance parameters ``gamma``, ``Sigma = sum_r gamma_r G_r``, one
per variance/covariance of each random term (``G_r = Z (I_L (x) E_r) Z'`` with
``E_r`` the symmetric indicator of that element) plus the residual variance
(``G = I``).  With ``Phi = (X'Sigma^{-1}X)^{-1}``,

    P_r  = -X'Sigma^{-1} G_r Sigma^{-1} X
    Q_rs =  X'Sigma^{-1} G_r Sigma^{-1} G_s Sigma^{-1} X
    I_rs = tr(Sigma^{-1} G_r Sigma^{-1} G_s) - 2 tr(Phi Q_rs) + tr(Phi P_r Phi P_s)
    W    = 2 I^{-1}      (the asymptotic covariance of gamma; REML expected information)
    Phi_A = Phi + 2 Phi [sum_rs W_rs (Q_rs - P_r Phi P_s)] Phi .

All these are computed in ``q`` dimensions (:mod:`.qspace`: ``Sigma^{-1} =
V^{-1} / sigma^2``, ``X'Sigma^{-1}G_r Sigma^{-1}X = U'E_r U / sigma^4`` and so on),
never with ``n x n`` matrices.  For a hypothesis ``L beta = 0`` of rank ``l``,
with ``Theta = L'(L Phi L')^{-1} L``,

    A1 = sum_rs W_rs tr(Theta Phi P_r Phi) tr(Theta Phi P_s Phi)
    A2 = sum_rs W_rs tr(Theta Phi P_r Phi Theta Phi P_s Phi)
    B = (A1 + 6 A2) / (2 l),  g = ((l + 1) A1 - (l + 4) A2) / ((l + 2) A2)
    c1 = g / (3l + 2(1 - g)),  c2 = (l - g) / (3l + 2(1 - g)),  c3 = (l + 2 - g) / (3l + 2(1 - g))
    rho = (1 - A2/l)^2 (1 + c1 B) / (l (1 - c2 B)^2 (1 - c3 B))
    m = 4 + (l + 2) / (l rho - 1),   lambda = m (1 - A2/l) / (m - 2)

and ``lambda F`` (``F`` the Wald statistic with ``Phi_A``, divided by ``l``) is
referred to ``F(l, m)``.  The second-derivative terms ``R_rs`` vanish for this
linear parameterization, as in pbkrtest.

Example
-------
>>> round(kr_df_from_a(A1=0.02, A2=0.02, q=1), 6)  # one contrast: A1 = A2
100.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..core.lmm import LMMEstimate
from . import qspace
from .arrays import ModelArrays
from .blockdiag import marginal_quantities
from .satterthwaite import RANK_EPS, FTestResult, TTestResult


@dataclass(frozen=True)
class KRAdjustment:
    """The Kenward-Roger pieces at the REML estimates.

    Attributes
    ----------
    beta: fixed effects.
    vcov_beta: unadjusted ``Phi``.
    vcov_adj: adjusted ``Phi_A``.
    P: ``(n_gamma, p, p)`` matrices ``P_r``.
    W: ``(n_gamma, n_gamma)`` covariance of the covariance parameters.
    sigma: residual SD.
    """

    beta: np.ndarray
    vcov_beta: np.ndarray
    vcov_adj: np.ndarray
    P: np.ndarray
    W: np.ndarray
    sigma: float


def covariance_element_indicators(k: int) -> list[np.ndarray]:
    """Symmetric indicators ``E_r`` of the lower-triangle elements of a ``k x k`` covariance."""
    cols, rows = np.triu_indices(k)
    out = []
    for r, c in zip(rows, cols, strict=True):
        e = np.zeros((k, k))
        e[r, c] = e[c, r] = 1.0
        out.append(e)
    return out


def kr_adjustment(
    arrays: ModelArrays,
    theta: np.ndarray,
    sigma: float,
    max_q: int | None = None,
) -> KRAdjustment:
    """Kenward-Roger adjusted covariance at the REML estimates ``(theta, sigma)``.

    Raises :class:`~.qspace.DenseSizeError` when ``q`` exceeds ``max_q`` (default
    :data:`~.qspace.MAX_DENSE_Q`): the method needs dense ``q x q`` matrices.
    """
    limit = qspace.MAX_DENSE_Q if max_q is None else max_q
    mq = marginal_quantities(arrays, theta, max_q=limit)
    s2 = sigma * sigma
    s4 = s2 * s2
    s6 = s4 * s2
    p = arrays.p
    emats = [covariance_element_indicators(t.k) for t in arrays.terms]
    nre = sum(len(e) for e in emats)
    ng = nre + 1
    U = mq.U
    # E_r U (q x p, zero outside the term), all r side by side
    EU = np.zeros((arrays.q, nre, p))
    r = 0
    for a, t in enumerate(arrays.terms):
        sl = mq.slices[a]
        Ua = U[sl].reshape(t.nlevels, t.k, p)
        for e in emats[a]:
            EU[sl, r] = np.einsum("xy,lyp->lxp", e, Ua).reshape(-1, p)
            r += 1
    EUf = EU.reshape(arrays.q, nre * p)
    P = np.empty((ng, p, p))
    P[:nre] = -np.einsum("iap,iq->apq", EU, U) / s4  # -U'E_r U / sigma^4
    P[nre] = -mq.XV2X / s4
    Q = np.empty((ng, ng, p, p))
    WEU = (mq.W @ EUf).reshape(arrays.q, nre, p)
    Q[:nre, :nre] = np.einsum("iap,ibq->abpq", EU, WEU) / s6
    QrR = np.einsum("iap,iq->apq", EU, mq.ZV2X) / s6
    Q[:nre, nre] = QrR
    Q[nre, :nre] = np.swapaxes(QrR, 1, 2)
    Q[nre, nre] = mq.XV3X / s6
    K = np.empty((ng, ng))
    K[:nre, :nre] = mq.pair_traces(mq.W, emats) / s4
    dsum = mq.ZV2Z_diag_sums()
    kr = np.concatenate([[np.sum(e * dsum[a]) for e in emats[a]] for a in range(len(arrays.terms))])
    K[:nre, nre] = K[nre, :nre] = kr / s4
    K[nre, nre] = mq.trace_V2 / s4
    Phi = s2 * mq.Minv
    PhiP = np.einsum("pq,rqs->rps", Phi, P)  # Phi P_r
    info = K - 2.0 * np.einsum("pq,rsqp->rs", Phi, Q) + np.einsum("rpq,sqp->rs", PhiP, PhiP)
    info = 0.5 * (info + info.T)
    ev = np.linalg.eigvalsh(info)
    W = 2.0 * (np.linalg.inv(info) if np.min(np.abs(ev)) > 1e-10 else np.linalg.pinv(info))
    W = 0.5 * (W + W.T)
    PPhiP = np.einsum("rpq,sqt->rspt", P, PhiP)  # P_r Phi P_s
    Usum = np.einsum("rs,rspq->pq", W, Q - PPhiP)
    PhiA = Phi + 2.0 * Phi @ Usum @ Phi
    return KRAdjustment(
        beta=mq.beta,
        vcov_beta=Phi,
        vcov_adj=0.5 * (PhiA + PhiA.T),
        P=P,
        W=W,
        sigma=float(sigma),
    )


def _div_zero(x: float, y: float, tol: float = 1e-14) -> float:
    return 1.0 if abs(x) < tol and abs(y) < tol else x / y


def kr_df_from_a(A1: float, A2: float, q: int) -> float:
    """The Kenward-Roger denominator df from ``A1``, ``A2`` and the rank ``q``."""
    return _kr_constants(A1, A2, q)[0]


def _kr_constants(A1: float, A2: float, q: int) -> tuple[float, float]:
    B = (A1 + 6.0 * A2) / (2.0 * q)
    g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
    den = 3.0 * q + 2.0 * (1.0 - g)
    c1, c2, c3 = g / den, (q - g) / den, (q + 2 - g) / den
    V0 = 1.0 + c1 * B
    V1 = 1.0 - c2 * B
    V2 = 1.0 - c3 * B
    if abs(V0) < 1e-10:
        V0 = 0.0
    rho = _div_zero(1.0 - A2 / q, V1) ** 2 * V0 / V2 / q
    df2 = 4.0 + (q + 2.0) / (q * rho - 1.0)
    scaling = 1.0 if abs(df2 - 2.0) < 1e-2 else df2 * (1.0 - A2 / q) / (df2 - 2.0)
    return float(df2), float(scaling)


def _a1_a2(kr: KRAdjustment, L: np.ndarray) -> tuple[float, float]:
    Phi = kr.vcov_beta
    Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
    ThetaPhi = Theta @ Phi
    u = np.einsum("pq,rqs,st->rpt", ThetaPhi, kr.P, Phi, optimize=True)  # Theta Phi P_r Phi
    tr = np.einsum("rpp->r", u)
    A1 = float(tr @ kr.W @ tr)
    A2 = float(np.einsum("rs,rpq,sqp->", kr.W, u, u))
    return A1, A2


def _full_row_rank(L: np.ndarray, Phi: np.ndarray, eps: float = RANK_EPS) -> np.ndarray:
    """An equivalent contrast with independent rows (KR results do not depend on the basis)."""
    if L.shape[0] == 1:
        return L
    VL = L @ Phi @ L.T
    evals, evecs = np.linalg.eigh(0.5 * (VL + VL.T))
    keep = evals > max(eps * evals.max(), 0.0)
    if keep.all():
        return L
    return evecs[:, keep].T @ L


def kr_df(kr: KRAdjustment, L: np.ndarray) -> float:
    """Kenward-Roger df for ``L beta = 0`` (pbkrtest's ``Lb_ddf``)."""
    L = np.atleast_2d(np.asarray(L, dtype=float))
    L = _full_row_rank(L, kr.vcov_beta)
    A1, A2 = _a1_a2(kr, L)
    return kr_df_from_a(A1, A2, L.shape[0])


def kr_t(kr: KRAdjustment, L: np.ndarray | None = None) -> TTestResult:
    """t tests of the rows of ``L`` (default: every coefficient) with KR SE and df."""
    p = len(kr.beta)
    L = np.eye(p) if L is None else np.atleast_2d(np.asarray(L, dtype=float))
    est = L @ kr.beta
    se = np.sqrt(np.einsum("ip,pq,iq->i", L, kr.vcov_adj, L))
    df = np.array([kr_df(kr, row[None, :]) for row in L])
    t = est / se
    return TTestResult(est, se, df, t, 2.0 * stats.t.sf(np.abs(t), df))


def kr_f(kr: KRAdjustment, L: np.ndarray) -> FTestResult:
    """F test of ``L beta = 0``: KR-scaled F and df (lmerTest's anova with ddf='Kenward-Roger')."""
    L = np.atleast_2d(np.asarray(L, dtype=float))
    L = _full_row_rank(L, kr.vcov_beta)
    q = L.shape[0]
    A1, A2 = _a1_a2(kr, L)
    df2, scaling = _kr_constants(A1, A2, q)
    Lb = L @ kr.beta
    Fu = float(Lb @ np.linalg.solve(L @ kr.vcov_adj @ L.T, Lb)) / q
    F = scaling * Fu
    ms = Fu * kr.sigma**2
    return FTestResult(ms * q, ms, q, df2, F, float(stats.f.sf(F, q, df2)), scaling)


def kr_for_estimate(
    arrays: ModelArrays, est: LMMEstimate, max_q: int | None = None
) -> KRAdjustment:
    """:func:`kr_adjustment` at a fit's estimates, refitting by REML first if it is ML.

    (pbkrtest does the same: Kenward-Roger is defined for REML estimates.)
    """
    if not est.reml:
        from .refit import fit_arrays

        est = fit_arrays(arrays, reml=True, theta0=est.theta)
    return kr_adjustment(arrays, est.theta, est.sigma, max_q=max_q)
