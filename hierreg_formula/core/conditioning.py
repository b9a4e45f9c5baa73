"""Centring and scaling before the cross-products, and the map back.

The cross-products ``[X Z y]'[X Z y]`` lose the residual sum of squares to
cancellation when ``y`` (or a column) has a large mean against its spread
(``y + 1e8`` on data with SD 2 leaves no correct digit), overflow for values
near ``1e200`` and underflow near ``1e-200``.  A linear mixed model is
invariant under the reparametrisations used here, so the core fits the
conditioned problem and maps the estimates back exactly:

- ``y -> (y - c) / s``: when ``X`` has a constant column (the intercept absorbs
  ``c``); ``s`` is the (weighted) RMS of ``y - c``.  ``beta``, ``b`` and
  ``sigma`` scale by ``s``; the deviance shifts by ``(n or n - p) log s^2``.
- ``X -> X H`` with ``H = (I - a m') D^{-1}``: non-constant columns centred by
  their means ``m`` (only when there is a constant column, ``a`` picks it) and
  every column scaled to unit RMS (``D``).  ``beta = s H beta_s (+ c a)``; the
  REML criterion shifts by ``2 sum log D``.
- each term's columns ``Xz -> Xz G`` with ``G = A D_z^{-1}``: a term with an
  intercept column and other columns (a correlated term ``(x | g)``) has the
  others centred (``A``), and every column is scaled to unit RMS.  Then
  ``b = s G b_s`` and the relative covariance factor is the lower-triangular
  ``T`` with ``T T' = (G T_s)(G T_s)'``, so ``(x + 1e6 | g)`` finds the same
  optimum as ``(x | g)``.

A row outside every level (code ``-1``, zero columns) stays zero: each map is
linear in the term's columns.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.structure import TermArrays
>>> X = np.column_stack([np.ones(4), [1.0, 2.0, 3.0, 4.0]])
>>> t = TermArrays(np.array([0, 0, 1, 1]), 2, X)
>>> cond = condition(X, 1e8 + np.array([1.0, 3.0, 2.0, 5.0]), [t])
>>> Xs, ys, ts = cond.apply(X, 1e8 + np.array([1.0, 3.0, 2.0, 5.0]), [t])
>>> round(float(ys.mean()), 12), Xs[:, 1].round(3).tolist()
(0.0, [-1.342, -0.447, 0.447, 1.342])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from .structure import TermArrays


def _rms(values: np.ndarray, w: np.ndarray | None, wsum: float) -> np.ndarray:
    """Root mean square of each column (weighted), 1 where it is 0 or not finite."""
    if values.ndim == 1:
        values = values[:, None]
    if w is None:
        ss = np.einsum("ij,ij->j", values, values)  # no n x p temporary
    else:
        ss = np.einsum("i,ij,ij->j", w, values, values)
    r = np.sqrt(ss / wsum)
    return np.where(np.isfinite(r) & (r > 0), r, 1.0)


def _tall_few(values: np.ndarray) -> bool:
    """A row-major array of many rows and few columns (where numpy's reductions and
    broadcasts over rows are slow; small arrays are faster in one call)."""
    return (
        values.ndim == 2
        and values.shape[1] <= 16
        and values.shape[0] >= 2048
        and not values.flags.f_contiguous
    )


def _by_column(reduce, values: np.ndarray) -> np.ndarray:
    """``reduce(values, axis=0)`` for a 2-d array; a tall row-major array with few columns
    column by column (numpy reduces it over rows in length-``p`` inner loops, 50-80 times
    slower than one strided pass per column: milliseconds for 100,000 x 2)."""
    if _tall_few(values):
        return np.array([reduce(values[:, j]) for j in range(values.shape[1])])
    return reduce(values, axis=0)


def _affine(
    values: np.ndarray, shift: np.ndarray | float, scale: np.ndarray, inplace: bool = False
) -> np.ndarray:
    """``(values - shift) / scale`` per column, row-major, into a new array or in place (a
    float array) (column by column for few columns, as :func:`_by_column`)."""
    values = np.asarray(values, dtype=float)
    shift = np.broadcast_to(np.asarray(shift, dtype=float), scale.shape)
    out = values if inplace else np.empty(values.shape)
    if _tall_few(values):
        for j in range(values.shape[1]):
            np.subtract(values[:, j], shift[j], out=out[:, j])
            out[:, j] /= scale[j]
        return out
    np.subtract(values, shift[None, :], out=out)
    out /= scale[None, :]
    return out


def _wmean(values: np.ndarray, w: np.ndarray | None, wsum: float) -> np.ndarray:
    return (_by_column(np.sum, values) if w is None else w @ values) / wsum


def _safe_scale(values: np.ndarray) -> np.ndarray:
    """Per column (or for a 1-d array), a power of two near the largest magnitude, so that
    squares neither overflow nor underflow (1 for an all-zero column)."""
    if values.size == 0:
        return np.ones(values.shape[1:]) if values.ndim > 1 else np.ones(())
    big = np.maximum(_by_column(np.max, values), -_by_column(np.min, values))  # no |values| copy
    ok = np.isfinite(big) & (big > 0)
    return np.where(ok, 2.0 ** np.round(np.log2(np.where(ok, big, 1.0))), 1.0)


def constant_column(X: np.ndarray) -> int | None:
    """Index of the first column of ``X`` that is constant and non-zero, if any."""
    if X.shape[0] == 0:
        return None
    first = X[0]
    if _tall_few(X):  # column by column (see _by_column)
        same = np.array([bool(np.all(X[:, j] == first[j])) for j in range(X.shape[1])], bool)
    else:
        same = np.all(X == first, axis=0)
    same &= first != 0
    idx = np.flatnonzero(same)
    return int(idx[0]) if len(idx) else None


def lower_factor(M: np.ndarray) -> np.ndarray:
    """The lower-triangular ``T`` with non-negative diagonal and ``T T' = M M'`` (via QR).

    >>> lower_factor(np.array([[0.0, 1.0], [1.0, 0.0]])).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    k = M.shape[0]
    if k == 1:
        return np.abs(M[:, :1])
    R = np.linalg.qr(M.T, mode="r")
    T = R.T[:, :k] if R.shape[0] >= k else np.pad(R.T, ((0, 0), (0, k - R.shape[0])))
    signs = np.where(np.diag(T) < 0, -1.0, 1.0)
    return np.tril(T * signs[None, :]) + 0.0  # no negative zeros


