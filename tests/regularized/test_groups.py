"""Groups in every shape hierreg accepts (and more) give the same fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg
from tests.regularized.sim import simulate

pytest.importorskip("sklearn")
from hierreg_formula.estimators import HierarchicalRegression  # noqa: E402


@pytest.fixture(scope="module")
def df():
    frame, _ = simulate(0)
    return frame


@pytest.mark.parametrize("labels", ["str", "int"])
def test_every_groups_shape_gives_the_same_fit(df, labels):
    g = df["g"] if labels == "str" else df["g"].str[1:].astype(int)
    X, y = df[["x"]], df["y"]
    shapes = {
        "Series": g,
        "DataFrame": g.to_frame(),
        "list": list(g),
        "1-d array": g.to_numpy(),
        "2-d array": g.to_numpy()[:, None],
        "1-d object array": g.to_numpy().astype(object),
        "list of lists": [[v] for v in g],
    }
    fits = {k: HierarchicalRegression(l2_reg=1e-3).fit(X, y, s) for k, s in shapes.items()}
    ref = fits["Series"]
    # the deviations are really there (hierreg 0.1 silently dropped them for 1-d arrays)
    assert np.abs(fits["1-d array"].v_[0]).max() > 0.1
    for name, est in fits.items():
        np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-13, err_msg=name)
        np.testing.assert_allclose(est.v_[0], ref.v_[0], rtol=1e-13, atol=1e-15, err_msg=name)
        pred = est.predict(X.head(7), _head(shapes[name], 7))
        np.testing.assert_allclose(pred, ref.predict(X.head(7), g.head(7)), rtol=1e-13)


def _head(s, k):
    return s.head(k) if isinstance(s, (pd.Series, pd.DataFrame)) else s[:k]


def test_two_grouping_columns_match_the_formula(df):
    df = df.assign(h=np.where(df["x"] > 0, "up", "down"))
    est = HierarchicalRegression(l2_reg=0.01).fit(df[["x"]], df["y"], df[["g", "h"]])
    res = hierreg.fit("y ~ x + (1 + x | g) + (1 + x | h)", df, method="regularized", alpha=0.01)
    np.testing.assert_allclose(est.coef_, res.params.to_numpy(), rtol=1e-10)
    for j, g in enumerate(["g", "h"]):
        np.testing.assert_allclose(est.v_[j], res.random_effects[g].to_numpy(), rtol=1e-10)
    same = HierarchicalRegression(l2_reg=0.01).fit(df[["x"]], df["y"], df[["g", "h"]].to_numpy())
    np.testing.assert_allclose(same.coef_, est.coef_, rtol=1e-13)
    # hierreg's layout: every grouping's levels side by side, "<column>_<level>"
    assert est.group_effects_.shape == (2, df["g"].nunique() + 2)
    assert est.group_effects_.columns[-1] == "h_up"


def test_unseen_and_missing_groups_get_only_the_shared_coefficients(df):
    est = HierarchicalRegression(l2_reg=1e-3).fit(df[["x"]], df["y"], df["g"])
    w = est.coef_
    new = pd.DataFrame({"x": [0.5, 0.5, 0.5]})
    pred = est.predict(new, pd.Series(["s00", "never seen", None]))
    assert pred[1] == pytest.approx(w[0] + 0.5 * w[1])
    assert pred[2] == pytest.approx(w[0] + 0.5 * w[1])
    v = est.deviations_[0].loc["s00"]
    assert pred[0] == pytest.approx(w[0] + v["Intercept"] + 0.5 * (w[1] + v["x"]))


def test_rows_without_a_group_get_no_deviation_when_fitting():
    from tests.regularized.sim import dense_squared_solution

    df, _ = simulate(1, G=6, n=200)
    g = df["g"].astype(object)
    g.iloc[:40] = None  # hierreg: "observations not belonging to any group must have NA"
    alpha = 1e-3
    est = HierarchicalRegression(l2_reg=alpha).fit(df[["x"]], df["y"], g)
    # independent: dense Z with zero rows for the ungrouped rows, weights from grouped rows
    X = np.column_stack([np.ones(len(df)), df["x"]])
    levels = sorted(g.dropna().unique())
    onehot = np.column_stack([(g == lv).to_numpy(float) for lv in levels])
    Z = (onehot[:, :, None] * X[:, None, :]).reshape(len(df), -1)  # level-major columns
    inv = 1.0 / onehot.sum(axis=0)
    d = np.repeat(inv / inv.sum() / 2, 2)
    w_ref, v_ref = dense_squared_solution(X, df["y"].to_numpy(), [Z], d, alpha)
    np.testing.assert_allclose(est.coef_, w_ref, rtol=1e-9)
    np.testing.assert_allclose(est.v_[0].ravel(), v_ref, atol=1e-9)
    pred = est.predict(df[["x"]].head(3), g.head(3))
    np.testing.assert_allclose(pred, X[:3] @ est.coef_)


def test_predict_needs_groups_when_fitted_with_groups(df):
    est = HierarchicalRegression(l2_reg=1e-3).fit(df[["x"]], df["y"], df["g"])
    with pytest.raises(ValueError, match="pass groups"):
        est.predict(df[["x"]])
    with pytest.raises(ValueError, match="groups has 2 columns"):
        est.predict(df[["x"]], df[["g", "g"]])


def test_group_cols_by_name_index_and_negative_index(df):
    ref = HierarchicalRegression(l2_reg=1e-3).fit(df[["x"]], df["y"], df["g"])
    Xg = df[["x", "g"]]
    for gc in ("g", ["g"], 1, -1, [-1]):
        est = HierarchicalRegression(l2_reg=1e-3, group_cols=gc).fit(Xg, df["y"])
        np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-13)
        np.testing.assert_allclose(
            est.predict(Xg.head()), ref.predict(df[["x"]].head(), df["g"].head())
        )
    arr = Xg.to_numpy(dtype=object)
    est = HierarchicalRegression(l2_reg=1e-3, group_cols=-1).fit(arr, df["y"])
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-13)
    with pytest.raises(ValueError, match="DataFrame"):
        HierarchicalRegression(l2_reg=1e-3, group_cols="g").fit(arr, df["y"])
