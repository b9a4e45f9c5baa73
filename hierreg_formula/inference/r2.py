"""Intraclass correlation and Nakagawa's R^2 for mixed models.

Nakagawa & Schielzeth (2013, Methods Ecol. Evol. 4, 133-142) and Nakagawa,
Johnson & Schielzeth (2017, J. R. Soc. Interface 14, 20170213), with random
slopes as in Johnson (2014, Methods Ecol. Evol. 5, 944-946):

- ``Var_F = var(X beta)`` (sample variance, denominator ``n - 1``; offsets excluded),
- ``Var_R = sum over terms of mean_i z_i' Sigma_term z_i`` (``z_i`` the term's
  columns in row ``i``; the variance itself for a random intercept),
- ``Var_D`` the observation-level variance (``sigma^2`` for a Gaussian LMM),

``R2_marginal = Var_F / (Var_F + Var_R + Var_D)``,
``R2_conditional = (Var_F + Var_R) / (Var_F + Var_R + Var_D)``,
``ICC_adjusted = Var_R / (Var_R + Var_D)`` and
``ICC_conditional = Var_R / (Var_F + Var_R + Var_D)`` (performance's ``icc()``).

Example
-------
>>> import numpy as np
>>> X = np.column_stack([np.ones(4), [0.0, 1, 2, 3]])
>>> r = nakagawa_r2(X, np.array([1.0, 2.0]), [np.ones((4, 1))], [np.array([[3.0]])], var_d=1.0)
>>> round(r.var_fixed, 4), r.var_random, round(r.icc_adjusted, 4)
(6.6667, 3.0, 0.75)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class VarianceDecomposition:
    """The variance components and the R^2 / ICC built from them."""

    var_fixed: float
    var_random: float
    var_random_terms: list[float]
    var_distribution: float
    r2_marginal: float
    r2_conditional: float
    icc_adjusted: float
    icc_conditional: float


def random_variance(Z_terms: Sequence[np.ndarray], Sigmas: Sequence[np.ndarray]) -> list[float]:
    """Per term, ``mean_i z_i' Sigma z_i`` (Johnson 2014)."""
    out = []
    for Z, S in zip(Z_terms, Sigmas, strict=True):
        Z = np.asarray(Z, dtype=float).reshape(len(Z), -1)
        out.append(float(np.mean(np.einsum("ij,jk,ik->i", Z, np.asarray(S, dtype=float), Z))))
    return out


def nakagawa_r2(
    X: np.ndarray,
    beta: np.ndarray,
    Z_terms: Sequence[np.ndarray],
    Sigmas: Sequence[np.ndarray],
    var_d: float,
) -> VarianceDecomposition:
    """R^2 and ICC from the fixed design, the per-term columns and covariances.

    Parameters
    ----------
    X, beta: fixed-effects matrix (fitting rows, no weights) and coefficients.
    Z_terms: per random term, its ``(n, k)`` columns on the fitting rows.
    Sigmas: per term, its ``k x k`` covariance ``sigma^2 T T'``.
    var_d: the observation-level variance (``sigma^2`` for a Gaussian LMM).
    """
    eta = np.asarray(X, dtype=float) @ np.asarray(beta, dtype=float)
    var_f = float(np.var(eta, ddof=1)) if eta.size > 1 else 0.0
    terms = random_variance(Z_terms, Sigmas)
    var_r = float(sum(terms))
    tot = var_f + var_r + var_d
    return VarianceDecomposition(
        var_fixed=var_f,
        var_random=var_r,
        var_random_terms=terms,
        var_distribution=float(var_d),
        r2_marginal=var_f / tot,
        r2_conditional=(var_f + var_r) / tot,
        icc_adjusted=var_r / (var_r + var_d),
        icc_conditional=var_r / tot,
    )
