"""ICC / Nakagawa R2 against R (turn-3 icc_r2: the definitions and performance 0.10.2);
fixed-part prediction SE and intervals against direct formulas and lme4's predictions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hierreg_formula.core.theta import ThetaMap
from hierreg_formula.inference.prediction import fixed_prediction
from hierreg_formula.inference.r2 import nakagawa_r2
from hierreg_formula.inference.satterthwaite import satterthwaite_df
from hierreg_formula.inference.varpar import varpar_covariance
from tests.inference.refs import build, fit, load_ref, rel

R2_MODELS = {
    "sleep_intercept": "Reaction ~ Days + (1 | Subject)",
    "sleep_slope": "Reaction ~ Days + (Days | Subject)",
}


@pytest.mark.parametrize("own_fit", [False, True], ids=["reference", "own_fit"])
@pytest.mark.parametrize("name", list(R2_MODELS))
def test_nakagawa_r2_and_icc(name, own_fit):
    ref = load_ref("icc_r2")["models"][name]
    blocks, prob, _ = build(R2_MODELS[name], "sleepstudy")
    if own_fit:
        est = fit(prob)
        theta, sigma, beta = est.theta, est.sigma, est.beta
    else:
        theta, sigma, beta = np.array(ref["theta"]), ref["sigma"], np.array(ref["fixef"])
    factors = ThetaMap(prob.ks).factors(theta)
    Sigmas = [sigma**2 * T @ T.T for T in factors]
    r = nakagawa_r2(blocks.X, beta, [b.X for b in blocks.random], Sigmas, var_d=sigma**2)
    tol = 1e-5 if own_fit else 1e-10
    for ours, key in [
        (r.var_fixed, "var_fixed"),
        (r.var_random, "var_random"),
        (r.var_distribution, "var_distribution"),
        (r.r2_marginal, "r2_marginal"),
        (r.r2_conditional, "r2_conditional"),
        (r.icc_adjusted, "icc_adjusted"),
        (r.icc_conditional, "icc_conditional"),
    ]:
        assert abs(ours - ref[key]) / abs(ref[key]) < tol, key
    perf = ref["performance"]
    assert abs(r.r2_marginal - perf["r2_nakagawa"]["r2_marginal"]) < 10 * tol
    assert abs(r.icc_adjusted - perf["icc"]["icc_adjusted"]) < 10 * tol


def test_fixed_prediction_matches_lme4_and_direct_formulas():
    ref = load_ref("sleep_inference")
    blocks, prob, _ = build("Reaction ~ Days + (Days | Subject)", "sleepstudy")
    est = fit(prob)
    Xn = np.array([[1.0, 0.0], [1.0, 5.0], [1.0, 9.0]])
    r = fixed_prediction(Xn, est.beta, est.cov_beta, sigma=est.sigma)
    # lme4's population predictions (re.form = NA)
    assert rel(r.mean, ref["predict_new_levels"]["population"]) < 1e-9
    C = np.array(ref["vcov_fixef"]["matrix"])
    assert rel(r.se, np.sqrt(np.einsum("ip,pq,iq->i", Xn, C, Xn))) < 1e-5
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(r.ci_upper - r.mean, z * r.se)
    np.testing.assert_allclose(r.pi_upper - r.mean, z * np.sqrt(r.se**2 + est.sigma**2))
    # t intervals with Satterthwaite df of each row; new-group prediction intervals
    vp = varpar_covariance(prob, est.theta, est.sigma, reml=True)
    df = satterthwaite_df(vp, Xn)
    rt = fixed_prediction(Xn, est.beta, est.cov_beta, sigma=est.sigma, df=df)
    np.testing.assert_allclose(rt.ci_upper - rt.mean, stats.t.ppf(0.975, df) * r.se)
    T = est.factors[0] * est.sigma
    rg = fixed_prediction(Xn, est.beta, est.cov_beta, sigma=est.sigma, Z_new=[Xn], Sigmas=[T @ T.T])
    var = r.se**2 + est.sigma**2 + np.einsum("ij,jk,ik->i", Xn, T @ T.T, Xn)
    np.testing.assert_allclose(rg.pi_upper - rg.mean, z * np.sqrt(var))
