"""The fused one-term deviance and its gradient against the general factor and
:func:`~hierreg_formula.core.gradient.vector_gradient`, on and off the boundary."""

from __future__ import annotations

import numpy as np
import pytest

from hierreg_formula.core.gradient import scalar_gradient, vector_gradient
from hierreg_formula.core.lmm import profiled_deviance
from hierreg_formula.core.pls import factorize
from hierreg_formula.core.single_lmm import SingleTermDeviance
from hierreg_formula.core.structure import cross_products
from hierreg_formula.core.theta import ThetaMap
from tests.core.test_pls import _problem


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("singular", [False, True])
@pytest.mark.parametrize("k,levels", [(1, 12), (2, 15), (3, 9)])
def test_single_term_value_and_gradient(k, levels, singular, reml):
    X, y, terms, rng = _problem(3, (k,), (levels,))
    tmap = ThetaMap([k])
    cp = cross_products(X, y, terms)
    theta = np.abs(rng.normal(size=tmap.size)) + 0.3
    if singular:
        theta[-1] = 0.0  # the last diagonal element on its bound
    fused = SingleTermDeviance(cp, reml)
    factors = tmap.factors(theta)
    ref = profiled_deviance(factorize(cp, factors), reml)
    assert fused(theta) == pytest.approx(ref, rel=1e-12)
    val, g = fused.value_and_gradient(theta)
    assert val == pytest.approx(ref, rel=1e-12)
    gv = vector_gradient(factorize(cp, factors), factors, reml)
    np.testing.assert_allclose(g, gv, rtol=1e-9, atol=1e-9 * max(1.0, np.abs(gv).max()))
    if k == 1:
        gs = scalar_gradient(factorize(cp, factors), theta, reml)
        if not singular:
            np.testing.assert_allclose(g, gs, rtol=1e-9)
    # and against central differences (one-sided on the bound)
    h = 1e-6
    num = []
    for i, e in enumerate(np.eye(len(theta))):
        if theta[i] == 0.0 and tmap.lower[i] == 0.0:
            num.append(
                (-3 * fused(theta) + 4 * fused(theta + h * e) - fused(theta + 2 * h * e)) / (2 * h)
            )
        else:
            num.append((fused(theta + h * e) - fused(theta - h * e)) / (2 * h))
    num = np.array(num)
    # the differences' round-off: ~1e-16 |d| / h per evaluation
    atol = max(1e-6 * max(1.0, np.abs(num).max()), 32 * np.finfo(float).eps * abs(ref) / h)
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=atol)


def test_rest_buffer_reuse_keeps_the_gradient():
    """The optimiser's reused rest buffer (the deviance first, then the gradient inverts
    the buffer in place) gives the same values as fresh factors, for scalar and vector
    rest terms."""
    from hierreg_formula.core.lmm import DevianceFunction

    for ks, levels in [((1, 1), (20, 7)), ((2, 1, 2), (15, 6, 4))]:
        X, y, terms, rng = _problem(5, ks, levels)
        tmap = ThetaMap(list(ks))
        cp = cross_products(X, y, terms)
        fun = DevianceFunction(cp, tmap, True)
        for _ in range(3):
            theta = np.abs(rng.normal(size=tmap.size)) + 0.2
            val, g = fun.value_and_gradient(theta)
            factors = tmap.factors(theta)
            assert val == pytest.approx(profiled_deviance(factorize(cp, factors), True), rel=1e-12)
            ref = vector_gradient(factorize(cp, factors), factors, True)
            np.testing.assert_allclose(g, ref, rtol=1e-8, atol=1e-9)
            assert fun(theta) == pytest.approx(val, rel=1e-12)
