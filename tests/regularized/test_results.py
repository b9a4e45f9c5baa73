"""RegularizedResults: the shared results API, prediction, summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg
from hierreg_formula.regularized import RegularizedResults
from hierreg_formula.results.base import MixedResultsBase
from tests.regularized.sim import simulate

F = "y ~ x + (x | g)"


@pytest.fixture(scope="module")
def fitted():
    df, _ = simulate(2)
    return df, hierreg.fit(F, df, method="regularized", alpha=1e-3)


def test_results_api(fitted):
    df, res = fitted
    assert isinstance(res, RegularizedResults) and isinstance(res, MixedResultsBase)
    assert res.alpha == 1e-3 and res.loss == "squared" and res.family == "gaussian"
    assert res.cv_results_ is None and res.method == "regularized"
    assert list(res.params.index) == ["Intercept", "x"]
    re = res.random_effects["g"]
    assert re.shape == (30, 2) and list(re.columns) == ["Intercept", "x"]
    np.testing.assert_allclose(res.coef()["g"].to_numpy(), re.to_numpy() + res.params.to_numpy())
    np.testing.assert_allclose(res.fittedvalues + res.resid, df["y"])
    np.testing.assert_allclose(res.predict(df), res.fittedvalues)
    # the objective is hierreg's squared loss at the solution
    d = 1 / df["g"].value_counts().sort_index().to_numpy()
    d = d / d.sum() / 2
    obj = np.mean(res.resid**2) + 1e-3 * np.sum((d[:, None] * re.to_numpy()) ** 2)
    assert res.objective == pytest.approx(obj, rel=1e-10)


def test_unseen_groups_get_only_the_shared_coefficients(fitted):
    _, res = fitted
    new = pd.DataFrame({"x": [0.5, 0.5], "g": ["s00", "never"]})
    pred = res.predict(new)
    w = res.params
    assert pred.iloc[1] == pytest.approx(w["Intercept"] + 0.5 * w["x"])
    re = res.random_effects["g"].loc["s00"]
    assert pred.iloc[0] == pytest.approx(pred.iloc[1] + re["Intercept"] + 0.5 * re["x"])
    np.testing.assert_allclose(res.predict(new, include_random=False), pred.iloc[1])


def test_summary_has_coefficients_but_no_pvalues(fitted):
    _, res = fitted
    text = str(res.summary())
    assert "P>|z|" not in text and "Std.Err." not in text
    assert "no standard errors or p-values" in text
    assert "Intercept" in text and "alpha (l2_reg):" in text
    cv = hierreg.fit(F, simulate(2)[0], method="regularized", alpha="cv")
    assert "cross-validation" in str(cv.summary())


def test_deviations_only_on_the_formula_columns():
    df, _ = simulate(3)
    res = hierreg.fit("y ~ x + (1 | g)", df, method="regularized", alpha=1e-3)
    assert list(res.random_effects["g"].columns) == ["Intercept"]


def test_collinear_fixed_columns_are_dropped_with_a_warning():
    df, _ = simulate(4)
    df["x2"] = 2 * df["x"]
    with pytest.warns(hierreg.RankDeficiencyWarning, match="x2"):
        res = hierreg.fit("y ~ x + x2 + (1 | g)", df, method="regularized", alpha=1e-3)
    assert list(res.params.index) == ["Intercept", "x"]
    ref = hierreg.fit("y ~ x + (1 | g)", df, method="regularized", alpha=1e-3)
    np.testing.assert_allclose(res.params.to_numpy(), ref.params.to_numpy(), rtol=1e-10)
    assert res.predict(df.head()).shape == (5,)


def test_missing_values_are_dropped_with_a_warning():
    df, _ = simulate(5)
    df.loc[:9, "x"] = np.nan
    with pytest.warns(hierreg.MissingDataWarning):
        res = hierreg.fit(F, df, method="regularized", alpha=1e-3)
    assert res.nobs == len(df) - 10
    with pytest.raises(hierreg.HierregError):
        hierreg.fit(F, df, method="regularized", alpha=1e-3, missing="raise")


def test_no_group_term_is_an_error():
    df, _ = simulate(6)
    with pytest.raises(hierreg.EstimationError, match="nothing to regularize"):
        hierreg.fit("y ~ x", df, method="regularized", alpha=1e-3)
