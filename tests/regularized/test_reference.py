"""The regularized mode against the hierreg reference fits (shared/reference/hierreg)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg
from tests.conftest import SHARED

REF = SHARED / "reference" / "hierreg"
FORMULA = "y ~ x1 + x2 + x3 + (1 + x1 + x2 + x3 | g)"


@pytest.fixture(scope="module")
def ref():
    if not (REF / "hierreg_small.json").exists():
        pytest.skip("hierreg reference not available")
    return json.loads((REF / "hierreg_small.json").read_text())["results"]


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(REF / "small_data.csv")


@pytest.mark.parametrize("alpha", [100.0, 0.1])
@pytest.mark.parametrize(
    "loss,key",
    [
        ("squared", "casadi_loss_l2reg={}_REFERENCE(closed form)"),
        ("norm", "cvxpy_loss_l2reg={}_REFERENCE(CLARABEL tight)"),
    ],
)
def test_matches_hierreg_reference(ref, data, alpha, loss, key):
    r = ref[key.format(alpha)]
    res = hierreg.fit(FORMULA, data, method="regularized", alpha=alpha, loss=loss)
    # reference values are printed to 6 decimals
    np.testing.assert_allclose(res.params.to_numpy(), r["w"], atol=1e-5)
    V = res.random_effects["g"].to_numpy().T  # rows = variable, columns = level, as hierreg
    np.testing.assert_allclose(V, np.array(r["V"]), atol=1e-5)
    if "objective" in r:
        assert res.objective == pytest.approx(r["objective"], rel=1e-6)


def test_sklearn_estimator_matches_reference(ref, data):
    from hierreg_formula.regularized.sklearn import HierarchicalRegression

    r = ref["casadi_loss_l2reg=0.1_REFERENCE(closed form)"]
    est = HierarchicalRegression(l2_reg=0.1, loss="squared")
    est.fit(data[["x1", "x2", "x3"]], data["y"], data["g"])
    np.testing.assert_allclose(est.coef_, r["w"], atol=1e-5)
    np.testing.assert_allclose(est.deviations_[0].to_numpy().T, np.array(r["V"]), atol=1e-5)
