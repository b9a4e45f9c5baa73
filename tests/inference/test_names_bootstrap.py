"""lme4 parameter names and order; the parametric bootstrap's reproducibility and refits."""

from __future__ import annotations

import numpy as np

from hierreg_formula.core.lmm import fit_lmm
from hierreg_formula.inference.bootstrap import (
    parametric_bootstrap,
    replicate_generators,
    simulate_responses,
)
from hierreg_formula.inference.names import lme4_term_order, varpar_names
from tests.inference.refs import build, fit


def test_lme4_term_order():
    assert lme4_term_order([10, 5, 5]) == [0, 1, 2]  # already non-increasing: kept
    assert lme4_term_order([5, 10, 5]) == [1, 2, 0]  # rev(order(nl)): ties reversed
    assert lme4_term_order([2, 3, 4]) == [2, 1, 0]


def test_names_follow_lme4_for_crossed_terms():
    # Penicillin: (1 | plate) has 24 levels, (1 | sample) 6: lme4 keeps plate first
    v = varpar_names(["plate", "sample"], [["(Intercept)"], ["(Intercept)"]], [24, 6])
    assert v.readable == ["sd_(Intercept)|plate", "sd_(Intercept)|sample", "sigma"]
    v = varpar_names(["sample", "plate"], [["(Intercept)"], ["(Intercept)"]], [6, 24])
    assert v.readable == ["sd_(Intercept)|plate", "sd_(Intercept)|sample", "sigma"]
    assert v.sig_names == [".sig01", ".sig02", ".sigma"]


def test_bootstrap_is_reproducible_and_independent_of_jobs():
    _, prob, _ = build("Reaction ~ Days + (Days | Subject)", "sleepstudy")
    est = fit(prob)
    a = parametric_bootstrap(prob, est, nsim=12, seed=7, chunk_size=5)
    b = parametric_bootstrap(prob, est, nsim=12, seed=7, chunk_size=3, n_jobs=2)
    c = parametric_bootstrap(prob, est, nsim=12, seed=8)
    np.testing.assert_array_equal(a.replicates, b.replicates)
    assert not np.array_equal(a.replicates, c.replicates)
    assert a.converged.all()
    assert a.names == [".sig01", ".sig02", ".sig03", ".sigma", "x1", "x2"]
    assert a.readable[:4] == ["sd_c1|g1", "cor_c2.c1|g1", "sd_c2|g1", "sigma"]


def test_bootstrap_refit_equals_a_fresh_fit_of_the_simulated_response():
    _, prob, _ = build("Reaction ~ Days + (Days | Subject)", "sleepstudy")
    est = fit(prob)
    boot = parametric_bootstrap(prob, est, nsim=3, seed=11)
    Y = simulate_responses(prob, est, replicate_generators(11, 3))
    for i in range(3):
        f = fit_lmm(prob.X, Y[i], list(prob.terms))
        T = f.factors[0] * f.sigma
        C = T @ T.T
        sd = np.sqrt(np.diag(C))
        expect = [sd[0], C[0, 1] / (sd[0] * sd[1]), sd[1], f.sigma, *f.beta]
        np.testing.assert_allclose(boot.replicates[i], expect, rtol=2e-5)


def test_simulation_moments():
    """Simulated responses have the model's mean and marginal covariance (Monte Carlo)."""
    _, prob, _ = build("Reaction ~ Days + (1 | Subject)", "sleepstudy")
    est = fit(prob)
    Y = simulate_responses(prob, est, replicate_generators(0, 4000))
    mu = prob.X @ est.beta
    Z = prob.Z.toarray()
    V = est.sigma**2 * (np.eye(prob.n) + Z @ (est.factors[0][0, 0] ** 2 * Z.T))
    # within-subject covariance of the first two rows and the variance of row 0
    emp = np.cov(Y[:, :2].T)
    se = V[0, 0] * np.sqrt(2 / 4000)
    assert abs(Y[:, 0].mean() - mu[0]) < 4 * np.sqrt(V[0, 0] / 4000)
    assert abs(emp[0, 0] - V[0, 0]) < 4 * se
    assert abs(emp[0, 1] - V[0, 1]) < 4 * se


def test_bootstrap_intervals():
    _, prob, _ = build("Reaction ~ Days + (1 | Subject)", "sleepstudy")
    est = fit(prob)
    boot = parametric_bootstrap(prob, est, nsim=200, seed=3)
    lo, hi = boot.confint(0.95, "perc")
    assert np.all(lo < boot.estimate) and np.all(boot.estimate < hi)
    # the bootstrap SD of the Days slope is close to its standard error
    sd = boot.replicates[:, -1].std(ddof=1)
    assert abs(sd / np.sqrt(est.cov_beta[1, 1]) - 1) < 0.2
    for kind in ("basic", "norm"):
        lo2, hi2 = boot.confint(0.95, kind)
        assert np.all(lo2 < hi2)


def test_bootstrap_custom_statistic_and_worker_checks():
    import pytest

    _, prob, _ = build("Reaction ~ Days + (1 | Subject)", "sleepstudy")
    est = fit(prob)
    boot = parametric_bootstrap(prob, est, nsim=4, seed=2, statistic=lambda e: e.beta[1:])
    assert boot.replicates.shape == (4, 1)
    thr = parametric_bootstrap(
        prob, est, nsim=4, seed=2, statistic=lambda e: e.beta[1:], n_jobs=2, backend="threads"
    )
    np.testing.assert_array_equal(boot.replicates, thr.replicates)
    with pytest.raises(ValueError, match="picklable"):
        parametric_bootstrap(prob, est, nsim=4, seed=2, statistic=lambda e: e.beta, n_jobs=2)
