"""Sufficient statistics of a linear mixed model: the core's cross-products as a sum.

Every cross-product the core needs (:class:`~hierreg_formula.core.structure.CrossProducts`)
is a sum over rows, so the statistics of a data set are the sum of the statistics
of its chunks.  :class:`SufficientStats` holds them for one chunk with the level
bookkeeping that makes the sum well defined: each term stores only the levels it
has seen (sorted global level codes; all of them when it has seen most) and
``a + b`` aligns the two chunks on the union of their levels before adding.  Per level the statistics are the ``k x k``
block ``Z_l'Z_l`` and ``Z_l'[X y]`` of the first (block-diagonal) term; the other
terms keep ``Z_rest'Z_rest`` and ``Z_rest'Z_1`` sparse (their fill-in pairs) and
``Z_rest'[X y]`` densely, all in the chunk's own level coordinates.

:func:`~hierreg_formula.scale.convert.to_cross_products` turns the reduced
statistics into the core's ``CrossProducts``.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.structure import TermArrays
>>> X, y = np.ones((4, 1)), np.array([1.0, 2.0, 3.0, 5.0])
>>> g = np.array([0, 2, 2, 1])
>>> whole = SufficientStats.from_arrays(X, y, [TermArrays(g, 10, X)])
>>> a = SufficientStats.from_arrays(X[:2], y[:2], [TermArrays(g[:2], 10, X[:2])])
>>> b = SufficientStats.from_arrays(X[2:], y[2:], [TermArrays(g[2:], 10, X[2:])])
>>> a.levels[0].tolist(), b.levels[0].tolist(), (a + b).levels[0].tolist()
([0, 2], [1, 2], [0, 1, 2])
>>> np.allclose((a + b).P1, whole.P1), (a + b).n
(True, 4)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..core.structure import TermArrays, cross_products, z_matrix

#: a chunk that has rows in more than this fraction of a term's levels keeps them all
#: (then chunks add without aligning their levels)
DENSE_FRACTION = 0.5


def _local_codes(term: TermArrays) -> tuple[np.ndarray, np.ndarray]:
    """Sorted global codes of the levels a chunk keeps, and each row's local code.

    The levels with rows, or all levels when those are more than
    :data:`DENSE_FRACTION` of them.  Rows outside every level (``assigned`` False:
    zero columns, code 0) get code 0; they add nothing to any cross-product.
    """
    codes = np.asarray(term.codes, dtype=np.int64)
    seen = codes if term.assigned is None else codes[term.assigned]
    if len(seen) and (seen.min() < 0 or seen.max() >= term.nlevels):
        raise ValueError(f"level codes must be in [0, {term.nlevels}) for the rows of a level")
    present = np.bincount(seen, minlength=term.nlevels) > 0  # O(n + L), no sort
    if present.sum() > DENSE_FRACTION * term.nlevels:
        present[:] = True
    levels = np.flatnonzero(present)
    local = np.cumsum(present) - 1
    if term.assigned is not None:
        codes = np.where(term.assigned, codes, levels[0] if len(levels) else 0)
    return levels, np.maximum(local[codes], 0)


def _rest_map(levels: Sequence[np.ndarray], ks: Sequence[int], offsets: np.ndarray) -> np.ndarray:
    """Positions of a chunk's rest columns (level-major per term) in coordinates with
    term ``j`` starting at ``offsets[j]`` and level ``l`` of it at ``l * k_j``."""
    parts = [
        off + lv[:, None] * k + np.arange(k) for lv, k, off in zip(levels, ks, offsets, strict=True)
    ]
    return np.concatenate([p.ravel() for p in parts]).astype(np.int64) if parts else np.zeros(0)


def _remap(M: sp.spmatrix, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]):
    coo = M.tocoo()
    return sp.csr_matrix((coo.data, (rows[coo.row], cols[coo.col])), shape=shape)


@dataclass(frozen=True, eq=False)
class SufficientStats:
    """The cross-products of one chunk of rows (or of several, once added).

    Attributes
    ----------
    n:
        Number of rows.
    p:
        Fixed-effects columns.
    ks:
        Columns of each random-effects term (the first is the block-diagonal one).
    levels:
        Per term, the sorted global codes of the levels with rows in these chunks.
    counts:
        Per term, rows per level of ``levels`` (rows outside every level not counted).
    XYXY:
        ``(p + 1, p + 1)`` ``[X y]'[X y]``.
    D1, P1:
        ``(len(levels[0]), k1, k1)`` blocks ``Z_1'Z_1`` and ``(.., k1, p + 1)`` ``Z_1'[X y]``.
    C, R, RXY:
        ``Z_rest'Z_1`` and ``Z_rest'Z_rest`` (sparse) and ``Z_rest'[X y]`` (dense), rows
        and columns in the levels of ``levels`` (``None``/empty with one term).
    sum_log_weights:
        ``sum log w`` of the prior weights (0 without weights).
    """

    n: int
    p: int
    ks: tuple[int, ...]
    levels: tuple[np.ndarray, ...]
    counts: tuple[np.ndarray, ...]
    XYXY: np.ndarray
    D1: np.ndarray
    P1: np.ndarray
    C: sp.csr_matrix | None
    R: sp.csr_matrix | None
    RXY: np.ndarray
    sum_log_weights: float = 0.0

    # ----------------------------------------------------------- construction
    @classmethod
    def from_arrays(
        cls,
        X: np.ndarray,
        y: np.ndarray,
        terms: Sequence[TermArrays],
        weights: np.ndarray | None = None,
    ) -> SufficientStats:
        """The statistics of the rows ``X``, ``y``, ``terms`` (codes are global level codes).

        The first term's blocks and ``[X y]'[X y]`` come from the core's
        :func:`~hierreg_formula.core.structure.cross_products`; the other terms'
        products are kept sparse.
        """
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        n, p = X.shape
        ks = tuple(t.k for t in terms)
        if n == 0:
            return cls.empty(p, ks)
        local, levels, counts = [], [], []
        for t in terms:
            lv, codes = _local_codes(t)
            L = max(len(lv), 1)  # a chunk with rows but no level: one empty level, sliced off
            local.append(TermArrays(codes, L, t.Xz, t.assigned))
            levels.append(lv)
            cnt = np.bincount(codes if t.assigned is None else codes[t.assigned], minlength=L)
            counts.append(cnt[: len(lv)])
        cp = cross_products(X, y, local[:1], weights=weights)
        L1 = len(levels[0])
        D1, P1 = cp.D1[:L1], cp.P1[:L1]
        C = R = None
        RXY = np.zeros((0, p + 1))
        if len(terms) > 1:
            w = None if weights is None else np.asarray(weights, dtype=float)
            sw = None if w is None else np.sqrt(w)
            Xw = X if sw is None else X * sw[:, None]
            yw = y if sw is None else y * sw
            Z1 = z_matrix(local[0], sw)[:, : L1 * ks[0]]
            blocks, keep = [], []
            for t, lv in zip(local[1:], levels[1:], strict=True):
                blocks.append(z_matrix(t, sw))
                keep.append(np.arange(len(lv) * t.k) + sum(b.shape[1] for b in blocks[:-1]))
            Zr = sp.hstack(blocks, format="csr")[:, np.concatenate(keep)]
            ZrT = Zr.T.tocsr()
            C = (ZrT @ Z1).tocsr()
            R = (ZrT @ Zr).tocsr()
            RXY = np.column_stack([np.asarray(ZrT @ Xw), np.asarray(ZrT @ yw)])
        slw = 0.0 if weights is None else float(np.sum(np.log(np.asarray(weights, dtype=float))))
        return cls(
            n=n,
            p=p,
            ks=ks,
            levels=tuple(levels),
            counts=tuple(c.astype(np.int64) for c in counts),
            XYXY=cp.XYXY,
            D1=np.ascontiguousarray(D1),
            P1=np.ascontiguousarray(P1),
            C=C,
            R=R,
            RXY=RXY,
            sum_log_weights=slw,
        )

    @classmethod
    def empty(cls, p: int, ks: Sequence[int]) -> SufficientStats:
        """The statistics of no rows (the identity of ``+``)."""
        ks = tuple(int(k) for k in ks)
        rest = len(ks) > 1
        return cls(
            n=0,
            p=p,
            ks=ks,
            levels=tuple(np.zeros(0, dtype=np.int64) for _ in ks),
            counts=tuple(np.zeros(0, dtype=np.int64) for _ in ks),
            XYXY=np.zeros((p + 1, p + 1)),
            D1=np.zeros((0, ks[0], ks[0])),
            P1=np.zeros((0, ks[0], p + 1)),
            C=sp.csr_matrix((0, 0)) if rest else None,
            R=sp.csr_matrix((0, 0)) if rest else None,
            RXY=np.zeros((0, p + 1)),
        )

    # ------------------------------------------------------------------ merge
    def _check_compatible(self, other: SufficientStats) -> None:
        if self.p != other.p or self.ks != other.ks:
            raise ValueError(
                f"cannot add statistics of different models (p={self.p}, ks={self.ks} "
                f"against p={other.p}, ks={other.ks})"
            )

    def __add__(self, other: SufficientStats) -> SufficientStats:
        if not isinstance(other, SufficientStats):
            return NotImplemented
        self._check_compatible(other)
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        same = all(
            len(a) == len(b) and np.array_equal(a, b)
            for a, b in zip(self.levels, other.levels, strict=True)
        )
        if same:
            return SufficientStats(
                n=self.n + other.n,
                p=self.p,
                ks=self.ks,
                levels=self.levels,
                counts=tuple(a + b for a, b in zip(self.counts, other.counts, strict=True)),
                XYXY=self.XYXY + other.XYXY,
                D1=self.D1 + other.D1,
                P1=self.P1 + other.P1,
                C=None if self.C is None else (self.C + other.C).tocsr(),
                R=None if self.R is None else (self.R + other.R).tocsr(),
                RXY=self.RXY + other.RXY,
                sum_log_weights=self.sum_log_weights + other.sum_log_weights,
            )
        return self._aligned_add(other)

    def __radd__(self, other: object) -> SufficientStats:
        if isinstance(other, int) and other == 0:  # sum() starts from 0
            return self
        return NotImplemented

    def _aligned_add(self, other: SufficientStats) -> SufficientStats:
        """``self + other`` on the union of their levels."""
        union = [np.union1d(a, b) for a, b in zip(self.levels, other.levels, strict=True)]
        pos = [
            [np.searchsorted(u, s.levels[i]) for i, u in enumerate(union)] for s in (self, other)
        ]
        counts = []
        for i, u in enumerate(union):
            c = np.zeros(len(u), dtype=np.int64)
            c[pos[0][i]] += self.counts[i]
            c[pos[1][i]] += other.counts[i]
            counts.append(c)
        k1, L1 = self.ks[0], len(union[0])
        D1 = np.zeros((L1, k1, k1))
        P1 = np.zeros((L1, k1, self.p + 1))
        for s, ps in zip((self, other), pos, strict=True):
            D1[ps[0]] += s.D1
            P1[ps[0]] += s.P1
        C = R = None
        RXY = np.zeros((0, self.p + 1))
        if len(self.ks) > 1:
            sizes = [len(u) * k for u, k in zip(union[1:], self.ks[1:], strict=True)]
            offs = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
            q_rest, q1 = int(offs[-1]), L1 * k1
            RXY = np.zeros((q_rest, self.p + 1))
            C = sp.csr_matrix((q_rest, q1))
            R = sp.csr_matrix((q_rest, q_rest))
            for s, ps in zip((self, other), pos, strict=True):
                rmap = _rest_map(ps[1:], self.ks[1:], offs[:-1])
                cmap = (ps[0][:, None] * k1 + np.arange(k1)).ravel()
                RXY[rmap] += s.RXY
                C = C + _remap(s.C, rmap, cmap, (q_rest, q1))
                R = R + _remap(s.R, rmap, rmap, (q_rest, q_rest))
            C, R = C.tocsr(), R.tocsr()
        return SufficientStats(
            n=self.n + other.n,
            p=self.p,
            ks=self.ks,
            levels=tuple(union),
            counts=tuple(counts),
            XYXY=self.XYXY + other.XYXY,
            D1=D1,
            P1=P1,
            C=C,
            R=R,
            RXY=RXY,
            sum_log_weights=self.sum_log_weights + other.sum_log_weights,
        )

    # -------------------------------------------------------------- inspection
    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (bytes)."""
        total = self.XYXY.nbytes + self.D1.nbytes + self.P1.nbytes + self.RXY.nbytes
        total += sum(a.nbytes for a in self.levels) + sum(c.nbytes for c in self.counts)
        for M in (self.C, self.R):
            if M is not None:
                total += M.data.nbytes + M.indices.nbytes + M.indptr.nbytes
        return int(total)

    def __repr__(self) -> str:
        lv = ", ".join(str(len(v)) for v in self.levels)
        return f"<SufficientStats: n={self.n}, p={self.p}, k={self.ks}, levels=({lv})>"


def sum_stats(parts: Iterable[SufficientStats]) -> SufficientStats:
    """The sum of several chunks' statistics, added pairwise (a balanced tree).

    >>> import numpy as np
    >>> from hierreg_formula.core.structure import TermArrays
    >>> X = np.ones((6, 1)); g = np.array([0, 1, 1, 2, 0, 2])
    >>> parts = [SufficientStats.from_arrays(X[i:i + 2], np.arange(2.0), [TermArrays(g[i:i + 2],
    ...          3, X[i:i + 2])]) for i in (0, 2, 4)]
    >>> sum_stats(parts).counts[0].tolist()
    [2, 2, 2]
    """
    items = list(parts)
    if not items:
        raise ValueError("sum_stats needs at least one chunk")
    while len(items) > 1:
        items = [a + b for a, b in zip(items[::2], items[1::2], strict=False)] + (
            [items[-1]] if len(items) % 2 else []
        )
    return items[0]
