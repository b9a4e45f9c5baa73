"""Complete pooling vs no pooling vs partial pooling, level by level.

For every grouping factor ``g`` of the formula, with ``Z`` the columns of its
random terms (e.g. ``Intercept``, ``Days``):

- **complete pooling**: ordinary least squares of the fixed part only (every
  level gets the same coefficients; a ``Z`` column absent from the fixed part
  gets 0);
- **no pooling**: the fixed-effects model in which every level of ``g`` has its
  own coefficients on ``Z`` and the other fixed columns (e.g. ``floor`` in
  ``log_radon ~ floor + (1 | county)``) stay common; other grouping factors
  are left out.  It is solved without a loop over levels: the per-level
  normal equations are stacked into a ``(G, k, k)`` array, the common
  coefficients come from the within-level (projected) normal equations, and
  each level's coefficients from one batched solve.  A level whose own
  ``Z`` is rank-deficient (one row with an intercept and a slope, a single
  value of ``x``) has no no-pooling estimate: NaN;
- **partial pooling**: the REML mixed model's per-level coefficients
  (``res.coef()``, lme4's ``coef``);
- optionally the **regularized** mode (``method="regularized"``).

Example
-------
>>> import hierreg_formula as hierreg
>>> cmp = hierreg.compare_pooling("Reaction ~ Days + (Days | Subject)",
...                               hierreg.load_dataset("sleepstudy"))
>>> cmp.table["Subject"].columns[:4].tolist()
['n', 'no_pooling:Intercept', 'partial_pooling:Intercept', 'complete_pooling:Intercept']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from ..exceptions import HierregError
from ..formula.blocks import group_blocks

__all__ = ["PoolingComparison", "no_pooling", "pooling_table"]

#: a level whose own (column-scaled) Gram matrix has a smaller eigenvalue ratio
#: than this is rank-deficient: no no-pooling estimate
RANK_TOL = 1e-10


def _per_level_sums(codes: np.ndarray, nlevels: int, values: np.ndarray) -> np.ndarray:
    """Column sums of ``values`` ``(n, q)`` within each level: ``(G, q)``."""
    n = len(codes)
    ind = sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(nlevels, n))
    return np.asarray(ind @ values)


def per_level_ols(
    codes: np.ndarray,
    nlevels: int,
    Z: np.ndarray,
    y: np.ndarray,
    X: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least squares with level-specific coefficients on ``Z`` and common ones on ``X``.

    Solves ``y = X beta + Z[i] b[codes[i]] + e`` without a loop over levels.

    Parameters
    ----------
    codes:
        ``(n,)`` level of every row, in ``0..nlevels-1``.
    nlevels:
        Number of levels ``G``.
    Z:
        ``(n, k)`` columns with per-level coefficients.
    y:
        ``(n,)`` response.
    X:
        ``(n, m)`` columns with common coefficients (``None``: none).

    Returns
    -------
    b : ndarray
        ``(G, k)`` per-level coefficients; NaN for a level whose own ``Z`` is
        rank-deficient (or that has no rows).
    beta : ndarray
        ``(m,)`` common coefficients; NaN for a column that does not vary
        within levels (its effect is absorbed by the per-level coefficients).
    identified : ndarray
        ``(G,)`` bool, whether the level's coefficients are identified.

    Examples
    --------
    >>> import numpy as np
    >>> codes = np.array([0, 0, 0, 1, 1, 2])
    >>> x = np.array([0.0, 1.0, 2.0, 0.0, 2.0, 5.0])
    >>> y = np.array([1.0, 3.0, 5.0, 0.0, -2.0, 7.0])
    >>> b, beta, ok = per_level_ols(codes, 3, np.column_stack([np.ones(6), x]), y)
    >>> b.round(6).tolist()
    [[1.0, 2.0], [0.0, -1.0], [nan, nan]]
    """
    n, k = Z.shape
    m = 0 if X is None else X.shape[1]
    # per-level cross-products, all levels at once
    zz = _per_level_sums(codes, nlevels, (Z[:, :, None] * Z[:, None, :]).reshape(n, k * k))
    zz = zz.reshape(nlevels, k, k)
    zy = _per_level_sums(codes, nlevels, Z * y[:, None])
    # a generalized inverse of every level's Gram matrix, from the eigen
    # decomposition of its column-scaled version (scale-free rank decision)
    d = np.sqrt(np.maximum(np.einsum("gkk->gk", zz), 0.0))
    dinv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 0.0)
    scaled = zz * dinv[:, :, None] * dinv[:, None, :]
    w, V = np.linalg.eigh(scaled)
    wmax = w[:, -1:]
    keep = w > RANK_TOL * np.maximum(wmax, 0.0)
    keep &= wmax > 0
    winv = np.where(keep, 1.0 / np.where(keep, w, 1.0), 0.0)
    ginv = np.einsum("gi,gij,gj,gkj,gk->gik", dinv, V, winv, V, dinv, optimize=True)
    identified = keep.all(axis=1) & (d > 0).all(axis=1)

    beta = np.zeros(m)
    r = zy
    if m:
        zx = _per_level_sums(codes, nlevels, (Z[:, :, None] * X[:, None, :]).reshape(n, k * m))
        zx = zx.reshape(nlevels, k, m)
        # within-level normal equations of the common coefficients
        A = X.T @ X - np.einsum("gki,gkl,glj->ij", zx, ginv, zx, optimize=True)
        c = X.T @ y - np.einsum("gki,gkl,gl->i", zx, ginv, zy, optimize=True)
        total = np.einsum("ij,ij->j", X, X)
        varies = np.diag(A) > 1e-10 * np.maximum(total, 1e-300)
        beta = np.full(m, np.nan)
        if varies.any():
            sol, *_ = np.linalg.lstsq(A[np.ix_(varies, varies)], c[varies], rcond=None)
            beta[varies] = sol
        r = zy - np.einsum("gkj,j->gk", zx[:, :, varies], beta[varies])
    b = np.einsum("gkl,gl->gk", ginv, r)
    b[~identified] = np.nan
    return b, beta, identified


