"""hierreg's penalty weights and their translation to the PLS core's ``Lambda``.

hierreg (D. Cortes, PyPI 0.1) one-hot encodes every grouping column and weights
the deviations of level ``k`` by ``nw_k / p``, where ``nw_k = (1/n_k) / sum_k'
(1/n_k')`` (the sum runs over the levels of *all* grouping columns, as hierreg's
joint one-hot matrix does) and ``p`` is the number of columns with deviations.
With the squared loss

    (1/n) ||y - X w - Z v||^2 + alpha ||d * v||^2 + main_l2 ||w||^2,

multiplying by ``n`` gives the penalized least-squares problem of the mixed
model with ``v = Lambda u`` and ``Lambda_k = I / (sqrt(n alpha) d_k)``: a ridge
penalty on the deviations is a mixed model whose relative covariance factor is
fixed by ``alpha`` (per level, through ``d_k``) instead of estimated.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core import TermArrays
>>> t = TermArrays(np.array([0, 0, 1]), 2, np.ones((3, 1)))
>>> [d.round(4).tolist() for d in group_weights([t])]
[[0.3333, 0.6667]]
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from ..core import TermArrays


def group_weights(
    terms: Sequence[TermArrays],
    by_nobs: bool = True,
    groups: Sequence[Hashable] | None = None,
) -> list[np.ndarray]:
    """hierreg's ``d_k = nw_k / p`` for every level of every term.

    Parameters
    ----------
    terms:
        The random terms (rows outside every level, ``assigned`` False, are not counted).
    by_nobs:
        ``False`` gives ``d_k = 1`` (hierreg's ``weight_by_nobs=False``).
    groups:
        The grouping factor of each term: terms of the same factor (``(x || g)``
        gives one term per column) share its levels, counted once in the
        normalisation, and their columns add up to that factor's ``p``.
        Default: every term is its own factor.

    Returns
    -------
    list of ndarray
        One ``(L,)`` array per term; levels without rows get ``0``.
    """
    keys = list(range(len(terms))) if groups is None else list(groups)
    if len(keys) != len(terms):
        raise ValueError("groups must name the grouping factor of every term")
    if not by_nobs:
        return [np.ones(t.nlevels) for t in terms]
    inv = []
    for t in terms:
        counts = t.level_counts().astype(float)
        inv.append(np.where(counts > 0, 1.0 / np.maximum(counts, 1.0), 0.0))
    first = {}  # grouping factor -> its first term (levels counted once)
    ncols: dict[Hashable, int] = {}
    for i, (key, t) in enumerate(zip(keys, terms, strict=True)):
        first.setdefault(key, i)
        ncols[key] = ncols.get(key, 0) + t.k
    total = sum(float(inv[i].sum()) for i in first.values())
    if total <= 0:
        return [np.ones(t.nlevels) for t in terms]
    return [v / total / ncols[key] for v, key in zip(inv, keys, strict=True)]


def ridge_lambdas(
    weights: Sequence[np.ndarray], ks: Sequence[int], scale: float
) -> list[np.ndarray]:
    """Per-level ``Lambda`` stacks ``(L, k, k)`` for ``scale * sum_k d_k^2 ||v_k||^2``.

    Levels with zero weight (absent from the data) get a zero factor, so their
    deviations are zero.
    """
    out = []
    for d, k in zip(weights, ks, strict=True):
        pos = d > 0
        lam = np.zeros_like(d, dtype=float)
        lam[pos] = 1.0 / (np.sqrt(scale) * d[pos])
        out.append(lam[:, None, None] * np.eye(k))
    return out
