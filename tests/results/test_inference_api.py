"""The inference API of fitted models against lmerTest / pbkrtest / lme4 (issue 10).

Tolerances from the issue: df 1e-4 relative, F / t / Chisq 1e-6 relative, p-values
1e-6 absolute, profile bounds 1e-3 relative (lme4 interpolates its profile).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg
from tests.conftest import load_lme4_turn2, load_lme4_turn3

pytestmark = pytest.mark.filterwarnings("ignore::hierreg_formula.SingularFitWarning")


@pytest.fixture(scope="module")
def sleep():
    df = hierreg.load_dataset("sleepstudy")
    m1 = hierreg.fit("Reaction ~ Days + (Days | Subject)", df)
    m0 = hierreg.fit("Reaction ~ Days + (1 | Subject)", df)
    return m0, m1, load_lme4_turn2("sleep_inference")["inference"]


@pytest.fixture(scope="module")
def cake():
    return hierreg.fit(
        "angle ~ recipe * temp + (1 | recipe:replicate)", hierreg.load_dataset("cake")
    )


def test_satterthwaite_tidy(sleep):
    _, m1, ref = sleep
    s = ref["satterthwaite"]
    t = m1.tidy(ddf="satterthwaite")
    assert list(t.columns) == ["Coef.", "Std.Err.", "df", "t", "P>|t|", "[0.025", "0.975]"]
    np.testing.assert_allclose(t["df"], s["df"], rtol=1e-4)
    np.testing.assert_allclose(t["t"], s["t_value"], rtol=1e-6)
    np.testing.assert_allclose(t["P>|t|"], s["p_value"], atol=1e-6)
    np.testing.assert_allclose(m1.pvalues, s["p_value"], atol=1e-6)  # the default ddf


def test_kenward_roger(sleep):
    _, m1, ref = sleep
    kr = ref["kenward_roger"]
    t = m1.tidy(ddf="kenward-roger")
    np.testing.assert_allclose(t["Std.Err."], kr["std_error"], rtol=1e-6)
    np.testing.assert_allclose(t["df"], kr["df"], rtol=1e-4)
    np.testing.assert_allclose(t["t"], kr["t_value"], rtol=1e-6)
    np.testing.assert_allclose(t["P>|t|"], kr["p_value"], atol=1e-6)
    np.testing.assert_allclose(
        m1.cov_params(adjust="kenward-roger"), kr["vcov_adj"]["matrix"], rtol=1e-6
    )


def test_normal_tidy_keeps_z(sleep):
    _, m1, _ = sleep
    t = m1.tidy(ddf="normal")
    assert list(t.columns) == ["Coef.", "Std.Err.", "z", "P>|z|", "[0.025", "0.975]"]


def test_summary_says_which_ddf(sleep):
    _, m1, _ = sleep
    assert "Satterthwaite" in str(m1.summary())
    assert "Kenward-Roger" in str(m1.summary(ddf="kenward-roger"))
    assert "normal approximation" in str(m1.summary(ddf="normal"))


def test_likelihood_ratio_test_refits_by_ml(sleep):
    m0, m1, ref = sleep
    tab = hierreg.anova(m1, m0)  # rows ordered by npar whatever the order given
    r = ref["anova_lrt"]["tight_ml_anova"]
    t = tab.table
    assert tab.notes == ["refitting model(s) with ML (instead of REML)"]
    assert list(t.columns) == [
        "npar",
        "AIC",
        "BIC",
        "logLik",
        "deviance",
        "Chisq",
        "Df",
        "Pr(>Chisq)",
    ]
    np.testing.assert_array_equal(t["npar"], r["npar"])
    np.testing.assert_allclose(t["logLik"], r["logLik"], rtol=1e-8)
    np.testing.assert_allclose(t["AIC"], r["AIC"], rtol=1e-8)
    np.testing.assert_allclose(t["BIC"], r["BIC"], rtol=1e-8)
    assert t["Chisq"].iloc[1] == pytest.approx(r["Chisq"][1], rel=1e-6)
    assert t["Pr(>Chisq)"].iloc[1] == pytest.approx(r["Pr(>Chisq)"][1], abs=1e-6)
    assert np.isnan(t["Chisq"].iloc[0])


def test_anova_refuses_different_data(sleep):
    m0, _, _ = sleep
    other = hierreg.fit(
        "Reaction ~ Days + (1 | Subject)", hierreg.load_dataset("sleepstudy").iloc[:150]
    )
    with pytest.raises(hierreg.HierregError, match="not fitted to the same data"):
        hierreg.anova(m0, other)


def test_compare_models_table(sleep):
    m0, m1, ref = sleep
    tab = hierreg.compare_models(m0, m1, names=["m0", "m1"])
    r = ref["anova_lrt"]["tight_ml_anova"]
    np.testing.assert_allclose(tab.table["AIC"], r["AIC"], rtol=1e-8)
    assert tab.table["dAIC"].min() == 0.0


def test_profile_confint_in_lme4_order(sleep):
    _, m1, ref = sleep
    ci = m1.conf_int(method="profile")
    p = ref["confint_profile"]
    assert list(ci["name"]) == p["names"][:3] + [".sigma"] + ["Intercept", "Days"]
    assert list(ci.index) == [
        "sd_Intercept|Subject",
        "cor_Days.Intercept|Subject",
        "sd_Days|Subject",
        "sigma",
        "Intercept",
        "Days",
    ]
    np.testing.assert_allclose(ci["lower"], p["lower"], rtol=1e-3)
    np.testing.assert_allclose(ci["upper"], p["upper"], rtol=1e-3)


def test_profile_covers_both_sides(sleep):
    _, m1, _ = sleep
    prof = m1.profile(which=["Days"])
    z = prof.frame["zeta"]
    assert z.min() < -2.5 and z.max() > 2.5  # both sides out to beyond the 99% cutoff
    assert (np.diff(prof.frame.sort_values("value")["zeta"].to_numpy()) > 0).all()


@pytest.mark.parametrize("ddf", ["satterthwaite", "kenward_roger"])
def test_type3_anova_cake(cake, ddf):
    ref = load_lme4_turn2("cake_type3")["inference"][f"anova_type3_{ddf}"]
    tab = cake.anova(type=3, ddf=ddf)
    assert list(tab.index) == ref["rows"] == ["recipe", "temp", "recipe:temp"]
    np.testing.assert_array_equal(tab["NumDF"], ref["NumDF"])
    np.testing.assert_allclose(tab["DenDF"], ref["DenDF"], rtol=1e-4)
    # lmerTest rounds temp's contrast to 0.3333333 (the reference's README): 1e-6 still holds
    np.testing.assert_allclose(tab["F value"], ref["F value"], rtol=1e-6)
    np.testing.assert_allclose(tab["Pr(>F)"], ref["Pr(>F)"], atol=1e-6)


@pytest.mark.parametrize("ddf", ["satterthwaite", "kenward_roger"])
def test_type1_anova_cake(cake, ddf):
    ref = load_lme4_turn3("cake_type1")["inference"][f"anova_type1_{ddf}"]
    tab = cake.anova(type=1, ddf=ddf)
    assert list(tab.index) == ref["rows"]
    np.testing.assert_allclose(tab["DenDF"], ref["DenDF"], rtol=1e-4)
    np.testing.assert_allclose(tab["F value"], ref["F value"], rtol=1e-6)
    np.testing.assert_allclose(tab["Pr(>F)"], ref["Pr(>F)"], atol=1e-6)


@pytest.mark.parametrize(
    "name, formula",
    [
        ("sleep_intercept", "Reaction ~ Days + (1 | Subject)"),
        ("sleep_slope", "Reaction ~ Days + (Days | Subject)"),
    ],
)
def test_icc_and_r2(name, formula):
    ref = load_lme4_turn3("icc_r2")["models"][name]
    res = hierreg.fit(formula, hierreg.load_dataset("sleepstudy"))
    r2, icc = res.r2(), res.icc()
    assert r2["marginal"] == pytest.approx(ref["r2_marginal"], rel=1e-5)
    assert r2["conditional"] == pytest.approx(ref["r2_conditional"], rel=1e-5)
    assert icc["adjusted"] == pytest.approx(ref["icc_adjusted"], rel=1e-5)
    assert icc["conditional"] == pytest.approx(ref["icc_conditional"], rel=1e-5)


def test_prediction_standard_errors(sleep):
    """The fixed part's SE is sqrt(x' C x); with the levels' effects it is the PLS
    posterior SE, checked against the dense textbook formula sigma^2 r' M^{-1} r."""
    _, m1, _ = sleep
    df = hierreg.load_dataset("sleepstudy")
    new = pd.DataFrame({"Days": [0.0, 4.5, 9.0], "Subject": ["308", "333", "new"]})
    pop = m1.get_prediction(new, include_random=False).summary_frame()
    X = np.column_stack([np.ones(3), new["Days"]])
    C = m1.cov_params().to_numpy()
    np.testing.assert_allclose(pop["mean_se"], np.sqrt(np.einsum("ip,pq,iq->i", X, C, X)))
    np.testing.assert_allclose(pop["mean"], X @ m1.params.to_numpy())
    cond = m1.get_prediction(new, include_random=True).summary_frame()
    np.testing.assert_allclose(cond["mean"], m1.predict(new))
    # dense: M = [[L'Z'ZL + I, L'Z'X], [X'ZL, X'X]] at the fitted theta
    blk = m1.model_blocks.random[0]
    L = 18
    Z = np.zeros((len(df), 2 * L))
    for j in range(2):
        Z[np.arange(len(df)), blk.codes * 2 + j] = blk.X[:, j]
    T = m1.estimate.factors[0]
    Lam = np.kron(np.eye(L), T)
    Xf = m1.model_blocks.X
    ZL = Z @ Lam
    M = np.block([[ZL.T @ ZL + np.eye(2 * L), ZL.T @ Xf], [Xf.T @ ZL, Xf.T @ Xf]])
    levels = list(blk.levels)
    for i, s in enumerate(new["Subject"]):
        z = np.zeros(2 * L)
        if s in levels:
            z[2 * levels.index(s) : 2 * levels.index(s) + 2] = [1.0, new["Days"][i]]
        r = np.concatenate([Lam.T @ z, X[i]])
        se = m1.sigma * np.sqrt(r @ np.linalg.solve(M, r))
        assert cond["mean_se"].iloc[i] == pytest.approx(se, rel=1e-8)
    # an unseen subject gets the population mean, SE and interval (new-group variance)
    pd.testing.assert_series_equal(cond.iloc[2], pop.iloc[2], check_names=False, rtol=1e-8)
    assert cond["obs_ci_upper"].iloc[0] - cond["mean"].iloc[0] < (
        pop["obs_ci_upper"].iloc[0] - pop["mean"].iloc[0]
    )


