"""The dense evaluation of models with few random effects against the blocked factor and
:func:`~hierreg_formula.core.gradient.vector_gradient` (and central differences)."""

from __future__ import annotations

import numpy as np
import pytest

from hierreg_formula.core.gradient import vector_gradient
from hierreg_formula.core.lmm import DevianceFunction, profiled_deviance
from hierreg_formula.core.pls import factorize
from hierreg_formula.core.structure import TermArrays, cross_products
from hierreg_formula.core.theta import ThetaMap
from hierreg_formula.core.tiny_dense import DenseDeviance
from tests.core.test_pls import _problem


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("singular", [False, True])
@pytest.mark.parametrize(
    "ks,levels", [((1, 1), (12, 5)), ((2, 1, 2), (15, 6, 4)), ((3, 2), (9, 5)), ((1, 2), (7, 3))]
)
def test_dense_value_and_gradient(ks, levels, singular, reml):
    X, y, terms, rng = _problem(7, ks, levels)
    tmap = ThetaMap(list(ks))
    cp = cross_products(X, y, terms)
    theta = np.abs(rng.normal(size=tmap.size)) + 0.3
    if singular:
        theta[0] = 0.0  # the first term's first diagonal element on its bound
    dense = DenseDeviance(cp, tmap, reml)
    factors = tmap.factors(theta)
    ref = profiled_deviance(factorize(cp, factors), reml)
    assert dense(theta) == pytest.approx(ref, rel=1e-12)
    val, g = dense.value_and_gradient(theta)
    assert val == pytest.approx(ref, rel=1e-12)
    gv = vector_gradient(factorize(cp, factors), factors, reml)
    np.testing.assert_allclose(g, gv, rtol=1e-8, atol=1e-9 * max(1.0, np.abs(gv).max()))
    h = 1e-6
    for i, e in enumerate(np.eye(len(theta))):
        if theta[i] == 0.0 and tmap.lower[i] == 0.0:
            num = (-3 * dense(theta) + 4 * dense(theta + h * e) - dense(theta + 2 * h * e)) / (
                2 * h
            )
        else:
            num = (dense(theta + h * e) - dense(theta - h * e)) / (2 * h)
        assert g[i] == pytest.approx(num, rel=1e-5, abs=1e-5 * max(1.0, abs(num)))


def test_no_fixed_effects_and_deviance_function_choice():
    """p = 0 works, and DevianceFunction uses the dense evaluation only for small q."""
    rng = np.random.default_rng(3)
    n = 120
    a, b = rng.integers(0, 8, n), rng.integers(0, 5, n)
    y = rng.normal(size=8)[a] + rng.normal(size=5)[b] + rng.normal(size=n)
    ones = np.ones((n, 1))
    terms = [TermArrays(a, 8, ones), TermArrays(b, 5, ones)]
    tmap = ThetaMap([1, 1])
    cp = cross_products(np.zeros((n, 0)), y, terms)
    theta = np.array([0.8, 0.5])
    for reml in (True, False):
        dense = DenseDeviance(cp, tmap, reml)
        factors = tmap.factors(theta)
        ref = profiled_deviance(factorize(cp, factors), reml)
        val, g = dense.value_and_gradient(theta)
        assert val == pytest.approx(ref, rel=1e-12)
        gv = vector_gradient(factorize(cp, factors), factors, reml)
        np.testing.assert_allclose(g, gv, rtol=1e-8, atol=1e-10)
    assert isinstance(DevianceFunction(cp, tmap, True)._single, DenseDeviance)
    big = [TermArrays(rng.integers(0, 200, n), 200, ones), TermArrays(b, 5, ones)]
    cpb = cross_products(np.ones((n, 1)), y, big)
    assert DevianceFunction(cpb, tmap, True)._single is None


def test_fit_without_the_newton_polish_agrees(monkeypatch):
    """Above the polish's fill-in size the fit keeps L-BFGS-B's answer: the criterion
    agrees with the polished fit to far better than the 1e-8 the benchmarks ask."""
    import hierreg_formula.core.lmm as lmm

    X, y, terms, _ = _problem(11, (1, 1), (40, 25), n=600)
    polished = lmm.fit_lmm(X, y, terms)
    monkeypatch.setattr(lmm, "NEWTON_POLISH_MAX_REST", 0)
    monkeypatch.setattr(lmm, "use_dense", lambda cp: False)  # the blocked path, as when large
    plain = lmm.fit_lmm(X, y, terms)
    assert plain.converged and "Newton" not in plain.message
    assert plain.objective == pytest.approx(polished.objective, rel=1e-10)
    np.testing.assert_allclose(plain.theta, polished.theta, rtol=1e-4)
