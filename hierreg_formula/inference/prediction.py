"""Standard errors and intervals of fixed-part predictions ``x' beta``.

For new rows ``x_i`` the population-level prediction ``x_i' beta`` has variance
``x_i' C x_i`` (``C = cov(beta)``, unadjusted or Kenward-Roger adjusted).  Its
confidence interval uses normal quantiles, or ``t`` quantiles with the given
(e.g. Satterthwaite, :func:`~.satterthwaite.satterthwaite_df`) degrees of freedom.
A prediction interval for a new observation adds the observation-level variance
``sigma^2`` and, for an observation of a new (unseen) group, the random-effect
variance ``sum_terms z_i' Sigma_term z_i``:

    var_pred = x_i' C x_i + [sum_t z_it' Sigma_t z_it] + sigma^2 .

(The uncertainty of the variance parameters themselves is ignored, as in a
Wald interval.)

Example
-------
>>> import numpy as np
>>> r = fixed_prediction(np.array([[1.0, 2.0]]), np.array([1.0, 0.5]), np.eye(2) * 0.01, sigma=1.0)
>>> round(float(r.mean[0]), 3), round(float(r.se[0]), 4)
(2.0, 0.2236)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class PredictionResult:
    """Per new row: ``x' beta``, its SE, the confidence and the prediction intervals."""

    mean: np.ndarray
    se: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    pi_lower: np.ndarray | None
    pi_upper: np.ndarray | None
    level: float


def fixed_prediction(
    X_new: np.ndarray,
    beta: np.ndarray,
    cov_beta: np.ndarray,
    sigma: float | None = None,
    level: float = 0.95,
    df: float | np.ndarray | None = None,
    Z_new: Sequence[np.ndarray] | None = None,
    Sigmas: Sequence[np.ndarray] | None = None,
) -> PredictionResult:
    """SE of ``X_new beta``, confidence interval and (with ``sigma``) prediction interval.

    Parameters
    ----------
    X_new: ``(m, p)`` fixed-effects rows.
    beta, cov_beta: coefficients and their covariance.
    sigma: residual SD; gives the prediction interval when set.
    level: confidence level.
    df: degrees of freedom for ``t`` quantiles (scalar or per row); normal if None.
    Z_new, Sigmas: per random term, the ``(m, k)`` columns of the new rows and the
        term's covariance: the prediction interval then includes the random-effect
        variance of an unseen group.
    """
    X_new = np.atleast_2d(np.asarray(X_new, dtype=float))
    mean = X_new @ beta
    se = np.sqrt(np.einsum("ip,pq,iq->i", X_new, cov_beta, X_new))
    a = 0.5 + level / 2.0
    q = stats.norm.ppf(a) if df is None else stats.t.ppf(a, np.asarray(df, dtype=float))
    pil = piu = None
    if sigma is not None:
        var = se**2 + sigma**2
        if Z_new is not None:
            for Z, S in zip(Z_new, Sigmas, strict=True):
                Z = np.asarray(Z, dtype=float).reshape(len(Z), -1)
                var = var + np.einsum("ij,jk,ik->i", Z, np.asarray(S, dtype=float), Z)
        half = q * np.sqrt(var)
        pil, piu = mean - half, mean + half
    return PredictionResult(mean, se, mean - q * se, mean + q * se, pil, piu, level)
