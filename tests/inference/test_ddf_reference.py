"""Satterthwaite and Kenward-Roger against lmerTest 3.1-3 / pbkrtest 0.5-2 (turn-2 and turn-3 refs).

Two levels of checks: at lme4's tightly converged estimates (the numerics alone,
tolerances well below issue 10's), and end to end from our own fit with issue 10's
tolerances (df 1e-4 relative, t and F 1e-6 relative, p-values 1e-6 absolute).
"""

from __future__ import annotations

import numpy as np
import pytest

from hierreg_formula.inference.contrasts import (
    fixed_terms_from_spec,
    full_dummy_blocks,
    type1_contrasts,
    type3_contrasts,
)
from hierreg_formula.inference.ftests import anova_tests
from hierreg_formula.inference.kenward_roger import kr_adjustment, kr_t
from hierreg_formula.inference.satterthwaite import satterthwaite_t
from hierreg_formula.inference.varpar import varpar_covariance
from tests.inference.refs import build, fit, load_ref, rel, theta_from_lme4

MODELS = {
    "sleep_inference": ("Reaction ~ Days + (Days | Subject)", "sleepstudy"),
    "cake_type3": ("angle ~ recipe * temp + (1 | recipe:replicate)", "cake"),
    "cake_type1": ("angle ~ recipe * temp + (1 | recipe:replicate)", "cake"),
    "sleep_intercept_inference": ("Reaction ~ Days + (1 | Subject)", "sleepstudy"),
    "penicillin_inference": ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin"),
    "pastes_inference": ("strength ~ 1 + (1 | batch/cask)", "Pastes"),
}


def setup(name: str, at: str):
    ref = load_ref(name)
    formula, data = MODELS[name]
    blocks, prob, df = build(formula, data)
    if at == "reference":
        theta, sigma = theta_from_lme4(prob, ref["theta"]["values"]), ref["sigma"]
    else:
        est = fit(prob)
        theta, sigma = est.theta, est.sigma
    return ref, blocks, prob, df, theta, sigma


TOL = {  # (df, t/F, p) at lme4's estimates / from our own fit
    # lmerTest's df come from numDeriv's Hessian: ~1e-7 relative (17.0000017 where 17 is exact)
    "reference": dict(satt_df=1e-6, kr_df=1e-10, stat=1e-9, p=1e-9),
    "own_fit": dict(satt_df=1e-4, kr_df=1e-4, stat=1e-6, p=1e-6),
}


@pytest.mark.parametrize("at", list(TOL))
@pytest.mark.parametrize("name", list(MODELS))
def test_coefficient_tests(name, at):
    ref, blocks, prob, df, theta, sigma = setup(name, at)
    tol = TOL[at]
    inf = ref["inference"]
    vp = varpar_covariance(prob, theta, sigma, reml=True)
    s = satterthwaite_t(vp)
    S = inf["satterthwaite"]
    assert rel(s.df, S["df"]) < tol["satt_df"]
    assert rel(s.std_error, S["std_error"]) < tol["stat"]
    assert rel(s.t_value, S["t_value"]) < tol["stat"]
    assert np.max(np.abs(s.p_value - S["p_value"])) < tol["p"]
    kr = kr_adjustment(prob, theta, sigma)
    k = kr_t(kr)
    K = inf["kenward_roger"]
    assert rel(k.df, K["df"]) < tol["kr_df"]
    # a covariance: twice the relative error of the SEs (issue 3 allows 1e-5 on those)
    assert rel(kr.vcov_adj, K["vcov_adj"]["matrix"]) < 2 * max(tol["stat"], 1e-6)
    assert rel(k.t_value, K["t_value"]) < tol["stat"]
    assert np.max(np.abs(k.p_value - K["p_value"])) < tol["p"]


def test_satterthwaite_methods_agree_on_sleepstudy():
    """The finite-difference method (for large q) stays within issue 10's df tolerance."""
    ref, blocks, prob, df, theta, sigma = setup("sleep_inference", "reference")
    num = satterthwaite_t(varpar_covariance(prob, theta, sigma, True, method="numeric"))
    assert rel(num.df, ref["inference"]["satterthwaite"]["df"]) < 1e-6


def cake_contrasts(blocks, df):
    terms, intercept = fixed_terms_from_spec(blocks.spec.fixed_spec, blocks.x_names)
    return type3_contrasts(
        blocks.X, terms, full_dummy_blocks(terms, df.loc[blocks.index]), intercept
    )


def test_type3_contrasts_match_lmertest():
    ref, blocks, prob, df, *_ = setup("cake_type3", "reference")
    L = cake_contrasts(blocks, df)
    refL = ref["inference"]["type3_contrasts"]
    assert list(L) == list(refL)
    for term, r in refL.items():
        # lmerTest's L matrices are printed to 7 digits (1/3 as 0.3333333)
        np.testing.assert_allclose(L[term], np.array(r["L"]), atol=5e-8)


