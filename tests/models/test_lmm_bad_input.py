"""Degenerate models give a clear warning or error (issue 3)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg


def _data(seed=0, G=12, per=8, sd_group=1.0):
    rng = np.random.default_rng(seed)
    g = np.repeat([f"g{i:02d}" for i in range(G)], per)
    x = rng.normal(size=G * per)
    y = (
        1.0
        + 2.0 * x
        + sd_group * rng.normal(size=G)[np.arange(G).repeat(per)]
        + rng.normal(size=G * per)
    )
    return pd.DataFrame({"y": y, "x": x, "g": g})


def test_singular_fit_warns_and_flags():
    df = _data(sd_group=0.0, seed=3)
    with pytest.warns(hierreg.SingularFitWarning, match=r"singular.*\| g\)"):
        res = hierreg.fit("y ~ x + (1 | g)", df)
    assert res.is_singular
    assert res.varcorr().iloc[0]["variance"] < 1e-6
    assert "Singular fit" in str(res.summary())


def test_collinear_fixed_effects_dropped_with_warning():
    df = _data()
    df["x2"] = 2.0 * df["x"]
    with pytest.warns(hierreg.RankDeficiencyWarning, match="'x2'"):
        res = hierreg.fit("y ~ x + x2 + (1 | g)", df)
    assert list(res.params.index) == ["Intercept", "x"]
    assert res.dropped_columns == ["x2"]
    ref = hierreg.fit("y ~ x + (1 | g)", df)
    assert res.reml_criterion == pytest.approx(ref.reml_criterion, rel=1e-10)
    # prediction on new data rebuilds the same reduced design
    np.testing.assert_allclose(res.predict(df.head()).values, ref.predict(df.head()).values)


def test_every_group_a_single_row_is_an_error():
    df = _data(G=30, per=1)
    with pytest.raises(hierreg.EstimationError, match="single row"):
        hierreg.fit("y ~ x + (1 | g)", df)


def test_one_group_with_a_single_row_is_fine_and_shrunk():
    df = _data(G=10, per=6, sd_group=1.0, seed=1)
    extra = pd.DataFrame({"y": [10.0], "x": [0.0], "g": ["lonely"]})
    df = pd.concat([df, extra], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = hierreg.fit("y ~ x + (1 | g)", df)
    re = res.random_effects["g"].loc["lonely", "Intercept"]
    raw = 10.0 - res.params["Intercept"]
    assert 0 < re < raw  # partial pooling shrinks the single-row group towards zero


def test_response_without_variance_is_an_error():
    df = _data()
    df["y"] = 3.0
    with pytest.raises(hierreg.EstimationError, match="no variance"):
        hierreg.fit("y ~ x + (1 | g)", df)


def test_no_random_term_is_an_error():
    with pytest.raises(hierreg.EstimationError, match="no random-effects term"):
        hierreg.fit("y ~ x", _data())


def test_unknown_method():
    with pytest.raises(hierreg.HierregError, match="unknown method"):
        hierreg.fit("y ~ x + (1 | g)", _data(), method="bayes")


def test_too_many_crossed_levels_is_a_clear_error(monkeypatch):
    import hierreg_formula.models.prepare as prepare

    monkeypatch.setattr(prepare, "MAX_DENSE_COLUMNS", 5)
    df = _data(G=12, per=8)
    df["h"] = np.tile(np.arange(8), 12)
    with pytest.raises(hierreg.EstimationError, match="dense matrix"):
        hierreg.fit("y ~ x + (1 | g) + (1 | h)", df)
