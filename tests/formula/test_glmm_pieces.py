"""Formula pieces for GLMMs (issue 9): cbind(successes, failures) responses and offset()
terms, against design arrays built by hand from the data."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg
from hierreg_formula.formula import build_design, parse_formula
from tests.conftest import SHARED

CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
POISSON = "count ~ x + offset(np.log(exposure)) + (1 | g)"


@pytest.fixture
def cbpp():
    return hierreg.load_dataset("cbpp")


@pytest.fixture
def poisson():
    path = SHARED / "data" / "poisson_offset.csv"
    if not path.exists():
        pytest.skip(f"{path} not available")
    return pd.read_csv(path)


def small():
    return pd.DataFrame(
        {
            "s": [1, 0, 2, 3, 0, 4],
            "f": [1, 2, 3, 0, 5, 1],
            "x": [0.5, 1.0, 1.5, 2.0, 2.5, 3.0],
            "e": [1.0, 2.0, 0.5, 4.0, 1.5, 3.0],
            "g": list("ababab"),
        }
    )


# ---------------------------------------------------------------- parsing
def test_parsed_pieces():
    pf = parse_formula(CBPP)
    assert pf.binomial == ("incidence", "{size - incidence}")
    assert pf.response == "cbind(incidence, size - incidence)"
    assert pf.response_exprs == ["incidence", "{size - incidence}"]
    assert pf.fixed == "1 + period" and pf.offsets == ()
    pf = parse_formula("y ~ x + offset(np.log(e)) + offset(w) + (x | g)")
    assert pf.fixed == "1 + x" and pf.offsets == ("{np.log(e)}", "w")
    assert pf.binomial is None
    assert parse_formula("y ~ offset(e) - 1").fixed == "0"
    assert parse_formula("cbind(`a b`, n) ~ offset(`e f`)").binomial == ("`a b`", "n")
    assert parse_formula("cbind(`a b`, n) ~ offset(`e f`)").offsets == ("`e f`",)


@pytest.mark.parametrize(
    "formula,what",
    [
        ("y ~ (offset(e) | g)", r"offset\(\) cannot be used inside a random term"),
        ("y ~ (0 + offset(e) || g)", r"offset\(\) cannot be used inside a random term"),
        ("y ~ x:offset(e)", r"an offset cannot be part of an interaction \(x:offset\(e\)\)"),
        ("y ~ x * offset(e)", r"an offset cannot be part of an interaction"),
        ("y ~ offset(e, w)", r"offset\(\) takes one expression"),
        ("y ~ offset()", r"offset\(\) takes one expression"),
        ("y ~ offset(x=e)", r"no keywords"),
        ("y ~ np.log(offset(e))", r"offset\(\) must be a term of its own"),
        ("offset(y) ~ x", r"offset\(\) belongs on the right of '~'"),
        ("cbind(s, f, n) ~ x", r"needs two columns, cbind\(successes, failures\), got 3"),
        ("cbind(s) ~ x", r"got 1"),
        ("cbind(s, f) + y ~ x", r"cbind\(\) must be the whole response"),
        ("np.log(cbind(s, f)) ~ x", r"cbind\(\) must be the whole response"),
        ("y ~ cbind(s, f)", r"cbind\(\) is only supported as a binomial response"),
        ("y ~ (cbind(s, f) | g)", r"cbind\(\) cannot be used inside a random term"),
    ],
)
def test_misplaced_specials(formula, what):
    with pytest.raises(hierreg.FormulaError, match=what):
        parse_formula(formula)


# ---------------------------------------------------------------- cbind responses
def test_cbpp_proportion_and_trials(cbpp):
    b = build_design(CBPP, cbpp)
    assert b.y_name == "cbind(incidence, size - incidence)"
    np.testing.assert_allclose(b.y, cbpp["incidence"] / cbpp["size"], rtol=0, atol=1e-15)
    np.testing.assert_allclose(b.y, cbpp["prop"], rtol=0, atol=1e-15)  # the file's own column
    np.testing.assert_array_equal(b.trials, cbpp["size"].to_numpy(dtype=float))
    assert b.trials.dtype == np.float64 and b.offset is None
    period = cbpp["period"].astype(str)
    expected = np.column_stack([np.ones(56)] + [(period == p).to_numpy(float) for p in "234"])
    assert b.x_names == ["Intercept", "period[T.2]", "period[T.3]", "period[T.4]"]
    np.testing.assert_array_equal(b.X, expected)
    (herd,) = b.random
    assert herd.group == "herd" and herd.nlevels == 15
    np.testing.assert_array_equal(herd.codes, cbpp["herd"].cat.codes)
    assert b.spec.response_vars == ("incidence", "size")


def test_cbpp_csv_and_counts_as_columns(cbpp):
    path = SHARED / "data" / "cbpp.csv"
    if not path.exists():
        pytest.skip(f"{path} not available")
    raw = pd.read_csv(path)  # herd and period read as integers here
    b = build_design(CBPP, raw.assign(period=raw["period"].astype(str)))
    ref = build_design(
        "cbind(incidence, healthy) ~ period + (1 | herd)",
        cbpp.assign(healthy=cbpp["size"] - cbpp["incidence"]),
    )
    np.testing.assert_array_equal(b.y, ref.y)
    np.testing.assert_array_equal(b.trials, ref.trials)
    np.testing.assert_array_equal(b.X, ref.X)
    assert list(b.random[0].levels) == list(range(1, 16))
    np.testing.assert_array_equal(b.random[0].codes, ref.random[0].codes)


def test_binomial_counts_are_required_columns():
    df = small()
    df.loc[1, "s"] = np.nan
    df.loc[4, "f"] = np.nan
    with pytest.warns(hierreg.MissingDataWarning, match=r"dropped 2 of 6 rows.*'s': 1, 'f': 1"):
        b = build_design("cbind(s, f) ~ x + (1 | g)", df)
    np.testing.assert_allclose(b.y, [1 / 2, 2 / 5, 1.0, 4 / 5])
    np.testing.assert_array_equal(b.trials, [2, 5, 3, 5])
    assert list(b.index) == [0, 2, 3, 5]
    with pytest.raises(hierreg.DataError, match=r"column\(s\) 'n' used in"):
        build_design("cbind(s, n - s) ~ x + (1 | g)", small())


@pytest.mark.parametrize(
    "formula,column,bad,problem",
    [
        ("cbind(s, f) ~ x + (1 | g)", "s", -1, "negative"),
        ("cbind(s, f) ~ x + (1 | g)", "f", 1.5, "non-integer"),
        ("cbind(s, f - 3) ~ x + (1 | g)", None, None, "negative"),
    ],
)
def test_bad_counts(formula, column, bad, problem):
    df = small()
    if column:
        df[column] = df[column].astype(float)
        df.loc[2, column] = bad
    name = column or "f - 3"
    with pytest.raises(hierreg.DataError, match=f"binomial count '{name}' has {problem} values"):
        build_design(formula, df)


@pytest.mark.parametrize("value", [np.inf, "a"])
def test_non_numeric_or_infinite_counts(value):
    df = small().astype({"s": object})
    df.loc[0, "s"] = value
    with pytest.raises(hierreg.DataError, match=r"binomial successes count (column\(s\) )?'s'"):
        build_design("cbind(s, f) ~ x + (1 | g)", df)


def test_rows_without_trials_are_kept_with_weight_zero():
    # R's binomial()$initialize (glm and glmer): y = 0 and prior weight n = 0
    df = small()
    df.loc[1, ["s", "f"]] = 0
    b = build_design("cbind(s, f) ~ x + (1 | g)", df)
    assert b.nobs == 6
    np.testing.assert_array_equal(b.trials, [2, 0, 5, 3, 5, 5])
    np.testing.assert_allclose(b.y, [0.5, 0.0, 0.4, 1.0, 0.0, 0.8])


def test_rebuild_returns_trials_only_with_the_response(cbpp):
    b = build_design(CBPP, cbpp)
    new = cbpp.iloc[[5, 0]]
    nb = b.spec.rebuild(new.drop(columns=["incidence", "size"]))
    assert nb.y is None and nb.trials is None and nb.offset is None
    nb = b.spec.rebuild(new, response=True)
    np.testing.assert_allclose(nb.y, new["incidence"] / new["size"])
    np.testing.assert_array_equal(nb.trials, new["size"])
    with pytest.raises(hierreg.DataError, match="'size'"):
        b.spec.rebuild(new.drop(columns="size"), response=True)


# ---------------------------------------------------------------- offsets
def test_poisson_offset_design(poisson):
    b = build_design(POISSON, poisson)
    np.testing.assert_allclose(b.offset, np.log(poisson["exposure"]), rtol=0, atol=0)
    assert b.offset.dtype == np.float64 and b.offset.shape == (1959,)
    np.testing.assert_array_equal(b.X, np.column_stack([np.ones(1959), poisson["x"]]))
    assert b.x_names == ["Intercept", "x"] and b.trials is None
    np.testing.assert_array_equal(b.y, poisson["count"])
    (g,) = b.random
    levels = sorted(poisson["g"].unique())
    assert list(g.levels) == levels and g.nlevels == 80
    np.testing.assert_array_equal(g.codes, [levels.index(v) for v in poisson["g"]])
    assert "exposure" in b.spec.predictor_vars


def test_poisson_offset_rebuilt_for_prediction(poisson):
    b = pickle.loads(pickle.dumps(build_design(POISSON, poisson)))
    new = pd.DataFrame({"x": [0.0, 1.0], "exposure": [1.0, 2.5], "g": ["g03", "new"]})
    nb = b.spec.rebuild(new)
    np.testing.assert_allclose(nb.offset, np.log([1.0, 2.5]))
    assert nb.y is None and nb.trials is None
    assert nb.random[0].codes.tolist() == [2, -1]
    with pytest.raises(hierreg.DataError, match=r"column\(s\) 'exposure' used in"):
        b.spec.rebuild(new.drop(columns="exposure"))
    with pytest.raises(hierreg.DataError, match=r"missing values in the new data \('exposure'"):
        b.spec.rebuild(new.assign(exposure=[1.0, np.nan]))
    with (
        np.errstate(divide="ignore"),
        pytest.raises(hierreg.DataError, match=r"non-finite .* offset\(np.log\(exposure\)\)"),
    ):
        b.spec.rebuild(new.assign(exposure=[0.0, 1.0]))


def test_offset_columns_are_required_and_finite():
    df = small()
    df.loc[3, "e"] = np.nan
    with pytest.warns(hierreg.MissingDataWarning, match="'e': 1"):
        b = build_design("s ~ x + offset(log(e)) + (1 | g)", df)
    np.testing.assert_allclose(b.offset, np.log(df["e"].drop(index=3)))
    df = small()
    df.loc[2, "e"] = 0.0
    with (
        np.errstate(divide="ignore"),
        pytest.raises(
            hierreg.DataError,
            match=r"non-finite .* offset\(np.log\(e\)\) column\(s\) 'np.log\(e\)' in 1 row\(s\) \(index 2\)",
        ),
    ):
        build_design("s ~ x + offset(np.log(e)) + (1 | g)", df)
    df.loc[2, "e"] = np.inf
    with pytest.raises(hierreg.DataError, match=r"non-finite .* offset\(e\)"):
        build_design("s ~ x + offset(e) + (1 | g)", df)


def test_several_offsets_add_up():
    df = small()
    b = build_design("s ~ x + offset(e) + offset(np.log(e)) + offset(2 * x) + (1 | g)", df)
    np.testing.assert_allclose(b.offset, df["e"] + np.log(df["e"]) + 2 * df["x"])
    assert b.x_names == ["Intercept", "x"]
    # the same offset twice is one offset, as in R's terms()
    b = build_design("s ~ x + offset(e) + offset(e) + (1 | g)", df)
    np.testing.assert_array_equal(b.offset, df["e"])


def test_offset_keeps_stateful_transforms_on_new_data():
    df = small()
    b = build_design("s ~ x + offset(center(e)) + (1 | g)", df)
    np.testing.assert_allclose(b.offset, df["e"] - df["e"].mean())
    nb = b.spec.rebuild(pd.DataFrame({"x": [1.0], "e": [10.0], "g": ["a"]}))
    np.testing.assert_allclose(nb.offset, [10.0 - df["e"].mean()])


def test_offset_must_be_numeric():
    df = small().assign(k=list("uvwuvw"))
    with pytest.raises(hierreg.DataError, match=r"offset\(k\) must be one numeric column"):
        build_design("s ~ x + offset(k) + (1 | g)", df)


def test_offset_only_and_with_binomial(cbpp):
    b = build_design("s ~ 0 + offset(e) + (1 | g)", small())
    assert b.X.shape == (6, 0) and b.x_names == []
    np.testing.assert_array_equal(b.offset, small()["e"])
    b = build_design(
        "cbind(incidence, size - incidence) ~ period + offset(np.log(size)) + (1 | herd)", cbpp
    )
    np.testing.assert_allclose(b.offset, np.log(cbpp["size"]))
    np.testing.assert_array_equal(b.trials, cbpp["size"])
