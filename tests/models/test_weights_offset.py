"""Prior weights and offsets in linear mixed models (lme4's semantics).

Golden values: ``lme4-turn2/cbpp_lmm_weights.json``, lme4's tight REML fit of
``prop ~ period + (1 | herd)`` with ``weights = size`` on cbpp.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg
from tests.conftest import CSV, load_lme4_turn2, load_lme4_turn3

F = "prop ~ period + (1 | herd)"


@pytest.fixture(scope="module")
def cbpp():
    d = hierreg.load_dataset("cbpp")
    return d.assign(prop=d["incidence"] / d["size"])


@pytest.fixture(scope="module")
def fitted(cbpp):
    return hierreg.fit(F, cbpp, weights="size"), load_lme4_turn2("cbpp_lmm_weights")


def test_weighted_fit_matches_lme4(fitted):
    res, ref = fitted
    assert res.objective == pytest.approx(ref["criteria"]["REMLcrit"], rel=1e-8)
    assert res.llf == pytest.approx(ref["criteria"]["logLik"], rel=1e-8)
    assert res.deviance == pytest.approx(ref["criteria"]["deviance_ML_at_REML_estimates"], rel=1e-8)
    assert res.aic == pytest.approx(ref["criteria"]["AIC"], rel=1e-8)
    assert res.bic == pytest.approx(ref["criteria"]["BIC"], rel=1e-8)
    np.testing.assert_allclose(res.params, ref["fixef"]["estimate"], rtol=1e-6)
    np.testing.assert_allclose(res.bse, ref["fixef"]["std_error"], rtol=1e-6)
    np.testing.assert_allclose(res.theta, ref["theta"]["values"], rtol=1e-5)
    assert res.sigma == pytest.approx(ref["sigma"], rel=1e-6)
    herd = ref["ranef"]["herd"]
    re = res.random_effects["herd"]["Intercept"]
    sd = res.random_effects_sd["herd"]["Intercept"]
    order = pd.Index([str(v) for v in re.index]).get_indexer([str(v) for v in herd["levels"]])
    np.testing.assert_allclose(re.to_numpy()[order], herd["mode"]["(Intercept)"], atol=1e-6)
    np.testing.assert_allclose(sd.to_numpy()[order], herd["cond_sd"]["(Intercept)"], atol=1e-6)
    fit20 = ref["fitted_first20"]
    np.testing.assert_allclose(res.fittedvalues.to_numpy()[:20], fit20["fitted"], atol=1e-7)
    assert res.weights is not None and res.weights[:3].tolist() == fit20["prior_weights"][:3]


def test_weights_by_name_or_array_are_the_same(cbpp, fitted):
    res, _ = fitted
    arr = hierreg.fit(F, cbpp, weights=cbpp["size"].to_numpy())
    assert arr.objective == pytest.approx(res.objective, rel=1e-12)


def test_missing_weights_drop_their_rows(cbpp):
    d = cbpp.copy()
    d["w"] = d["size"].astype(float)
    d.loc[[0, 3], "w"] = np.nan
    with pytest.warns(hierreg.MissingDataWarning, match=r"dropped 2 of 56.*'w': 2"):
        res = hierreg.fit(F, d, weights="w")
    assert res.nobs == 54


@pytest.mark.parametrize(
    "weights, match",
    [
        ("nope", r"'nope'.*not found"),
        (np.ones(3), "one value per row of the data"),
    ],
)
def test_bad_weights(cbpp, weights, match):
    with pytest.raises(hierreg.DataError, match=match):
        hierreg.fit(F, cbpp, weights=weights)


def test_non_positive_weights_are_an_error(cbpp):
    with pytest.raises(hierreg.DataError, match="weights must be positive"):
        hierreg.fit(F, cbpp.assign(w=np.where(cbpp.index == 2, 0.0, 1.0)), weights="w")


def test_offset_is_a_known_part_of_the_linear_predictor():
    """``offset(o)``, ``offset="o"`` and fitting ``y - o`` give the same estimates; fitted
    values and predictions include the offset (lme4's convention)."""
    df = hierreg.load_dataset("sleepstudy")
    df = df.assign(o=2.0 * df["Days"], r2=df["Reaction"] - 2.0 * df["Days"])
    a = hierreg.fit("Reaction ~ Days + offset(o) + (1 | Subject)", df)
    b = hierreg.fit("Reaction ~ Days + (1 | Subject)", df, offset="o")
    c = hierreg.fit("r2 ~ Days + (1 | Subject)", df)
    for r in (a, b):
        assert r.objective == pytest.approx(c.objective, rel=1e-12)
        np.testing.assert_allclose(r.params, c.params, rtol=1e-10)
        np.testing.assert_allclose(r.fittedvalues, c.fittedvalues + df["o"], rtol=1e-10)
        np.testing.assert_allclose(r.resid, c.resid, atol=1e-9)
    new = df.head(3).assign(o=[0.0, 1.0, 2.0])
    np.testing.assert_allclose(a.predict(new), c.predict(new) + new["o"].to_numpy(), rtol=1e-10)


def test_a_cbind_response_needs_family_binomial():
    d = hierreg.load_dataset("cbpp")
    with pytest.raises(hierreg.EstimationError, match="family='binomial'"):
        hierreg.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", d)


def _check(res, ref, rtol=1e-7):
    assert res.objective == pytest.approx(ref["criteria"]["objective"], rel=1e-9)
    np.testing.assert_allclose(res.params, ref["fixef"]["estimate"], rtol=1e-8)
    np.testing.assert_allclose(res.bse, ref["fixef"]["std_error"], rtol=1e-6)
    np.testing.assert_allclose(res.theta, ref["theta"]["values"], rtol=1e-5, atol=1e-7)
    assert res.sigma == pytest.approx(ref["sigma"], rel=1e-6)
    assert res.llf == pytest.approx(ref["criteria"]["logLik"], rel=1e-9)
    assert res.aic == pytest.approx(ref["criteria"]["AIC"], rel=1e-9)


@pytest.mark.parametrize("method", ["reml", "ml"])
def test_weighted_sleepstudy_matches_lme4(method):
    df = pd.read_csv(CSV / "sleep_weights.csv", dtype={"Subject": str})
    res = hierreg.fit("Reaction ~ Days + (Days | Subject)", df, method=method, weights="w")
    _check(res, load_lme4_turn3(f"sleep_weights_{method}"))


def test_formula_offset_matches_lme4():
    df = hierreg.load_dataset("sleepstudy")
    res = hierreg.fit("Reaction ~ Days + (1 | Subject) + offset(2 * Days)", df)
    _check(res, load_lme4_turn3("sleep_offset_reml"))
