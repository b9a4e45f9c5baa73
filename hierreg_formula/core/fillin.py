"""The rest block's sparsity pattern and its fill-in ``C W C'``, computed on that pattern.

After the block-diagonal first term is eliminated, the block of the other ("rest")
terms is ``Lambda_r'(R - C W C')Lambda_r + I`` with ``R = Z_r'Z_r``, ``C = Z_r'Z_1``
and ``W`` block diagonal (one ``k1 x k1`` block per level of term 1, changing with
``theta``).  Its entries can be non-zero only on the pattern of ``R`` plus the pattern
of ``C C'`` (two rest columns that share a level of term 1), which is fixed.  So the
per-``theta`` work never needs a ``q x q`` intermediate:

- :class:`RestPattern` is the lower triangle of that pattern (with the diagonal) in
  compressed-column form, rows sorted: entry ``s`` (a *slot*) is ``(rows[s],
  cols[s])``, ``rows[s] >= cols[s]``, and the diagonal is the first slot of each column;
- :class:`PairIndex` lists, once, every pair of non-zeros of ``C`` in one level of
  term 1 whose product lands in the lower triangle, with the slot it lands in: then
  the fill-in values are one ``np.bincount`` into ``nnz`` slots.  Its indices are
  ``int32`` where they fit (16 bytes per pair) and it is built a chunk of levels at a
  time, so its construction holds little more than what it stores;
- above :data:`MAX_PAIRS` pairs the index would cost more memory than it saves time,
  and the fill-in is a sparse product per evaluation (:meth:`RestBlock.fill`).

The pattern is computed from the *structure* of ``R`` and ``C`` (all values set to
one), so an entry whose value happens to cancel to zero keeps its slot.

Example
-------
>>> import numpy as np, scipy.sparse as sp
>>> C = sp.csr_matrix(np.array([[1.0, 0.0], [2.0, 3.0], [0.0, 1.0]]))
>>> R = sp.csr_matrix(np.diag([1.0, 2.0, 1.0]))
>>> pat = rest_pattern(R, C, 1)
>>> pat.nnz, pat.rows.tolist(), pat.cols.tolist()
(5, [0, 1, 1, 2, 2], [0, 0, 1, 1, 2])
>>> pi = pair_index(C, 1, pat)
>>> W = np.array([[[0.5]], [[2.0]]])
>>> pi.fill(W).tolist()  # lower triangle of C W C' on the slots
[0.5, 1.0, 20.0, 6.0, 2.0]
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

#: above this many term-1 pairs the fill-in is computed by a sparse product instead
MAX_PAIRS = 40_000_000

#: pairs generated at a time while the pair index is built (bounds its transients)
PAIR_CHUNK = 262_144

#: pairs an evaluation works on at a time (at least twice the pattern's slots)
EVAL_CHUNK = 262_144


def _index_dtype(bound: int) -> type:
    return np.int32 if bound < 2**31 - 1 else np.int64


@dataclass(frozen=True)
class RestPattern:
    """Lower-triangular sparsity pattern of the ``q x q`` rest block (CSC, rows sorted).

    Attributes
    ----------
    q: order of the block.
    indptr: ``(q + 1,)`` column pointers (``int64``).
    rows: ``(nnz,)`` row of each slot (``int32`` where it fits).
    """

    q: int
    indptr: np.ndarray
    rows: np.ndarray

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    @functools.cached_property
    def cols(self) -> np.ndarray:
        """Column of each slot."""
        return np.repeat(
            np.arange(self.q, dtype=self.rows.dtype), np.diff(self.indptr).astype(np.int64)
        )

    @property
    def diag(self) -> np.ndarray:
        """Slot of each diagonal entry (the first of its column)."""
        return self.indptr[:-1]

    @functools.cached_property
    def offdiag(self) -> np.ndarray:
        """Mask of the slots below the diagonal."""
        return self.rows != self.cols

    def keys(self) -> np.ndarray:
        """``col * q + row`` of every slot, ascending (for :meth:`slots_of`)."""
        return self.cols.astype(np.int64) * self.q + self.rows

    def slots_of(self, rows: np.ndarray, cols: np.ndarray, keys: np.ndarray | None = None):
        """Slots of lower-triangle entries ``(rows >= cols)`` that are in the pattern."""
        keys = self.keys() if keys is None else keys
        return np.searchsorted(keys, np.asarray(cols, np.int64) * self.q + rows)

    def lower_matrix(self, values: np.ndarray) -> sp.csc_matrix:
        """The lower triangle with these slot values as a sparse matrix."""
        return sp.csc_matrix((values, self.rows, self.indptr), shape=(self.q, self.q))

    def symmetric_matvec(self, values: np.ndarray, B: np.ndarray) -> np.ndarray:
        """``K B`` for the symmetric ``K`` whose lower triangle has these slot values."""
        Lm = self.lower_matrix(values)
        d = values[self.diag]
        B2 = B if B.ndim == 2 else B[:, None]
        out = np.asarray(Lm @ B2) + np.asarray(Lm.T @ B2) - d[:, None] * B2
        return out if B.ndim == 2 else out[:, 0]


def _ones(M) -> sp.csr_matrix:
    """The structure of ``M`` (dense or sparse) with every stored value set to one."""
    S = sp.csr_matrix(M) if not sp.issparse(M) else M.tocsr(copy=True)
    S.sum_duplicates()
    S.data = np.ones_like(S.data)
    return S


def rest_pattern(R, C: sp.spmatrix | None, k1: int) -> RestPattern:
    """The lower pattern of ``R + C W C' + I`` for any block-diagonal ``W`` (``k1 x k1``
    blocks): the structure of ``R``, the diagonal, and every pair of rest columns that
    share a level of term 1."""
    q = R.shape[0]
    G = _ones(R) + sp.identity(q, format="csr")
    if C is not None and C.shape[1]:
        Cb = _ones(C)
        if k1 > 1:  # a level of term 1 is k1 columns: merge them (level incidence)
            q1 = Cb.shape[1]
            E = sp.csr_matrix(
                (np.ones(q1), np.arange(q1) // k1, np.arange(q1 + 1)), shape=(q1, q1 // k1)
            )
            Cb = _ones(Cb @ E)
        G = G + Cb @ Cb.T
    Lw = sp.tril(G, format="csc")
    Lw.sort_indices()
    return RestPattern(
        q=q, indptr=Lw.indptr.astype(np.int64), rows=Lw.indices.astype(_index_dtype(q))
    )


@dataclass(frozen=True)
class PairIndex:
    """Pairs of non-zeros of ``C`` that share a level of term 1, aimed at pattern slots.

    The fill-in's value in slot ``s`` is ``sum val[t] * W.ravel()[widx[t]]`` over the
    pairs ``t`` with ``slot[t] == s`` (:meth:`fill`).
    """

    slot: np.ndarray
    widx: np.ndarray
    val: np.ndarray
    pattern: RestPattern
    k1: int

    @property
    def size(self) -> int:
        return int(self.slot.size)

    def _step(self) -> int:
        """Pairs an evaluation works on at a time (bounded temporaries; at least twice
        the slots, so the per-chunk outputs cost little)."""
        return max(EVAL_CHUNK, 2 * self.pattern.nnz)

    def fill(self, W: np.ndarray) -> np.ndarray:
        """Slot values of the lower triangle of ``C W C'`` (``W``: ``(L1, k1, k1)``)."""
        Wf = W.reshape(-1)
        nnz = self.pattern.nnz
        out = np.zeros(nnz)
        step = self._step()
        for s0 in range(0, self.size, step):  # a few chunks of pairs, not pairs
            sl = slice(s0, s0 + step)
            w = Wf[self.widx[sl]]
            w *= self.val[sl]
            out += np.bincount(self.slot[sl], weights=w, minlength=nnz)
        return out

    def level_sums(self, Q_slots: np.ndarray, nlevels: int) -> np.ndarray:
        """``(C' Q C)`` on term 1's diagonal level blocks, ``(L1, k1, k1)``, for a symmetric
        ``Q`` given by its lower-triangle slot values."""
        k1 = self.k1
        k2 = k1 * k1
        size = nlevels * k2
        Y = np.zeros(size)
        offdiag = self.pattern.offdiag
        step = self._step()
        for s0 in range(0, self.size, step):  # a few chunks of pairs, not pairs
            sl = slice(s0, s0 + step)
            slot, widx = self.slot[sl], self.widx[sl]
            w = Q_slots[slot]
            w *= self.val[sl]
            strict = offdiag[slot]
            if k1 == 1:  # the mirrored pair has the same weight index: count it twice
                w[strict] *= 2.0
                Y += np.bincount(widx, weights=w, minlength=size)
                continue
            Y += np.bincount(widx, weights=w, minlength=size)
            # the mirrored pair (j, i) weighs W_l[b, a]: swap the two term-1 columns
            lev, rem = np.divmod(widx[strict], k2)
            a, b = np.divmod(rem, k1)
            Y += np.bincount(lev * k2 + b * k1 + a, weights=w[strict], minlength=size)
        return Y.reshape(nlevels, k1, k1)


