"""hierreg's penalty weights and their translation to the PLS core's ``Lambda``.

hierreg (D. Cortes, PyPI 0.1) penalizes the deviations ``v`` of group level
``k`` with weight ``nw_k / p``, where ``nw_k = (1/n_k) / sum_k' (1/n_k')`` and
``p`` is the number of columns with deviations.  With the squared loss

    (1/n) ||y - X w - Z v||^2 + alpha ||d * v||^2 + main_l2 ||w||^2,

multiplying by ``n`` gives the penalized least-squares problem of the mixed
model with ``v = Lambda u`` and ``Lambda_k = I / (sqrt(n alpha) d_k)``: a ridge
penalty on the deviations is a mixed model whose relative covariance factor is
fixed by ``alpha`` (per level, through ``d_k``) instead of estimated.

Example
-------
>>> import numpy as np
>>> group_weights(np.array([0, 0, 1]), 2, ncols=1).round(4).tolist()
[0.3333, 0.6667]
"""

from __future__ import annotations

import numpy as np


def group_weights(codes: np.ndarray, nlevels: int, ncols: int, by_nobs: bool = True) -> np.ndarray:
    """hierreg's ``nw_k / p`` for every level (``1`` when ``by_nobs`` is False)."""
    if not by_nobs:
        return np.ones(nlevels)
    counts = np.bincount(codes[codes >= 0], minlength=nlevels).astype(float)
    inv = np.where(counts > 0, 1.0 / np.maximum(counts, 1.0), 0.0)
    total = inv.sum()
    return inv / total / ncols if total > 0 else np.ones(nlevels)


def ridge_lambdas(weights: list[np.ndarray], ks: list[int], scale: float) -> list[np.ndarray]:
    """Per-level ``Lambda`` stacks for the penalty ``scale * sum_k d_k^2 ||v_k||^2``.

    Levels with zero weight (absent from the data) get a zero factor.
    """
    out = []
    for d, k in zip(weights, ks, strict=True):
        with np.errstate(divide="ignore"):
            lam = np.where(d > 0, 1.0 / (np.sqrt(scale) * np.maximum(d, 1e-300)), 0.0)
        out.append(lam[:, None, None] * np.eye(k))
    return out