@dataclass(frozen=True)
class Conditioning:
    """The affine maps applied to ``y``, ``X`` and each term (see the module docstring).

    Attributes
    ----------
    y_shift, y_scale:
        ``c`` and ``s``: the core sees ``(y - c) / s``.
    x_map:
        ``(p, p)`` matrix ``H``: the core sees ``X H``.
    x_center, x_scale:
        ``X H = (X - 1 x_center') / x_scale`` (the map applied in ``O(n p)``).
    x_shift:
        ``(p,)`` vector ``c a`` added to the mapped-back ``beta``.
    logdet_x:
        ``-2 log |det H|`` (the REML criterion's shift).
    z_maps:
        Per term, the ``(k, k)`` matrix ``G``: the core sees ``Xz G``.
    z_diagonal:
        Per term, whether ``G`` is diagonal (no centring: ``T = G T_s`` directly).
    """

    y_shift: float
    y_scale: float
    x_map: np.ndarray
    x_shift: np.ndarray
    logdet_x: float
    x_center: np.ndarray
    x_scale: np.ndarray
    z_maps: tuple[np.ndarray, ...]
    z_diagonal: tuple[bool, ...]

    # ------------------------------------------------------------- forward
    def apply(
        self, X: np.ndarray, y: np.ndarray | None, terms: Sequence[TermArrays]
    ) -> tuple[np.ndarray, np.ndarray | None, list[TermArrays]]:
        """The conditioned ``X``, ``y`` and terms (``X`` columns shared with a term stay shared)."""
        # X H = (X - 1 m') / d: O(n p), not a product with the p x p map
        Xs = _affine(X, self.x_center, self.x_scale)
        ys = None if y is None else (np.asarray(y, dtype=float) - self.y_shift) / self.y_scale
        out = []
        for t, G, diag in zip(terms, self.z_maps, self.z_diagonal, strict=True):
            if t.Xz is X and np.array_equal(G, self.x_map):
                Xz = Xs
            elif diag:
                Xz = _affine(t.Xz, 0.0, 1.0 / np.diag(G))
            else:
                Xz = np.ascontiguousarray(t.Xz @ G)
            out.append(replace(t, Xz=Xz))
        return Xs, ys, out

    def factor_to_conditioned(self, i: int, T: np.ndarray) -> np.ndarray:
        """``T_s`` of term ``i`` from its factor ``T`` in the data's units."""
        G = self.z_maps[i]
        if self.z_diagonal[i]:
            return np.asarray(T, dtype=float) / np.diag(G)[:, None]
        return lower_factor(np.linalg.solve(G, T))

    # ------------------------------------------------------------ backward
    def factor_from_conditioned(self, i: int, Ts: np.ndarray) -> np.ndarray:
        """``T`` of term ``i`` in the data's units from the conditioned ``T_s``."""
        G = self.z_maps[i]
        if self.z_diagonal[i]:
            return np.diag(G)[:, None] * np.asarray(Ts, dtype=float)
        return lower_factor(G @ Ts)

    def beta(self, beta_s: np.ndarray) -> np.ndarray:
        return self.y_scale * (self.x_map @ beta_s) + self.x_shift

    def cov_beta(self, cov_s: np.ndarray) -> np.ndarray:
        """Covariance of ``beta`` (entries beyond the float range become inf)."""
        return cov_of_map(self.x_map, cov_s, self.y_scale)

    def bse(self, cov_s: np.ndarray) -> np.ndarray:
        """Standard errors of ``beta``, computed without squaring huge or tiny numbers."""
        return sd_of_map(self.x_map, cov_s, self.y_scale)

    def b(self, i: int, b_s: np.ndarray) -> np.ndarray:
        """``(L, k)`` random effects of term ``i`` in the data's units."""
        return self.y_scale * (b_s @ self.z_maps[i].T)

    def cond_cov(self, i: int, c_s: np.ndarray) -> np.ndarray:
        """``(L, k, k)`` conditional covariances of term ``i`` in the data's units."""
        return cov_of_map(self.z_maps[i], c_s, self.y_scale)

    def cond_sd(self, i: int, c_s: np.ndarray) -> np.ndarray:
        """``(L, k)`` conditional SDs of term ``i`` (no squares of huge or tiny numbers)."""
        return sd_of_map(self.z_maps[i], c_s, self.y_scale)