def no_pooling(res: Any, group: str) -> tuple[pd.DataFrame, pd.Series]:
    """No-pooling estimates of the random-term columns of ``group``.

    Parameters
    ----------
    res:
        A fitted model of this package (its ``model_blocks`` hold the data).
    group:
        Name of a grouping factor of the formula.

    Returns
    -------
    estimates : DataFrame
        Levels x random-term columns (NaN where not identified).
    common : Series
        The common coefficients of the other fixed columns (NaN for a column
        constant within every level).

    Examples
    --------
    >>> import hierreg_formula as hierreg
    >>> res = hierreg.fit("log_radon ~ floor + (1 | county)", hierreg.load_dataset("radon"))
    >>> est, common = no_pooling(res, "county")
    >>> est.shape, common.index.tolist()
    ((85, 1), ['floor'])
    """
    blocks = res.model_blocks
    idx = group_blocks(blocks).get(group)
    if idx is None:
        raise HierregError(f"{group!r} is not a grouping factor of {res.formula!r}")
    blks = [blocks.random[i] for i in idx]
    Z = np.column_stack([b.X for b in blks])
    names = list(res.random_effects[group].columns)
    own = {nm for b in blks for nm in b.names}
    common_cols = [j for j, nm in enumerate(blocks.x_names) if nm not in own]
    X = blocks.X[:, common_cols] if common_cols else None
    b, beta, _ = per_level_ols(blks[0].codes, blks[0].nlevels, Z, blocks.y, X)
    est = pd.DataFrame(b, index=pd.Index(blks[0].levels, name=group), columns=names)
    common = pd.Series(beta, index=[blocks.x_names[j] for j in common_cols], dtype=float)
    return est, common