ANOVAS = [
    ("cake_type3", 3),
    ("cake_type1", 1),
    ("cake_type1", 3),
    ("sleep_intercept_inference", 3),
    ("sleep_intercept_inference", 1),
]


def model_contrasts(blocks, df, kind: int):
    terms, intercept = fixed_terms_from_spec(blocks.spec.fixed_spec, blocks.x_names)
    if kind == 1:
        return type1_contrasts(blocks.X, terms)
    return type3_contrasts(
        blocks.X, terms, full_dummy_blocks(terms, df.loc[blocks.index]), intercept
    )


@pytest.mark.parametrize("name,kind", ANOVAS)
def test_contrasts_match_lmertest(name, kind):
    ref, blocks, prob, df, *_ = setup(name, "reference")
    L = model_contrasts(blocks, df, kind)
    refL = ref["inference"][f"type{kind}_contrasts"]
    assert list(L) == list(refL)
    for term, r in refL.items():
        # turn-2 files print lmerTest's L to 7 digits (1/3 as 0.3333333)
        np.testing.assert_allclose(L[term], np.array(r["L"]), atol=5e-8)


@pytest.mark.parametrize("at", list(TOL))
@pytest.mark.parametrize("ddf", ["satterthwaite", "kenward-roger"])
@pytest.mark.parametrize("name,kind", ANOVAS)
def test_anova_tables(name, kind, ddf, at):
    ref, blocks, prob, df, theta, sigma = setup(name, at)
    tol = TOL[at]
    L = model_contrasts(blocks, df, kind)
    key = f"anova_type{kind}_" + ("satterthwaite" if ddf == "satterthwaite" else "kenward_roger")
    A = ref["inference"][key]
    if ddf == "satterthwaite":
        res = anova_tests(L, ddf, varpar=varpar_covariance(prob, theta, sigma, True))
        df_tol = tol["satt_df"]
    else:
        res = anova_tests(L, ddf, kr=kr_adjustment(prob, theta, sigma))
        df_tol = tol["kr_df"]
    assert list(res) == A["rows"]
    cols = [
        ("Sum Sq", "sum_sq"),
        ("Mean Sq", "mean_sq"),
        ("NumDF", "num_df"),
        ("DenDF", "den_df"),
        ("F value", "f_value"),
        ("Pr(>F)", "p_value"),
    ]
    got = {c: [getattr(res[r], a) for r in A["rows"]] for c, a in cols}
    assert got["NumDF"] == A["NumDF"]
    assert rel(got["DenDF"], A["DenDF"]) < df_tol
    # 1e-8: the turn-2 contrast for temp holds 0.3333333 rather than 1/3
    stat_tol = max(tol["stat"], 1e-8)
    for col in ("Sum Sq", "Mean Sq", "F value"):
        assert rel(got[col], A[col]) < stat_tol, col
    assert np.max(np.abs(np.array(got["Pr(>F)"]) - A["Pr(>F)"])) < tol["p"]


def test_satterthwaite_with_prior_weights():
    """cbpp ``prop ~ period + (1 | herd)``, ``weights = size``: weights folded into the arrays."""
    import hierreg_formula as hierreg
    from hierreg_formula.formula import build_design
    from hierreg_formula.inference.arrays import ModelArrays
    from hierreg_formula.models.prepare import prepare

    ref = load_ref("cbpp_lmm_weights")
    df = hierreg.load_dataset("cbpp")
    blocks = build_design("prop ~ period + (1 | herd)", df)
    w = df.loc[blocks.index, "size"].to_numpy(float)
    prob = ModelArrays.from_prepared(prepare(blocks, weights=w))
    theta, sigma = np.array(ref["theta"]["values"]), ref["sigma"]
    vp = varpar_covariance(prob, theta, sigma, reml=True)
    s = satterthwaite_t(vp)
    S = ref["inference"]["satterthwaite"]
    assert rel(s.estimate, S["estimate"]) < 1e-9
    assert rel(s.std_error, S["std_error"]) < 1e-9
    assert rel(s.df, S["df"]) < 1e-6
    assert np.max(np.abs(s.p_value - S["p_value"])) < 1e-9
    # and from our own (weighted) fit
    from hierreg_formula.inference.refit import fit_arrays

    est = fit_arrays(prob, reml=True)
    s2 = satterthwaite_t(varpar_covariance(prob, est.theta, est.sigma, reml=True))
    assert rel(s2.df, S["df"]) < 1e-4
    assert rel(s2.t_value, S["t_value"]) < 1e-6


def test_kr_from_an_ml_fit_refits_by_reml():
    from hierreg_formula.inference.kenward_roger import kr_for_estimate

    ref, blocks, prob, df, *_ = setup("sleep_inference", "reference")
    ml = fit(prob, reml=False)
    kr = kr_for_estimate(prob, ml)
    K = ref["inference"]["kenward_roger"]
    assert rel(kr.vcov_adj, K["vcov_adj"]["matrix"]) < 2e-5
    assert rel(kr_t(kr).df, K["df"]) < 1e-6
