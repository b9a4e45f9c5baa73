"""Checks of design blocks before estimation (shared by every estimator).

Example
-------
>>> import numpy as np
>>> X = np.column_stack([np.ones(4), np.arange(4.0), 2 * np.arange(4.0)])
>>> full_rank_columns(X).tolist()
[0, 1]
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np

from ..exceptions import EstimationError, RankDeficiencyWarning
from ..formula.blocks import DesignBlocks

#: relative tolerance on the diagonal of R in the pivoted QR (lme4's rankMatrix default)
RANK_TOL = 1e-7


def full_rank_columns(X: np.ndarray, tol: float = RANK_TOL) -> np.ndarray:
    """Indices (sorted) of a maximal set of linearly independent columns of ``X``."""
    if X.shape[1] == 0:
        return np.arange(0)
    # fast path: a Cholesky factor of the Gram matrix with no small pivot means full rank
    gram = X.T @ X
    scale2 = np.maximum(np.diag(gram), np.finfo(float).tiny)
    try:
        piv = np.diag(np.linalg.cholesky(gram)) ** 2
        if np.all(piv > 1e-8 * scale2):
            return np.arange(X.shape[1])
    except np.linalg.LinAlgError:
        pass
    # unpivoted QR: a column that depends on the ones before it gets |R_jj| ~ 0, so
    # (as lme4 does) the later of two collinear columns is the one dropped
    R = np.linalg.qr(X, mode="r")
    d = np.abs(np.diag(R))
    scale = np.linalg.norm(X, axis=0)
    keep = d > tol * np.maximum(scale, np.finfo(float).tiny)
    return np.flatnonzero(keep)


def drop_dependent_columns(blocks: DesignBlocks) -> tuple[DesignBlocks, list[str]]:
    """Drop linearly dependent fixed-effects columns, warning with their names (as lme4)."""
    keep = full_rank_columns(blocks.X)
    if len(keep) == blocks.X.shape[1]:
        return blocks, []
    dropped = [nm for i, nm in enumerate(blocks.x_names) if i not in set(keep.tolist())]
    warnings.warn(
        f"fixed-effect model matrix is rank deficient: dropping {len(dropped)} column(s) "
        f"{', '.join(repr(d) for d in dropped)}",
        RankDeficiencyWarning,
        stacklevel=3,
    )
    new = replace(
        blocks,
        X=np.ascontiguousarray(blocks.X[:, keep]),
        x_names=[blocks.x_names[i] for i in keep],
    )
    return new, dropped


#: the dense part of the factor (every grouping factor but the largest) is kept under this
MAX_DENSE_COLUMNS = 12_000


def check_estimable(blocks: DesignBlocks) -> None:
    """Raise :class:`EstimationError` for models that cannot be estimated."""
    n = blocks.nobs
    if not blocks.random:
        raise EstimationError(
            "the formula has no random-effects term such as '(1 | group)'; "
            "a linear mixed model needs at least one"
        )
    y = blocks.y
    if y is None:
        raise EstimationError("the formula has no response")
    if np.ptp(y) == 0:
        raise EstimationError(
            f"the response {blocks.y_name!r} has no variance (all values {y[0]!r})"
        )
    for blk in blocks.random:
        if blk.nlevels >= n:
            raise EstimationError(
                f"grouping factor {blk.group!r} has {blk.nlevels} levels for {n} observations: "
                "every level has a single row, so its variance cannot be told apart from the "
                "residual variance (the number of levels must be < the number of observations)"
            )
    sizes = sorted((blk.nlevels * blk.ncols for blk in blocks.random), reverse=True)
    dense = sum(sizes[1:])
    if dense > MAX_DENSE_COLUMNS:
        raise EstimationError(
            f"the random effects of every grouping factor but the largest ({dense} columns) "
            f"are factored as a dense matrix, which is limited to {MAX_DENSE_COLUMNS} columns "
            f"(about {MAX_DENSE_COLUMNS**2 * 8 / 1e9:.1f} GB); this model has several large "
            "crossed factors, which needs a sparse Cholesky factorization (not implemented)"
        )
    if blocks.X.shape[1] >= n:
        raise EstimationError(
            f"{blocks.X.shape[1]} fixed-effects columns for {n} observations: nothing left to "
            "estimate the variance"
        )
    beta, *_ = np.linalg.lstsq(blocks.X, y, rcond=None)
    r = y - blocks.X @ beta
    if np.dot(r, r) <= 1e-20 * max(np.dot(y, y), 1e-300):
        raise EstimationError(
            f"the fixed effects reproduce the response {blocks.y_name!r} exactly: no residual "
            "variance to estimate"
        )
