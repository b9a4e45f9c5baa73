"""Pieces of the GLMM core: family formulas against R, the analytic gradient, AGQ,
negative binomial, weights and offsets, and cbpp fits against lme4.

The R values were printed by R 4.2 / lme4 1.1-31 / MASS:
``tests/data/reference/lme4-glmm-core/check.R`` (output ``check.out``) for the
cbpp and negative binomial fits, and one-line ``Rscript -e`` calls for the
family formulas (quoted next to each value).
"""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

import hierreg_formula as hierreg
from hierreg_formula.core.agq import gh_rule
from hierreg_formula.core.families import get_family
from hierreg_formula.core.glmer import fit_glmm
from hierreg_formula.core.glmm import GLMMProblem
from hierreg_formula.core.pirls import GLMMData
from hierreg_formula.core.structure import TermArrays
from hierreg_formula.formula import build_design

L = sm.families.links


# ----------------------------------------------------------------- families
def test_binomial_minus2_loglik_matches_r() -> None:
    # -2*sum(dbinom(c(2,0,5), c(7,3,5), c(.3,.2,.9), log=TRUE)) = 4.6860622457
    fam = get_family("binomial")
    n = np.array([7.0, 3.0, 5.0])
    y = np.array([2.0, 0.0, 5.0]) / n
    assert fam.minus2_loglik(y, np.array([0.3, 0.2, 0.9]), n) == pytest.approx(
        4.6860622457, abs=1e-9
    )


def test_negative_binomial_matches_mass() -> None:
    # MASS::negative.binomial(2.5): aic(y, 1, mu, 1) = 11.2326807475, sum(dev.resids) = 2.2249523313
    fam = get_family("negative_binomial", nb_theta=2.5)
    y, mu = np.array([0.0, 3.0, 7.0]), np.array([1.2, 2.5, 5.0])
    assert fam.minus2_loglik(y, mu, None) == pytest.approx(11.2326807475, abs=1e-9)
    assert fam.dev_resids(y, mu, None).sum() == pytest.approx(2.2249523313, abs=1e-9)
    assert get_family(sm.families.NegativeBinomial(alpha=0.4)).nb_theta == pytest.approx(2.5)


def test_gamma_matches_r() -> None:
    # Gamma()$aic(y, 1, mu, 1, dev) = 7.7433042554 with dev = 0.5026288566
    fam = get_family("gamma")
    y, mu = np.array([0.5, 2.0, 3.5]), np.array([1.0, 1.5, 3.0])
    dev = fam.dev_resids(y, mu, None).sum()
    assert dev == pytest.approx(0.5026288566, abs=1e-9)
    assert fam.minus2_loglik(y, mu, None) == pytest.approx(7.7433042554, abs=1e-9)


@pytest.mark.parametrize(
    "link, mu, mu_eta",
    [
        # binomial(link = "probit")$linkinv / $mu.eta at c(-1, 0.5)
        (L.Probit(), [0.158655253931, 0.691462461274], [0.241970724519, 0.352065326764]),
        (L.CLogLog(), [0.307799372445, 0.807704354452], [0.254646380044, 0.317041921078]),
    ],
)
def test_statsmodels_links_match_r(link, mu, mu_eta) -> None:
    fam = get_family(sm.families.Binomial(link=link))
    eta = np.array([-1.0, 0.5])
    np.testing.assert_allclose(fam.link.linkinv(eta), mu, atol=1e-12)
    np.testing.assert_allclose(fam.link.mu_eta(eta), mu_eta, atol=1e-12)
    assert not fam.canonical


def test_gh_rule() -> None:
    z, p = gh_rule(9)
    assert p.sum() == pytest.approx(1.0)
    assert (p * z * z).sum() == pytest.approx(1.0)  # the standard normal's variance


# ----------------------------------------------------------------- gradient
def _one_term_problem(family, slope: bool, seed: int = 3):
    rng = np.random.default_rng(seed)
    n, G = 1500, 60
    g = rng.integers(0, G, n)
    x = rng.normal(size=n)
    X = np.column_stack([np.ones(n), x])
    eta = -0.3 + 0.5 * x + rng.normal(scale=0.8, size=G)[g]
    if slope:
        eta = eta + rng.normal(scale=0.4, size=G)[g] * x
    fam = get_family(family)
    if fam.name == "binomial":
        y = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float)
    else:
        y = rng.poisson(np.exp(eta)).astype(float)
    data = GLMMData(X, y, (TermArrays(g, G, X if slope else np.ones((n, 1))),), fam)
    return GLMMProblem(data, 1)


@pytest.mark.parametrize(
    "family, slope",
    [
        ("binomial", True),
        ("poisson", False),
        (sm.families.Binomial(link=L.Probit()), True),
        (sm.families.Binomial(link=L.CLogLog()), False),
        (sm.families.NegativeBinomial(alpha=0.7), True),
    ],
)
def test_laplace_gradient_matches_finite_differences(family, slope) -> None:
    prob = _one_term_problem(family, slope)
    theta = np.array([0.7, 0.1, 0.35]) if slope else np.array([0.7])
    x0 = np.concatenate([theta, [-0.25, 0.45]])
    prob.pirls_tol = 1e-13
    f, g = prob.value_and_gradient(x0)
    h = 1e-4
    fd = []
    for e in np.eye(len(x0)):
        prob._predict = None
        fp = prob.deviance_vector(x0 + h * e)
        prob._predict = None
        fm = prob.deviance_vector(x0 - h * e)
        fd.append((fp - fm) / (2 * h))
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-4)


