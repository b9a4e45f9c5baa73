"""Analytic gradient of the profiled deviance against central differences."""

from __future__ import annotations

import numpy as np
import pytest

from hierreg_formula.core import TermArrays, cross_products, factorize
from hierreg_formula.core.gradient import scalar_gradient
from hierreg_formula.core.lmm import profiled_deviance


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("levels", [(40,), (40, 12), (40, 12, 5), (6, 50)])
def test_gradient_matches_central_differences(reml, levels):
    rng = np.random.default_rng(len(levels))
    n = 300
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    terms = [
        TermArrays(
            rng.integers(0, L, n).astype(np.int64),
            L,
            rng.normal(size=(n, 1)) if j == 1 else np.ones((n, 1)),  # a (0 + x | g) term too
        )
        for j, L in enumerate(levels)
    ]
    y = X @ np.array([1.0, 0.5]) + rng.normal(size=n)
    cp = cross_products(X, y, terms)
    theta = np.linspace(0.4, 1.3, len(levels))

    def dev(th):
        return profiled_deviance(factorize(cp, [np.array([[v]]) for v in th]), reml)

    g = scalar_gradient(factorize(cp, [np.array([[v]]) for v in theta]), theta, reml)
    h = 1e-6
    num = np.array(
        [(dev(theta + h * e) - dev(theta - h * e)) / (2 * h) for e in np.eye(len(theta))]
    )
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-6)
