"""Cross-validated choice of the penalty, with folds that split every group.

Example
-------
>>> import numpy as np
>>> f = group_folds(np.array([0, 0, 0, 1, 1, 1]), k=3, seed=0)
>>> sorted(f[:3].tolist()), sorted(f[3:].tolist())
([0, 1, 2], [0, 1, 2])
"""

from __future__ import annotations

import numpy as np


def group_folds(codes: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Fold of every row: each group's rows are dealt round-robin over the folds.

    Rows are shuffled within groups and each group starts at a random fold, so a
    group with ``m`` rows has about ``m / k`` rows in every fold (vectorised).
    """
    rng = np.random.default_rng(seed)
    n = len(codes)
    perm = rng.permutation(n)
    order = perm[np.argsort(codes[perm], kind="stable")]
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    sizes = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, sizes)
    offset = rng.integers(0, k, size=len(starts))
    folds = np.empty(n, dtype=np.int64)
    folds[order] = (rank + np.repeat(offset, sizes)) % k
    return folds


def default_alphas(n: int, weights: list[np.ndarray], num: int = 25) -> np.ndarray:
    """A log grid centred where the penalty per deviation is comparable to one row.

    With ``Lambda_k = 1 / (sqrt(n alpha) d_k)`` the prior precision of a
    deviation is ``n alpha d_k^2``; the grid spans 1e-4 .. 1e4 times the alpha
    at which that equals 1 for a typical level.
    """
    d2 = np.concatenate([w[w > 0] ** 2 for w in weights])
    ref = 1.0 / (n * float(np.median(d2)))
    return ref * np.logspace(-4, 4, num)
