"""WeightedCrossProducts gives cross_products' result for any weights (crossed and vector terms)."""

from __future__ import annotations

import numpy as np
import pytest

from hierreg_formula.core.pls import factorize
from hierreg_formula.core.structure import TermArrays, cross_products
from hierreg_formula.core.weighted import WeightedCrossProducts


@pytest.mark.parametrize("k1, k2", [(1, 1), (2, 1), (1, 2), (2, 2), (3, 1)])
def test_matches_cross_products(k1: int, k2: int) -> None:
    rng = np.random.default_rng(k1 * 10 + k2)
    n = 1500
    cols = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    terms = [
        TermArrays(rng.integers(0, 60, n), 60, cols[:, :k1]),
        TermArrays(rng.integers(0, 25, n), 25, cols[:, [0, 2]][:, :k2]),
        TermArrays(rng.integers(0, 5, n), 5, np.ones((n, 1))),
    ]
    X = cols[:, :2]
    wcp = WeightedCrossProducts(X, terms)
    lam = [np.tril(np.full((t.k, t.k), 0.4)) + 0.5 * np.eye(t.k) for t in terms]
    for _ in range(2):  # the structure is reused with new weights and responses
        y, w = rng.normal(size=n), rng.uniform(0.1, 2.0, size=n)
        ref, got = cross_products(X, y, terms, weights=w), wcp(y, w)
        for name in ("D1", "P1", "RXY", "XYXY"):
            np.testing.assert_allclose(
                getattr(got, name), getattr(ref, name), rtol=1e-10, atol=1e-9
            )
        for name in ("R", "C"):  # sparse in both
            np.testing.assert_allclose(
                getattr(got, name).toarray(), getattr(ref, name).toarray(), rtol=1e-10, atol=1e-9
            )
        # R on the fill-in pattern's slots, given by the builder: as read from R
        np.testing.assert_allclose(
            got.rest.R_slots, got.rest._values_of(ref.R), rtol=1e-10, atol=1e-9
        )
        f_ref, f_got = factorize(ref, lam), factorize(got, lam)
        assert f_got.pwrss == pytest.approx(f_ref.pwrss, rel=1e-10)
        assert f_got.logdet_L == pytest.approx(f_ref.logdet_L, rel=1e-10)
