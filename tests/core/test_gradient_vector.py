"""Analytic gradient of a one-term (vector-valued) model against central differences."""

from __future__ import annotations

import numpy as np
import pytest

from hierreg_formula.core import TermArrays, ThetaMap, cross_products, factorize
from hierreg_formula.core.gradient import single_term_gradient
from hierreg_formula.core.lmm import profiled_deviance


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("reml", [True, False])
def test_single_term_gradient(k, reml):
    rng = np.random.default_rng(k)
    n = 400
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    Xz = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(k - 1)])
    term = TermArrays(rng.integers(0, 30, n).astype(np.int64), 30, Xz)
    y = rng.normal(size=n) + X @ [1.0, 2.0, 3.0]
    cp = cross_products(X, y, [term])
    tm = ThetaMap([k])
    theta = tm.initial() * 0.8 + 0.1 * np.abs(rng.normal(size=tm.size))

    def dev(th):
        return profiled_deviance(factorize(cp, tm.factors(th)), reml)

    g = single_term_gradient(factorize(cp, tm.factors(theta)), tm.factors(theta)[0], reml)
    h = 1e-6
    num = np.array([(dev(theta + h * e) - dev(theta - h * e)) / (2 * h) for e in np.eye(tm.size)])
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-5)
