"""Cross-validated choice of the penalty, with folds that split every group.

Every group's rows are dealt over the ``K`` folds (stratified by group), so each
held-out row has training rows of its own group and the held-out error measures
how well the penalty balances a level's own rows against the shared fit.  For
the squared loss the cross-products of each training fold and each held-out fold
are computed once; every ``alpha`` of the grid is then one factorization and a
held-out error from the held-out cross-products, neither touching the rows.

Example
-------
>>> import numpy as np
>>> f = group_folds(np.array([0, 0, 0, 1, 1, 1]), k=3, seed=0)
>>> sorted(f[:3].tolist()), sorted(f[3:].tolist())
([0, 1, 2], [0, 1, 2])
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd

from ..core import TermArrays, cross_products
from ..core.structure import random_part
from .logistic import log_loss, solve_logistic
from .penalty import group_weights
from .squared import heldout_sse, solve_ridge


def group_folds(codes: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Fold of every row: each group's rows are dealt round-robin over the folds.

    Rows are shuffled within groups and each group starts at a random fold, so a
    group with ``m`` rows has ``floor(m / k)`` or ``ceil(m / k)`` rows in every
    fold (vectorised: one sort, no loop over groups).
    """
    if k < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {k}")
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


def strata(terms: Sequence[TermArrays]) -> np.ndarray:
    """One stratum per observed combination of the levels of every term."""
    cols = [t.codes if t.assigned is None else np.where(t.assigned, t.codes, -1) for t in terms]
    if len(cols) == 1:
        return cols[0]
    codes = np.column_stack(cols)
    return np.unique(codes, axis=0, return_inverse=True)[1].ravel()


def default_alphas(n: int, weights: Sequence[np.ndarray], num: int = 25) -> np.ndarray:
    """A log grid centred where the penalty per deviation is comparable to one row.

    With ``Lambda_k = 1 / (sqrt(n alpha) d_k)`` the prior precision of a
    deviation (relative to the residual variance) is ``n alpha d_k^2``; the grid
    spans 1e-4 .. 1e4 times the alpha at which that equals 1 for a typical level.
    """
    d2 = np.concatenate([w[w > 0] ** 2 for w in weights])
    ref = 1.0 / (n * float(np.median(d2)))
    return ref * np.logspace(-4, 4, num)


def _subset(X: np.ndarray, terms: Sequence[TermArrays], rows: np.ndarray):
    Xs = X[rows]
    ts = [t.subset(rows, Xs if t.Xz is X else None) for t in terms]  # keep X'Z reuse
    return Xs, ts


def cv_curve(
    X: np.ndarray,
    y: np.ndarray,
    terms: Sequence[TermArrays],
    alphas: np.ndarray,
    *,
    k: int = 5,
    seed: int = 0,
    family: str = "gaussian",
    main_l2: float = 0.0,
    weight_by_nobs: bool = True,
    groups: Sequence[Hashable] | None = None,
) -> pd.DataFrame:
    """Held-out loss of every ``alpha`` over ``k`` group-stratified folds.

    Returns
    -------
    DataFrame
        ``alpha``, ``mean_<loss>`` and ``sd_<loss>`` (``mse`` for gaussian,
        ``log_loss`` for binomial) over the folds; NaN where a fold could not be
        fitted (e.g. collinear columns in its training rows).
    """
    alphas = np.sort(np.asarray(alphas, dtype=float))
    folds = group_folds(strata(terms), k, seed)
    scores = np.full((len(alphas), k), np.nan)
    for f in range(k):  # a loop over the few folds; every row op inside is vectorised
        tr, te = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
        if len(te) == 0:
            continue
        X_tr, t_tr = _subset(X, terms, tr)
        X_te, t_te = _subset(X, terms, te)
        weights = group_weights(t_tr, weight_by_nobs, groups)
        n_tr = len(tr)
        if family == "gaussian":
            cp_tr = cross_products(X_tr, y[tr], t_tr)
            cp_te = cross_products(X_te, y[te], t_te)
            for i, a in enumerate(alphas):
                try:
                    w, v, _ = solve_ridge(cp_tr, weights, n_tr * a, n_tr * main_l2)
                except np.linalg.LinAlgError:
                    continue
                scores[i, f] = heldout_sse(cp_te, w, v) / len(te)
        else:
            start = None
            for i, a in enumerate(alphas):  # warm start from the neighbouring alpha
                try:
                    w, v, _, _ = solve_logistic(
                        X_tr, y[tr], t_tr, a, main_l2, weight_by_nobs, groups, 1e-8, start=start
                    )
                except np.linalg.LinAlgError:
                    start = None
                    continue
                start = (w, v)
                scores[i, f] = log_loss(y[te], X_te @ w + random_part(t_te, v))
    name = "mse" if family == "gaussian" else "log_loss"
    ok = np.isfinite(scores)
    cnt = ok.sum(axis=1)
    filled = np.where(ok, scores, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(cnt > 0, filled.sum(axis=1) / np.maximum(cnt, 1), np.nan)
        var = np.where(ok, (scores - mean[:, None]) ** 2, 0.0).sum(axis=1) / (cnt - 1)
    sd = np.where(cnt > 1, np.sqrt(var), np.nan)
    return pd.DataFrame({"alpha": alphas, f"mean_{name}": mean, f"sd_{name}": sd})
