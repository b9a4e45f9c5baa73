"""Mergeable column moments, and the conditioning and rank check computed from them.

The core conditions ``y``, ``X`` and each term's columns before the
cross-products (:mod:`hierreg_formula.core.conditioning`) with maps computed from
column means, centred sums of squares, largest magnitudes and constant columns.
:class:`ColumnMoments` holds exactly these for one chunk of rows and merges two
chunks without loss of accuracy:

- values are stored divided by a power of two near each column's largest
  magnitude (as the core's ``_safe_scale``), so squares of ``1e200`` or
  ``1e-200`` stay finite; merging rescales to the larger power, which is exact;
- centred (co-)moments merge by the pairwise update of Chan, Golub & LeVeque
  (1979, "Updating formulae and a pairwise algorithm for computing sample
  variances"): ``M = M_a + M_b + d d' n_a n_b / n`` with ``d`` the difference of
  the chunk means, so ``x + 1e8`` keeps its spread (a sum of squares would not);
- the means are of ``x - shift`` for a shift common to all chunks (a value of the
  column, e.g. from its first row): the chunk means then carry rounding errors
  relative to the spread, not to the mean, and ``d`` stays accurate.

:func:`condition_from_moments` then builds the same
:class:`~hierreg_formula.core.conditioning.Conditioning` as
:func:`~hierreg_formula.core.conditioning.condition` on the full arrays (equal up
to the rounding of the sums), and :func:`full_rank_from_moments` makes the rank
decision of :func:`~hierreg_formula.models.prepare.full_rank_columns`.

Example
-------
>>> import numpy as np
>>> x = np.column_stack([np.ones(6), 1e8 + np.arange(6.0)])
>>> m = ColumnMoments.of(x[:2], shift=x[0]) + ColumnMoments.of(x[2:], shift=x[0])
>>> float(m.mean_values()[1]), float(m.centered()[1, 1])
(100000002.5, 17.5)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.conditioning import Conditioning


def power_scale(maxabs: np.ndarray) -> np.ndarray:
    """A power of two near each largest magnitude (1 for 0 or non-finite), as the core's."""
    ok = np.isfinite(maxabs) & (maxabs > 0)
    return np.where(ok, 2.0 ** np.round(np.log2(np.where(ok, maxabs, 1.0))), 1.0)


