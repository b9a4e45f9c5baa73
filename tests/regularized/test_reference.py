"""The regularized mode against the hierreg 0.1 reference fits (shared/reference/hierreg).

REFERENCE entries are tight independent solves of hierreg's two objectives on
``small_data.csv`` (values printed to 6 decimals), for ``l2_reg`` 100 and 0.1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg
from tests.conftest import REFERENCE, load_json, require

REF = REFERENCE / "hierreg"
FORMULA = "y ~ x1 + x2 + x3 + (1 + x1 + x2 + x3 | g)"
KEYS = {
    "squared": "casadi_loss_l2reg={}_REFERENCE(closed form)",
    "norm": "cvxpy_loss_l2reg={}_REFERENCE(CLARABEL tight)",
}


@pytest.fixture(scope="module")
def ref():
    return load_json(REF / "hierreg_small.json")["results"]


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(require(REF / "small_data.csv"))


@pytest.mark.parametrize("alpha", [100.0, 0.1])
@pytest.mark.parametrize("loss", ["squared", "norm"])
def test_formula_fit_matches_hierreg_reference(ref, data, alpha, loss):
    r = ref[KEYS[loss].format(alpha)]
    res = hierreg.fit(FORMULA, data, method="regularized", alpha=alpha, loss=loss)
    np.testing.assert_allclose(res.params.to_numpy(), r["w"], rtol=0, atol=1e-5)
    V = res.random_effects["g"].to_numpy().T  # rows = variable, columns = level (hierreg)
    np.testing.assert_allclose(V, np.array(r["V"]), rtol=0, atol=1e-5)
    assert res.objective == pytest.approx(r["objective"], rel=1e-8)


@pytest.mark.parametrize("alpha", [100.0, 0.1])
@pytest.mark.parametrize(
    "kwargs,loss",
    [
        ({"loss": "squared"}, "squared"),
        ({"solver_interface": "casadi"}, "squared"),
        ({"loss": "norm"}, "norm"),
        ({"solver_interface": "cvxpy"}, "norm"),
    ],
)
def test_sklearn_estimator_matches_hierreg_reference(ref, data, alpha, kwargs, loss):
    from hierreg_formula.estimators import HierarchicalRegression

    r = ref[KEYS[loss].format(alpha)]
    est = HierarchicalRegression(l2_reg=alpha, **kwargs)
    est.fit(data[["x1", "x2", "x3"]], data["y"], pd.Series(data["g"]))
    np.testing.assert_allclose(est.coef_, r["w"], rtol=0, atol=1e-5)
    # hierreg's own layouts: coef2_ flat variable-major, group_effects_ variables x levels
    np.testing.assert_allclose(est.coef2_.reshape(4, -1), np.array(r["V"]), rtol=0, atol=1e-5)
    np.testing.assert_allclose(est.group_effects_.to_numpy(), np.array(r["V"]), rtol=0, atol=1e-5)
    assert list(est.group_effects_.index) == ["Intercept", "x1", "x2", "x3"]


def test_hierreg_default_penalty_removes_the_deviations(ref, data):
    # hierreg's default l2_reg=100 with its un-squared norm: every deviation is (about) zero
    res = hierreg.fit(FORMULA, data, method="regularized", alpha=100.0, loss="norm")
    assert np.abs(res.random_effects["g"].to_numpy()).max() < 1e-6