def _row_split(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``M = diag(e) Mn`` with ``e`` powers of two near each row's largest magnitude."""
    big = np.max(np.abs(M), axis=1) if M.size else np.ones(M.shape[0])
    ok = np.isfinite(big) & (big > 0)
    e = np.where(ok, 2.0 ** np.round(np.log2(np.where(ok, big, 1.0))), 1.0)
    return e, M / e[:, None]


def cov_of_map(M: np.ndarray, C: np.ndarray, s: float) -> np.ndarray:
    """``s^2 M C M'`` (``C`` one ``(k, k)`` matrix or a stack) without intermediate overflow.

    Only entries that are themselves beyond the float range become inf.

    >>> cov_of_map(np.array([[2.0**600]]), np.array([[4.0]]), 2.0**-200).tolist() == [[2.0**802]]
    True
    """
    e, Mn = _row_split(M)
    q = Mn @ C @ Mn.T  # matrix products (a 3-operand einsum here would be O(p^4))
    f = abs(s) * e
    with np.errstate(over="ignore", invalid="ignore"):
        out = q * f[:, None] * f[None, :]
    return np.where(q == 0, 0.0, out)


def sd_of_map(M: np.ndarray, C: np.ndarray, s: float) -> np.ndarray:
    """``s * sqrt(diag(M C M'))`` (``C`` one ``(k, k)`` matrix or a stack), overflow-safe.

    >>> sd_of_map(np.array([[1e200, 0.0], [0.0, 1e-200]]), np.eye(2), 1e100).tolist()
    [1e+300, 1e-100]
    """
    e, Mn = _row_split(M)
    q = np.sum((Mn @ C) * Mn, axis=-1)  # diag(Mn C Mn'), one matrix product
    with np.errstate(over="ignore"):
        return (abs(s) * e) * np.sqrt(np.maximum(q, 0.0))


def condition(
    X: np.ndarray,
    y: np.ndarray | None,
    terms: Sequence[TermArrays],
    weights: np.ndarray | None = None,
    center_y: bool = True,
) -> Conditioning:
    """The conditioning maps for these arrays (see the module docstring).

    Parameters
    ----------
    X, y, terms:
        Fixed-effects matrix, response (or ``None``) and random terms.
    weights:
        Prior weights: means and RMS are weighted.
    center_y:
        Shift ``y`` by its mean when ``X`` has a constant column (``False`` for
        GLMMs, whose response must keep its values).
    """
    X = np.asarray(X, dtype=float)
    n, p = X.shape
    w = None if weights is None else np.asarray(weights, dtype=float)
    wsum = float(n if w is None else w.sum()) or 1.0
    const = constant_column(X)
    # X: centre the non-constant columns when there is a constant one, then unit RMS
    pre = _safe_scale(X)  # per column: keeps the squares of huge/tiny columns finite
    Xc = _affine(X, 0.0, pre)  # one n x p temporary
    m = np.zeros(p)
    if const is not None:
        m = _wmean(Xc, w, wsum)
        m[const] = 0.0
        Xc = _affine(Xc, m, np.ones(p), inplace=True)
    d = _rms(Xc, w, wsum) * pre
    del Xc
    a = np.zeros(p)
    if const is not None:
        a[const] = 1.0 / X[0, const]
    H = (np.eye(p) - np.outer(a, m * pre)) / d[None, :]
    logdet_x = float(2.0 * np.sum(np.log(d)))
    # y: centre (if an intercept can absorb it), then unit RMS
    c, s = 0.0, 1.0
    if y is not None:
        yv = np.asarray(y, dtype=float)
        ypre = float(_safe_scale(yv))
        yp = yv / ypre
        if center_y and const is not None:
            c = float(_wmean(yp, w, wsum)) * ypre
            yp = yp - c / ypre
        s = float(_rms(yp[:, None], w, wsum)[0]) * ypre
    # terms: centre the other columns of a term with an intercept column, then unit RMS
    maps, diag = [], []
    for t in terms:
        k = t.k
        if t.Xz is X:
            maps.append(H.copy())
            diag.append(bool(np.all(H == np.diag(np.diag(H)))))
            continue
        Xz = np.asarray(t.Xz, dtype=float)
        zpre = _safe_scale(Xz)
        Zp = _affine(Xz, 0.0, zpre)
        assigned = Zp if t.assigned is None else Zp[t.assigned]
        ic = constant_column(assigned) if k > 1 else None
        A = np.eye(k)
        if ic is not None:  # centre the other columns by the intercept column
            mz = _wmean(Zp, w, wsum) / assigned[0, ic]
            mz[ic] = 0.0
            A = A - np.outer(np.eye(k)[ic], mz)
            Zp = Zp @ A
        dz = _rms(Zp, w, wsum)
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
