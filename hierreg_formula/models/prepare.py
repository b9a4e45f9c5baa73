"""The boundary between design blocks and the numeric core.

:func:`prepare` is the one step every estimator (REML/ML, the regularized mode,
the scikit-learn estimators) takes from :class:`~hierreg_formula.formula.DesignBlocks`
to the arrays the core works on:

- the random blocks are put in lme4's term order (decreasing number of levels
  when the formula's order is not already so; see :func:`lme4_term_order`),
  together with the recipe that rebuilds them on new data, so the fit, its
  ``theta``, ``varcorr()`` and predictions on new data all share one order and
  the core never permutes anything;
- linearly dependent fixed-effects columns are dropped, later ones first, with a
  :class:`~hierreg_formula.RankDeficiencyWarning` naming them (as lme4 does);
- rows in no level of a term (code ``-1``, e.g. a missing group in the
  scikit-learn estimator) get zero random-effects columns in that term;
- prior weights and an offset are checked (finite, weights positive).

Example
-------
>>> import hierreg_formula as hierreg
>>> from hierreg_formula.formula import build_design
>>> blocks = build_design("strength ~ 1 + (1 | batch/cask)", hierreg.load_dataset("Pastes"))
>>> [b.group for b in blocks.random]
['batch', 'batch:cask']
>>> pm = prepare(blocks)
>>> [b.group for b in pm.blocks.random], [t.nlevels for t in pm.terms]
(['batch:cask', 'batch'], [30, 10])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..core.conditioning import condition
from ..core.structure import TermArrays
from ..exceptions import DataError, EstimationError, RankDeficiencyWarning, warn
from ..formula.blocks import DesignBlocks

#: relative tolerance on the diagonal of R in the QR rank check (lme4's rankMatrix default)
RANK_TOL = 1e-7


def lme4_term_order(nlevels: Sequence[int]) -> list[int]:
    """lme4's order of the random terms: the formula's order when the numbers of levels
    do not increase along it, otherwise decreasing number of levels (ties in reverse
    formula order, as lme4's reordering gives).

    >>> lme4_term_order([10, 30]), lme4_term_order([30, 10, 10]), lme4_term_order([5, 10, 10])
    ([1, 0], [0, 1, 2], [2, 1, 0])
    """
    nl = list(nlevels)
    if all(b <= a for a, b in zip(nl, nl[1:], strict=False)):
        return list(range(len(nl)))
    ascending = sorted(range(len(nl)), key=lambda i: nl[i])  # stable
    return ascending[::-1]


def _conditioned_x(X: np.ndarray) -> np.ndarray:
    """``X`` as the core conditions it (non-constant columns centred when there is an
    intercept, every column at unit RMS): its Gram is scale-free and is the core's
    ``X'X`` (:mod:`hierreg_formula.core.conditioning`)."""
    cond = condition(X, None, [])
    return cond.apply(X, None, [])[0]


def gram_rank(Xs: np.ndarray, gram: np.ndarray, tol: float = RANK_TOL) -> np.ndarray:
    """Indices of a maximal set of independent columns, from the Gram matrix when it is
    clearly non-singular (no small pivot), else by an unpivoted QR of ``Xs`` (as lme4,
    the later of two collinear columns is dropped)."""
    p = Xs.shape[1]
    zero = np.diag(gram) == 0
    if not zero.any():
        try:  # fast path: no small pivot in the Gram's Cholesky factor means full rank
            piv = np.diag(np.linalg.cholesky(gram)) ** 2
            if np.all(piv > 1e-8 * np.diag(gram)):
                return np.arange(p)
        except np.linalg.LinAlgError:
            pass
    R = np.linalg.qr(Xs, mode="r")
    d = np.abs(np.diag(R))
    scale = np.linalg.norm(Xs, axis=0)
    keep = (d > tol * np.maximum(scale[: len(d)], np.finfo(float).tiny)) & ~zero[: len(d)]
    return np.flatnonzero(keep)


def full_rank_columns(X: np.ndarray, tol: float = RANK_TOL) -> np.ndarray:
    """Indices (sorted) of a maximal set of linearly independent columns of ``X``.

    Scale-free: the columns are conditioned first (a column of ``1e200`` or
    ``1e-200`` values is not mistaken for a dependent one).  As in lme4, of two
    collinear columns the later one is dropped.

    >>> X = np.column_stack([np.ones(4), np.arange(4.0), 2 * np.arange(4.0)])
    >>> full_rank_columns(X).tolist()
    [0, 1]
    """
    if X.shape[1] == 0:
        return np.arange(0)
    Xs = _conditioned_x(np.asarray(X, dtype=float))
    return gram_rank(Xs, Xs.T @ Xs, tol)


def _zeroed_term(codes: np.ndarray, nlevels: int, Xz: np.ndarray) -> TermArrays:
    """The core's view of one term; rows with code -1 get zero columns, code 0 and
    ``assigned`` False."""
    codes = np.asarray(codes, dtype=np.int64)
    bad = codes < 0
    Xz = np.where(bad[:, None], 0.0, Xz)
    codes = np.where(bad, 0, codes)
    return TermArrays(
        np.ascontiguousarray(codes), nlevels, np.ascontiguousarray(Xz, dtype=float), ~bad
    )


def _as_weights(
    weights: np.ndarray | None, n: int, what: str, positive: bool, zero: bool = False
) -> np.ndarray | None:
    if weights is None:
        return None
    w = np.asarray(weights, dtype=float).reshape(-1)
    if len(w) != n:
        raise DataError(f"{what} has {len(w)} values for {n} rows")
    if not np.isfinite(w).all():
        raise DataError(f"{what} has non-finite values (NaN or inf)")
    if positive and (w <= 0).any():
        raise DataError(
            f"{what} must be positive; {int((w <= 0).sum())} value(s) are <= 0 "
            "(drop those rows: a zero weight carries no information)"
        )
    if zero and (w < 0).any():
        raise DataError(f"{what} must be >= 0; {int((w < 0).sum())} value(s) are negative")
    return w


@dataclass(frozen=True)
class PreparedModel:
    """Design blocks and core arrays, in lme4's term order.

    Attributes
    ----------
    blocks:
        The blocks to report results on: ``X`` reduced to the kept columns, random
        blocks (and ``blocks.spec``'s recipe) in lme4's order.
    X, y:
        The core's fixed-effects matrix (full rank) and response (``None`` without one).
    terms:
        One :class:`~hierreg_formula.core.structure.TermArrays` per random block,
        same order; rows in no level have zero columns.
    weights, offset:
        Prior weights and offset (``None`` when not given).
    dropped_columns:
        Names of the fixed-effects columns dropped as linearly dependent.
    term_order:
        ``term_order[i]`` is the position in the formula of the ``i``-th block.
    x_gram:
        ``X_s'X_s`` of ``X`` as the core conditions it (unweighted), computed for the
        rank check and reused by the core (``None`` when not computed).
    """

    blocks: DesignBlocks
    X: np.ndarray
    y: np.ndarray | None
    terms: tuple[TermArrays, ...]
    weights: np.ndarray | None
    offset: np.ndarray | None
    dropped_columns: tuple[str, ...]
    term_order: tuple[int, ...]
    x_gram: np.ndarray | None = None

    @property
    def nobs(self) -> int:
        return self.X.shape[0]

    @property
    def groups(self) -> list[str]:
        """The grouping factor of every term."""
        return [blk.group for blk in self.blocks.random]


def prepare(
    blocks: DesignBlocks,
    *,
    weights: np.ndarray | None = None,
    offset: np.ndarray | None = None,
    drop_dependent: bool = True,
    zero_weights: bool = False,
) -> PreparedModel:
    """Turn design blocks into what the numeric core needs (see the module docstring).

    Parameters
    ----------
    blocks:
        From :func:`~hierreg_formula.formula.build_design` or built from arrays.
    weights, offset:
        Prior weights (positive) and offset, one value per row; the offset adds to
        the formula's own ``offset()`` terms (``blocks.offset``).
    drop_dependent:
        Drop linearly dependent fixed-effects columns (with a warning).
    zero_weights:
        Accept prior weights of 0 (GLMMs: binomial rows with no trials carry no
        information, as in R); a linear mixed model needs positive weights.
    """
    order = lme4_term_order([blk.nlevels for blk in blocks.random])
    if order != list(range(len(order))):
        random = [blocks.random[i] for i in order]
        spec = None if blocks.spec is None else blocks.spec.reordered(order)
        blocks = replace(blocks, random=random, spec=spec)
    dropped: list[str] = []
    gram = None
    if drop_dependent and blocks.X.shape[1]:
        Xs = _conditioned_x(blocks.X)
        gram = Xs.T @ Xs  # the one X'X: the core reuses it (unweighted fits)
        keep = gram_rank(Xs, gram)
        gram = gram[np.ix_(keep, keep)]
        if len(keep) < blocks.X.shape[1]:
            kept = set(keep.tolist())
            dropped = [nm for i, nm in enumerate(blocks.x_names) if i not in kept]
            warn(
                f"fixed-effect model matrix is rank deficient: dropping {len(dropped)} "
                f"column(s) {', '.join(repr(d) for d in dropped)}",
                RankDeficiencyWarning,
            )
            # the random terms keep their columns (lme4 reduces only the fixed part)
            blocks = replace(
                blocks,
                X=np.ascontiguousarray(blocks.X[:, keep]),
                x_names=[blocks.x_names[i] for i in keep],
            )
    n = blocks.nobs
    if blocks.offset is not None:
        offset = blocks.offset if offset is None else blocks.offset + np.asarray(offset, float)
    terms = []
    for blk in blocks.random:
        if len(blk.codes) and blk.codes.min() < 0:
            terms.append(_zeroed_term(blk.codes, blk.nlevels, blk.X))
        else:  # no copy: the core may reuse X'Z when a term's columns are X's
            terms.append(TermArrays(blk.codes, blk.nlevels, blk.X))
    return PreparedModel(
        blocks=blocks,
        X=blocks.X,
        y=blocks.y,
        terms=tuple(terms),
        weights=_as_weights(weights, n, "weights", positive=not zero_weights, zero=zero_weights),
        offset=_as_weights(offset, n, "offset", positive=False),
        dropped_columns=tuple(dropped),
        term_order=tuple(order),
        x_gram=gram,
    )


#: the dense part of the factor (every grouping factor but the largest) is kept under this
MAX_DENSE_COLUMNS = 12_000


def check_mixed_model(pm: PreparedModel) -> None:
    """Raise :class:`~hierreg_formula.EstimationError` for a linear mixed model that
    cannot be estimated from these data (used by REML/ML and ``alpha="reml"``)."""
    blocks = pm.blocks
    n = pm.nobs
    if not pm.terms:
        raise EstimationError(
            "the formula has no random-effects term such as '(1 | group)'; "
            "a linear mixed model needs at least one (fit a model without random effects "
            "with statsmodels' ols; hierreg.anova(ols_result, mixed_result) compares them)"
        )
    if pm.y is None:
        raise EstimationError("the formula has no response")
    y = pm.y if pm.offset is None else pm.y - pm.offset
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
    sizes = sorted((t.q for t in pm.terms), reverse=True)
    dense = sum(sizes[1:])
    if dense > MAX_DENSE_COLUMNS:
        raise EstimationError(
            f"the random effects of every grouping factor but the largest ({dense} columns) "
            f"are factored as a dense matrix, which is limited to {MAX_DENSE_COLUMNS} columns "
            f"(about {MAX_DENSE_COLUMNS**2 * 8 / 1e9:.1f} GB); this model has several large "
            "crossed factors, which needs a sparse Cholesky factorization (not implemented)"
        )
    if pm.X.shape[1] >= n:
        raise EstimationError(
            f"{pm.X.shape[1]} fixed-effects columns for {n} observations: nothing left to "
            "estimate the variance"
        )
