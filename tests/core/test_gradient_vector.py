"""The analytic gradient for any terms against finite differences, on and off the boundary."""

from __future__ import annotations

import numpy as np
import pytest

from hierreg_formula.core.gradient import vector_gradient
from hierreg_formula.core.lmm import profiled_deviance
from hierreg_formula.core.pls import factorize
from hierreg_formula.core.structure import cross_products
from hierreg_formula.core.theta import ThetaMap
from tests.core.test_pls import _problem

SHAPES = [
    ((2,), (12,)),
    ((1, 1), (20, 7)),
    ((2, 1, 2), (15, 6, 4)),
    ((3, 2), (10, 5)),
    ((2, 2, 2), (12, 6, 30)),
]


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("singular", [False, True])
@pytest.mark.parametrize("ks,levels", SHAPES)
def test_vector_gradient_matches_differences(ks, levels, singular, reml):
    X, y, terms, rng = _problem(1, ks, levels)
    tmap = ThetaMap([t.k for t in terms])
    cp = cross_products(X, y, terms)
    theta = np.abs(rng.normal(size=tmap.size)) + 0.3
    if singular:  # the last diagonal element of every vector term on its bound
        for i, (term, r, c) in enumerate(tmap.layout()):
            if r == c == ks[term] - 1 and ks[term] > 1:
                theta[i] = 0.0

    def dev(th):
        return profiled_deviance(factorize(cp, tmap.factors(th)), reml)

    g = vector_gradient(factorize(cp, tmap.factors(theta)), tmap.factors(theta), reml)
    h = 1e-6
    num = []
    for i, e in enumerate(np.eye(len(theta))):
        if theta[i] == 0.0 and tmap.lower[i] == 0.0:  # one-sided, second order
            num.append(
                (-3 * dev(theta) + 4 * dev(theta + h * e) - dev(theta + 2 * h * e)) / (2 * h)
            )
        else:
            num.append((dev(theta + h * e) - dev(theta - h * e)) / (2 * h))
    num = np.array(num)
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-6 * max(1.0, np.abs(num).max()))
