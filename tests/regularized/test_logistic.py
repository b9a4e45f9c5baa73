"""family="binomial" / problem="classification": any two labels, IRLS vs cvxpy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg

F = "buy ~ x + (1 + x | g)"


@pytest.fixture(scope="module")
def df():
    rng = np.random.default_rng(5)
    n, G = 600, 8
    g = rng.integers(0, G, n)
    x = rng.normal(size=n)
    eta = -0.3 + 1.2 * x + rng.normal(size=G)[g] * 0.8
    yes = rng.uniform(size=n) < 1 / (1 + np.exp(-eta))
    return pd.DataFrame({"buy": np.where(yes, "yes", "no"), "x": x, "g": g})


def test_two_label_string_logistic_matches_an_independent_cvxpy_solve(df):
    res = hierreg.fit(F, df, method="regularized", alpha=0.05, family="binomial")
    assert res.classes_ == ("no", "yes") and res.converged
    # l1 > 0 routes the same objective (plus a negligible l1 term) through cvxpy
    ref = hierreg.fit(F, df, method="regularized", alpha=0.05, family="binomial", l1=1e-12)
    np.testing.assert_allclose(res.params.to_numpy(), ref.params.to_numpy(), atol=1e-5)
    np.testing.assert_allclose(
        res.random_effects["g"].to_numpy(), ref.random_effects["g"].to_numpy(), atol=1e-5
    )
    assert res.objective == pytest.approx(ref.objective, rel=1e-7)


def test_predict_kinds(df):
    res = hierreg.fit(F, df, method="regularized", alpha=0.05, family="binomial")
    probs = res.predict(df.head(20))  # default: probability of "yes"
    labels = res.predict(df.head(20), kind="label")
    link = res.predict(df.head(20), kind="link")
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-link)))
    assert ((probs >= 0.5) == (labels == "yes")).all()
    assert res.predict_labels(df.head(20)).equals(labels)
    with pytest.raises(ValueError, match="kind"):
        res.predict(df.head(), kind="odds")


@pytest.mark.parametrize(
    "coding,labels",
    [
        (lambda s: s == "yes", (False, True)),
        (lambda s: (s == "yes").astype(int), (0, 1)),
        (lambda s: np.where(s == "yes", 1, -1), (-1, 1)),
        (lambda s: pd.Categorical(s), ("no", "yes")),
        (lambda s: np.where(s == "yes", "B", "A"), ("A", "B")),
    ],
)
def test_any_two_labels_give_the_same_fit(df, coding, labels):
    ref = hierreg.fit(F, df, method="regularized", alpha=0.05, family="binomial")
    res = hierreg.fit(
        F, df.assign(buy=coding(df["buy"])), method="regularized", alpha=0.05, family="binomial"
    )
    assert tuple(res.classes_) == labels
    np.testing.assert_allclose(res.params.to_numpy(), ref.params.to_numpy(), rtol=1e-12)


def test_binomial_needs_two_labels():
    df = pd.DataFrame({"y": ["a", "b", "c"] * 4, "x": np.arange(12.0), "g": list("uv") * 6})
    with pytest.raises(hierreg.DataError, match="exactly two labels"):
        hierreg.fit("y ~ x + (1 | g)", df, method="regularized", alpha=1.0, family="binomial")


def test_response_expression_for_binomial():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"y": rng.normal(size=200), "x": rng.normal(size=200)})
    df["g"] = rng.integers(0, 4, 200)
    res = hierreg.fit(
        "I(y > 0) ~ x + (1 | g)", df, method="regularized", alpha=0.1, family="binomial"
    )
    assert res.classes_ == (0, 1)
    with pytest.raises(hierreg.DataError):
        hierreg.fit(
            "I(y * 2) ~ x + (1 | g)", df, method="regularized", alpha=0.1, family="binomial"
        )


def test_sklearn_classifiers_match_the_formula(df):
    pytest.importorskip("sklearn")
    from hierreg_formula.estimators import HierarchicalClassifier, HierarchicalRegression

    res = hierreg.fit(F, df, method="regularized", alpha=0.05, family="binomial")
    probs = res.predict(df.head()).to_numpy()
    clf = HierarchicalClassifier(l2_reg=0.05).fit(df[["x"]], df["buy"], df["g"])
    np.testing.assert_allclose(clf.coef_, res.params.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(clf.predict_proba(df[["x"]].head(), df["g"].head())[:, 1], probs)
    assert clf.classes_.tolist() == ["no", "yes"]
    assert set(clf.predict(df[["x"]], df["g"])) <= {"no", "yes"}
    # hierreg's spelling: HierarchicalRegression(problem="classification"), predict(prob=True)
    hr = HierarchicalRegression(l2_reg=0.05, problem="classification")
    hr.fit(df[["x"]], df["buy"], df["g"])
    np.testing.assert_allclose(hr.predict(df[["x"]].head(), df["g"].head(), prob=True), probs)
    np.testing.assert_allclose(hr.predict_proba(df[["x"]].head(), df["g"].head())[:, 1], probs)
    assert not hasattr(HierarchicalRegression(), "predict_proba")  # regression: no probabilities
    with pytest.raises(ValueError, match="binary"):
        HierarchicalClassifier(l2_reg=0.05).fit(df[["x"]], np.arange(len(df)) % 3, df["g"])