def _pair_counts(gsize: np.ndarray, k1: int) -> np.ndarray:
    """Pairs generated per level before the lower-triangle filter."""
    g = gsize.astype(np.int64)
    return g * (g + 1) // 2 if k1 == 1 else g * g


def pair_count(C: sp.spmatrix, k1: int) -> int:
    """Number of pairs :func:`pair_index` would generate for ``C``."""
    Cc = C.tocsc()
    q1 = Cc.shape[1]
    gsize = Cc.indptr[k1 : q1 + 1 : k1] - Cc.indptr[0:q1:k1]
    return int(_pair_counts(gsize, k1).sum())


def _chunks(counts: np.ndarray, size: int) -> list[tuple[int, int]]:
    """Ranges of consecutive levels with at most ``size`` pairs each (a bigger level alone)."""
    cum = np.concatenate([[0], np.cumsum(counts)])
    out, lo, n = [], 0, len(counts)
    while lo < n:  # one iteration per chunk (few), never per level
        hi = int(np.searchsorted(cum, cum[lo] + size, side="right")) - 1
        hi = min(max(hi, lo + 1), n)
        out.append((lo, hi))
        lo = hi
    return out


def pair_index(
    C: sp.spmatrix,
    k1: int,
    pattern: RestPattern,
    max_pairs: int | None = None,
    with_entries: bool = False,
):
    """The :class:`PairIndex` of ``C`` on ``pattern`` (``None`` above ``max_pairs`` pairs,
    default :data:`MAX_PAIRS`).

    With ``with_entries``, returns ``(index, first, second)``: the positions of the two
    entries of every pair in ``C``'s sorted CSC data, so a caller whose ``C`` changes
    values but not structure can recompute ``val = data[first] * data[second]``.
    """
    Cc = C.tocsc()
    Cc.sort_indices()
    q, q1 = Cc.shape
    gstart = Cc.indptr[0:q1:k1].astype(np.int64)
    gend = Cc.indptr[k1 : q1 + 1 : k1].astype(np.int64)
    counts = _pair_counts(gend - gstart, k1)
    limit = MAX_PAIRS if max_pairs is None else max_pairs
    if int(counts.sum()) > limit:
        return (None, None, None) if with_entries else None
    nnz = Cc.nnz
    col = np.repeat(np.arange(q1, dtype=np.int64), np.diff(Cc.indptr))
    lev = col // k1
    acol = col % k1
    rows = Cc.indices
    data = Cc.data
    keys = pattern.keys()
    dtypes = [_index_dtype(pattern.nnz), _index_dtype((q1 // k1) * k1 * k1), np.float64]
    if with_entries:
        dtypes += [_index_dtype(nnz)] * 2
    exact = k1 == 1  # the count is exact: fill preallocated arrays (no concatenation)
    total = int(counts.sum())
    out = [np.empty(total if exact else 0, t) for t in dtypes]
    parts: list[list[np.ndarray]] = []
    pos = 0
    for lo, hi in _chunks(counts, PAIR_CHUNK):  # a few chunks of levels, not levels
        e = np.arange(gstart[lo], gend[hi - 1])
        le = lev[e]
        if k1 == 1:  # each entry with itself and the ones above it (rows sorted)
            reps = e - gstart[le] + 1
        else:
            reps = (gend - gstart)[le]
        first = np.repeat(e, reps)
        offs = np.repeat(np.cumsum(reps) - reps, reps)
        second = gstart[lev[first]] + (np.arange(first.size) - offs)
        del offs
        if k1 > 1:
            keep = rows[first] >= rows[second]
            first, second = first[keep], second[keep]
        chunk = [
            pattern.slots_of(rows[first], rows[second], keys),
            lev[first] * (k1 * k1) + acol[first] * k1 + acol[second],
            data[first] * data[second],
        ]
        if with_entries:
            chunk += [first, second]
        if exact:
            for o, c in zip(out, chunk, strict=True):
                o[pos : pos + first.size] = c
            pos += first.size
        else:
            parts.append([c.astype(t) for c, t in zip(chunk, dtypes, strict=True)])
        del first, second, chunk
    if not exact and parts:
        out = [np.concatenate(c) if len(c) > 1 else c[0] for c in zip(*parts, strict=True)]
    pi = PairIndex(slot=out[0], widx=out[1], val=out[2], pattern=pattern, k1=k1)
    return (pi, out[3], out[4]) if with_entries else pi


def blockdiag(blocks: np.ndarray) -> sp.csr_matrix:
    """Sparse block-diagonal matrix from an ``(L, k, k)`` stack."""
    L, k, _ = blocks.shape
    return sp.bsr_matrix(
        (np.ascontiguousarray(blocks), np.arange(L), np.arange(L + 1)), shape=(L * k, L * k)
    ).tocsr()


class RestBlock:
    """What does not change with ``theta`` in the rest block: its pattern, ``R`` on the
    pattern's slots and the fill-in (pair index, or ``C`` for a sparse product).

    Parameters
    ----------
    R: ``Z_r'Z_r`` (dense or sparse).
    C: ``Z_r'Z_1`` (sparse).
    k1: columns of term 1.
    pattern, pairs: precomputed structure (e.g. by a caller that reuses it across
        weights), or ``None`` to compute it here.
    R_slots: ``R`` on the pattern's slots when the caller has them (``R`` is then not read).
    """

    def __init__(
        self,
        R,
        C: sp.spmatrix,
        k1: int,
        pattern: RestPattern | None = None,
        pairs: PairIndex | None = None,
        R_slots: np.ndarray | None = None,
    ) -> None:
        if pattern is None:
            pattern = pairs.pattern if pairs is not None else rest_pattern(R, C, k1)
        self.pattern = pattern
        self.q = pattern.q
        self.k1 = k1
        self.C = C
        self.pairs = pairs if pairs is not None else pair_index(C, k1, pattern)
        self.R_slots = self._values_of(R) if R_slots is None else R_slots

    def _values_of(self, R) -> np.ndarray:
        """``R`` on the slots (its entries outside the lower pattern are not needed)."""
        pat = self.pattern
        if not sp.issparse(R):
            return np.asarray(R)[pat.rows, pat.cols].astype(float)
        Rl = sp.tril(R, format="csc")
        Rl.sum_duplicates()
        out = np.zeros(pat.nnz)
        rcols = np.repeat(np.arange(self.q, dtype=np.int64), np.diff(Rl.indptr))
        out[pat.slots_of(Rl.indices, rcols)] = Rl.data
        return out

    @functools.cached_property
    def flat(self) -> np.ndarray:
        """Offsets of the slots in a Fortran-ordered ``q x q`` array."""
        pat = self.pattern
        return pat.cols.astype(np.int64) * self.q + pat.rows

    @functools.cached_property
    def flat_t(self) -> np.ndarray:
        """Offsets of the transposed slots (upper triangle) in a Fortran-ordered array."""
        pat = self.pattern
        return pat.rows.astype(np.int64) * self.q + pat.cols

    def fill(self, W: np.ndarray) -> np.ndarray:
        """Slot values of the lower triangle of ``C W C'``, ``W`` ``(L1, k1, k1)``."""
        if self.pairs is not None:
            return self.pairs.fill(W)
        K = sp.tril(self.C @ blockdiag(W) @ self.C.T, format="csc")
        K.sum_duplicates()
        out = np.zeros(self.pattern.nnz)
        kcols = np.repeat(np.arange(self.q, dtype=np.int64), np.diff(K.indptr))
        out[self.pattern.slots_of(K.indices, kcols)] = K.data
        return out

    def level_sums(self, Q_slots: np.ndarray, nlevels: int) -> np.ndarray:
        """``(C' Q C)`` on term 1's diagonal level blocks for a symmetric ``Q`` (slots)."""
        if self.pairs is not None:
            return self.pairs.level_sums(Q_slots, nlevels)
        k1 = self.k1
        Qs = self.pattern.lower_matrix(Q_slots)
        d = Q_slots[self.pattern.diag]
        Cc = self.C.tocsc()
        QC = (Qs @ Cc + Qs.T @ Cc - sp.diags(d) @ Cc).tocsc()  # sparse: Q on the pattern
        Y = np.empty((nlevels, k1, k1))
        for a in range(k1):  # loops over the few columns of term 1
            for b in range(k1):
                prod = Cc[:, a::k1].multiply(QC[:, b::k1])
                Y[:, a, b] = np.asarray(prod.sum(axis=0)).ravel()
        return Y
