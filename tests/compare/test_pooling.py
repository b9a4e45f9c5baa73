"""Complete vs no vs partial pooling tables and the shrinkage figure."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import hierreg_formula as hierreg  # noqa: E402
from hierreg_formula.api import compare_pooling  # noqa: E402
from hierreg_formula.compare.pooling import (  # noqa: E402
    no_pooling,
    per_level_ols,
    pooling_table,
)

pytestmark = pytest.mark.filterwarnings("ignore::hierreg_formula.SingularFitWarning")


@pytest.fixture(scope="module")
def radon():
    return hierreg.load_dataset("radon")


@pytest.fixture(scope="module")
def radon_cmp(radon):
    return compare_pooling("log_radon ~ floor + (1 | county)", radon)


def test_radon_pooling_table(radon, radon_cmp):
    t = radon_cmp.table["county"]
    assert list(t.columns) == [
        "n",
        "no_pooling:Intercept",
        "partial_pooling:Intercept",
        "complete_pooling:Intercept",
    ]
    assert len(t) == 85 and t["n"].sum() == 919
    assert t["n"].to_dict() == radon["county"].value_counts().to_dict()
    # no pooling: the fixed-effects model log_radon ~ 0 + county + floor
    X = pd.get_dummies(radon["county"], dtype=float)
    X["floor"] = radon["floor"]
    beta, *_ = np.linalg.lstsq(X.to_numpy(), radon["log_radon"].to_numpy(), rcond=None)
    np.testing.assert_allclose(t["no_pooling:Intercept"].to_numpy(), beta[:85], atol=1e-8)
    assert radon_cmp.common["county"]["floor"] == pytest.approx(beta[85], abs=1e-10)
    # complete pooling: OLS of the fixed part
    Xp = np.column_stack([np.ones(len(radon)), radon["floor"]])
    bp, *_ = np.linalg.lstsq(Xp, radon["log_radon"].to_numpy(), rcond=None)
    assert np.allclose(t["complete_pooling:Intercept"], bp[0])
    np.testing.assert_allclose(radon_cmp.pooled.to_numpy(), bp)
    # partial pooling is the mixed model's coef()
    res = hierreg.fit("log_radon ~ floor + (1 | county)", radon)
    np.testing.assert_allclose(
        t["partial_pooling:Intercept"], res.coef()["county"]["Intercept"], rtol=1e-10
    )
    # it shrinks towards the pool, most for the smallest counties
    part, nop, pool = t["partial_pooling:Intercept"], t["no_pooling:Intercept"], bp[0]
    ratio = (part - pool).abs() / (nop - pool).abs()
    assert ratio.median() < 1
    small, large = t["n"] <= 3, t["n"] >= 20
    assert ratio[small].median() < ratio[large].median()


def test_sleepstudy_no_pooling_is_per_subject_ols():
    df = hierreg.load_dataset("sleepstudy")
    cmp = compare_pooling("Reaction ~ Days + (Days | Subject)", df)
    t = cmp.table["Subject"]
    assert cmp.common["Subject"].empty  # every fixed column varies by subject
    for subject, rows in df.groupby("Subject"):
        slope, intercept = np.polyfit(rows["Days"], rows["Reaction"], 1)
        got = t.loc[str(subject), ["no_pooling:Intercept", "no_pooling:Days"]].to_numpy(float)
        np.testing.assert_allclose(got, [intercept, slope], rtol=1e-10)
    assert (t["complete_pooling:Days"] == t["complete_pooling:Days"].iloc[0]).all()


def test_per_level_ols_matches_a_loop():
    rng = np.random.default_rng(3)
    n, G = 400, 30
    codes = rng.integers(0, G, n)
    codes[codes == 7] = 8  # level 7 has no rows
    codes[0] = 9
    codes[codes == 9] = 10
    codes[0] = 9  # level 9 has a single row
    Z = np.column_stack([np.ones(n), rng.normal(size=n) * 100.0])  # badly scaled slope
    Z[codes == 11, 1] = 4.0  # a single x value in level 11
    X = np.column_stack([rng.normal(size=n), np.repeat(1.0, n)])
    X[:, 1] = rng.normal(size=G)[codes]  # constant within levels: absorbed
    y = rng.normal(size=n)
    b, beta, ok = per_level_ols(codes, G, Z, y, X)
    assert np.isnan(beta[1])
    assert list(np.flatnonzero(~ok)) == [7, 9, 11]
    assert np.isnan(b[[7, 9, 11]]).all() and np.isfinite(b[ok]).all()
    # reference: the same model by dense least squares
    D = np.zeros((n, G * 2))
    for g in range(G):
        D[codes == g, 2 * g : 2 * g + 2] = Z[codes == g]
    full, *_ = np.linalg.lstsq(np.column_stack([D, X[:, :1]]), y, rcond=None)
    assert beta[0] == pytest.approx(full[-1], rel=1e-9)
    np.testing.assert_allclose(b[ok], full[:-1].reshape(G, 2)[ok], rtol=1e-8, atol=1e-10)


def test_single_row_and_single_x_levels_are_missing_not_crashes():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=60), "g": np.repeat(list("abcdef"), 10)})
    df["y"] = 1 + 2 * df["x"] + rng.normal(size=60)
    df.loc[df["g"] == "f", "x"] = 0.5  # a single x value in level f
    df = pd.concat([df, pd.DataFrame({"x": [0.1], "g": ["z"], "y": [3.0]})], ignore_index=True)
    cmp = compare_pooling("y ~ x + (x | g)", df)
    t = cmp.table["g"]
    assert t.loc[["f", "z"], ["no_pooling:Intercept", "no_pooling:x"]].isna().all().all()
    assert np.isfinite(t.loc[list("abcde"), ["no_pooling:Intercept", "no_pooling:x"]]).all().all()
    assert np.isfinite(t["partial_pooling:x"]).all()
    assert t.loc["z", "n"] == 1
    ax = cmp.plot(column="x")
    # arrows only where the no-pooling estimate exists; partial pooling for all 7 levels
    assert len([a for a in ax.texts if hasattr(a, "arrow_patch")]) == 5
    assert sorted(len(c.get_offsets()) for c in ax.collections) == [5, 7]
    plt.close(ax.figure)


def test_several_grouping_factors():
    df = hierreg.load_dataset("Penicillin")
    cmp = compare_pooling("diameter ~ 1 + (1 | plate) + (1 | sample)", df)
    assert list(cmp.table) == ["plate", "sample"]
    # intercept-only terms and no other fixed column: no pooling = the level means
    for g in ["plate", "sample"]:
        means = df.groupby(g)["diameter"].mean()
        means.index = means.index.map(str)
        got = cmp.table[g]["no_pooling:Intercept"]
        np.testing.assert_allclose(got.to_numpy(), means.loc[got.index.map(str)].to_numpy())
    assert cmp.columns("sample") == ["Intercept"]


def test_group_level_predictor_is_absorbed(radon):
    res = hierreg.fit("log_radon ~ floor + Uppm + (1 | county)", radon)
    est, common = no_pooling(res, "county")
    assert np.isnan(common["Uppm"]) and np.isfinite(common["floor"])
    assert np.isfinite(est["Intercept"]).all()
    with pytest.raises(hierreg.HierregError, match="not a grouping factor"):
        no_pooling(res, "floor")


def test_regularized_mode_is_optional():
    df = hierreg.load_dataset("sleepstudy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hierreg.HierregWarning)
        cmp = compare_pooling(
            "Reaction ~ Days + (Days | Subject)",
            df,
            include_regularized=True,
            regularized_kwargs={"alpha": 1.0},
        )
    if cmp.regularized is None:
        pytest.skip("the regularized mode is not available")
    t = cmp.table["Subject"]
    reg = cmp.regularized.coef()["Subject"]
    np.testing.assert_allclose(t["regularized:Days"], reg["Days"])
    ax = cmp.plot(column="Days")
    assert len(ax.collections) == 3  # no pooling, partial pooling, regularized
    plt.close(ax.figure)


def test_plot_draws_the_shrinkage_figure(radon_cmp):
    fig, ax = plt.subplots()
    out = radon_cmp.plot(ax=ax)
    assert out is ax
    t = radon_cmp.table["county"]
    offsets = [c.get_offsets() for c in ax.collections]
    assert [len(o) for o in offsets] == [85, 85]
    np.testing.assert_allclose(np.sort(offsets[0][:, 1]), np.sort(t["no_pooling:Intercept"]))
    np.testing.assert_allclose(np.sort(offsets[1][:, 1]), np.sort(t["partial_pooling:Intercept"]))
    # x is the (jittered) county size
    assert np.allclose(np.log(offsets[1][:, 0]), np.log(t["n"]), atol=0.1)
    assert len([a for a in ax.texts if hasattr(a, "arrow_patch")]) == 85
    pooled = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(pooled) == 1 and pooled[0].get_ydata()[0] == t["complete_pooling:Intercept"].iloc[0]
    assert ax.get_xscale() == "log"
    with pytest.raises(hierreg.HierregError, match="column"):
        radon_cmp.plot(column="floor")
    plt.close(fig)


def test_pooling_table_from_a_fit():
    res = hierreg.fit("Yield ~ 1 + (1 | Batch)", hierreg.load_dataset("Dyestuff"))
    t = pooling_table(res).table["Batch"]
    assert t["n"].tolist() == [5] * 6
    assert t["no_pooling:Intercept"].std() > t["partial_pooling:Intercept"].std()
