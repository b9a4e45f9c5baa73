"""The numeric paths against independent dense solutions (arrays, no formula)."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg
from hierreg_formula.core import TermArrays, cross_products
from hierreg_formula.core.structure import random_part, z_matrix
from hierreg_formula.regularized.convex import solve_cvxpy
from hierreg_formula.regularized.cv import group_folds
from hierreg_formula.regularized.logistic import solve_logistic
from hierreg_formula.regularized.penalty import group_weights
from hierreg_formula.regularized.squared import heldout_sse, solve_squared
from tests.regularized.sim import dense_squared_solution


def small_problem(seed=0, n=120):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    X = np.column_stack([np.ones(n), x])
    g = rng.integers(0, 5, n)
    h = rng.integers(0, 3, n)
    y = 1 + 2 * x + rng.normal(size=5)[g] + rng.normal(size=3)[h] * x + rng.normal(size=n)
    # (1 + x | g) + (0 + x || h) written as two terms of h to exercise shared groupings
    terms = [TermArrays(g, 5, X), TermArrays(h, 3, X[:, :1]), TermArrays(h, 3, X[:, 1:])]
    return X, y, terms, ["g", "h", "h"]


def test_group_weights_are_hierregs_joint_normalisation():
    g = np.array([0, 0, 1, 1, 1])
    h = np.array([0, 1, 1, 1, 1])
    one = np.ones((5, 1))
    terms = [TermArrays(g, 2, np.ones((5, 2))), TermArrays(h, 2, one)]
    d = group_weights(terms, groups=["g", "h"])
    total = 1 / 2 + 1 / 3 + 1 / 1 + 1 / 4  # over the levels of both groupings (one-hot)
    np.testing.assert_allclose(d[0], np.array([1 / 2, 1 / 3]) / total / 2)  # p = 2 columns
    np.testing.assert_allclose(d[1], np.array([1 / 1, 1 / 4]) / total / 1)
    # two terms of the same grouping count its levels once and add their columns
    d2 = group_weights([terms[0], TermArrays(g, 2, one)], groups=["g", "g"])
    np.testing.assert_allclose(d2[0], np.array([1 / 2, 1 / 3]) / (1 / 2 + 1 / 3) / 3)
    assert all((x == 1).all() for x in group_weights(terms, by_nobs=False))


@pytest.mark.parametrize("by_nobs", [True, False])
@pytest.mark.parametrize("main_l2", [0.0, 0.05])
def test_squared_matches_the_dense_closed_form(by_nobs, main_l2):
    X, y, terms, groups = small_problem()
    alpha = 0.3 if by_nobs else 1e-3
    w, v, obj = solve_squared(
        X, y, terms, alpha, main_l2, by_nobs, with_objective=True, groups=groups
    )
    d = np.concatenate(
        [
            np.repeat(dt, t.k)
            for dt, t in zip(group_weights(terms, by_nobs, groups), terms, strict=True)
        ]
    )
    Zs = [z_matrix(t).toarray() for t in terms]
    w_ref, v_ref = dense_squared_solution(X, y, Zs, d, alpha, main_l2)
    np.testing.assert_allclose(w, w_ref, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(np.concatenate([x.ravel() for x in v]), v_ref, atol=1e-9)
    r = y - X @ w_ref - np.hstack(Zs) @ v_ref
    obj_ref = r @ r / len(y) + alpha * np.sum((d * v_ref) ** 2) + main_l2 * w_ref @ w_ref
    assert obj == pytest.approx(obj_ref, rel=1e-9)


def test_cvxpy_squared_loss_agrees_with_the_linear_solve():
    X, y, terms, groups = small_problem(1)
    w, v = solve_squared(X, y, terms, 0.3, 0.01, groups=groups)
    w2, v2, _ = solve_cvxpy(X, y, terms, 0.3, main_l2=0.01, loss="squared", groups=groups)
    np.testing.assert_allclose(w2, w, atol=1e-6)
    for a, b in zip(v, v2, strict=True):
        np.testing.assert_allclose(b, a, atol=1e-6)


def test_heldout_sse_from_cross_products_equals_the_direct_sum():
    X, y, terms, groups = small_problem(2)
    w, v = solve_squared(X, y, terms, 0.3, groups=groups)
    rows = group_folds(terms[0].codes, 3, seed=1) == 0
    sub = [TermArrays(t.codes[rows], t.nlevels, t.Xz[rows]) for t in terms]
    cp = cross_products(X[rows], y[rows], sub)
    r = y[rows] - X[rows] @ w - random_part(sub, v)
    assert heldout_sse(cp, w, v) == pytest.approx(r @ r, rel=1e-10)


def test_group_folds_split_every_group():
    codes = np.repeat(np.arange(50), np.arange(1, 51))
    folds = group_folds(codes, 5, seed=3)
    counts = pd.crosstab(codes, folds).to_numpy()
    assert (counts.max(axis=1) - counts.min(axis=1) <= 1).all()  # balanced within each group


def test_logistic_irls_matches_cvxpy():
    X, y, terms, groups = small_problem(3, n=400)
    y01 = (y > np.median(y)).astype(float)
    w, v, ok, obj = solve_logistic(X, y01, terms, 0.05, 0.01, groups=groups)
    assert ok
    w2, v2, obj2 = solve_cvxpy(
        X, y01, terms, 0.05, main_l2=0.01, loss="squared", family="binomial", groups=groups
    )
    assert obj == pytest.approx(obj2, rel=1e-7)
    np.testing.assert_allclose(w, w2, atol=1e-4)
    for a, b in zip(v, v2, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_squared_path_needs_no_cvxpy(monkeypatch):
    from tests.regularized.sim import simulate

    df, _ = simulate(0, G=10, n=300)
    monkeypatch.setitem(sys.modules, "cvxpy", None)  # any `import cvxpy` now fails
    for alpha in (0.01, "cv", "reml"):
        hierreg.fit("y ~ x + (x | g)", df, method="regularized", alpha=alpha)
    hierreg.fit(
        "y ~ x + (x | g)",
        df.assign(y=df.y > 1),
        method="regularized",
        alpha=0.01,
        family="binomial",
    )
    with pytest.raises(ImportError):
        hierreg.fit("y ~ x + (x | g)", df, method="regularized", alpha=0.01, loss="norm")
