"""REML/ML fits against lme4 1.1-31 (tight refits in shared/reference/lme4).

Tolerances from issue 3: criterion 1e-6 relative; fixed effects and their SEs
1e-5 relative; sigma and variance components 1e-4 relative; conditional modes,
conditional SDs and predictions 1e-4 absolute relative to the term's SD.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg
from tests.conftest import load_lme4

CASES = {
    "sleep_slope": ("sleepstudy", "Reaction ~ Days + (Days | Subject)", "reml"),
    "sleep_slope_ml": ("sleepstudy", "Reaction ~ Days + (Days | Subject)", "ml"),
    "sleep_intercept": ("sleepstudy", "Reaction ~ Days + (1 | Subject)", "reml"),
    "penicillin_crossed": ("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", "reml"),
    "pastes_nested": ("Pastes", "strength ~ 1 + (1 | batch/cask)", "reml"),
    "dyestuff": ("Dyestuff", "Yield ~ 1 + (1 | Batch)", "reml"),
    "insteval_crossed": (
        "InstEval",
        "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept:service)",
        "reml",
    ),
}

_FITS: dict[str, tuple] = {}


def fitted(name: str):
    if name not in _FITS:
        data, formula, method = CASES[name]
        df = hierreg.load_dataset(data)
        _FITS[name] = (hierreg.fit(formula, df, method=method), load_lme4(name), df)
    return _FITS[name]


def ref_group(ref_name: str, ours: list[str]) -> str:
    """lme4 writes the nested group a/b as 'b:a'; ours is 'a:b'."""
    if ref_name in ours:
        return ref_name
    flipped = ":".join(reversed(ref_name.split(":")))
    assert flipped in ours, (ref_name, ours)
    return flipped


def params(name):
    marks = [pytest.mark.slow] if name.startswith("insteval") else []
    return pytest.param(name, marks=marks, id=name)


ALL = [params(n) for n in CASES]


@pytest.mark.parametrize("name", ALL)
def test_criterion_and_fixed_effects(name):
    res, ref, _ = fitted(name)
    crit = ref["criteria"]["REMLcrit"] if res.method == "REML" else ref["criteria"]["deviance"]
    assert res.objective == pytest.approx(crit, rel=1e-6)
    if res.method == "REML":  # lme4's deviance(m, REML = FALSE)
        assert res.reml_criterion == res.objective
        ml_dev = ref["criteria"].get("deviance_ML_at_REML_estimates")
        if ml_dev is not None:
            assert res.deviance == pytest.approx(ml_dev, rel=1e-6)
    else:
        assert res.deviance == res.objective
    assert res.llf == pytest.approx(ref["criteria"]["logLik"], rel=1e-6)
    assert res.aic == pytest.approx(ref["criteria"]["AIC"], rel=1e-6)
    assert res.bic == pytest.approx(ref["criteria"]["BIC"], rel=1e-6)
    np.testing.assert_allclose(res.params.values, ref["fixef"]["estimate"], rtol=1e-5)
    np.testing.assert_allclose(res.bse.values, ref["fixef"]["std_error"], rtol=1e-5)
    np.testing.assert_allclose(res.tvalues.values, ref["fixef"]["t_value"], rtol=1e-5)
    np.testing.assert_allclose(
        res.cov_params().values, np.array(ref["vcov_fixef"]["matrix"]), rtol=1e-5, atol=1e-12
    )
    assert res.converged
    assert not res.is_singular


@pytest.mark.parametrize("name", ALL)
def test_variance_components(name):
    res, ref, _ = fitted(name)
    assert res.sigma == pytest.approx(ref["sigma"], rel=1e-4)
    vc = res.varcorr()
    groups = list(vc["group"].unique())
    for comp in ref["varcorr"]:
        if comp["group"] == "Residual":
            assert vc.iloc[-1]["variance"] == pytest.approx(comp["variance"][0], rel=1e-4)
            continue
        g = ref_group(comp["group"], groups)
        rows = vc[(vc["group"] == g) & vc["var2"].isna()]
        np.testing.assert_allclose(rows["variance"].values, comp["variance"], rtol=1e-4)
        np.testing.assert_allclose(rows["sd"].values, comp["sd"], rtol=1e-4)
        if len(comp["terms"]) > 1:
            corr = vc[(vc["group"] == g) & vc["var2"].notna()]["corr"].values
            assert corr[0] == pytest.approx(np.array(comp["correlation"])[1, 0], abs=1e-4)


@pytest.mark.parametrize("name", ALL)
def test_conditional_modes_and_sds(name):
    res, ref, _ = fitted(name)
    re, re_sd = res.random_effects, res.random_effects_sd
    vc = res.varcorr()
    for gname, r in ref["ranef"].items():
        g = ref_group(gname, list(re))
        ours, ours_sd = re[g], re_sd[g]
        levels = [str(x) for x in ours.index]
        ref_levels = (
            r["levels"] if g == gname else [":".join(reversed(lv.split(":"))) for lv in r["levels"]]
        )
        order = pd.Index(levels).get_indexer(ref_levels)
        assert (order >= 0).all()
        for j, col in enumerate(r["columns"]):
            term_sd = vc[(vc["group"] == g) & vc["var2"].isna()]["sd"].values[j]
            tol = 1e-4 * term_sd
            np.testing.assert_allclose(ours.iloc[order, j].values, r["mode"][col], atol=tol)
            np.testing.assert_allclose(ours_sd.iloc[order, j].values, r["cond_sd"][col], atol=tol)


@pytest.mark.parametrize("name", ALL)
def test_fitted_and_new_level_predictions(name):
    res, ref, df = fitted(name)
    scale = res.varcorr()["sd"].max()
    np.testing.assert_allclose(
        res.fittedvalues.values[:20], ref["fitted_first20"]["fitted"], atol=1e-4 * scale
    )
    pn = ref["predict_new_levels"]
    new = pd.DataFrame(pn["newdata"])
    for col in new.columns:
        if isinstance(df[col].dtype, pd.CategoricalDtype):
            new[col] = new[col].astype(str)
    np.testing.assert_allclose(res.predict(new).values, pn["prediction"], atol=1e-4 * scale)
    np.testing.assert_allclose(
        res.predict(new, include_random=False).values, pn["population"], atol=1e-4 * scale
    )


def test_theta_matches_lme4_order():
    res, ref, _ = fitted("sleep_slope")
    np.testing.assert_allclose(res.theta.values, ref["theta"]["values"], rtol=1e-4)
