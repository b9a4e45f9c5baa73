"""One results vocabulary: the REML/ML, GLMM and regularized results answer the same
names with the same types and keys (issue 8)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg

SHARED = [
    "params",
    "bse",
    "theta",
    "objective",
    "llf",
    "deviance",
    "aic",
    "bic",
    "nobs",
    "converged",
    "is_singular",
    "dropped_columns",
    "random_effects",
    "random_effects_sd",
    "random_effects_cov",
    "fittedvalues",
    "resid",
]
METHODS = ["conf_int", "tidy", "summary", "coef", "predict"]


@pytest.fixture(scope="module")
def fits():
    sleep = hierreg.load_dataset("sleepstudy")
    cbpp = hierreg.load_dataset("cbpp")
    f = "Reaction ~ Days + (Days | Subject)"
    return {
        "reml": hierreg.fit(f, sleep),
        "ml": hierreg.fit(f, sleep, method="ml"),
        "regularized": hierreg.fit(f, sleep, method="regularized", alpha=1.0),
        "glmm": hierreg.fit(
            "cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial"
        ),
    }


@pytest.mark.parametrize("kind", ["reml", "ml", "regularized", "glmm"])
def test_same_names(fits, kind):
    res = fits[kind]
    for name in SHARED:
        getattr(res, name)  # no AttributeError
    for name in METHODS:
        assert callable(getattr(res, name)), name
    if kind != "regularized":
        assert isinstance(res.varcorr(), pd.DataFrame)
    assert isinstance(res.theta, pd.Series)
    assert isinstance(res.params, pd.Series)
    group = "herd" if kind == "glmm" else "Subject"
    # keyed by grouping factor everywhere, levels as rows
    for attr in ("random_effects", "random_effects_sd"):
        assert list(getattr(res, attr)) == [group], attr
    assert list(res.random_effects_cov) == [group]
    assert isinstance(res.summary().tables, list)


def test_theta_in_lme4_order_in_both(fits):
    """Same names, same order; the regularized theta is the one its alpha implies."""
    assert list(fits["reml"].theta.index) == list(fits["regularized"].theta.index)
    assert len(fits["reml"].theta) == 3


def test_reml_criterion_is_not_the_ml_deviance(fits):
    reml, ml = fits["reml"], fits["ml"]
    # lme4: REMLcrit 1743.6283 (REML fit), deviance 1751.9393 (ML fit)
    assert reml.reml_criterion == pytest.approx(1743.62827195995, rel=1e-9)
    assert ml.deviance == pytest.approx(1751.93934446321, rel=1e-9)
    assert reml.objective == pytest.approx(reml.reml_criterion)
    assert ml.objective == pytest.approx(ml.deviance)
    assert np.isnan(ml.reml_criterion) or ml.reml_criterion != pytest.approx(ml.deviance)
