"""Column moments merged over chunks give the core's conditioning and rank decision."""

from __future__ import annotations

import numpy as np
import pytest

from hierreg_formula.core.conditioning import condition
from hierreg_formula.core.structure import TermArrays
from hierreg_formula.models.prepare import RANK_TOL, full_rank_columns
from hierreg_formula.scale.moments import (
    ColumnMoments,
    condition_from_moments,
    gram_is_full_rank,
    kept_from_r,
    rank_normalization,
    stack_r,
)


def _merged(A, cuts, weights=None):
    edges = [0, *cuts, len(A)]
    parts = [
        ColumnMoments.of(A[lo:hi], None if weights is None else weights[lo:hi], shift=A[0])
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    ]
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    return total


def _assert_same_conditioning(c, ref, rtol=1e-12):
    np.testing.assert_allclose(c.x_map, ref.x_map, rtol=rtol, atol=0)
    np.testing.assert_allclose(c.x_shift, ref.x_shift, rtol=rtol, atol=0)
    assert c.logdet_x == pytest.approx(ref.logdet_x, rel=rtol, abs=1e-12)
    assert c.y_shift == pytest.approx(ref.y_shift, rel=rtol, abs=0)
    assert c.y_scale == pytest.approx(ref.y_scale, rel=rtol)
    assert c.z_diagonal == ref.z_diagonal
    for G, Gr in zip(c.z_maps, ref.z_maps, strict=True):
        np.testing.assert_allclose(G, Gr, rtol=rtol, atol=0)


@pytest.mark.parametrize("shift", [0.0, 1e8])
@pytest.mark.parametrize("scale", [1.0, 1e200, 1e-200])
@pytest.mark.parametrize("cuts", [[1], [37, 38, 200], [150]])
def test_conditioning_from_chunks_equals_the_core(shift, scale, cuts):
    rng = np.random.default_rng(7)
    n = 300
    x = shift + scale * rng.normal(size=n)
    X = np.column_stack([np.ones(n), x, rng.integers(0, 2, n).astype(float)])
    y = shift + scale * (rng.normal(size=n) + 2.0)
    g = rng.integers(0, 10, n)
    Xz = np.column_stack([np.ones(n), x])
    terms = [TermArrays(g, 10, X), TermArrays(g, 10, Xz), TermArrays(g, 10, x[:, None])]
    ref = condition(X, y, terms)
    zms = [None, _merged(Xz, cuts), _merged(x[:, None], cuts)]
    got = condition_from_moments(_merged(X, cuts), _merged(y, cuts), zms)
    _assert_same_conditioning(got, ref)


def test_weighted_moments():
    rng = np.random.default_rng(2)
    n = 200
    X = np.column_stack([np.ones(n), 5.0 + rng.normal(size=n)])
    y = rng.normal(size=n) + 3.0
    w = rng.uniform(0.2, 3.0, n)
    g = TermArrays(rng.integers(0, 5, n), 5, X[:, 1:].copy())
    ref = condition(X, y, [g], weights=w)
    got = condition_from_moments(
        _merged(X, [50, 60], w), _merged(y, [50, 60], w), [_merged(X[:, 1:], [50, 60], w)]
    )
    _assert_same_conditioning(got, ref)


def test_no_intercept_and_constant_columns():
    rng = np.random.default_rng(4)
    n = 120
    X = np.column_stack([rng.normal(size=n) + 3, np.full(n, 2.0)])  # constant, not first
    y = rng.normal(size=n) + 10
    Xz = np.column_stack([rng.normal(size=n), np.full(n, 4.0)])  # intercept-like 2nd column
    terms = [TermArrays(np.arange(n) % 4, 4, Xz)]
    ref = condition(X, y, terms)
    got = condition_from_moments(_merged(X, [60]), _merged(y, [60]), [_merged(Xz, [60])])
    _assert_same_conditioning(got, ref)
    # without a constant column nothing is centred
    X0 = X[:, :1]
    ref0 = condition(X0, y, terms)
    got0 = condition_from_moments(_merged(X0, [60]), _merged(y, [60]), [_merged(Xz, [60])])
    _assert_same_conditioning(got0, ref0)
    assert got0.y_shift == 0.0


def test_a_column_constant_within_chunks_is_not_constant_overall():
    X = np.column_stack([np.ones(6), [1.0, 1.0, 1.0, 2.0, 2.0, 2.0]])
    m = _merged(X, [3])
    assert m.constant().tolist() == [True, False] and m.first_constant() == 0


def test_moments_merge_in_any_order():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(90, 3)) * [1.0, 1e5, 1e-5] + [0.0, 1e9, 3.0]

    def cm(rows):
        return ColumnMoments.of(rows, shift=A[0])

    m1 = cm(A[:30]) + (cm(A[30:60]) + cm(A[60:]))
    m2 = (cm(A[60:]) + cm(A[:30])) + cm(A[30:60])
    for m in (m1, m2):
        np.testing.assert_allclose(m.mean_values(), A.mean(axis=0), rtol=1e-14)
        C = (A - A.mean(axis=0)).T @ (A - A.mean(axis=0))
        np.testing.assert_allclose(m.centered(), C, rtol=1e-9, atol=1e-9 * np.abs(C).max())
    assert (ColumnMoments.empty(3) + m1) is m1


def _design(dependent: bool, n=200, seed=1):
    rng = np.random.default_rng(seed)
    k = rng.integers(0, 3, n)
    X = np.column_stack([np.ones(n), rng.normal(size=n) + 1e4, (k == 1) * 1.0, (k == 2) * 1.0])
    if dependent:  # a column that is a combination of earlier ones, and a zero column
        X = np.column_stack([X, X[:, 2] + X[:, 3], np.zeros(n), rng.normal(size=n)])
    return X


@pytest.mark.parametrize("dependent", [False, True])
def test_rank_decision_from_moments_and_stacked_r(dependent):
    X = _design(dependent)
    m = _merged(X, [70, 140])
    norm, gram = rank_normalization(m)
    # the gram of the normalised columns, as full_rank_columns builds it
    Xn = norm.apply(X)
    np.testing.assert_allclose(gram, Xn.T @ Xn, rtol=1e-9, atol=1e-9)
    assert gram_is_full_rank(gram) is (not dependent)
    R = None
    for lo, hi in ((0, 70), (70, 140), (140, 200)):
        R = stack_r(R, np.linalg.qr(norm.apply(X[lo:hi]), mode="r"))
    np.testing.assert_array_equal(kept_from_r(R, RANK_TOL), full_rank_columns(X))


def test_rank_with_fewer_rows_than_columns():
    X = np.random.default_rng(0).normal(size=(2, 4))
    R = np.linalg.qr(X, mode="r")
    assert kept_from_r(R, RANK_TOL).tolist() == [0, 1]