@dataclass(frozen=True, eq=False)
class ColumnMoments:
    """Moments of the ``m`` columns of one chunk of rows (mergeable with ``+``).

    Attributes
    ----------
    n:
        Rows.
    wsum:
        Sum of the row weights (``n`` unweighted).
    maxabs, lo, hi:
        ``(m,)`` largest magnitude, smallest and largest value of each column.
    scale:
        ``(m,)`` the power of two (:func:`power_scale` of ``maxabs``) the moments below
        are expressed in.
    shift:
        ``(m,)`` the shift (data's units) of the means.
    mean:
        ``(m,)`` weighted mean of ``(column - shift) / scale``.
    comoment:
        ``(m, m)`` centred weighted cross-products of ``column / scale``.
    """

    n: int
    wsum: float
    maxabs: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    scale: np.ndarray
    shift: np.ndarray
    mean: np.ndarray
    comoment: np.ndarray

    @classmethod
    def of(
        cls,
        A: np.ndarray,
        weights: np.ndarray | None = None,
        shift: np.ndarray | float | None = None,
    ) -> ColumnMoments:
        """The moments of the columns of ``A`` (``(n, m)``; a 1-d array is one column),
        means about ``shift``: a value near the data, the same for every chunk (default:
        the chunk's first row, exact but less so when merged with other shifts)."""
        A = np.asarray(A, dtype=float)
        if A.ndim == 1:
            A = A[:, None]
        n, m = A.shape
        if shift is None:
            shift = A[0] if n else np.zeros(m)
        shift = np.broadcast_to(np.asarray(shift, dtype=float), (m,))
        if n == 0:
            return cls.empty(m, shift)
        T = np.array(A.T, order="C")  # columns contiguous: fast per-column reductions
        lo, hi = T.min(axis=1), T.max(axis=1)
        maxabs = np.maximum(np.abs(lo), np.abs(hi))
        scale = power_scale(maxabs)
        T -= shift[:, None]
        T *= (1.0 / scale)[:, None]  # powers of two: exact
        if weights is None:
            wsum = float(n)
            mean = T.sum(axis=1) / wsum
            gram = T @ T.T
        else:
            w = np.asarray(weights, dtype=float)
            wsum = float(w.sum())
            mean = (T @ w) / wsum
            gram = (T * w) @ T.T
        # about the shift, the mean is of the order of the spread: little cancellation
        com = gram - wsum * np.outer(mean, mean)
        return cls(n, wsum, maxabs, lo, hi, scale, np.array(shift, dtype=float), mean, com)

    @classmethod
    def empty(cls, m: int, shift: np.ndarray | None = None) -> ColumnMoments:
        """The moments of no rows (the identity of ``+``)."""
        z = np.zeros(m)
        sh = z if shift is None else np.array(shift, dtype=float)
        inf = np.full(m, np.inf)
        return cls(0, 0.0, z, inf, -inf, np.ones(m), sh, z, np.zeros((m, m)))

    @property
    def width(self) -> int:
        return len(self.maxabs)

    def __add__(self, other: ColumnMoments) -> ColumnMoments:
        if not isinstance(other, ColumnMoments):
            return NotImplemented
        if self.width != other.width:
            raise ValueError(f"moments of {self.width} and {other.width} columns")
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        maxabs = np.maximum(self.maxabs, other.maxabs)
        scale = power_scale(maxabs)
        fa, fb = self.scale / scale, other.scale / scale  # powers of two: exact
        ma, mb = self.mean * fa, other.mean * fb
        if not np.array_equal(self.shift, other.shift):  # about self's shift (less exact)
            mb = mb + (other.shift - self.shift) / scale
        wa, wb = self.wsum, other.wsum
        wsum = wa + wb
        delta = mb - ma
        mean = ma + delta * (wb / wsum)
        com = (
            self.comoment * np.outer(fa, fa)
            + other.comoment * np.outer(fb, fb)
            + np.outer(delta, delta) * (wa * wb / wsum)
        )
        return ColumnMoments(
            self.n + other.n,
            wsum,
            maxabs,
            np.minimum(self.lo, other.lo),
            np.maximum(self.hi, other.hi),
            scale,
            self.shift,
            mean,
            com,
        )

    def subset(self, cols: Sequence[int] | np.ndarray) -> ColumnMoments:
        """The moments of some of the columns."""
        c = np.asarray(cols, dtype=np.int64)
        return ColumnMoments(
            self.n,
            self.wsum,
            self.maxabs[c],
            self.lo[c],
            self.hi[c],
            self.scale[c],
            self.shift[c],
            self.mean[c],
            self.comoment[np.ix_(c, c)],
        )

    # ------------------------------------------------------------ read-outs
    def mean_values(self) -> np.ndarray:
        """Column means in the data's units."""
        return self.shift + self.mean * self.scale

    def scaled_mean(self) -> np.ndarray:
        """Means of ``column / scale``."""
        return self.shift / self.scale + self.mean

    def centered(self) -> np.ndarray:
        """Centred cross-products in the data's units (may overflow for huge columns)."""
        with np.errstate(over="ignore"):
            return self.comoment * np.outer(self.scale, self.scale)

    def constant(self) -> np.ndarray:
        """Columns whose values are all equal and non-zero."""
        return (self.n > 0) & (self.lo == self.hi) & (self.lo != 0)

    def first_constant(self) -> int | None:
        """Index of the first constant non-zero column (the core's ``constant_column``)."""
        idx = np.flatnonzero(self.constant())
        return int(idx[0]) if len(idx) else None


def _rms_from(ms: np.ndarray, wsum: float) -> np.ndarray:
    """The core's ``_rms`` from a mean square: 1 where it is 0 or not finite."""
    r = np.sqrt(ms / wsum)
    return np.where(np.isfinite(r) & (r > 0), r, 1.0)


def _square_about(mom: ColumnMoments, centre: np.ndarray) -> np.ndarray:
    """``sum w (x / scale - centre)^2`` per column, from the centred moments."""
    d = (mom.shift / mom.scale - centre) + mom.mean
    return np.diagonal(mom.comoment) + mom.wsum * d * d