@dataclass
class PoolingComparison:
    """Per grouping factor, the level estimates under each kind of pooling.

    Attributes
    ----------
    table:
        Grouping factor -> DataFrame with one row per level: ``n`` (rows of
        the level), then for every random-term column ``c``:
        ``no_pooling:c``, ``partial_pooling:c``, ``complete_pooling:c`` and,
        with the regularized mode, ``regularized:c``.
    partial:
        The REML fit (partial pooling).
    pooled:
        The complete-pooling OLS coefficients of the fixed part.
    common:
        Grouping factor -> the common coefficients of the no-pooling model.
    regularized:
        The regularized fit, or ``None``.

    Examples
    --------
    >>> import hierreg_formula as hierreg
    >>> cmp = hierreg.compare_pooling("log_radon ~ floor + (1 | county)",
    ...                               hierreg.load_dataset("radon"))
    >>> t = cmp.table["county"]
    >>> int(t["n"].sum()), t.shape
    (919, (85, 4))
    """

    table: dict[str, pd.DataFrame]
    partial: Any
    pooled: pd.Series
    common: dict[str, pd.Series] = field(default_factory=dict)
    regularized: Any = None

    def columns(self, group: str | None = None) -> list[str]:
        """The random-term columns compared for ``group`` (default: the first factor)."""
        t = self.table[group or next(iter(self.table))]
        return [c.split(":", 1)[1] for c in t.columns if c.startswith("no_pooling:")]

    def plot(self, group: str | None = None, column: str | None = None, ax: Any = None):
        """The shrinkage figure of one column of one grouping factor.

        Each level is drawn at its number of rows (slightly jittered; log
        scale when the sizes span a factor of 4 or more): its no-pooling estimate (grey), an arrow to its
        partial-pooling estimate (blue), the regularized estimate when
        present (green crosses), and the complete-pooling value as a dashed
        red line.  Levels without a no-pooling estimate show only the
        partial-pooling point.

        Parameters
        ----------
        group:
            Grouping factor (default: the first).
        column:
            Random-term column (default: the first, usually ``Intercept``).
        ax:
            Matplotlib Axes to draw on (default: a new figure).

        Returns
        -------
        matplotlib.axes.Axes

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import hierreg_formula as hierreg
        >>> cmp = hierreg.compare_pooling("log_radon ~ floor + (1 | county)",
        ...                               hierreg.load_dataset("radon"))
        >>> ax = cmp.plot()
        >>> ax.get_ylabel()
        'Intercept'
        >>> import matplotlib.pyplot as plt; plt.close("all")
        """
        from ..plots import draw_shrinkage

        group = group or next(iter(self.table))
        if group not in self.table:
            raise HierregError(f"no grouping factor {group!r}; choose from {list(self.table)}")
        cols = self.columns(group)
        column = column or cols[0]
        if column not in cols:
            raise HierregError(
                f"no random-term column {column!r} for {group!r}; choose from {cols}"
            )
        return draw_shrinkage(self.table[group], group, column, ax)


def pooling_table(res: Any, regularized: Any = None) -> PoolingComparison:
    """The pooling comparison from a fitted mixed model.

    Parameters
    ----------
    res:
        A REML (or ML) fit: its ``coef()`` gives the partial-pooling
        estimates and its ``model_blocks`` the data.
    regularized:
        Optionally a regularized-mode fit of the same formula.

    Returns
    -------
    PoolingComparison

    Examples
    --------
    >>> import hierreg_formula as hierreg
    >>> res = hierreg.fit("Yield ~ 1 + (1 | Batch)", hierreg.load_dataset("Dyestuff"))
    >>> pooling_table(res).table["Batch"]["n"].tolist()
    [5, 5, 5, 5, 5, 5]
    """
    blocks = res.model_blocks
    beta, *_ = np.linalg.lstsq(blocks.X, blocks.y, rcond=None)
    pooled = pd.Series(beta, index=blocks.x_names, name="complete_pooling")
    coef = res.coef()
    reg_coef = regularized.coef() if regularized is not None else None
    tables: dict[str, pd.DataFrame] = {}
    common: dict[str, pd.Series] = {}
    for g, idx in group_blocks(blocks).items():
        blk = blocks.random[idx[0]]
        nop, common[g] = no_pooling(res, g)
        cols: dict[str, Any] = {"n": np.bincount(blk.codes, minlength=blk.nlevels)}
        for c in nop.columns:
            cols[f"no_pooling:{c}"] = nop[c].to_numpy()
            cols[f"partial_pooling:{c}"] = coef[g][c].to_numpy()
            cols[f"complete_pooling:{c}"] = np.full(len(nop), float(pooled.get(c, 0.0)))
            if reg_coef is not None and g in reg_coef and c in reg_coef[g].columns:
                cols[f"regularized:{c}"] = reg_coef[g][c].reindex(nop.index).to_numpy()
        tables[g] = pd.DataFrame(cols, index=nop.index)
    return PoolingComparison(tables, res, pooled, common, regularized)
