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


def test_crossed_levels_beyond_the_memory_are_a_clear_error(monkeypatch):
    """The dense block of the crossed factors is checked against the available memory
    before anything is allocated: the error says what is needed and what is available."""
    import hierreg_formula.memory as memory

    monkeypatch.setattr(memory, "available_memory", lambda: 10_000)
    df = _data(G=12, per=8)
    df["h"] = np.tile(np.arange(8), 12)
    with pytest.raises(hierreg.EstimationError, match=r"GB are available.*8 x 8 matrix") as err:
        hierreg.fit("y ~ x + (1 | g) + (1 | h)", df)
    assert isinstance(err.value, MemoryError)
    monkeypatch.setattr(memory, "available_memory", lambda: None)  # unknown: no check
    hierreg.fit("y ~ x + (1 | g) + (1 | h)", df)


def test_more_random_effects_than_observations_is_refused():
    """500 random effects (100 levels x 5 columns) for 200 rows: lme4's
    check.nobs.vs.nRE refuses it, and so do we, naming the term."""
    rng = np.random.default_rng(7)
    n = 200
    df = pd.DataFrame(rng.normal(size=(n, 4)), columns=["x1", "x2", "x3", "x4"])
    df["g"] = np.repeat(np.arange(100), 2)
    df["y"] = rng.normal(size=n)
    with pytest.raises(
        hierreg.EstimationError,
        match=r"term \(Intercept \+ x1 \+ x2 \+ x3 \+ x4 \| g\) has 500 random effects "
        r"\(100 levels x 5 columns\) for 200 observations",
    ):
        hierreg.fit("y ~ 1 + (1 + x1 + x2 + x3 + x4 | g)", df)
    # as many random effects as rows (q = n) is refused too (lme4: n <= q)
    with pytest.raises(hierreg.EstimationError, match="200 random effects"):
        hierreg.fit("y ~ 1 + (1 + x1 | g)", df)
    # fewer than the rows: fitted (crossed terms may have more in total, as in lme4)
    df3 = df.assign(g=np.repeat(np.arange(67), 3)[:n], h=np.tile(np.arange(90), 3)[:n])
    df3["y"] += 0.5 * df3["g"] % 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = hierreg.fit("y ~ 1 + (1 + x1 | g) + (1 | h)", df3)
    assert np.isfinite(res.reml_criterion)