def test_simulate_refit_update(sleep):
    _, m1, _ = sleep
    sims = m1.simulate(3, seed=7)
    assert sims.shape == (180, 3)
    pd.testing.assert_frame_equal(sims, m1.simulate(3, seed=7))
    again = m1.refit(m1.model_blocks.y)
    assert again.objective == pytest.approx(m1.objective, rel=1e-12)
    other = m1.refit(sims["sim_1"].to_numpy())
    assert other.params["Days"] != m1.params["Days"]
    up = m1.update("Reaction ~ Days + (1 | Subject)")
    assert up.formula == "Reaction ~ Days + (1 | Subject)" and len(up.theta) == 1
    ml = m1.update(method="ml")
    assert ml.method == "ML"


def test_bootstrap_is_reproducible_and_agrees_with_profile(sleep):
    _, m1, _ = sleep
    b1 = m1.bootstrap(nsim=200, seed=11, progress=False)
    b2 = m1.bootstrap(nsim=200, seed=11, progress=False, n_jobs=2)
    np.testing.assert_array_equal(b1.replicates, b2.replicates)  # any n_jobs, same draws
    assert b1.names[-2:] == ["Intercept", "Days"]
    lo, hi = b1.confint(0.95, "perc")
    prof = m1.conf_int(method="profile")
    width = prof.loc["Days", "upper"] - prof.loc["Days", "lower"]
    # Monte-Carlo error of a 2.5% quantile from 200 replicates is a few % of the width
    assert abs(lo[-1] - prof.loc["Days", "lower"]) < 0.15 * width
    assert abs(hi[-1] - prof.loc["Days", "upper"]) < 0.15 * width
    boot_ci = m1.conf_int(method="bootstrap", nsim=200, seed=11)
    np.testing.assert_allclose(boot_ci["lower"], lo)


