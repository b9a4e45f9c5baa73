"""Complete vs no vs partial pooling tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

import hierreg_formula as hierreg


def test_radon_pooling_table():
    df = hierreg.load_dataset("radon")
    cmp = hierreg.compare_pooling("log_radon ~ floor + (1 | county)", df)
    t = cmp.table["county"]
    assert len(t) == 85 and t["n"].sum() == 919
    # no pooling: the fixed-effects model log_radon ~ floor + county, solved independently
    X = pd.get_dummies(df["county"], dtype=float)
    X["floor"] = df["floor"]
    beta, *_ = np.linalg.lstsq(X.to_numpy(), df["log_radon"].to_numpy(), rcond=None)
    np.testing.assert_allclose(t["no_pooling:Intercept"].to_numpy(), beta[:85], atol=1e-6)
    # complete pooling: OLS of the fixed part
    Xp = np.column_stack([np.ones(len(df)), df["floor"]])
    bp, *_ = np.linalg.lstsq(Xp, df["log_radon"].to_numpy(), rcond=None)
    assert np.allclose(t["complete_pooling:Intercept"], bp[0])
    # partial pooling shrinks towards the pool, most for the smallest counties
    part, nop, pool = t["partial_pooling:Intercept"], t["no_pooling:Intercept"], bp[0]
    ratio = (part - pool).abs() / (nop - pool).abs()
    assert ratio.median() < 1
    small, large = t["n"] <= 3, t["n"] >= 20
    assert ratio[small].median() < ratio[large].median()


def test_single_row_and_single_x_levels_are_missing_not_crashes():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=60), "g": np.repeat(list("abcdef"), 10)})
    df["y"] = 1 + 2 * df["x"] + rng.normal(size=60)
    df.loc[df["g"] == "f", "x"] = 0.5  # a single x value in level f
    df = pd.concat([df, pd.DataFrame({"x": [0.1], "g": ["z"], "y": [3.0]})], ignore_index=True)
    cmp = hierreg.compare_pooling("y ~ x + (x | g)", df)
    t = cmp.table["g"]
    assert np.isnan(t.loc["z", "no_pooling:x"]) and np.isnan(t.loc["z", "no_pooling:Intercept"])
    assert np.isnan(t.loc["f", "no_pooling:x"])
    assert np.isfinite(t.loc["a", "no_pooling:x"])
    assert np.isfinite(t["partial_pooling:x"]).all()
