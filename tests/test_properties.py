"""Property tests (hypothesis): invariances every linear mixed model fit must have.

Data sets are drawn small (20-90 rows, 3-8 groups, a random slope or not) and the
examples are derandomized, so CI runs the same cases every time.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import hierreg_formula as hierreg  # noqa: E402

SETTINGS = settings(max_examples=15, deadline=None, derandomize=True, database=None)
FORMULAS = ["y ~ x + (1 | g)", "y ~ x + (x | g)", "y ~ x + (x || g)"]


@st.composite
def datasets(draw):
    G = draw(st.integers(3, 8))
    per = draw(st.integers(5, 11))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n = G * per
    g = np.repeat(np.arange(G), per)
    x = np.round(rng.normal(size=n), 3)
    b0 = rng.normal(size=G)
    b1 = 0.5 * rng.normal(size=G)
    y = 1.0 + 0.7 * x + b0[g] + b1[g] * x + rng.normal(size=n)
    formula = draw(st.sampled_from(FORMULAS))
    return formula, pd.DataFrame({"y": y, "x": x, "g": g})


def fit(formula, df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hierreg.HierregWarning)
        return hierreg.fit(formula, df, **kw)


def same_fit(a, b, rtol=1e-6):
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=rtol, atol=1e-8)
    # near a boundary (singular fits) the deviance is flat: theta agrees to ~1e-4 only
    np.testing.assert_allclose(a.theta.to_numpy(), b.theta.to_numpy(), rtol=1e-4, atol=1e-4)
    assert a.sigma == pytest.approx(b.sigma, rel=rtol)
    assert a.objective == pytest.approx(b.objective, rel=1e-9)


@SETTINGS
@given(datasets(), st.integers(0, 2**31 - 1))
def test_row_order_does_not_matter(case, seed):
    formula, df = case
    perm = np.random.default_rng(seed).permutation(len(df))
    a, b = fit(formula, df), fit(formula, df.iloc[perm])
    same_fit(a, b)
    np.testing.assert_allclose(
        b.fittedvalues.loc[df.index].to_numpy(), a.fittedvalues.to_numpy(), rtol=1e-6, atol=1e-6
    )


@SETTINGS
@given(datasets(), st.integers(0, 2**31 - 1))
def test_relabelling_groups_does_not_matter(case, seed):
    formula, df = case
    G = df.g.nunique()
    names = np.random.default_rng(seed).permutation(G)
    labels = np.array([f"lab{k:02d}" for k in names])
    a, b = fit(formula, df), fit(formula, df.assign(g=labels[df.g]))
    same_fit(a, b)
    ra, rb = a.random_effects["g"], b.random_effects["g"]
    np.testing.assert_allclose(
        rb.loc[labels[ra.index.to_numpy()]].to_numpy(), ra.to_numpy(), rtol=1e-5, atol=1e-6
    )


@SETTINGS
@given(
    datasets(),
    st.floats(-1e6, 1e6),
    st.sampled_from([-1e3, -2.0, -0.5, 1e-4, 0.3, 7.0, 1e5]),
    st.booleans(),
)
def test_affine_response(case, shift, scale, reml):
    """y -> shift + scale * y: coefficients and SDs scale, the objective shifts by a known
    amount ((n - p) log scale^2 for REML, n log scale^2 for ML), theta does not move."""
    formula, df = case
    method = "reml" if reml else "ml"
    a = fit(formula, df, method=method)
    b = fit(formula, df.assign(y=shift + scale * df.y), method=method)
    n, p = len(df), len(a.params)
    np.testing.assert_allclose(b.params["x"], scale * a.params["x"], rtol=1e-5, atol=1e-7)
    assert b.params["Intercept"] == pytest.approx(
        shift + scale * a.params["Intercept"], rel=1e-6, abs=1e-6 * (abs(shift) + abs(scale))
    )
    assert b.sigma == pytest.approx(abs(scale) * a.sigma, rel=1e-5)
    np.testing.assert_allclose(b.bse.to_numpy(), abs(scale) * a.bse.to_numpy(), rtol=1e-4)
    np.testing.assert_allclose(b.theta.to_numpy(), a.theta.to_numpy(), rtol=1e-4, atol=1e-5)
    m = (n - p) if reml else n
    # the shifted data carry less precision: rounding of shift + scale * y, relative to its spread
    noise = 2.2e-16 * (abs(shift) + abs(scale) * df.y.abs().max()) / (abs(scale) * df.y.std())
    tol = 1e-6 + 10 * n * noise
    assert b.objective == pytest.approx(a.objective + m * np.log(scale**2), rel=1e-9, abs=tol)
    np.testing.assert_allclose(
        b.random_effects_sd["g"].to_numpy(),
        abs(scale) * a.random_effects_sd["g"].to_numpy(),
        rtol=1e-4,
        atol=1e-6 * abs(scale),
    )


@SETTINGS
@given(datasets())
def test_grouping_dtype_does_not_matter(case):
    formula, df = case
    fits = [
        fit(formula, df.assign(g=g))
        for g in (df.g, df.g.astype(float), df.g.astype("category"), df.g.astype(np.int32))
    ]
    for other in fits[1:]:
        same_fit(fits[0], other, rtol=1e-10)


@SETTINGS
@given(datasets())
def test_float32_columns_give_the_float64_fit(case):
    formula, df = case
    x32 = df.x.astype(np.float32)
    a = fit(formula, df.assign(x=x32))
    b = fit(formula, df.assign(x=x32.astype(np.float64)))
    same_fit(a, b, rtol=1e-12)


@SETTINGS
@given(datasets())
def test_an_unused_categorical_level_does_not_matter(case):
    formula, df = case
    cats = sorted(df.g.unique()) + [999]
    a = fit(formula, df)
    b = fit(formula, df.assign(g=pd.Categorical(df.g, categories=cats)))
    same_fit(a, b, rtol=1e-10)
    assert 999 not in b.random_effects["g"].index


@SETTINGS
@given(datasets())
def test_predict_on_the_training_data_is_fittedvalues(case):
    formula, df = case
    res = fit(formula, df)
    np.testing.assert_allclose(res.predict(df).to_numpy(), res.fittedvalues.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        (res.fittedvalues + res.resid).to_numpy(), df.y.to_numpy(), rtol=1e-12
    )
