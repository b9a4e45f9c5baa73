"""Adaptive Gauss-Hermite quadrature (AGQ) of a GLMM with one scalar random-effects term.

With a single scalar term the levels are conditionally independent, and the
marginal likelihood is a product of one-dimensional integrals over the spherical
random effect ``u_j ~ N(0, 1)`` of each level ``j``.  With
``g_j(u) = sum_{i in j} w_i d(y_i, mu_i(u)) + u^2`` (the level's penalized
deviance), its mode ``u_j*`` (from PIRLS) and ``s_j = 1 / L_jj`` (``L_jj^2 = 1 +
lambda^2 sum_{i in j} W_i x_i^2``, the Laplace factor), the substitution
``u = u_j* + s_j z`` and the ``K``-point Gauss-Hermite rule for the weight
``exp(-z^2 / 2)`` (nodes ``z_k``, weights ``p_k`` summing to one) give
(Pinheiro & Bates 1995; Bates et al. 2015, lme4's ``nAGQ``)

    -2 log L = sum_i c_i + sum_j [ g_j(u_j*) + log L_jj^2
               - 2 log sum_k p_k exp(-(g_j(u_j* + s_j z_k) - g_j(u_j*)) / 2 + z_k^2 / 2) ]

where ``c_i`` are the constants of ``-2 log f(y_i | mu_i)`` beyond the deviance.
With ``K = 1`` (``z = 0``, ``p = 1``) this is the Laplace approximation.  Each node
costs one pass over the rows and one ``np.bincount``.

Example
-------
>>> z, p = gh_rule(3)
>>> z.round(6).tolist(), p.round(6).tolist()
([-1.732051, 0.0, 1.732051], [0.166667, 0.666667, 0.166667])
"""

from __future__ import annotations

import numpy as np

from .pirls import GLMMData, PirlsResult


def gh_rule(nagq: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes and weights for the standard normal density (weights sum to 1)."""
    z, w = np.polynomial.hermite_e.hermegauss(nagq)
    return z, w / w.sum()


def agq_correction(
    data: GLMMData, res: PirlsResult, lam: float, beta: np.ndarray, nagq: int
) -> float:
    """The AGQ deviance minus the Laplace deviance at the modes ``res`` (one scalar term).

    ``-2 sum_j log sum_k p_k exp(-(g_j(u_j* + s_j z_k) - g_j(u_j*)) / 2 + z_k^2 / 2)``.
    """
    if nagq <= 1:
        return 0.0
    term = data.terms[0]
    L = term.nlevels
    codes = term.codes
    x = term.Xz[:, 0]
    u = res.u
    s = 1.0 / res.L11[:, 0, 0]
    fixed = data.fixed_eta(beta)

    resp = data.response

    def level_pdev(uu: np.ndarray) -> np.ndarray:
        eta = fixed + x * (lam * uu)[codes]
        d = resp.dev_rows(data.family.link.linkinv(eta))
        return np.bincount(codes, weights=d, minlength=L) + uu * uu

    g0 = level_pdev(u)
    z, p = gh_rule(nagq)
    # log-sum-exp over the nodes, level by level
    expo = np.empty((len(z), L))
    for k, zk in enumerate(z):  # loops over the few nodes, not over rows or levels
        gk = g0 if zk == 0.0 else level_pdev(u + s * zk)
        expo[k] = np.log(p[k]) - 0.5 * (gk - g0) + 0.5 * zk * zk
    top = expo.max(axis=0)
    lse = top + np.log(np.exp(expo - top).sum(axis=0))
    return float(-2.0 * lse.sum())
