"""Regularized mode: group shapes, logistic, automatic penalties, prediction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg
from hierreg_formula.regularized.sklearn import (
    HierarchicalClassifier,
    HierarchicalRegression,
)


def simulate(seed=0, G=30, n=1500, sd_dev=(0.8, 0.5)):
    rng = np.random.default_rng(seed)
    g = rng.integers(0, G, n)
    x = rng.normal(size=n)
    dev = rng.normal(size=(G, 2)) * np.asarray(sd_dev)
    y = 1.0 + 2.0 * x + dev[g, 0] + dev[g, 1] * x + rng.normal(size=n)
    df = pd.DataFrame({"y": y, "x": x, "g": [f"s{i:02d}" for i in g]})
    return df, dev


def test_every_groups_shape_gives_the_same_fit():
    df, _ = simulate()
    X = df[["x"]]
    g = df["g"]
    shapes = [
        g,
        g.to_frame(),
        list(g),
        g.to_numpy(),
        g.to_numpy()[:, None],
        g.to_numpy().astype(object),
    ]
    fits = [HierarchicalRegression(l2_reg=1e-3).fit(X, df["y"], s) for s in shapes]
    for est in fits[1:]:
        np.testing.assert_allclose(est.coef_, fits[0].coef_, rtol=1e-12)
        np.testing.assert_allclose(est._v[0], fits[0]._v[0], rtol=1e-12)
    # the deviations are really there (hierreg 0.1 silently dropped them for 1-d arrays)
    assert np.abs(fits[3]._v[0]).max() > 0.1
    p = [
        est.predict(X.head(), s[:5] if not isinstance(s, pd.DataFrame) else s.head())
        for est, s in zip(fits, shapes, strict=True)
    ]
    for q in p[1:]:
        np.testing.assert_allclose(q, p[0])


def test_two_grouping_columns_match_the_formula():
    df, _ = simulate(1)
    df["h"] = np.where(df["x"] > 0, "up", "down")
    est = HierarchicalRegression(l2_reg=0.01).fit(df[["x"]], df["y"], df[["g", "h"]])
    res = hierreg.fit("y ~ x + (1 + x | g) + (1 + x | h)", df, method="regularized", alpha=0.01)
    np.testing.assert_allclose(est.coef_, res.params.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(est._v[1], res.random_effects["h"].to_numpy(), rtol=1e-10)


def test_unseen_groups_get_only_shared_coefficients():
    df, _ = simulate(2)
    res = hierreg.fit("y ~ x + (1 + x | g)", df, method="regularized", alpha=1e-3)
    new = pd.DataFrame({"x": [0.5, 0.5], "g": ["s00", "never"]})
    pred = res.predict(new)
    w = res.params
    assert pred.iloc[1] == pytest.approx(w["Intercept"] + 0.5 * w["x"])
    re = res.random_effects["g"].loc["s00"]
    assert pred.iloc[0] == pytest.approx(pred.iloc[1] + re["Intercept"] + 0.5 * re["x"])
    est = HierarchicalRegression(l2_reg=1e-3).fit(df[["x"]], df["y"], df["g"])
    np.testing.assert_allclose(est.predict(new[["x"]], new["g"]), pred.to_numpy())


def test_reml_alpha_gives_the_mixed_model_conditional_modes():
    df, _ = simulate(3)
    reg = hierreg.fit("y ~ x + (x | g)", df, method="regularized", alpha="reml")
    lmm = hierreg.fit("y ~ x + (x | g)", df)
    np.testing.assert_allclose(reg.params.to_numpy(), lmm.params.to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(
        reg.random_effects["g"].to_numpy(), lmm.random_effects["g"].to_numpy(), rtol=1e-6, atol=1e-8
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cv_and_reml_recover_true_deviations_better_than_pooled_and_unpooled(seed):
    # 40 groups of about 10 rows: the regime where partial pooling matters
    df, dev = simulate(seed, G=40, n=400)
    err = {}
    for name, alpha in [("cv", "cv"), ("reml", "reml"), ("unpooled", 1e-9)]:
        res = hierreg.fit("y ~ x + (x | g)", df, method="regularized", alpha=alpha)
        est = res.random_effects["g"].to_numpy()
        w = res.params.to_numpy()
        coefs = est + w  # per-group intercept and slope
        err[name] = np.sqrt(np.mean((coefs - (dev + [1.0, 2.0])) ** 2))
    pooled = hierreg.fit("y ~ x + (x | g)", df, method="regularized", alpha=1e9)
    err["pooled"] = np.sqrt(
        np.mean(
            (pooled.random_effects["g"].to_numpy() + pooled.params.to_numpy() - (dev + [1.0, 2.0]))
            ** 2
        )
    )
    assert err["cv"] < err["unpooled"] and err["cv"] < err["pooled"]
    assert err["reml"] < err["unpooled"] and err["reml"] < err["pooled"]
    res = hierreg.fit("y ~ x + (x | g)", df, method="regularized", alpha="cv")
    cvr = res.cv_results_
    assert list(cvr.columns) == ["alpha", "mean_mse", "sd_mse"] and len(cvr) == 25
    assert res.alpha == pytest.approx(cvr["alpha"][cvr["mean_mse"].idxmin()])


def test_two_label_string_logistic_matches_an_independent_cvxpy_solve():
    rng = np.random.default_rng(5)
    n, G = 600, 8
    g = rng.integers(0, G, n)
    x = rng.normal(size=n)
    eta = -0.3 + 1.2 * x + rng.normal(size=G)[g] * 0.8
    yes = rng.uniform(size=n) < 1 / (1 + np.exp(-eta))
    df = pd.DataFrame({"buy": np.where(yes, "yes", "no"), "x": x, "g": g})
    res = hierreg.fit(
        "buy ~ x + (1 + x | g)", df, method="regularized", alpha=0.05, family="binomial"
    )
    assert res.classes_ == ("no", "yes")
    ref = hierreg.fit(
        "buy ~ x + (1 + x | g)", df, method="regularized", alpha=0.05, family="binomial", l1=1e-12
    )  # l1 > 0 routes the same objective through cvxpy
    np.testing.assert_allclose(res.params.to_numpy(), ref.params.to_numpy(), atol=2e-4)
    probs = res.predict(df.head(), kind="prob")
    labels = res.predict(df.head(), kind="label")
    assert ((probs >= 0.5) == (labels == "yes")).all()
    clf = HierarchicalClassifier(l2_reg=0.05).fit(df[["x"]], df["buy"], df["g"])
    np.testing.assert_allclose(clf.coef_, res.params.to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(
        clf.predict_proba(df[["x"]].head(), df["g"].head())[:, 1], probs.to_numpy()
    )
    assert set(clf.predict(df[["x"]], df["g"])) <= {"no", "yes"}


def test_binomial_needs_two_labels():
    df = pd.DataFrame({"y": ["a", "b", "c"] * 4, "x": np.arange(12.0), "g": list("uv") * 6})
    with pytest.raises(hierreg.DataError, match="exactly two labels"):
        hierreg.fit("y ~ x + (1 | g)", df, method="regularized", alpha=1.0, family="binomial")


def test_summary_has_no_pvalues():
    df, _ = simulate(6)
    text = str(hierreg.fit("y ~ x + (x | g)", df, method="regularized", alpha=0.01).summary())
    assert "P>|z|" not in text and "no standard errors or p-values" in text


def test_cross_val_score_and_pipeline_with_group_columns():
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline

    df, _ = simulate(7)
    X = df[["x", "g"]]
    est = HierarchicalRegression(l2_reg=1e-3, group_cols=["g"])
    scores = cross_val_score(est, X, df["y"], cv=3)
    assert scores.shape == (3,) and scores.min() > 0.5
    pipe = make_pipeline(HierarchicalRegression(l2_reg=1e-3, group_cols=[1]))
    pipe.fit(X.to_numpy(dtype=object), df["y"])
    assert pipe.predict(X.to_numpy(dtype=object)[:3]).shape == (3,)


def test_formula_estimator():
    from sklearn.model_selection import cross_val_score

    from hierreg_formula.regularized.sklearn import FormulaHierarchicalRegression

    df, _ = simulate(8)
    est = FormulaHierarchicalRegression("y ~ x + (x | g)", method="regularized", alpha=1e-3)
    scores = cross_val_score(est, df, cv=3)
    assert scores.min() > 0.5


def test_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    for est in (HierarchicalRegression(), HierarchicalClassifier(l2_reg=0.1)):
        results = check_estimator(est, on_fail=None)
        failed = [r["check_name"] for r in results if r["status"] == "failed"]
        assert failed == []
