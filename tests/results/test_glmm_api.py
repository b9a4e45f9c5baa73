"""GLMMs through the public API (formula, family, results) against lme4's glmer.

The core's accuracy is tested in ``tests/core/test_glmm_*``; here the wiring: formula
responses (cbind, proportions + weights, two labels), offsets, families from strings and
statsmodels instances, nagq, and the results vocabulary (criteria, residual types,
predictions on new levels) against ``tests/data/reference/lme4-turn3``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import hierreg_formula as hierreg
from hierreg_formula.compare.mixedlm import NotExpressibleError
from tests.conftest import CSV, load_lme4_turn3

CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.fixture(scope="module")
def cbpp_fit():
    return hierreg.fit(CBPP, hierreg.load_dataset("cbpp"), family="binomial"), load_lme4_turn3(
        "cbpp_binomial"
    )


def test_cbpp_matches_glmer(cbpp_fit):
    res, ref = cbpp_fit
    c = ref["criteria"]
    assert res.objective == pytest.approx(c["objective"], rel=1e-8)
    assert res.llf == pytest.approx(c["logLik"], rel=1e-8)
    assert res.aic == pytest.approx(c["AIC"], rel=1e-8)
    assert res.bic == pytest.approx(c["BIC"], rel=1e-8)
    assert res.deviance_residuals_sum == pytest.approx(c["deviance_lme4"], rel=1e-6)
    np.testing.assert_allclose(res.params, ref["fixef"]["estimate"], rtol=1e-5)
    np.testing.assert_allclose(res.bse, ref["fixef"]["std_error"], rtol=1e-4)
    np.testing.assert_allclose(res.tvalues, ref["fixef"]["z_value"], rtol=1e-4)
    np.testing.assert_allclose(res.theta, ref["theta"]["values"], rtol=1e-5)
    vc = res.varcorr()
    assert list(vc["group"]) == ["herd"]
    assert vc["sd"].iloc[0] == pytest.approx(ref["varcorr"][0]["sd"][0], rel=1e-5)


def test_cbpp_fitted_residuals_predictions(cbpp_fit):
    res, ref = cbpp_fit
    f = ref["fitted_first20"]
    np.testing.assert_allclose(res.fittedvalues.to_numpy()[:20], f["fitted"], atol=1e-6)
    np.testing.assert_allclose(
        res.predict(type="link").to_numpy()[:20], f["linear_predictor"], atol=1e-5
    )
    for kind in ("response", "pearson", "deviance", "working"):
        np.testing.assert_allclose(
            res.residuals(kind).to_numpy()[:20], f[f"residual_{kind}"], atol=1e-5
        )
    pn = ref["predict_new_levels"]
    new = pd.DataFrame(pn["newdata"])
    np.testing.assert_allclose(res.predict(new, type="link"), pn["link"], atol=1e-5)
    np.testing.assert_allclose(res.predict(new), pn["response"], atol=1e-6)
    np.testing.assert_allclose(
        res.predict(new, include_random=False, type="link"), pn["population_link"], atol=1e-5
    )


def test_random_effects_and_conditional_sds(cbpp_fit):
    res, ref = cbpp_fit
    r = ref["ranef"]["herd"]
    re = res.random_effects["herd"]["Intercept"]
    sd = res.random_effects_sd["herd"]["Intercept"]
    order = pd.Index([str(v) for v in re.index]).get_indexer([str(v) for v in r["levels"]])
    np.testing.assert_allclose(re.to_numpy()[order], r["mode"]["(Intercept)"], atol=1e-5)
    np.testing.assert_allclose(sd.to_numpy()[order], r["cond_sd"]["(Intercept)"], atol=1e-5)


def test_proportions_with_weights_equal_cbind(cbpp_fit):
    res, _ = cbpp_fit
    d = hierreg.load_dataset("cbpp")
    d = d.assign(prop=d["incidence"] / d["size"])
    prop = hierreg.fit("prop ~ period + (1 | herd)", d, family="binomial", weights="size")
    assert prop.objective == pytest.approx(res.objective, rel=1e-10)
    np.testing.assert_allclose(prop.params, res.params, rtol=1e-8)


def test_probit_from_a_statsmodels_family():
    ref = load_lme4_turn3("cbpp_probit")
    fam = sm.families.Binomial(link=sm.families.links.Probit())
    res = hierreg.fit(CBPP, hierreg.load_dataset("cbpp"), family=fam)
    assert res.family == "binomial/probit"
    assert res.objective == pytest.approx(ref["criteria"]["objective"], rel=1e-8)
    np.testing.assert_allclose(res.params, ref["fixef"]["estimate"], rtol=1e-5)


def test_adaptive_quadrature():
    ref = load_lme4_turn3("cbpp_binomial_agq9")
    res = hierreg.fit(CBPP, hierreg.load_dataset("cbpp"), family="binomial", nagq=9)
    c = ref["criteria"]
    assert res.objective == pytest.approx(c["objective"], rel=1e-8)  # lme4's AGQ scale
    assert res.llf == pytest.approx(c["logLik_full_constants"], rel=1e-8)
    assert res.saturated_constant == pytest.approx(c["saturated_minus2loglik"], rel=1e-8)
    np.testing.assert_allclose(res.params, ref["fixef"]["estimate"], rtol=1e-5)


def test_poisson_with_an_offset_in_the_formula():
    ref = load_lme4_turn3("poisson_offset")
    df = pd.read_csv(CSV / "poisson_offset.csv")
    res = hierreg.fit("count ~ x + (1 | g) + offset(np.log(exposure))", df, family="poisson")
    assert res.objective == pytest.approx(ref["criteria"]["objective"], rel=1e-7)
    np.testing.assert_allclose(res.params, ref["fixef"]["estimate"], rtol=1e-4)  # issue 9's
    same = hierreg.fit(
        "count ~ x + (1 | g)", df, family="poisson", offset=np.log(df["exposure"].to_numpy())
    )
    assert same.objective == pytest.approx(res.objective, rel=1e-10)


def test_negative_binomial_estimates_its_shape():
    ref = load_lme4_turn3("nb_grouseticks")
    res = hierreg.fit(
        "TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)",
        hierreg.load_dataset("grouseticks"),
        family="negative_binomial",
    )
    assert res.nb_theta == pytest.approx(ref["nb_theta"], rel=1e-5)
    assert res.objective == pytest.approx(ref["criteria"]["objective"], rel=1e-8)
    assert res.df_modelwc == ref["criteria"]["logLik_df"]
    assert res.aic == pytest.approx(ref["criteria"]["AIC"], rel=1e-8)


def test_two_label_responses_are_binomial():
    df = pd.read_csv(CSV / "bern_slope.csv")
    num = hierreg.fit("y ~ x + (1 | g)", df, family="binomial")
    lab = hierreg.fit(
        "y ~ x + (1 | g)", df.assign(y=np.where(df["y"] == 1, "yes", "no")), family="binomial"
    )
    assert lab.classes_ == ("no", "yes")
    assert lab.objective == pytest.approx(num.objective, rel=1e-12)
    boolean = hierreg.fit("y ~ x + (1 | g)", df.assign(y=df["y"] == 1), family="binomial")
    assert boolean.objective == pytest.approx(num.objective, rel=1e-12)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(family="binomial", method="reml"), hierreg.HierregError, "maximum likelihood"),
        (dict(family="binomial", nagq=5), hierreg.HierregError, "single scalar|one scalar"),
        (dict(family="poisson"), hierreg.DataError, "needs family='binomial'"),
        (dict(family="binomial", nagq=-1), hierreg.HierregError, "nagq must be"),
        (dict(family="tweedie"), hierreg.HierregError, "unknown family"),
        (dict(family="binomial", alpha=1.0), hierreg.HierregError, "unknown option.*'alpha'"),
    ],
)
def test_glmm_options_fail_clearly(kwargs, error, match):
    formula = CBPP.replace("(1 | herd)", "(period | herd)") if kwargs.get("nagq") == 5 else CBPP
    with pytest.raises(error, match=match):
        hierreg.fit(formula, hierreg.load_dataset("cbpp"), **kwargs)


def test_observation_level_random_effect_is_legitimate():
    d = hierreg.load_dataset("grouseticks")
    res = hierreg.fit("TICKS ~ YEAR + (1 | INDEX) + (1 | LOCATION)", d, family="poisson")
    assert res.converged and res.ngroups["INDEX"] == len(d)


def test_no_comparison_with_statsmodels(cbpp_fit):
    res, _ = cbpp_fit
    with pytest.raises(NotExpressibleError, match="no maximum-likelihood GLMM"):
        res.compare_mixedlm()


def test_likelihood_ratio_test_between_glmms():
    ref = load_lme4_turn3("cbpp_binomial_inference")["inference"]
    d = hierreg.load_dataset("cbpp")
    m0 = hierreg.fit(CBPP.replace("period", "1"), d, family="binomial")
    m1 = hierreg.fit(CBPP, d, family="binomial")
    tab = hierreg.anova(m0, m1).table
    lrt = ref["anova_lrt"]["lme4_anova"]
    chisq = [v for v in lrt["Chisq"] if v is not None][-1]
    assert tab["Chisq"].iloc[1] == pytest.approx(chisq, rel=1e-5)
    np.testing.assert_allclose(tab["logLik"], lrt["logLik"], rtol=1e-7)


def test_profile_intervals_of_a_glmm(cbpp_fit):
    res, _ = cbpp_fit
    ref = load_lme4_turn3("cbpp_binomial_inference")["inference"]["confint_profile"]
    ci = res.conf_int(method="profile")
    assert list(ci["name"]) == [".sig01", "Intercept", "period[T.2]", "period[T.3]", "period[T.4]"]
    assert ci.index[0] == "sd_Intercept|herd"
    np.testing.assert_allclose(ci["lower"], ref["lower"], rtol=1e-3)
    np.testing.assert_allclose(ci["upper"], ref["upper"], rtol=1e-3)


def test_glmm_bootstrap_is_reproducible(cbpp_fit):
    res, _ = cbpp_fit
    a = res.bootstrap(nsim=20, seed=5, progress=False)
    b = res.bootstrap(nsim=20, seed=5, progress=False)
    np.testing.assert_array_equal(a.replicates, b.replicates)
    assert a.names[0] == ".sig01" and a.replicates.shape == (20, 5)
    sims = res.simulate(3, seed=2)
    assert sims.shape == (56, 3) and ((sims >= 0) & (sims <= 1)).all().all()
    # the simulated proportions are counts out of the herds' sizes
    counts = sims.to_numpy() * hierreg.load_dataset("cbpp")["size"].to_numpy()[:, None]
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)


def test_glmm_r2_and_icc_match_nakagawa_references():
    """Latent-scale R2 and ICC (Nakagawa, Johnson & Schielzeth 2017) against the closed
    forms computed in R on lme4's tight fits (turn-3 icc_r2; binomial also equals
    performance 0.10.2); Poisson's Var_D from the refitted null model's lambda."""
    refs = load_lme4_turn3("icc_r2")["models"]
    ref = refs["cbpp_binomial"]
    res = hierreg.fit(CBPP, hierreg.load_dataset("cbpp"), family="binomial")
    np.testing.assert_allclose(res.r2(), [ref["r2_marginal"], ref["r2_conditional"]], rtol=1e-6)
    np.testing.assert_allclose(res.icc(), [ref["icc_adjusted"], ref["icc_conditional"]], rtol=1e-6)
    perf = ref["performance"]["r2_nakagawa"]
    assert res.r2()["marginal"] == pytest.approx(perf["r2_marginal"], rel=1e-6)

    ref = refs["poisson_offset"]
    df = pd.read_csv(CSV / "poisson_offset.csv")
    res = hierreg.fit("count ~ x + (1 | g) + offset(np.log(exposure))", df, family="poisson")
    # the Poisson references are as exact as the fits (~1e-5, the folder's README)
    assert res._null_lambda() == pytest.approx(ref["lambda"], rel=1e-5)
    np.testing.assert_allclose(res.r2(), [ref["r2_marginal"], ref["r2_conditional"]], rtol=2e-5)
    np.testing.assert_allclose(res.icc(), [ref["icc_adjusted"], ref["icc_conditional"]], rtol=2e-5)
    for method in ("delta", "trigamma"):
        alt = ref["alternatives"][method]
        np.testing.assert_allclose(
            res.r2(method), [alt["r2_marginal"], alt["r2_conditional"]], rtol=2e-5
        )
        assert res.icc(method)["adjusted"] == pytest.approx(alt["icc_adjusted"], rel=2e-5)
    null = res.update("count ~ 1 + (1 | g) + offset(np.log(exposure))")
    assert null.params.iloc[0] == pytest.approx(ref["null_model"]["beta0"], rel=1e-4)
    with pytest.raises(hierreg.HierregError, match="method must be"):
        res.r2("bogus")
    nb = hierreg.fit(
        "TICKS ~ YEAR + (1 | LOCATION)",
        hierreg.load_dataset("grouseticks"),
        family="negative_binomial",
    )
    with pytest.raises(hierreg.HierregError, match="binomial .* and Poisson"):
        nb.icc()