def test_ddf_must_be_known(sleep):
    _, m1, _ = sleep
    with pytest.raises(hierreg.HierregError, match="ddf must be one of"):
        m1.tidy(ddf="containment")


def _anova_null_ref() -> dict:
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "data" / "reference" / "lme4-turn3"
    return json.loads((path / "anova_null.json").read_text())


def test_anova_against_model_without_random_effects():
    """lme4's anova(lmer, lm) and anova(glmer, glm): a statsmodels fit is the null model."""
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    ref = _anova_null_ref()
    df = hierreg.load_dataset("sleepstudy")
    tab = hierreg.anova(
        smf.ols("Reaction ~ Days", df).fit(), hierreg.fit("Reaction ~ Days + (Days | Subject)", df)
    ).table
    r = ref["sleep"]
    assert list(tab["npar"]) == r["npar"]
    np.testing.assert_allclose(tab["logLik"], r["logLik"], rtol=1e-9)
    np.testing.assert_allclose(tab["AIC"], r["AIC"], rtol=1e-9)
    np.testing.assert_allclose(tab["BIC"], r["BIC"], rtol=1e-9)
    assert tab["Chisq"].iloc[1] == pytest.approx(r["Chisq"][1], rel=1e-8)
    assert tab["Pr(>Chisq)"].iloc[1] == pytest.approx(r["p"][1], rel=1e-6)

    cb = hierreg.load_dataset("cbpp").assign(fail=lambda d: d["size"] - d["incidence"])
    glm = smf.glm("incidence + fail ~ period", cb, family=sm.families.Binomial()).fit()
    glmm = hierreg.fit(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)", cb, family="binomial"
    )
    out = hierreg.anova(glm, glmm)
    r = ref["cbpp"]
    assert list(out.table["npar"]) == r["npar"]
    np.testing.assert_allclose(out.table["logLik"], r["logLik"], rtol=1e-8)
    assert out.table["Chisq"].iloc[1] == pytest.approx(r["Chisq"][1], rel=1e-6)
    assert any("boundary" in note for note in out.notes)


def test_anova_null_model_on_other_rows_is_refused():
    import statsmodels.formula.api as smf

    df = hierreg.load_dataset("sleepstudy")
    ols = smf.ols("Reaction ~ Days", df.iloc[:-10]).fit()
    with pytest.raises(hierreg.HierregError, match="same data"):
        hierreg.anova(ols, hierreg.fit("Reaction ~ Days + (1 | Subject)", df))


def test_kenward_roger_size_limit_is_settable(monkeypatch):
    """The dense-size limit of Kenward-Roger is read when called, so the documented
    module setting raises or lifts it."""
    import warnings

    import hierreg_formula.inference.qspace as qspace

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = hierreg.fit(
            "Reaction ~ Days + (Days | Subject) + (1 | Days)", hierreg.load_dataset("sleepstudy")
        )
    monkeypatch.setattr(qspace, "MAX_DENSE_Q", 10)
    with pytest.raises(hierreg.HierregError, match=r"46 x 46.*limit q <= 10.*MAX_DENSE_Q"):
        res.tidy(ddf="kenward-roger")
    monkeypatch.setattr(qspace, "MAX_DENSE_Q", 100)
    assert np.isfinite(res.tidy(ddf="kenward-roger")["df"]).all()
