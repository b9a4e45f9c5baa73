"""Reduced statistics -> the core's :class:`~hierreg_formula.core.structure.CrossProducts`.

:func:`to_cross_products` is the one place that knows how the core stores its
cross-products (sparse ``R`` and ``C``; the core builds its fill-in index itself): when the core
changes its storage, this function follows it and nothing else in
:mod:`hierreg_formula.scale` has to.

The core reads of its terms only the number of levels and columns, so the terms
of a fit from statistics carry no rows: :class:`CountedTerm` keeps the rows per
level instead (what the regularized mode's ``1/n_k`` weights need).

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.structure import TermArrays, cross_products
>>> from hierreg_formula.scale.stats import SufficientStats
>>> X = np.column_stack([np.ones(6), np.arange(6.0)]); y = np.arange(6.0) ** 2
>>> g, h = np.array([0, 1, 2, 0, 1, 2]), np.array([0, 0, 1, 1, 0, 1])
>>> terms = [TermArrays(g, 3, X), TermArrays(h, 2, X[:, :1])]
>>> stats = SufficientStats.from_arrays(X, y, terms)
>>> cp, ref = to_cross_products(stats, (3, 2)), cross_products(X, y, terms)
>>> np.allclose(cp.R.toarray(), ref.R.toarray()), np.allclose(cp.C.toarray(), ref.C.toarray())
(True, True)
>>> cp.terms[1].level_counts().tolist()
[3, 3]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..core.structure import CrossProducts, TermArrays
from .stats import SufficientStats


@dataclass(frozen=True)
class CountedTerm(TermArrays):
    """A term known by its size and rows per level only (no rows: ``codes`` and ``Xz``
    are empty)."""

    counts: np.ndarray | None = None

    def level_counts(self) -> np.ndarray:
        return np.zeros(self.nlevels, dtype=np.int64) if self.counts is None else self.counts


def full_counts(stats: SufficientStats, nlevels: Sequence[int]) -> list[np.ndarray]:
    """Rows per level of every term, over all ``nlevels[i]`` levels (0 where unseen)."""
    out = []
    for lv, c, L in zip(stats.levels, stats.counts, nlevels, strict=True):
        full = np.zeros(int(L), dtype=np.int64)
        full[lv] = c
        out.append(full)
    return out


def to_cross_products(stats: SufficientStats, nlevels: Sequence[int]) -> CrossProducts:
    """The core's cross-products from reduced statistics.

    Parameters
    ----------
    stats:
        The statistics of all rows (levels in global codes).
    nlevels:
        Number of levels of every term (levels without rows get zero blocks).
    """
    nlevels = tuple(int(L) for L in nlevels)
    if len(nlevels) != len(stats.ks):
        raise ValueError(f"{len(stats.ks)} terms, {len(nlevels)} level counts")
    for lv, L in zip(stats.levels, nlevels, strict=True):
        if len(lv) and lv[-1] >= L:
            raise ValueError(f"a level code {int(lv[-1])} is beyond the {L} levels")
    p, ks = stats.p, stats.ks
    k1, L1 = ks[0], nlevels[0]
    D1 = np.zeros((L1, k1, k1))
    P1 = np.zeros((L1, k1, p + 1))
    D1[stats.levels[0]] = stats.D1
    P1[stats.levels[0]] = stats.P1
    counts = full_counts(stats, nlevels)
    terms = tuple(
        CountedTerm(np.zeros(0, dtype=np.int64), L, np.zeros((0, k)), None, c)
        for L, k, c in zip(nlevels, ks, counts, strict=True)
    )
    if len(ks) == 1:
        C, R, RXY = None, np.zeros((0, 0)), np.zeros((0, p + 1))
    else:
        sizes = [L * k for L, k in zip(nlevels[1:], ks[1:], strict=True)]
        offs = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        q_rest, q1 = int(offs[-1]), L1 * k1
        rmap = np.concatenate(
            [
                (off + lv[:, None] * k + np.arange(k)).ravel()
                for lv, k, off in zip(stats.levels[1:], ks[1:], offs[:-1], strict=True)
            ]
        ).astype(np.int64)
        cmap = (stats.levels[0][:, None] * k1 + np.arange(k1)).ravel()
        c = stats.C.tocoo()
        C = sp.csr_matrix((c.data, (rmap[c.row], cmap[c.col])), shape=(q_rest, q1))
        C.sum_duplicates()
        r = stats.R.tocoo()
        R = sp.csr_matrix((r.data, (rmap[r.row], rmap[r.col])), shape=(q_rest, q_rest))
        R.sum_duplicates()
        RXY = np.zeros((q_rest, p + 1))
        RXY[rmap] = stats.RXY
    return CrossProducts(
        n=stats.n, p=p, terms=terms, D1=D1, P1=P1, C=C, R=R, RXY=RXY, XYXY=stats.XYXY
    )
