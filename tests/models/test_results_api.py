"""The results API: derived quantities are consistent with each other and with lme4."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import hierreg_formula as hierreg
from tests.conftest import load_lme4


@pytest.fixture(scope="module")
def fitted():
    return hierreg.fit("Reaction ~ Days + (Days | Subject)", hierreg.load_dataset("sleepstudy"))


def test_coef_is_fixed_plus_random_as_lme4(fitted):
    ref = load_lme4("sleep_slope")
    coef = fitted.coef()["Subject"]
    modes = ref["ranef"]["Subject"]["mode"]
    beta = ref["fixef"]["estimate"]
    np.testing.assert_allclose(
        coef["Intercept"], np.array(modes["(Intercept)"]) + beta[0], atol=1e-3
    )
    np.testing.assert_allclose(coef["Days"], np.array(modes["Days"]) + beta[1], atol=1e-3)
    assert list(coef.index) == ref["ranef"]["Subject"]["levels"]


def test_inference_tables(fitted):
    ci = fitted.conf_int(0.1)
    z = stats.norm.ppf(0.95)
    np.testing.assert_allclose(ci[0], fitted.params - z * fitted.bse)
    np.testing.assert_allclose(ci[1], fitted.params + z * fitted.bse)
    normal = fitted.tidy(ddf="normal")
    np.testing.assert_allclose(normal["P>|z|"], 2 * stats.norm.sf(np.abs(fitted.tvalues)))
    assert list(normal.columns) == ["Coef.", "Std.Err.", "z", "P>|z|", "[0.025", "0.975]"]
    # the default (Satterthwaite) p-values are t tests on the same statistic
    t = fitted.tidy()
    np.testing.assert_allclose(t["t"], fitted.tvalues)
    np.testing.assert_allclose(fitted.pvalues, 2 * stats.t.sf(np.abs(fitted.tvalues), t["df"]))
    np.testing.assert_allclose(np.sqrt(np.diag(fitted.cov_params())), fitted.bse)


def test_residuals_and_fitted_add_up(fitted):
    y = hierreg.load_dataset("sleepstudy")["Reaction"]
    np.testing.assert_allclose(fitted.fittedvalues + fitted.resid, y)
    np.testing.assert_allclose(
        fitted.predict(hierreg.load_dataset("sleepstudy")), fitted.fittedvalues
    )
    assert fitted.nobs == 180 and fitted.ngroups == {"Subject": 18}
    assert fitted.scale == pytest.approx(fitted.sigma**2)


def test_ml_information_criteria_against_lme4():
    ref = load_lme4("sleep_slope_ml")
    res = hierreg.fit(
        "Reaction ~ Days + (Days | Subject)", hierreg.load_dataset("sleepstudy"), method="ml"
    )
    assert res.method == "ML"
    assert res.deviance == pytest.approx(ref["criteria"]["deviance"], rel=1e-8)
    assert res.aic == pytest.approx(ref["criteria"]["AIC"], rel=1e-8)


def test_uncorrelated_terms_share_a_group_frame():
    res = hierreg.fit("Reaction ~ Days + (Days || Subject)", hierreg.load_dataset("sleepstudy"))
    re = res.random_effects["Subject"]
    assert list(re.columns) == ["Intercept", "Days"]
    vc = res.varcorr()
    assert vc["corr"].isna().all()  # no correlation parameter
    assert len(res.theta) == 2


def test_missing_rows_are_reported_and_kept_out(fitted):
    df = hierreg.load_dataset("sleepstudy")
    df.loc[[0, 5], "Reaction"] = np.nan
    with pytest.warns(hierreg.MissingDataWarning, match="dropped 2 of 180"):
        res = hierreg.fit("Reaction ~ Days + (Days | Subject)", df)
    assert res.nobs == 178
    assert 0 not in res.fittedvalues.index
    assert isinstance(res.model_data, pd.DataFrame) and len(res.model_data) == 178
