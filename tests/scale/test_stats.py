"""Sufficient statistics: chunk sums equal the in-memory cross-products."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from hierreg_formula.core.structure import TermArrays, cross_products
from hierreg_formula.scale import SufficientStats, sum_stats
from hierreg_formula.scale.convert import CountedTerm, to_cross_products


def _arrays(n=500, seed=0, k1=2, crossed=True, nested=False):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    y = rng.normal(size=n) + X[:, 1]
    g = rng.integers(0, 30, n)
    terms = [TermArrays(g, 30, X[:, :k1])]
    if crossed:
        terms.append(TermArrays(rng.integers(0, 7, n), 7, X[:, :1]))
        terms.append(TermArrays(rng.integers(0, 5, n), 5, X[:, 1:3]))
    if nested:
        terms.append(TermArrays(g // 3, 10, X[:, :1]))
    return X, y, terms


def _chunks(X, y, terms, cuts, weights=None):
    edges = [0, *cuts, len(y)]
    out = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sub = [t.subset(np.arange(lo, hi)) for t in terms]
        w = None if weights is None else weights[lo:hi]
        out.append(SufficientStats.from_arrays(X[lo:hi], y[lo:hi], sub, weights=w))
    return out


def assert_same_cross_products(cp, ref, rtol=1e-12):
    assert cp.n == ref.n and cp.p == ref.p
    for name in ("D1", "P1", "RXY", "XYXY"):
        np.testing.assert_allclose(getattr(cp, name), getattr(ref, name), rtol=rtol, atol=1e-11)
    R, Rref = (M.toarray() if sp.issparse(M) else M for M in (cp.R, ref.R))
    np.testing.assert_allclose(R, Rref, rtol=rtol, atol=1e-11)
    if ref.C is None:
        assert cp.C is None
    else:
        np.testing.assert_allclose(cp.C.toarray(), ref.C.toarray(), rtol=rtol, atol=1e-11)
    assert [t.nlevels for t in cp.terms] == [t.nlevels for t in ref.terms]
    assert [t.k for t in cp.terms] == [t.k for t in ref.terms]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(crossed=False),  # one term
        dict(crossed=True),  # crossed scalar and vector terms
        dict(crossed=False, nested=True),  # nested factor
        dict(k1=1, crossed=True, nested=True),
    ],
)
@pytest.mark.parametrize("cuts", [[250], [1, 2, 300, 499], [100, 100, 200]])  # incl. empty chunk
def test_chunks_add_up_to_the_in_memory_cross_products(kwargs, cuts):
    X, y, terms = _arrays(**kwargs)
    ref = cross_products(X, y, terms)
    total = sum_stats(_chunks(X, y, terms, cuts))
    cp = to_cross_products(total, [t.nlevels for t in terms])
    assert_same_cross_products(cp, ref)
    for t, ct in zip(terms, cp.terms, strict=True):
        np.testing.assert_array_equal(ct.level_counts(), t.level_counts())


def test_weights_and_their_log_sum():
    X, y, terms = _arrays()
    w = np.random.default_rng(3).uniform(0.5, 2.0, len(y))
    ref = cross_products(X, y, terms, weights=w)
    total = sum_stats(_chunks(X, y, terms, [123, 400], weights=w))
    assert_same_cross_products(to_cross_products(total, [t.nlevels for t in terms]), ref)
    assert total.sum_log_weights == pytest.approx(np.log(w).sum(), rel=1e-13)


def test_levels_seen_in_some_chunks_only_are_aligned():
    X, y, terms = _arrays(n=60, crossed=True)
    order = np.argsort(terms[0].codes, kind="stable")  # chunks by level of g: disjoint levels
    X, y = X[order], y[order]
    terms = [t.subset(order) for t in terms]
    parts = _chunks(X, y, terms, [20, 40])
    assert not set(parts[0].levels[0]) & set(parts[2].levels[0])
    a = parts[0] + parts[1] + parts[2]
    b = parts[2] + (parts[0] + parts[1])  # any order
    np.testing.assert_array_equal(a.levels[0], b.levels[0])
    ref = cross_products(X, y, terms)
    for s in (a, b):
        assert_same_cross_products(to_cross_products(s, [t.nlevels for t in terms]), ref)


def test_levels_never_seen_get_zero_blocks():
    X = np.ones((4, 1))
    stats = SufficientStats.from_arrays(
        X, np.arange(4.0), [TermArrays(np.array([0, 0, 2, 2]), 4, X)]
    )
    cp = to_cross_products(stats, [4])
    assert cp.D1[:, 0, 0].tolist() == [2.0, 0.0, 2.0, 0.0]
    assert cp.terms[0].level_counts().tolist() == [2, 0, 2, 0]


def test_rows_outside_every_level_count_nowhere():
    X = np.ones((4, 1))
    t = TermArrays(
        np.array([1, 0, 1, 0]),
        2,
        np.array([[1.0], [0.0], [1.0], [0.0]]),
        np.array([True, False, True, False]),
    )
    stats = SufficientStats.from_arrays(X, np.arange(4.0), [t])
    assert stats.levels[0].tolist() == [1] and stats.counts[0].tolist() == [2]
    ref = cross_products(X, np.arange(4.0), [t])
    np.testing.assert_allclose(to_cross_products(stats, [2]).P1, ref.P1)


def test_empty_is_the_identity_and_models_must_match():
    X, y, terms = _arrays(n=50)
    s = SufficientStats.from_arrays(X, y, terms)
    e = SufficientStats.empty(3, s.ks)
    assert (s + e) is s and (e + s) is s and sum([s]) is s
    with pytest.raises(ValueError, match="different models"):
        s + SufficientStats.empty(2, s.ks)
    assert s.nbytes > 0 and "n=50" in repr(s)


def test_out_of_range_codes_are_rejected():
    X = np.ones((2, 1))
    with pytest.raises(ValueError, match="level codes"):
        SufficientStats.from_arrays(X, np.ones(2), [TermArrays(np.array([0, 3]), 2, X)])


def test_counted_term_carries_counts():
    t = CountedTerm(np.zeros(0, dtype=np.int64), 3, np.zeros((0, 1)), None, np.array([1, 2, 3]))
    assert t.level_counts().tolist() == [1, 2, 3] and t.k == 1 and t.q == 3


def test_rest_blocks_stay_sparse():
    X, y, terms = _arrays()
    s = SufficientStats.from_arrays(X, y, terms)
    assert sp.issparse(s.R) and sp.issparse(s.C)


def test_a_chunk_with_most_levels_keeps_them_all_and_adds_without_aligning():
    X = np.ones((6, 1))
    g = np.array([0, 1, 2, 0, 1, 3])
    a = SufficientStats.from_arrays(X[:3], np.arange(3.0), [TermArrays(g[:3], 4, X[:3])])
    b = SufficientStats.from_arrays(X[3:], np.arange(3.0), [TermArrays(g[3:], 4, X[3:])])
    assert a.levels[0].tolist() == b.levels[0].tolist() == [0, 1, 2, 3]  # 3 of 4 seen
    assert (a + b).counts[0].tolist() == [2, 2, 1, 1]
