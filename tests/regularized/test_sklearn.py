"""scikit-learn integration: estimator checks, cross_val_score, pipelines, grid search."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.regularized.sim import simulate

pytest.importorskip("sklearn")
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from hierreg_formula.estimators import (  # noqa: E402
    FormulaHierarchicalRegression,
    HierarchicalClassifier,
    HierarchicalRegression,
)

# Every check of scikit-learn's suite passes, so no expected failures are listed.  Without
# groups (the checks pass only X and y) every row is in one group: a plain linear/logistic
# model with the intercept's deviation penalized to ~0.  The default l2_reg="cv" is checked
# for the regressor (5-fold CV in every fit); the classifier uses a fixed penalty.
ESTIMATORS = [HierarchicalRegression(), HierarchicalClassifier(l2_reg=0.1)]
EXPECTED_FAILURES: dict[str, str] = {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILURES)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_cross_val_score_and_pipeline_with_group_columns():
    df, _ = simulate(7)
    X = df[["x", "g"]]
    est = HierarchicalRegression(l2_reg="cv", group_cols=["g"])
    scores = cross_val_score(est, X, df["y"], cv=3)
    assert scores.shape == (3,) and scores.min() > 0.5
    pooled = cross_val_score(HierarchicalRegression(l2_reg=1e12, group_cols="g"), X, df["y"], cv=3)
    assert scores.mean() > pooled.mean()  # the deviations help on held-out rows
    # in a pipeline, with the groups as the last column of an object array
    pipe = make_pipeline(FunctionTransformer(), HierarchicalRegression(l2_reg=1e-3, group_cols=-1))
    arr = X.to_numpy(dtype=object)
    pipe.fit(arr, df["y"])
    direct = HierarchicalRegression(l2_reg=1e-3).fit(df[["x"]], df["y"], df["g"])
    np.testing.assert_allclose(pipe.predict(arr[:5]), direct.predict(df[["x"]][:5], df["g"][:5]))


def test_grid_search_over_l2_reg():
    df, _ = simulate(8)
    grid = GridSearchCV(
        HierarchicalRegression(group_cols="g"), {"l2_reg": [1e-6, 1e-3, 1e12]}, cv=3
    ).fit(df[["x", "g"]], df["y"])
    assert grid.best_params_["l2_reg"] != 1e12


def test_classifier_in_cross_val_score():
    df, _ = simulate(9)
    y = np.where(df["y"] > 1, "high", "low")
    scores = cross_val_score(
        HierarchicalClassifier(l2_reg=0.01, group_cols="g"), df[["x", "g"]], y, cv=3
    )
    assert scores.min() > 0.6  # accuracy


def test_formula_estimator():
    df, _ = simulate(8)
    est = FormulaHierarchicalRegression("y ~ x + (x | g)", method="regularized", alpha=1e-3)
    scores = cross_val_score(est, df, cv=3)
    assert scores.min() > 0.5
    assert est.get_params()["alpha"] == 1e-3
    est.set_params(alpha="reml", method="regularized")
    pred = est.fit(df).predict(df.head())
    assert pred.shape == (5,)
    grid = GridSearchCV(est, {"alpha": [1e-3, 1e12]}, cv=3).fit(df)
    assert grid.best_params_["alpha"] == 1e-3
    df["win"] = np.where(df["y"] > 1, "yes", "no")
    clf = FormulaHierarchicalRegression("win ~ x + (x | g)", alpha=0.01, family="binomial")
    proba = clf.fit(df).predict_proba(df.head())
    assert proba.shape == (5, 2) and np.allclose(proba.sum(axis=1), 1)
    assert 0.5 < clf.score(df) <= 1.0  # accuracy


def test_package_imports_without_scikit_learn():
    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "import hierreg_formula as h, hierreg_formula.regularized as r\n"
        "df = h.load_dataset('sleepstudy')\n"
        "res = h.fit('Reaction ~ Days + (Days | Subject)', df, method='regularized', alpha='cv')\n"
        "try:\n"
        "    h.HierarchicalRegression\n"
        "except ImportError:\n"
        "    print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
