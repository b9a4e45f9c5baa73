"""Data columns in every role: missing values, types, duplicates, single-level groupings
(issue 8, items 5-7)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg
from hierreg_formula.formula import build_design


@pytest.fixture
def df():
    rng = np.random.default_rng(3)
    return pd.DataFrame({"y": rng.normal(size=8), "x": rng.normal(size=8), "g": list("abcd") * 2})


# ---------------------------------------------------------------- 5. single-level groupings
def test_single_level_grouping_is_refused_at_fit(df):
    with pytest.raises(
        hierreg.DataError,
        match=r"grouping factor 'g' has a single level \('a'\) in the 8 rows used.*"
        r"> 1 sampled level",
    ):
        build_design("y ~ x + (1 | g)", df.assign(g="a"))


def test_single_level_after_dropping_missing_rows(df):
    df.loc[[1, 2, 3, 5, 6, 7], "g"] = None
    with (
        pytest.warns(hierreg.MissingDataWarning, match="'g': 6"),
        pytest.raises(hierreg.DataError, match=r"'g' has a single level \('a'\) in the 2 rows"),
    ):
        build_design("y ~ x + (1 | g)", df)


def test_single_level_interaction_and_nested(df):
    with pytest.raises(hierreg.DataError, match=r"'g:h' has a single level \('a:1'\)"):
        build_design("y ~ x + (1 | g:h)", df.assign(g="a", h=1))
    # in g/h the outer factor g fails first
    with pytest.raises(hierreg.DataError, match=r"grouping factor 'g' has a single level \(7\)"):
        build_design("y ~ x + (1 | g/h)", df.assign(g=7, h=[1, 2] * 4))


def test_single_level_on_new_data_is_fine(df):
    b = build_design("y ~ x + (1 | g)", df)
    nb = b.spec.rebuild(df.head(3).assign(g="c"))
    assert nb.random[0].codes.tolist() == [2, 2, 2]


# ---------------------------------------------------------------- 6. missing group labels
@pytest.mark.parametrize("missing_label", [None, np.nan, pd.NA], ids=["None", "NaN", "pd.NA"])
def test_missing_group_labels_dropped_at_fit_raised_at_predict(df, missing_label):
    g = pd.Series(list("abcd") * 2, dtype=object)
    g[[0, 5]] = missing_label
    with pytest.warns(hierreg.MissingDataWarning, match=r"dropped 2 of 8 rows.*'g': 2"):
        b = build_design("y ~ x + (1 | g)", df.assign(g=g))
    assert list(b.index) == [1, 2, 3, 4, 6, 7]
    assert b.random[0].codes.tolist() == [1, 2, 3, 0, 2, 3]
    with pytest.raises(hierreg.DataError, match=r"missing values in the new data \('g': 2"):
        b.spec.rebuild(df.assign(g=g))


def test_nullable_string_group_labels(df):
    g = pd.Series(["a", pd.NA, "b", "c"] * 2, dtype="string")
    with pytest.warns(hierreg.MissingDataWarning, match="'g': 2"):
        b = build_design("y ~ x + (1 | g)", df.assign(g=g))
    assert list(b.random[0].levels) == ["a", "b", "c"]
    assert b.random[0].codes.tolist() == [0, 1, 2, 0, 1, 2]


def test_nullable_integer_group_labels(df):
    g = pd.array([1, 2, 3, None] * 2, dtype="Int64")
    with pytest.warns(hierreg.MissingDataWarning, match="'g': 2"):
        b = build_design("y ~ x + (1 | g)", df.assign(g=g))
    assert list(b.random[0].levels) == [1, 2, 3]
    assert b.spec.rebuild(df.head(2).assign(g=[3, 1])).random[0].codes.tolist() == [2, 0]


@pytest.mark.parametrize("column", ["g", "x", "y"])
def test_all_missing_column(df, column):
    with pytest.raises(hierreg.DataError, match=f"column\\(s\\) '{column}' have only missing"):
        build_design("y ~ x + (1 | g)", df.assign(**{column: np.nan}))


def test_infinite_group_label(df):
    with pytest.raises(hierreg.DataError, match=r"grouping column 'g' has infinite labels in 2"):
        build_design("y ~ x + (1 | g)", df.assign(g=[np.inf, 1.0, 2.0, 3.0] * 2))


# ---------------------------------------------------------------- 7. x and y columns
@pytest.mark.parametrize("missing_value", [None, np.nan, pd.NA], ids=["None", "NaN", "pd.NA"])
@pytest.mark.parametrize("column", ["x", "y"])
def test_missing_values_in_x_and_y_of_object_dtype(df, column, missing_value):
    values = pd.Series(df[column].tolist(), dtype=object)
    values[3] = missing_value
    with pytest.warns(hierreg.MissingDataWarning, match=f"dropped 1 of 8 rows.*'{column}': 1"):
        b = build_design("y ~ x + (1 | g)", df.assign(**{column: values}))
    kept = df.drop(index=3)
    np.testing.assert_array_equal(b.y, kept["y"].to_numpy())
    np.testing.assert_array_equal(b.X, np.column_stack([np.ones(7), kept["x"]]))


@pytest.mark.parametrize("column,what", [("x", "fixed-effects"), ("y", "response")])
def test_infinite_x_or_y(df, column, what):
    df.loc[2, column] = -np.inf
    with pytest.raises(
        hierreg.DataError,
        match=f"non-finite .* in {what} column\\(s\\) '{column}' in 1 row\\(s\\) \\(index 2\\)",
    ):
        build_design("y ~ x + (1 | g)", df)


@pytest.mark.parametrize(
    "values,dtype",
    [
        (list("uv") * 4, "str"),
        (pd.date_range("2020-01-01", periods=8), "datetime64"),
        (pd.timedelta_range("1D", periods=8), "timedelta64"),
        (pd.Categorical(list("uv") * 4), "category"),
    ],
    ids=["string", "datetime", "timedelta", "categorical"],
)
def test_non_numeric_response(df, values, dtype):
    with pytest.raises(
        hierreg.DataError, match=f"the response 'y' is not numeric \\(dtype {dtype}"
    ):
        build_design("y ~ x + (1 | g)", df.assign(y=values))


def test_non_numeric_response_expression(df):
    with pytest.raises(hierreg.DataError, match=r"cannot evaluate the response 'np.log\(y\)'"):
        build_design("np.log(y) ~ x + (1 | g)", df.assign(y=list("uv") * 4))


def test_boolean_response(df):
    b = build_design("y ~ x + (1 | g)", df.assign(y=[True, False, False, True] * 2))
    assert b.y.tolist() == [1.0, 0.0, 0.0, 1.0] * 2


@pytest.mark.parametrize(
    "values,expected",
    [
        (pd.array([1, None, 3, 4, 5, 6, 7, 8], dtype="Int64"), [1, 3, 4, 5, 6, 7, 8]),
        (pd.array([1.5, None, 3, 4, 5, 6, 7, 8], dtype="Float64"), [1.5, 3, 4, 5, 6, 7, 8]),
        (pd.array([True, None, False, True] * 2, dtype="boolean"), [1, 0, 1, 1, 0, 1]),
    ],
    ids=["Int64", "Float64", "boolean"],
)
def test_nullable_response_missing_values_dropped(df, values, expected):
    with pytest.warns(hierreg.MissingDataWarning, match="'y'"):
        b = build_design("y ~ x + (1 | g)", df.assign(y=values))
    assert b.y.dtype == np.float64
    np.testing.assert_array_equal(b.y, expected)


@pytest.mark.parametrize("dtype", ["Int64", "Float64"])
def test_nullable_predictor(df, dtype):
    x = pd.array([1, 2, None, 4, 5, 6, 7, 8], dtype=dtype)
    with pytest.warns(hierreg.MissingDataWarning, match="'x': 1"):
        b = build_design("y ~ center(x) + (x | g)", df.assign(x=x))
    xs = np.array([1, 2, 4, 5, 6, 7, 8], dtype=float)
    np.testing.assert_allclose(b.X[:, 1], xs - xs.mean())
    np.testing.assert_array_equal(b.random[0].X[:, 1], xs)
    nb = b.spec.rebuild(pd.DataFrame({"x": pd.array([3, 4], dtype=dtype), "g": ["a", "b"]}))
    np.testing.assert_allclose(nb.X[:, 1], np.array([3.0, 4.0]) - xs.mean())


def test_object_columns_of_numbers_are_numbers(df):
    x = pd.Series([1, 2.5, 3, 4] * 2, dtype=object)
    y = pd.Series([2, 1, 0, 1] * 2, dtype=object)
    b = build_design("y ~ x + (x | g)", df.assign(x=x, y=y))
    assert b.x_names == ["Intercept", "x"]  # not a categorical encoding
    np.testing.assert_array_equal(b.X[:, 1], [1, 2.5, 3, 4] * 2)
    np.testing.assert_array_equal(b.y, [2, 1, 0, 1] * 2)
    nb = b.spec.rebuild(pd.DataFrame({"x": pd.Series([7], dtype=object), "g": ["a"]}))
    assert nb.X.tolist() == [[1.0, 7.0]]


def test_nullable_strings_are_categories(df):
    b = build_design("y ~ k + (1 | g)", df.assign(k=pd.Series(list("pq") * 4, dtype="string")))
    assert b.x_names == ["Intercept", "k[T.q]"]
    np.testing.assert_array_equal(b.X[:, 1], [0, 1] * 4)


def test_float32_predictor_gives_the_float64_design(df):
    x32 = df["x"].astype(np.float32)
    formula = "y ~ center(x) + np.log(x**2) + (x | g)"
    b32 = build_design(formula, df.assign(x=x32))
    b64 = build_design(formula, df.assign(x=x32.astype(np.float64)))
    np.testing.assert_array_equal(b32.X, b64.X)
    np.testing.assert_array_equal(b32.random[0].X, b64.random[0].X)
    assert b32.X.dtype == np.float64
    y32 = build_design("y ~ x + (1 | g)", df.assign(y=df["y"].astype(np.float32)))
    np.testing.assert_array_equal(y32.y, df["y"].astype(np.float32).astype(np.float64))


def test_duplicated_column_names(df):
    dup = pd.concat([df, df[["x"]]], axis=1)
    with pytest.raises(hierreg.DataError, match="several columns named 'x'"):
        build_design("y ~ x + (1 | g)", dup)
    build_design("y ~ 1 + (1 | g)", dup)  # a duplicated column the formula does not use
    b = build_design("y ~ x + (1 | g)", df)
    with pytest.raises(hierreg.DataError, match="several columns named 'x'"):
        b.spec.rebuild(dup)
