"""Asymptotic covariance of the variance parameters and the Jacobian of ``cov(beta)``.

As in lmerTest (Kuznetsova, Brockhoff & Christensen 2017, J. Stat. Softw. 82(13),
sec. 3), the variance parameters are ``varpar = (theta, sigma)`` and the deviance
is *not* profiled over ``sigma``:

    D(theta, sigma) = log|V| [+ log|X'V^{-1}X|] + y'Py / sigma^2 + nu log(2 pi sigma^2)

(``V = I + Z Lambda Lambda' Z'``, ``P`` the projection with ``y'Py`` the penalized
residual sum of squares, ``nu = n - p`` for REML with the bracketed term, ``n`` for
ML).  Then ``cov(varpar) = 2 H^{-1}`` (``H`` the Hessian of ``D`` at the estimates,
generalised inverse over the eigenvalues above ``1e-8``) and the Jacobian of
``cov(beta) = sigma^2 (X'V^{-1}X)^{-1}`` is

    d cov(beta) / d theta_i = sigma^2 M^{-1} (U' D_i U) M^{-1},   d / d sigma = 2 sigma M^{-1}

with ``M = X'V^{-1}X``, ``U = Z'V^{-1}X`` and ``D_i = d(Lambda Lambda')/d theta_i``.

Two ways to get ``H`` (``method``):

- ``"analytic"`` (default when ``q`` is small enough for dense ``q x q``
  matrices, :mod:`.qspace`): with ``V_i = Z D_i Z'`` and ``G = Z'PZ`` (REML) or
  ``Z'V^{-1}Z`` (ML), ``r = Z'Py``,

      d2 D / d theta_i d theta_j = tr(D_ij G) - tr(D_i G D_j G)
                                   + (2 r'D_i (Z'PZ) D_j r - r'D_ij r) / sigma^2,
      d2 D / d theta_i d sigma  = 2 r'D_i r / sigma^3,
      d2 D / d sigma^2          = 6 y'Py / sigma^4 - 2 nu / sigma^2;

  exact, one dense ``q x q`` inverse.
- ``"numeric"``: central second differences (one Richardson step) of the same
  deviance computed by the core's sparse factorization, ``2 m^2 + 2 m`` or so
  factorizations for ``m`` theta parameters, and central differences for the
  Jacobian (``4 m`` factorizations); for models too large for dense ``q x q``.

Example
-------
>>> import hierreg_formula as hierreg
>>> from hierreg_formula.formula import build_design
>>> from hierreg_formula.models.prepare import prepare
>>> from hierreg_formula.inference.arrays import ModelArrays
>>> from hierreg_formula.inference.refit import fit_arrays
>>> pm = prepare(build_design("Reaction ~ Days + (Days | Subject)", hierreg.load_dataset("sleepstudy")))
>>> arrays = ModelArrays.from_prepared(pm)
>>> est = fit_arrays(arrays, reml=True)
>>> vp = varpar_covariance(arrays, est.theta, est.sigma, reml=True)
>>> vp.vcov_varpar.shape, vp.jacobian.shape
((4, 4), (4, 2, 2))
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.lmm import LMMEstimate
from . import qspace
from .arrays import ModelArrays
from .blockdiag import BlockDiagonalQuantities, marginal_quantities
from .qspace import MarginalQuantities

LOG2PI = float(np.log(2.0 * np.pi))

#: eigenvalues of the Hessian within this of zero are treated as zero (lmerTest's tol)
EIGEN_TOL = 1e-8


@dataclass(frozen=True)
class VarParCovariance:
    """Everything Satterthwaite's method needs, at ``varpar = (theta, sigma)``.

    Attributes
    ----------
    varpar: ``(theta..., sigma)``.
    beta, vcov_beta: fixed effects and their covariance ``sigma^2 M^{-1}`` at ``varpar``.
    hessian: Hessian of the (RE)ML deviance in ``varpar`` (non-profiled in ``sigma``).
    vcov_varpar: ``2 H^+`` (generalised inverse over the eigenvalues above the tolerance).
    jacobian: ``(len(varpar), p, p)``: ``d cov(beta) / d varpar_i``.
    method: ``"analytic"`` or ``"numeric"``.
    messages: lmerTest-style convergence notes from the Hessian's eigenvalues.
    """

    varpar: np.ndarray
    beta: np.ndarray
    vcov_beta: np.ndarray
    hessian: np.ndarray
    vcov_varpar: np.ndarray
    jacobian: np.ndarray
    reml: bool
    method: str
    messages: list[str] = field(default_factory=list)

    @property
    def sigma(self) -> float:
        return float(self.varpar[-1])


# ---------------------------------------------------------------- derivatives
def theta_derivatives(T: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """``d(TT')/d theta_j`` for one term's entries, and the index pairs ``(r, c)``.

    ``theta`` holds the lower triangle of ``T`` column by column, so entry ``j`` is
    ``T[r_j, c_j]`` and ``d(TT')/d theta_j = e_r t_c' + t_c e_r'``.
    """
    k = T.shape[0]
    cols, rows = np.triu_indices(k)
    mats = []
    for r, c in zip(rows, cols, strict=True):
        d = np.zeros((k, k))
        d[r, :] += T[:, c]
        d[:, r] += T[:, c]
        mats.append(d)
    return mats, np.column_stack([rows, cols])


def theta_second_derivative(rc_i: np.ndarray, rc_j: np.ndarray, k: int) -> np.ndarray:
    """``d^2(TT')/d theta_i d theta_j = [c_i == c_j] (E_{r_i r_j} + E_{r_j r_i})``."""
    d = np.zeros((k, k))
    if rc_i[1] == rc_j[1]:
        d[rc_i[0], rc_j[0]] += 1.0
        d[rc_j[0], rc_i[0]] += 1.0
    return d


# ------------------------------------------------------------------ analytic
def analytic_hessian(
    mq: MarginalQuantities | BlockDiagonalQuantities, sigma: float, reml: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Hessian of ``D(theta, sigma)`` and its gradient, both exact (dense q-space)."""
    arrays = mq.problem
    factors = arrays.factors(mq.theta)
    dmats, rcs = [], []
    for T in factors:
        d, rc = theta_derivatives(T)
        dmats.append(d)
        rcs.append(rc)
    nth = arrays.ntheta
    G_det = mq.ZPZ if reml else mq.W
    G_P = mq.ZPZ
    s2 = sigma * sigma
    diag_sums = mq.diag_block_sums(G_det)
    r_terms = mq.per_term(mq.ZPy)
    rr = [np.einsum("lx,ly->xy", r, r) for r in r_terms]

    grad = np.zeros(nth + 1)
    H = np.zeros((nth + 1, nth + 1))
    H[:nth, :nth] = -mq.pair_traces(G_det, dmats)
    # columns D_j r (q x nth) for the quadratic forms through Z'PZ
    Vcols = np.zeros((arrays.q, nth))
    for a, t in enumerate(arrays.terms):
        sl = arrays.theta_slices[a]
        for jj, d in enumerate(dmats[a]):
            j = sl.start + jj
            grad[j] = np.sum(d * diag_sums[a]) - np.sum(d * rr[a]) / s2
            Vcols[mq.slices[a], j] = (r_terms[a] @ d.T).ravel()
            H[j, nth] = H[nth, j] = 2.0 * np.sum(d * rr[a]) / (s2 * sigma)
            for ii in range(jj + 1):
                i = sl.start + ii
                d2 = theta_second_derivative(rcs[a][ii], rcs[a][jj], t.k)
                val = np.sum(d2 * diag_sums[a]) - np.sum(d2 * rr[a]) / s2
                H[i, j] += val
                if i != j:
                    H[j, i] += val
    H[:nth, :nth] += 2.0 * (Vcols.T @ (G_P @ Vcols)) / s2
    nu = arrays.n - arrays.p if reml else arrays.n
    pw = mq.pwrss
    grad[nth] = -2.0 * pw / (s2 * sigma) + 2.0 * nu / sigma
    H[nth, nth] = 6.0 * pw / (s2 * s2) - 2.0 * nu / s2
    return 0.5 * (H + H.T), grad


def analytic_jacobian(mq: MarginalQuantities | BlockDiagonalQuantities, sigma: float) -> np.ndarray:
    """``d cov(beta) / d varpar`` as ``(ntheta + 1, p, p)`` (exact)."""
    arrays = mq.problem
    Minv = mq.Minv
    U_terms = mq.per_term(mq.U)
    out = []
    for a, T in enumerate(arrays.factors(mq.theta)):
        dm, _ = theta_derivatives(T)
        for d in dm:
            UDU = np.einsum("lxp,xy,lyq->pq", U_terms[a], d, U_terms[a])
            out.append(sigma * sigma * Minv @ UDU @ Minv)
    out.append(2.0 * sigma * Minv)
    return np.stack(out)


# ------------------------------------------------------------------- numeric
def deviance_varpar(arrays: ModelArrays, theta: np.ndarray, sigma: float, reml: bool) -> float:
    """``D(theta, sigma)`` from the core's factorization (constant ``-sum log w`` omitted)."""
    f = arrays.factor(theta)
    nu = arrays.n - arrays.p if reml else arrays.n
    d = f.logdet_L + f.pwrss / sigma**2 + nu * (LOG2PI + 2.0 * np.log(sigma))
    if reml:
        d += f.logdet_RX
    return float(d)


def _theta_parts(arrays: ModelArrays, theta: np.ndarray, reml: bool) -> tuple[float, float]:
    f = arrays.factor(theta)
    ld = f.logdet_L + (f.logdet_RX if reml else 0.0)
    return ld, f.pwrss


def numeric_hessian(
    arrays: ModelArrays, theta: np.ndarray, sigma: float, reml: bool, rel_step: float = 1e-2
) -> np.ndarray:
    """Hessian of ``D(theta, sigma)`` by central differences with one Richardson step.

    The ``sigma`` row is analytic given the pieces ``log-determinants(theta)`` and
    ``pwrss(theta)``; only the ``theta`` block and ``d pwrss / d theta`` are differenced.
    """
    theta = np.asarray(theta, dtype=float)
    m = len(theta)
    s2 = sigma * sigma
    h0 = rel_step * np.maximum(np.abs(theta), 0.1)

    def parts(th: np.ndarray) -> np.ndarray:
        ld, pw = _theta_parts(arrays, th, reml)
        return np.array([ld + pw / s2, pw])

    f0 = parts(theta)

    def block(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Hth = np.zeros((m, m))
        dpw = np.zeros(m)
        fp = np.empty((m, 2))
        fm = np.empty((m, 2))
        for i in range(m):
            e = np.zeros(m)
            e[i] = h[i]
            fp[i] = parts(theta + e)
            fm[i] = parts(theta - e)
            Hth[i, i] = (fp[i, 0] - 2 * f0[0] + fm[i, 0]) / h[i] ** 2
            dpw[i] = (fp[i, 1] - fm[i, 1]) / (2 * h[i])
        for i in range(m):
            for j in range(i):
                ei = np.zeros(m)
                ej = np.zeros(m)
                ei[i] = h[i]
                ej[j] = h[j]
                fpp = parts(theta + ei + ej)[0]
                fmm = parts(theta - ei - ej)[0]
                # f(x+ei+ej) + f(x-ei-ej) - f(x+ei) - f(x-ei) - f(x+ej) - f(x-ej) + 2 f(x)
                num = fpp + fmm - fp[i, 0] - fm[i, 0] - fp[j, 0] - fm[j, 0] + 2 * f0[0]
                Hth[i, j] = Hth[j, i] = num / (2 * h[i] * h[j])
        return Hth, dpw

    H1, g1 = block(h0)
    H2, g2 = block(h0 / 2)
    Hth = (4 * H2 - H1) / 3  # Richardson: O(h^2) error removed
    dpw = (4 * g2 - g1) / 3
    nu = arrays.n - arrays.p if reml else arrays.n
    H = np.zeros((m + 1, m + 1))
    H[:m, :m] = Hth
    H[:m, m] = H[m, :m] = -2.0 * dpw / (s2 * sigma)
    H[m, m] = 6.0 * f0[1] / (s2 * s2) - 2.0 * nu / s2
    return 0.5 * (H + H.T)


def numeric_jacobian(
    arrays: ModelArrays, theta: np.ndarray, sigma: float, rel_step: float = 1e-2
) -> np.ndarray:
    """``d cov(beta) / d varpar`` by central differences (one Richardson step) in ``theta``."""
    theta = np.asarray(theta, dtype=float)
    m = len(theta)

    def minv(th: np.ndarray) -> np.ndarray:
        return np.linalg.inv(arrays.factor(th).fixed_precision())

    h0 = rel_step * np.maximum(np.abs(theta), 0.1)
    out = []
    for i in range(m):
        est = []
        for h in (h0[i], h0[i] / 2):
            e = np.zeros(m)
            e[i] = h
            est.append((minv(theta + e) - minv(theta - e)) / (2 * h))
        out.append(sigma * sigma * (4 * est[1] - est[0]) / 3)
    out.append(2.0 * sigma * minv(theta))
    return np.stack(out)


# ---------------------------------------------------------------- public API
def generalized_inverse(H: np.ndarray, tol: float = EIGEN_TOL) -> tuple[np.ndarray, list[str]]:
    """Moore-Penrose inverse over eigenvalues above ``tol``, with lmerTest's notes."""
    evals, evecs = np.linalg.eigh(H)
    msgs = []
    neg = evals < -tol
    zero = np.abs(evals) <= tol
    if neg.any():
        vals = " ".join(f"{v:.1e}" for v in evals[neg])
        msgs.append(
            f"Model failed to converge with {int(neg.sum())} negative eigenvalue(s): {vals}"
        )
    if zero.any():
        vals = " ".join(f"{v:.1e}" for v in evals[zero])
        msgs.append(
            f"Model may not have converged with {int(zero.sum())} eigenvalue(s) close to zero: {vals}"
        )
    pos = evals > tol
    inv = (evecs[:, pos] / evals[pos]) @ evecs[:, pos].T
    return inv, msgs


def varpar_covariance(
    arrays: ModelArrays,
    theta: np.ndarray,
    sigma: float,
    reml: bool,
    method: str = "auto",
    max_q: int | None = None,
) -> VarParCovariance:
    """Covariance of ``(theta, sigma)`` and the Jacobian of ``cov(beta)`` at the estimates.

    Parameters
    ----------
    arrays: the model arrays.
    theta, sigma: the (RE)ML estimates (caller's term order).
    reml: REML or ML deviance.
    method: ``"analytic"`` (dense q-space, exact), ``"numeric"`` (finite differences
        of sparse factorizations) or ``"auto"`` (analytic when ``q <= max_q``).
    max_q: size limit of the analytic method (default :data:`~.qspace.MAX_DENSE_Q`).
    """
    theta = np.asarray(theta, dtype=float)
    limit = qspace.MAX_DENSE_Q if max_q is None else max_q
    if method == "auto":
        method = "analytic" if arrays.q <= limit or len(arrays.terms) == 1 else "numeric"
    if method == "analytic":
        mq = marginal_quantities(arrays, theta, max_q=limit)
        H, _ = analytic_hessian(mq, sigma, reml)
        J = analytic_jacobian(mq, sigma)
        Minv = mq.Minv
        beta = mq.beta
    elif method == "numeric":
        H = numeric_hessian(arrays, theta, sigma, reml)
        J = numeric_jacobian(arrays, theta, sigma)
        f = arrays.factor(theta)
        Minv = np.linalg.inv(f.fixed_precision())
        beta = f.beta
    else:
        raise ValueError(f"unknown method {method!r}: 'auto', 'analytic' or 'numeric'")
    Hinv, msgs = generalized_inverse(H)
    return VarParCovariance(
        varpar=np.append(theta, sigma),
        beta=beta,
        vcov_beta=sigma * sigma * Minv,
        hessian=H,
        vcov_varpar=2.0 * Hinv,
        jacobian=J,
        reml=reml,
        method=method,
        messages=msgs,
    )


def varpar_for_estimate(
    arrays: ModelArrays, est: LMMEstimate, method: str = "auto", max_q: int | None = None
) -> VarParCovariance:
    """:func:`varpar_covariance` at a fit's estimates and with its criterion (REML or ML)."""
    return varpar_covariance(arrays, est.theta, est.sigma, est.reml, method=method, max_q=max_q)
