"""Random-effects terms as arrays, and the cross-products computed once per fit.

The model is ``y = X beta + Z b + e`` with ``Z = [Z_1, ..., Z_m]``, one block per
random-effects term.  Term ``i`` has ``L_i`` levels and ``k_i`` columns; its
``q_i = L_i k_i`` columns of ``Z`` are ordered level-major (all ``k_i`` columns
of level 0, then level 1, ...).  Row ``r`` of ``Z_i`` is ``Xz_i[r]`` placed in
the columns of level ``codes_i[r]``, so ``Z_i`` has exactly ``k_i`` non-zeros
per row and is built directly in CSR form.

The terms are used in the order given, and the first one is the block-diagonal
term: its block ``Z_1'Z_1`` is stored as an ``(L_1, k_1, k_1)`` array; everything
else (the other terms, ``X`` and ``y``) forms the "rest" part, whose cross-products
are stored sparsely (among the other terms and against term 1; see
:mod:`~hierreg_formula.core.fillin`) or densely (against ``[X y]``).  Any order gives the
same fit; the fastest puts the term with the most levels first (as MixedModels.jl
does), which is lme4's term order, the one :mod:`hierreg_formula.models.prepare`
hands to the core.  The core never reorders terms: what goes in comes out in the
same order.

Example
-------
>>> import numpy as np
>>> t = TermArrays(codes=np.array([0, 0, 1]), nlevels=2, Xz=np.ones((3, 1)))
>>> cp = cross_products(np.ones((3, 1)), np.array([1.0, 2.0, 4.0]), [t])
>>> cp.D1[:, 0, 0].tolist()
[2.0, 1.0]
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .fillin import PairIndex, RestBlock, RestPattern


@dataclass(frozen=True)
class TermArrays:
    """One random-effects term: level codes ``(n,)`` in ``[0, L)``, level count, columns ``(n, k)``.

    ``assigned`` (optional boolean ``(n,)``) marks the rows that belong to a level;
    a row outside every level has code 0 and zero columns (so it adds nothing to
    any cross-product) and ``assigned`` False, for what counts rows per level.
    """

    codes: np.ndarray
    nlevels: int
    Xz: np.ndarray
    assigned: np.ndarray | None = None

    def level_counts(self) -> np.ndarray:
        """Rows per level (rows outside every level not counted)."""
        codes = self.codes if self.assigned is None else self.codes[self.assigned]
        return np.bincount(codes, minlength=self.nlevels)

    def subset(self, rows: np.ndarray, Xz: np.ndarray | None = None) -> TermArrays:
        """The term on a subset of rows (``Xz`` given when it is shared with ``X``)."""
        return TermArrays(
            self.codes[rows],
            self.nlevels,
            self.Xz[rows] if Xz is None else Xz,
            None if self.assigned is None else self.assigned[rows],
        )

    @property
    def k(self) -> int:
        return self.Xz.shape[1]

    @property
    def q(self) -> int:
        return self.nlevels * self.k


def z_matrix(term: TermArrays, rowscale: np.ndarray | None = None) -> sp.csr_matrix:
    """The ``n x q`` sparse random-effects design of one term (level-major columns)."""
    n, k = term.Xz.shape
    data = term.Xz if rowscale is None else term.Xz * rowscale[:, None]
    itype = np.int32 if max(n * k, term.q) < 2**31 - 1 else np.int64  # scipy's own choice
    indices = (term.codes.astype(itype)[:, None] * itype(k) + np.arange(k, dtype=itype)).ravel()
    indptr = np.arange(0, n * k + 1, k, dtype=itype)
    return sp.csr_matrix((data.ravel(), indices, indptr), shape=(n, term.q))


def split_by_term(b: np.ndarray, terms: Sequence[TermArrays]) -> list[np.ndarray]:
    """A stacked ``b`` (term after term, level-major) as one ``(L_i, k_i)`` array per term.

    >>> t = TermArrays(np.array([0, 1]), 2, np.ones((2, 1)))
    >>> [x.tolist() for x in split_by_term(np.array([1.0, 2.0, 3.0, 4.0]), [t, t])]
    [[[1.0], [2.0]], [[3.0], [4.0]]]
    """
    offs = np.concatenate([[0], np.cumsum([t.q for t in terms])]).astype(np.int64)
    return [b[offs[i] : offs[i + 1]].reshape(t.nlevels, t.k) for i, t in enumerate(terms)]


def random_part(terms: Sequence[TermArrays], b: Sequence[np.ndarray]) -> np.ndarray:
    """``Z b`` row by row; a row whose code is ``-1`` (no level) contributes 0.

    ``b`` holds one ``(L_i, k_i)`` array per term (as :func:`split_by_term` gives).

    >>> t = TermArrays(np.array([0, 1, -1]), 2, np.array([[1.0], [2.0], [3.0]]))
    >>> random_part([t], [np.array([[10.0], [20.0]])]).tolist()
    [10.0, 40.0, 0.0]
    """
    n = len(terms[0].codes) if terms else 0
    out = np.zeros(n)
    for t, bt in zip(terms, b, strict=True):
        codes = t.codes
        bt = np.asarray(bt, dtype=float).reshape(t.nlevels, t.k)
        if len(codes) and codes.min() < 0:
            seen = codes >= 0
            rows = bt[np.where(seen, codes, 0)]
            out += np.where(seen, np.einsum("nk,nk->n", t.Xz, rows), 0.0)
        else:
            out += np.einsum("nk,nk->n", t.Xz, bt[codes])
    return out


def _blockdiag_crossprod(
    term: TermArrays, A: np.ndarray, B: np.ndarray, symmetric: bool = False
) -> np.ndarray:
    """Per-level sums ``sum_{r in level} A[r, :, None] * B[r, None, :]``: ``(L, a, b)``."""
    L = term.nlevels
    out = np.empty((L, A.shape[1], B.shape[1]))
    for a in range(A.shape[1]):  # loops over the few columns, never over rows/levels
        for b in range(a if symmetric else 0, B.shape[1]):
            out[:, a, b] = np.bincount(term.codes, weights=A[:, a] * B[:, b], minlength=L)
            if symmetric:
                out[:, b, a] = out[:, a, b]
    return out


@dataclass(frozen=True)
class CrossProducts:
    """Everything the deviance needs, computed in one pass over the data.

    ``XY = [X, y]`` (``p + 1`` columns).  ``terms[0]`` is the block-diagonal term,
    the others form the "rest".

    Attributes
    ----------
    n, p: rows and fixed-effects columns.
    terms: the terms, in the caller's order.
    D1: ``(L1, k1, k1)`` diagonal blocks of ``Z_1'Z_1``.
    P1: ``(L1, k1, p + 1)`` blocks of ``Z_1' [X y]``.
    C: sparse ``(q_rest, q1)`` ``Z_rest' Z_1`` (None with one term).
    R: ``(q_rest, q_rest)`` ``Z_rest' Z_rest``, sparse (:func:`cross_products`) or dense
        (other producers); only read once, into :attr:`rest`.
    RXY: dense ``(q_rest, p + 1)`` ``Z_rest' [X y]``.
    XYXY: dense ``(p + 1, p + 1)`` ``[X y]' [X y]``.
    pairs, pattern: optional precomputed fill-in structure
        (:mod:`~hierreg_formula.core.fillin`) for producers that reuse it across calls;
        ``None``: computed when first needed.
    R_slots: optional ``R`` on the pattern's lower-triangle slots (such producers),
        ``None``: read from ``R`` when first needed.
    """

    n: int
    p: int
    terms: tuple[TermArrays, ...]
    D1: np.ndarray
    P1: np.ndarray
    C: sp.csr_matrix | None
    R: np.ndarray
    RXY: np.ndarray
    XYXY: np.ndarray
    pairs: PairIndex | None = None
    pattern: RestPattern | None = None
    R_slots: np.ndarray | None = None

    @functools.cached_property
    def rest(self) -> RestBlock | None:
        """The rest block's pattern, ``R`` on it and the fill-in (None with one term)."""
        if self.C is None:
            return None
        return RestBlock(
            self.R, self.C, self.terms[0].k, self.pattern, self.pairs, R_slots=self.R_slots
        )

    @functools.cached_property
    def P1T(self) -> np.ndarray:
        """``(L1, p + 1, k1)`` C-contiguous transpose of ``P1``."""
        return np.ascontiguousarray(self.P1.transpose(0, 2, 1))

    @property
    def rest_scalar(self) -> bool:
        """All terms after the first are scalar (``k = 1``): ``Lambda_rest`` is diagonal."""
        return all(t.k == 1 for t in self.terms[1:])

    @property
    def q_rest(self) -> int:
        return self.R.shape[0]

    @property
    def rest_offsets(self) -> np.ndarray:
        sizes = [t.q for t in self.terms[1:]]
        return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def cross_products(
    X: np.ndarray,
    y: np.ndarray,
    terms: Sequence[TermArrays],
    weights: np.ndarray | None = None,
    xtx: np.ndarray | None = None,
) -> CrossProducts:
    """Compute all cross-products once (the only pass over the rows).

    ``weights`` (prior weights, e.g. IRLS working weights) multiply each row's
    contribution to every cross-product.  ``xtx``: ``X'X`` (weighted) when the caller
    has it already (the rank check computed it): the ``n p^2`` product is not redone.
    """
    if not terms:
        raise ValueError("cross_products needs at least one random-effects term")
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, p = X.shape
    sw = None if weights is None else np.sqrt(np.asarray(weights, dtype=float))
    Xw = X if sw is None else X * sw[:, None]
    yw = y if sw is None else y * sw
    ts = tuple(terms)
    t1 = ts[0]
    Xz1 = t1.Xz if sw is None else t1.Xz * sw[:, None]
    same = t1.Xz is X  # e.g. hierreg: deviations on every fixed column
    # X and y are kept apart (no n x (p+1) copy); "XY" below means [X y]
    if t1.k >= 3:  # measured: one sparse product beats k(k+1)/2 + k(p+1) bincounts here
        Z1T = z_matrix(t1, sw).T
        ZX = np.asarray(Z1T @ Xw).reshape(t1.nlevels, t1.k, p)
        Zy = np.asarray(Z1T @ yw).reshape(t1.nlevels, t1.k, 1)
        P1 = np.concatenate([ZX, Zy], axis=2)
        D1 = (
            np.ascontiguousarray(ZX[:, :, : t1.k])
            if same
            else np.asarray(Z1T @ Xz1).reshape(t1.nlevels, t1.k, t1.k)
        )
    else:
        P1 = np.concatenate(
            [_blockdiag_crossprod(t1, Xz1, Xw), _blockdiag_crossprod(t1, Xz1, yw[:, None])], axis=2
        )
        D1 = (
            np.ascontiguousarray(P1[:, :, : t1.k])
            if same
            else _blockdiag_crossprod(t1, Xz1, Xz1, symmetric=True)
        )
    XtX = Xw.T @ Xw if xtx is None else np.asarray(xtx, dtype=float)
    Xty = Xw.T @ yw
    XYXY = np.block([[XtX, Xty[:, None]], [Xty[None, :], np.array([[yw @ yw]])]])
    if len(ts) == 1:
        C = None
        R = np.zeros((0, 0))
        RXY = np.zeros((0, p + 1))
    else:
        Z1 = z_matrix(t1, sw)
        Zr = sp.hstack([z_matrix(t, sw) for t in ts[1:]], format="csr")
        ZrT = Zr.T.tocsr()
        C = (ZrT @ Z1).tocsr()
        C.sum_duplicates()
        R = (ZrT @ Zr).tocsr()  # sparse: never a q_rest x q_rest array
        RXY = np.column_stack([np.asarray(ZrT @ Xw), np.asarray(ZrT @ yw)])
    return CrossProducts(n=n, p=p, terms=ts, D1=D1, P1=P1, C=C, R=R, RXY=RXY, XYXY=XYXY)
