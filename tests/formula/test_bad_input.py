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
    "formula,where",
    [
        ("y ~ x + (1 | g", "matching context"),
        ("y ~ x +", "insuffient arguments"),
        ("y ~ (x | )", "insuffient arguments"),
    ],
)
def test_malformed_formula_shows_where(formula, where):
    with pytest.raises(hierreg.FormulaError, match=where) as info:
        parse_formula(formula)
    assert formula in str(info.value)
    assert "⧛" in str(info.value)  # formulaic's marker around the offending token
    assert isinstance(info.value, ValueError)


def test_bar_at_top_level():
    with pytest.raises(hierreg.FormulaError, match="enclosed in parentheses"):
        parse_formula("y ~ x | g")


@pytest.mark.parametrize("formula", ["y ~ (x | 1)", "y ~ x + (1 | 1)"])
def test_random_term_without_grouping_variable(formula):
    with pytest.raises(hierreg.FormulaError, match="no grouping variable"):
        parse_formula(formula)


def test_random_term_in_interaction():
    with pytest.raises(hierreg.FormulaError, match="cannot be multiplied"):
        parse_formula("y ~ (1 | g):x")


def test_missing_column_is_named(df):
    with pytest.raises(hierreg.DataError, match="'z'"):
        build_design("y ~ z + (1 | g)", df)
    with pytest.raises(hierreg.DataError, match="'h'"):
        build_design("y ~ x + (1 | h)", df)


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


def test_empty_frames(df):
    with pytest.raises(hierreg.DataError, match="empty"):
        build_design("y ~ x + (1 | g)", df.iloc[:0])
    df["x"] = np.nan
    with (
        pytest.warns(hierreg.MissingDataWarning),
        pytest.raises(hierreg.DataError, match="no rows left"),
    ):
        build_design("y ~ x + (1 | g)", df)


def test_missing_values_on_new_data_raise(df):
    blocks = build_design("y ~ x + (1 | g)", df)
    new = df.head(3).copy()
    new.loc[0, "x"] = np.nan
    with pytest.raises(hierreg.DataError, match="'x'"):
        blocks.spec.rebuild(new)
