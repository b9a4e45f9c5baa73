"""Side by side with statsmodels MixedLM (differences within its convergence).

Observed with statsmodels 0.15 (REML): largest relative difference per entry
for the fixed effects, standard errors and variance components; for the random
effects the largest absolute difference over the largest absolute mode; for
the log-likelihood the absolute difference (ours is the higher one each time).

==============  ========  ========  ========  ==========  ==============
data            fixed     std err   var comp  rand. eff.  log-likelihood
==============  ========  ========  ========  ==========  ==============
sleepstudy      1e-14     1e-6      6e-5      2e-6        9e-11
Dyestuff        0         3e-5      7e-5      2e-5        4e-9
Penicillin      1e-13     1e-5      2e-5      1e-7        7e-10
Pastes          2e-14     9e-5      4e-4      2e-4        1e-7
==============  ========  ========  ========  ==========  ==============

The tolerances below leave an order of magnitude or more for other
statsmodels / BLAS versions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg
from hierreg_formula.api import compare_mixedlm
from hierreg_formula.compare.mixedlm import (
    MixedLMComparison,
    NotExpressibleError,
    compare_results,
    translate,
)

pytestmark = pytest.mark.filterwarnings("ignore::hierreg_formula.SingularFitWarning")


def _check_agreement(cmp: MixedLMComparison, tol_vc: float = 5e-3) -> None:
    fe = cmp.fixed_effects
    np.testing.assert_allclose(fe["hierreg"], fe["mixedlm"], rtol=1e-5, atol=1e-8)
    se = cmp.std_errors
    np.testing.assert_allclose(se["hierreg"], se["mixedlm"], rtol=2e-3)
    vc = cmp.variance_components
    assert vc["mixedlm"].notna().all()
    assert cmp.max_rel_diff()["variance_components"] < tol_vc
    np.testing.assert_allclose(vc["hierreg"], vc["mixedlm"], rtol=tol_vc, atol=tol_vc * 1e-3)
    info = cmp.fit_info
    assert info.loc["log-likelihood", "hierreg"] == pytest.approx(
        info.loc["log-likelihood", "mixedlm"], rel=1e-6
    )
    assert bool(info.loc["converged", "hierreg"]) and bool(info.loc["converged", "mixedlm"])
    for g, t in cmp.random_effects.items():
        assert t.xs("mixedlm", axis=1, level=1).notna().all().all(), g
        assert cmp.max_rel_diff()[f"random_effects[{g}]"] < 5e-3, g


@pytest.mark.parametrize(
    "data,formula,groups,vc_rows",
    [
        (
            "sleepstudy",
            "Reaction ~ Days + (Days | Subject)",
            18,
            ["Subject Intercept Var", "Subject Days Var", "Subject Intercept x Days Cov"],
        ),
        ("Dyestuff", "Yield ~ 1 + (1 | Batch)", 6, ["Batch Intercept Var"]),
        (
            "Penicillin",
            "diameter ~ 1 + (1 | plate) + (1 | sample)",
            24 + 6,
            ["plate Intercept Var", "sample Intercept Var"],
        ),
        (
            "Pastes",
            "strength ~ 1 + (1 | batch/cask)",
            10 + 30,
            ["batch:cask Intercept Var", "batch Intercept Var"],  # lme4's term order
        ),
        (
            "sleepstudy",
            "Reaction ~ Days + (Days || Subject)",
            18,
            ["Subject Intercept Var", "Subject Days Var"],
        ),
    ],
)
def test_agrees_with_statsmodels(data, formula, groups, vc_rows):
    cmp = compare_mixedlm(formula, hierreg.load_dataset(data))
    _check_agreement(cmp)
    assert cmp.variance_components.index.tolist() == vc_rows + ["Residual"]
    assert sum(len(t) for t in cmp.random_effects.values()) == groups
    assert cmp.fit_info.loc["method"].tolist() == ["REML", "REML"]
    text = str(cmp)
    for part in ["Fixed effects", "Standard errors", "Variance components", "Random effects"]:
        assert part in text
    assert repr(cmp) == text


def test_ml_fits_are_compared_as_ml():
    cmp = hierreg.compare_mixedlm(
        "Reaction ~ Days + (Days | Subject)", hierreg.load_dataset("sleepstudy"), method="ml"
    )
    assert cmp.fit_info.loc["method"].tolist() == ["ML", "ML"]
    assert not cmp.statsmodels_result.model.reml
    _check_agreement(cmp)
    # ML variances are smaller than REML's
    reml = hierreg.compare_mixedlm(
        "Reaction ~ Days + (Days | Subject)", hierreg.load_dataset("sleepstudy")
    )
    assert (
        cmp.variance_components.loc["Residual", "mixedlm"]
        < reml.variance_components.loc["Residual", "mixedlm"]
    )


def test_random_effects_tables_line_up_levels():
    df = hierreg.load_dataset("sleepstudy")
    res = hierreg.fit("Reaction ~ Days + (Days | Subject)", df)
    cmp = res.compare_mixedlm()
    t = cmp.random_effects["Subject"]
    assert list(t.index) == list(res.random_effects["Subject"].index)
    assert list(t.columns.get_level_values(0).unique()) == ["Intercept", "Days"]
    sm = cmp.statsmodels_result.random_effects
    key = next(k for k in sm if str(k) == "308")
    assert t.loc["308", ("Days", "mixedlm")] == sm[key]["Days"]
    assert t.loc["308", ("Intercept", "mixedlm")] == sm[key]["Group"]
    diffs = cmp.max_abs_diff()
    assert set(diffs) == {
        "fixed_effects",
        "std_errors",
        "variance_components",
        "random_effects[Subject]",
    }
    assert all(np.isfinite(v) for v in diffs.values())


def test_translation():
    res = hierreg.fit(
        "diameter ~ 1 + (1 | plate) + (1 | sample)", hierreg.load_dataset("Penicillin")
    )
    spec = translate(res)
    assert spec.groups is None and spec.re_formula == "0"
    assert spec.vc_formula == {"plate": "0 + C(plate)", "sample": "0 + C(sample)"}
    assert spec.call["groups"] == "np.ones(n)"

    res = hierreg.fit("Reaction ~ Days + (Days | Subject)", hierreg.load_dataset("sleepstudy"))
    spec = translate(res)
    assert (spec.formula, spec.groups, spec.re_formula, spec.vc_formula) == (
        "Reaction ~ 1 + Days",
        "Subject",
        "1 + Days",
        None,
    )

    res = hierreg.fit("Reaction ~ Days + (Days || Subject)", hierreg.load_dataset("sleepstudy"))
    assert translate(res).vc_formula == {"Days": "0 + Days"}

    # nested: the outer factor becomes groups=, the inner one a variance component in it
    res = hierreg.fit("strength ~ 1 + (1 | batch/cask)", hierreg.load_dataset("Pastes"))
    spec = translate(res)
    assert (spec.groups, spec.re_formula) == ("batch", "1")
    assert spec.vc_formula == {"batch:cask": "0 + C(cask)"}


@pytest.fixture(scope="module")
def nested_data():
    rng = np.random.default_rng(1)
    n = 480
    a = rng.integers(0, 12, n)
    inner = rng.integers(0, 4, n)
    c = rng.integers(0, 8, n)
    x = rng.normal(size=n)
    ua = rng.normal(size=(12, 2)) * [1.0, 0.5]
    ub = rng.normal(size=(12, 4)) * 0.7
    uc = rng.normal(size=8) * 0.6
    y = 1 + 0.5 * x + ua[a, 0] + ua[a, 1] * x + ub[a, inner] + uc[c] + rng.normal(size=n)
    f = np.array(["u", "v", "w"])[rng.integers(0, 3, n)]
    return pd.DataFrame(
        {"y": y, "x": x, "a": [f"a{i}" for i in a], "b": inner, "c": c.astype(float), "f": f}
    )


def test_slopes_with_a_nested_factor(nested_data):
    res = hierreg.fit("y ~ x + (x | a) + (1 | a:b)", nested_data)
    cmp = res.compare_mixedlm()
    assert (cmp.spec.groups, cmp.spec.re_formula) == ("a", "1 + x")
    assert cmp.spec.vc_formula == {"a:b": "0 + C(b)"}
    _check_agreement(cmp)
    assert len(cmp.random_effects["a:b"]) == res.ngroups["a:b"]


def test_uncorrelated_slopes_with_a_nested_factor(nested_data):
    # statsmodels' lbfgs stops early on this one (flagged as converged): the next
    # optimizer is tried and the notes say so
    res = hierreg.fit("y ~ x + (x || a) + (1 | a:b)", nested_data)
    cmp = compare_results(res)
    assert cmp.spec.vc_formula == {"x": "0 + x", "a:b": "0 + C(b)"}
    _check_agreement(cmp)


def test_crossed_scalar_slope(nested_data):
    res = hierreg.fit("y ~ x + (1 | a) + (0 + x | c)", nested_data)
    cmp = res.compare_mixedlm()
    assert cmp.spec.groups is None
    assert cmp.spec.vc_formula == {"a": "0 + C(a)", "c:x": "0 + C(c):x"}
    _check_agreement(cmp, tol_vc=2e-2)
    assert cmp.variance_components.index[1] == "c x Var"


def test_data_argument(nested_data):
    res = hierreg.fit("y ~ x + (1 | a)", nested_data)
    cmp = compare_results(res, data=nested_data, methods=["bfgs"])
    _check_agreement(cmp)


@pytest.mark.parametrize(
    "formula,names",
    [
        ("y ~ x + (x | a) + (1 | c)", [r"\(1 \+ x \| a\)", r"\(1 \| c\)", "not nested"]),
        ("y ~ x + (x | a) + (x | c)", [r"\(1 \+ x \| a\)", r"\(1 \+ x \| c\)"]),
        ("y ~ x + (x | a/b)", [r"\(1 \+ x \| a:b\)"]),
        ("y ~ x + (0 + f || c)", [r"\(0 \+ f \| c\)", r"\|\|"]),
    ],
)
def test_inexpressible_formula_names_the_part(nested_data, formula, names):
    res = hierreg.fit(formula, nested_data)
    with pytest.raises(NotExpressibleError) as info:
        res.compare_mixedlm()
    for pattern in names:
        assert info.match(pattern)
    assert isinstance(info.value, hierreg.HierregError)


def test_only_mixed_models_are_compared():
    df = hierreg.load_dataset("Dyestuff")
    with pytest.raises(hierreg.HierregError, match="'reml' or 'ml'"):
        compare_mixedlm("Yield ~ 1 + (1 | Batch)", df, "regularized")
    reg = hierreg.fit("Yield ~ 1 + (1 | Batch)", df, method="regularized", alpha=1.0)
    with pytest.raises(hierreg.HierregError, match="REML or ML"):
        compare_results(reg)


def test_categorical_and_transformed_fixed_columns_line_up(nested_data):
    res = hierreg.fit("y ~ C(f) + x + np.log(c + 1) + (1 | a)", nested_data)
    cmp = res.compare_mixedlm()
    assert cmp.fixed_effects.index.tolist() == res.exog_names
    assert "C(f)[T.v]" in res.exog_names
    _check_agreement(cmp)
