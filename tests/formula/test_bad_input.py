"""Bad input raises a FormulaError / DataError that names the problem."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg
from hierreg_formula.formula import build_design, parse_formula


@pytest.fixture
def df():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"y": rng.normal(size=12), "x": rng.normal(size=12), "g": list("abcd") * 3})


@pytest.mark.parametrize(
    "formula,where,marked",
    [
        ("y ~ x + (1 | g", "matching context", "⧛(⧚"),
        ("y ~ x + (1 | g))", "matching context", "⧛)⧚"),
        ("y ~ x +", "misplaced", "⧛+⧚"),
        ("y ~ x + (1 |)", "misplaced", "⧛|⧚"),
        ("y ~ (x | )", "misplaced", "⧛|⧚"),
        ("y ~ x x", "Missing operator", "⧛x x⧚"),
    ],
)
def test_malformed_formula_shows_where(formula, where, marked):
    with pytest.raises(hierreg.FormulaError, match=where) as info:
        parse_formula(formula)
    msg = str(info.value)
    assert msg.startswith(f"malformed formula {formula!r}")
    assert marked in msg  # formulaic's markers around the offending token
    assert isinstance(info.value, ValueError)
    assert info.value.__cause__ is not None  # formulaic's error is chained


def test_bar_at_top_level():
    with pytest.raises(hierreg.FormulaError, match="enclosed in parentheses"):
        parse_formula("y ~ x | g")


@pytest.mark.parametrize("formula", ["y ~ (x | 1)", "y ~ x + (1 | 1)"])
def test_random_term_without_grouping_variable(formula):
    with pytest.raises(hierreg.FormulaError, match="no grouping variable"):
        parse_formula(formula)


@pytest.mark.parametrize("formula", ["y ~ (1 | g):x", "y ~ x:(1 | g)", "y ~ x * (x | g)"])
def test_random_term_in_interaction(formula):
    with pytest.raises(hierreg.FormulaError, match="cannot be multiplied"):
        parse_formula(formula)


@pytest.mark.parametrize("formula", ["y ~ ((1 | g) | h)", "y ~ (x | (1 | g))"])
def test_nested_random_terms(formula):
    with pytest.raises(hierreg.FormulaError, match="cannot be nested"):
        parse_formula(formula)


def test_unsupported_constructs():
    with pytest.raises(hierreg.FormulaError, match=r"`\.` shorthand"):
        parse_formula("y ~ . + (1 | g)")
    with pytest.raises(hierreg.FormulaError, match="must be a column name"):
        parse_formula("y ~ (1 | C(g))")
    with pytest.raises(hierreg.FormulaError, match="no columns"):
        parse_formula("y ~ (0 | g)")
    with pytest.raises(hierreg.FormulaError, match="right of '~'"):
        parse_formula("(1 | g) ~ x")
    with pytest.raises(hierreg.FormulaError, match="non-empty string"):
        parse_formula("  ")


def test_unknown_function(df):
    with pytest.raises(hierreg.FormulaError, match="unknown function.*'foo'"):
        build_design("y ~ foo(x) + (1 | g)", df)


@pytest.mark.parametrize(
    "formula,name",
    [
        ("y ~ z + (1 | g)", "z"),
        ("y ~ x + (1 | h)", "h"),
        ("y ~ np.log(z) + (1 | g)", "z"),
        ("y ~ center(z) + (1 | g)", "z"),
        ("y ~ x + (C(z) | g)", "z"),
        ("y ~ x + (1 | g:h)", "h"),
        ("w ~ x + (1 | g)", "w"),
    ],
)
def test_missing_column_is_named(df, formula, name):
    with pytest.raises(hierreg.DataError, match=f"column\\(s\\) '{name}' used in"):
        build_design(formula, df)


def test_response_missing_and_not_numeric(df):
    with pytest.raises(hierreg.FormulaError, match="no response"):
        build_design("~ x + (1 | g)", df)
    df["s"] = list("uv") * 6
    with pytest.raises(hierreg.DataError, match="response 's' is not numeric"):
        build_design("s ~ x + (1 | g)", df)


def test_bool_response_becomes_float(df):
    df["b"] = df["y"] > 0
    blocks = build_design("b ~ x + (1 | g)", df)
    np.testing.assert_array_equal(blocks.y, (df["y"] > 0).to_numpy(dtype=float))


def test_nan_rows_dropped_with_warning_or_raised(df):
    df.loc[[1, 5], "x"] = np.nan
    df.loc[7, "g"] = None
    with pytest.warns(hierreg.MissingDataWarning, match=r"dropped 3 of 12 rows.*'x': 2.*'g': 1"):
        blocks = build_design("y ~ x + (1 | g)", df)
    assert blocks.nobs == 9 and blocks.n_dropped == 3
    assert list(blocks.index) == [0, 2, 3, 4, 6, 8, 9, 10, 11]
    with pytest.raises(hierreg.DataError, match="3 of 12 rows have missing values"):
        build_design("y ~ x + (1 | g)", df, missing="raise")
    # columns the formula does not use may hold NaN
    df2 = df.dropna().assign(unused=np.nan)
    build_design("y ~ x + (1 | g)", df2, missing="raise")


def test_nan_in_a_stateful_transform_argument_is_dropped(df):
    # formulaic's own required_variables misses the argument of center()
    df.loc[[2], "x"] = np.nan
    with pytest.warns(hierreg.MissingDataWarning, match=r"dropped 1 of 12 rows.*'x': 1"):
        blocks = build_design("y ~ center(x) + (1 | g)", df)
    assert blocks.nobs == 11
    x = df["x"].drop(index=2).to_numpy()
    np.testing.assert_allclose(blocks.X[:, 1], x - x.mean())


def test_non_finite_values_after_a_transform(df):
    df["z"] = np.arange(12.0)  # log(0) = -inf in row 0
    with (
        np.errstate(divide="ignore"),
        pytest.raises(hierreg.DataError, match=r"non-finite.*'np.log\(z\)' in 1 row\(s\)"),
    ):
        build_design("y ~ np.log(z) + (1 | g)", df)
    with np.errstate(divide="ignore"), pytest.raises(hierreg.DataError, match="response"):
        build_design("np.log(z) ~ x + (1 | g)", df)
    df.loc[3, "x"] = np.inf
    with pytest.raises(hierreg.DataError, match=r"non-finite.*'x'.*index 3"):
        build_design("y ~ x + (1 | g)", df)


def test_bad_arguments(df):
    with pytest.raises(hierreg.DataError, match="missing must be"):
        build_design("y ~ x + (1 | g)", df, missing="ignore")
    with pytest.raises(hierreg.DataError, match="DataFrame or a mapping"):
        build_design("y ~ x + (1 | g)", {"y": [1.0, 2.0], "x": [1.0]})


def test_empty_frames(df):
    with pytest.raises(hierreg.DataError, match="empty"):
        build_design("y ~ x + (1 | g)", df.iloc[:0])
    # every row misses a value, but no column is entirely missing
    df.loc[::2, "x"] = np.nan
    df.loc[1::2, "y"] = np.nan
    with (
        pytest.warns(hierreg.MissingDataWarning),
        pytest.raises(hierreg.DataError, match="no rows left"),
    ):
        build_design("y ~ x + (1 | g)", df)
    # an entirely missing column is named (test_data_columns.py)
    df["x"] = np.nan
    with pytest.raises(hierreg.DataError, match=r"column\(s\) 'x' have only missing values"):
        build_design("y ~ x + (1 | g)", df)


def test_missing_values_on_new_data_raise(df):
    blocks = build_design("y ~ x + (1 | g)", df)
    new = df.head(3).copy()
    new.loc[0, "x"] = np.nan
    new.loc[[1, 2], "g"] = None
    with pytest.raises(hierreg.DataError, match=r"missing values in the new data \('x': 1, 'g': 2"):
        blocks.spec.rebuild(new)
    new = df.head(3).assign(y=[1.0, np.nan, 2.0])
    blocks.spec.rebuild(new)  # the response is not needed for prediction
    with pytest.raises(hierreg.DataError, match="'y': 1"):
        blocks.spec.rebuild(new, response=True)


def test_new_data_errors(df):
    df["k"] = list("uvw") * 4
    blocks = build_design("y ~ k + np.log(x**2) + (1 | g)", df)
    with pytest.raises(hierreg.DataError, match="column\\(s\\) 'k' used in"):
        blocks.spec.rebuild(df.drop(columns="k"))
    with pytest.raises(hierreg.DataError, match=r"categories not seen in fitting.*'zz'"):
        blocks.spec.rebuild(df.head(2).assign(k=["u", "zz"]))
    with np.errstate(divide="ignore"), pytest.raises(hierreg.DataError, match="non-finite"):
        blocks.spec.rebuild(df.head(2).assign(x=[0.0, 1.0]))