def condition_from_moments(
    xm: ColumnMoments,
    ym: ColumnMoments | None,
    zms: Sequence[ColumnMoments | None],
    center_y: bool = True,
) -> Conditioning:
    """The core's conditioning maps from the moments of ``X``, ``y`` and every term.

    ``zms[i]`` is ``None`` for a term whose columns are ``X`` itself (it then shares
    the fixed-effects map, as :func:`~hierreg_formula.core.conditioning.condition`
    does for ``t.Xz is X``).  Every row is assumed to belong to a level of every term.

    >>> import numpy as np
    >>> from hierreg_formula.core.conditioning import condition
    >>> from hierreg_formula.core.structure import TermArrays
    >>> rng = np.random.default_rng(1)
    >>> X = np.column_stack([np.ones(9), 1e6 + rng.normal(size=9)]); y = rng.normal(size=9)
    >>> g = TermArrays(np.arange(9) % 3, 3, X)
    >>> ref = condition(X, y, [g])
    >>> c = condition_from_moments(ColumnMoments.of(X, shift=X[0]), ColumnMoments.of(y), [None])
    >>> bool(np.allclose(c.x_map, ref.x_map, rtol=1e-12)), abs(c.y_shift - ref.y_shift) < 1e-15
    (True, True)
    """
    p = xm.width
    wsum = xm.wsum or 1.0
    const = xm.first_constant() if xm.n else None
    pre = xm.scale
    m = np.zeros(p)
    if const is not None:
        m = xm.scaled_mean()
        m[const] = 0.0
    d = _rms_from(_square_about(xm, m), wsum) * pre
    a = np.zeros(p)
    if const is not None:
        a[const] = 1.0 / xm.lo[const]
    H = (np.eye(p) - np.outer(a, m * pre)) / d[None, :]
    logdet_x = float(2.0 * np.sum(np.log(d)))
    c, s = 0.0, 1.0
    if ym is not None:
        ypre = float(ym.scale[0])
        shift = np.zeros(1)
        if center_y and const is not None:
            c = float(ym.scaled_mean()[0]) * ypre
            shift = np.array([c / ypre])
        s = float(_rms_from(_square_about(ym, shift), wsum)[0]) * ypre
    maps, diag = [], []
    for zm in zms:
        if zm is None:
            maps.append(H.copy())
            diag.append(bool(np.all(H == np.diag(np.diag(H)))))
            continue
        k = zm.width
        zpre = zm.scale
        ic = zm.first_constant() if k > 1 else None
        A = np.eye(k)
        shift = np.zeros(k)
        if ic is not None:
            z0 = zm.lo[ic] / zpre[ic]  # the constant column's scaled value (exact)
            mz = zm.scaled_mean() / z0
            mz[ic] = 0.0
            A = A - np.outer(np.eye(k)[ic], mz)
            shift = mz * z0
        dz = _rms_from(_square_about(zm, shift), wsum)
        maps.append((A / zpre[:, None]) / dz[None, :])
        diag.append(ic is None)
    return Conditioning(
        y_shift=c,
        y_scale=s,
        x_map=H,
        x_shift=c * a,
        logdet_x=logdet_x,
        x_center=m * pre,
        x_scale=d,
        z_maps=tuple(maps),
        z_diagonal=tuple(diag),
    )


@dataclass(frozen=True)
class RankNormalization:
    """How :func:`~hierreg_formula.models.prepare.full_rank_columns` normalises ``X``:
    ``Xn = (X / big - shift) / rms`` (``shift`` centres all but the intercept column
    when column 0 is constant)."""

    big: np.ndarray
    shift: np.ndarray
    rms: np.ndarray

    def apply(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=float) / self.big - self.shift) / self.rms


def rank_normalization(xm: ColumnMoments) -> tuple[RankNormalization, np.ndarray]:
    """The normalisation of ``X`` used for the rank check, and the Gram of the normalised
    columns (from the moments: no pass over the rows)."""
    p = xm.width
    big = np.where(np.isfinite(xm.maxabs) & (xm.maxabs > 0), xm.maxabs, 1.0)
    r = xm.scale / big  # X / big = (X / scale) * r
    centre = p > 1 and bool(xm.constant()[0])
    shift = np.zeros(p)
    com = xm.comoment * np.outer(r, r)
    mean_n = xm.scaled_mean() * r
    if centre:
        shift[1:] = mean_n[1:]
        gram = com.copy()
        gram[0, :] = gram[:, 0] = 0.0
        gram[0, 0] = xm.wsum * mean_n[0] ** 2
    else:
        gram = com + xm.wsum * np.outer(mean_n, mean_n)
    rms = np.sqrt(np.diag(gram) / max(xm.n, 1))
    rms = np.where(rms > 0, rms, 1.0)
    gram = gram / np.outer(rms, rms)
    return RankNormalization(big, shift, rms), gram


def gram_is_full_rank(gram: np.ndarray) -> bool:
    """The fast path of ``full_rank_columns``: no small pivot in the Gram's Cholesky factor."""
    if gram.shape[0] == 0:
        return True
    if (np.diag(gram) == 0).any():
        return False
    try:
        piv = np.diag(np.linalg.cholesky(gram)) ** 2
    except np.linalg.LinAlgError:
        return False
    return bool(np.all(piv > 1e-8 * np.diag(gram)))


def kept_from_r(R: np.ndarray, tol: float) -> np.ndarray:
    """``full_rank_columns``' decision from the triangular factor ``R`` of the normalised
    ``X`` (as from a QR of the stacked chunks): column ``j`` is kept when ``|R_jj|`` is
    above ``tol`` times its norm and the column is not zero."""
    p = R.shape[1]
    d = np.abs(np.diag(R))
    if len(d) < p:
        d = np.concatenate([d, np.zeros(p - len(d))])
    scale = np.linalg.norm(R, axis=0)
    zero = scale == 0
    return np.flatnonzero((d > tol * np.maximum(scale, np.finfo(float).tiny)) & ~zero)


def stack_r(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    """The ``R`` factor of two stacked blocks of rows from theirs (a QR of ``[R_a; R_b]``)."""
    if a is None:
        return b
    if b is None:
        return a
    return np.linalg.qr(np.vstack([a, b]), mode="r")