# ------------------------------------------------------------------- cbpp
@pytest.fixture(scope="module")
def cbpp():
    d = hierreg.load_dataset("cbpp")
    bl = build_design("prop ~ period + (1 | herd)", d)
    blk = bl.random[0]
    return bl.X, bl.y, [TermArrays(blk.codes, len(blk.levels), blk.X)], d["size"].to_numpy(float)


# lme4 1.1-31 tight fits of cbind(incidence, size - incidence) ~ period + (1 | herd) (check.out)
CBPP = {
    "laplace": (
        "binomial",
        1,
        184.052563742994,
        [0.642261412],
        [-1.398532124, -0.992332749, -1.128672103, -1.580313923],
        [0.232471831, 0.306642106, 0.326637465, 0.427436057],
    ),
    "agq9": (
        "binomial",
        9,
        100.010036054798,
        [0.647517716],
        [-1.399230194, -0.991403869, -1.127819683, -1.579471034],
        [0.233511363, 0.306767892, 0.326768277, 0.427594323],
    ),
    "probit": (
        sm.families.Binomial(link=L.Probit()),
        1,
        185.242446745557,
        [0.337991771],
        [-0.835477483, -0.528033783, -0.616886686, -0.799563191],
        [0.126236612, 0.160604233, 0.169476918, 0.204698535],
    ),
    "cloglog": (
        sm.families.Binomial(link=L.CLogLog()),
        1,
        183.604075834526,
        [0.586687341],
        [-1.525980789, -0.916320086, -1.035162018, -1.483632883],
        [0.210916178, 0.284890006, 0.306315663, 0.409047332],
    ),
}


@pytest.mark.parametrize("case", sorted(CBPP))
def test_cbpp_against_lme4(cbpp, case) -> None:
    X, y, terms, size = cbpp
    family, nagq, obj, theta, beta, se = CBPP[case]
    est = fit_glmm(X, y, terms, family, weights=size, nagq=nagq)
    assert est.objective == pytest.approx(obj, rel=1e-6)
    np.testing.assert_allclose(est.theta, theta, atol=1e-4)
    np.testing.assert_allclose(est.beta, beta, rtol=1e-4)
    np.testing.assert_allclose(est.bse, se, rtol=1e-3)
    if nagq > 1:  # lme4 drops the binomial constants with AGQ; objective_full keeps them
        const = get_family(family).saturated_constant(y, size)
        assert est.objective_full == pytest.approx(obj + const, rel=1e-9)


def test_agq_one_node_is_laplace_and_nagq0(cbpp) -> None:
    X, y, terms, size = cbpp
    lap = fit_glmm(X, y, terms, "binomial", weights=size, nagq=1, cov="rx")
    prob = GLMMProblem(GLMMData(X, y, tuple(terms), get_family("binomial"), size), 1)
    assert prob.deviance(lap.theta, lap.beta) == pytest.approx(lap.objective, rel=1e-12)
    zero = fit_glmm(X, y, terms, "binomial", weights=size, nagq=0)
    assert zero.cov_method == "rx" and zero.converged
    assert zero.objective > lap.objective - 1.0  # a different (cruder) criterion, same scale


def test_negative_binomial_glmer_nb() -> None:
    """glmer.nb(TICKS ~ YEAR + cHEIGHT + (1 | LOCATION), grouseticks) (lme4 defaults,
    so its theta is only converged to optimize()'s tolerance)."""
    d = hierreg.load_dataset("grouseticks")
    bl = build_design("TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", d)
    blk = bl.random[0]
    est = fit_glmm(bl.X, bl.y, [TermArrays(blk.codes, len(blk.levels), blk.X)], "negative_binomial")
    assert est.objective == pytest.approx(1811.722484368719, rel=1e-6)
    assert est.objective <= 1811.722484368719  # at least as good as lme4's
    assert est.nb_theta == pytest.approx(2.052219243, rel=1e-4)
    np.testing.assert_allclose(est.theta, [0.893645928], atol=1e-4)
    np.testing.assert_allclose(
        est.beta, [0.588984509, 1.122435508, -1.118236790, -0.023783501], rtol=1e-4
    )
    np.testing.assert_allclose(
        est.bse, [0.173334660, 0.167592235, 0.186274675, 0.003858779], rtol=1e-3
    )


# ------------------------------------------------------------ weights, offset
def test_weights_equal_duplicated_rows_and_offset_shifts_beta() -> None:
    rng = np.random.default_rng(11)
    n, G = 400, 20
    g = rng.integers(0, G, n)
    x = rng.normal(size=n)
    X = np.column_stack([np.ones(n), x])
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(0.2 + x + rng.normal(size=G)[g])))).astype(float)
    t = TermArrays(g, G, np.ones((n, 1)))
    w = np.where(np.arange(n) % 3 == 0, 2.0, 1.0)
    fw = fit_glmm(X, y, [t], "binomial", weights=w, cov="rx")
    rows = np.repeat(np.arange(n), w.astype(int))
    fd = fit_glmm(
        X[rows], y[rows], [TermArrays(g[rows], G, np.ones((len(rows), 1)))], "binomial", cov="rx"
    )
    assert fw.objective == pytest.approx(fd.objective, rel=1e-9)
    np.testing.assert_allclose(fw.beta, fd.beta, rtol=1e-5)
    np.testing.assert_allclose(fw.theta, fd.theta, atol=1e-5)
    # an offset 0.3 x moves the slope by exactly -0.3
    fo = fit_glmm(X, y, [t], "binomial", offset=0.3 * x, cov="rx")
    f0 = fit_glmm(X, y, [t], "binomial", cov="rx")
    assert fo.objective == pytest.approx(f0.objective, rel=1e-9)
    np.testing.assert_allclose(fo.beta + [0.0, 0.3], f0.beta, atol=1e-5)
