"""Design blocks against matrices built by hand from the data."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg
from hierreg_formula.formula import build_design


@pytest.fixture
def df():
    rng = np.random.default_rng(1)
    n = 24
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "x": rng.normal(size=n),
            "z": rng.uniform(1, 2, size=n),
            "k": pd.Categorical(
                rng.choice(["lo", "mid", "hi"], size=n), categories=["lo", "mid", "hi"]
            ),
            "g": rng.choice(["b", "a", "c"], size=n),
            "h": rng.integers(10, 13, size=n),
            "flag": rng.integers(0, 2, size=n).astype(bool),
        }
    )


def codes_of(values, levels):
    return np.array([list(levels).index(v) for v in values])


def test_random_slope_block(df):
    b = build_design("y ~ x + (x | g)", df)
    np.testing.assert_array_equal(b.y, df["y"].to_numpy())
    np.testing.assert_array_equal(b.X, np.column_stack([np.ones(len(df)), df["x"]]))
    assert b.x_names == ["Intercept", "x"]
    (blk,) = b.random
    assert blk.group == "g" and blk.names == ["Intercept", "x"]
    assert list(blk.levels) == ["a", "b", "c"]
    np.testing.assert_array_equal(blk.codes, codes_of(df["g"], ["a", "b", "c"]))
    np.testing.assert_array_equal(blk.X, np.column_stack([np.ones(len(df)), df["x"]]))


def test_no_intercept_and_double_bar(df):
    b = build_design("y ~ x + (0 + x | g)", df)
    assert b.random[0].names == ["x"]
    np.testing.assert_array_equal(b.random[0].X[:, 0], df["x"])
    b = build_design("y ~ x + (x || g)", df)
    assert [(r.group, r.names) for r in b.random] == [("g", ["Intercept"]), ("g", ["x"])]


def test_integer_bool_and_categorical_groupings(df):
    b = build_design("y ~ 1 + (1 | h) + (1 | flag) + (1 | k)", df)
    h, flag, k = b.random
    assert list(h.levels) == [10, 11, 12]
    np.testing.assert_array_equal(h.codes, df["h"].to_numpy() - 10)
    assert list(flag.levels) == [False, True]
    np.testing.assert_array_equal(flag.codes, df["flag"].to_numpy().astype(int))
    assert list(k.levels) == ["lo", "mid", "hi"]  # categorical order is kept
    np.testing.assert_array_equal(k.codes, df["k"].cat.codes.to_numpy())


def test_interaction_and_nested_groupings(df):
    b = build_design("y ~ 1 + (1 | g:h)", df)
    (blk,) = b.random
    combos = sorted(set(zip(df["g"], df["h"], strict=True)))
    assert list(blk.levels) == [f"{g}:{h}" for g, h in combos]
    expected = [combos.index(c) for c in zip(df["g"], df["h"], strict=True)]
    np.testing.assert_array_equal(blk.codes, expected)
    nested = build_design("y ~ 1 + (1 | g/h)", df)
    assert [r.group for r in nested.random] == ["g", "g:h"]
    np.testing.assert_array_equal(nested.random[1].codes, expected)


def test_formulaic_terms_on_both_sides(df):
    b = build_design("y ~ C(k) * x + np.log(z) + (np.log(z) | g)", df)
    assert b.x_names == [
        "Intercept",
        "C(k)[T.mid]",
        "C(k)[T.hi]",
        "x",
        "np.log(z)",
        "C(k)[T.mid]:x",
        "C(k)[T.hi]:x",
    ]
    mid = (df["k"] == "mid").to_numpy(float)
    hi = (df["k"] == "hi").to_numpy(float)
    expected = np.column_stack(
        [np.ones(len(df)), mid, hi, df["x"], np.log(df["z"]), mid * df["x"], hi * df["x"]]
    )
    np.testing.assert_allclose(b.X, expected)
    np.testing.assert_allclose(b.random[0].X[:, 1], np.log(df["z"]))
    assert b.random[0].names == ["Intercept", "np.log(z)"]
    b = build_design("y ~ 0 + x + (C(k) | g)", df)
    assert b.x_names == ["x"]
    assert b.random[0].names == ["Intercept", "C(k)[T.mid]", "C(k)[T.hi]"]


def test_sleepstudy_blocks():
    df = hierreg.load_dataset("sleepstudy")
    b = build_design("Reaction ~ Days + (Days | Subject)", df)
    assert b.x_names == ["Intercept", "Days"]
    (blk,) = b.random
    assert blk.group == "Subject" and blk.nlevels == 18
    assert blk.levels[0] == "308" and blk.levels[-1] == "372"
    np.testing.assert_array_equal(blk.codes, df["Subject"].cat.codes.to_numpy())


def test_rebuild_on_new_data_flags_unseen_levels(df):
    b = build_design("y ~ C(k) + np.log(z) + (x | g)", df)
    new = pd.DataFrame({"k": ["hi", "lo"], "z": [1.5, 1.2], "x": [0.3, -1.0], "g": ["c", "zz"]})
    nb = b.spec.rebuild(new)
    assert nb.x_names == b.x_names
    np.testing.assert_allclose(nb.X, [[1, 0, 1, np.log(1.5)], [1, 0, 0, np.log(1.2)]])
    np.testing.assert_array_equal(nb.random[0].codes, [2, -1])
    assert nb.unseen == {"g": ["zz"]}
    assert nb.y is None


def test_rebuild_matches_labels_given_as_numbers():
    df = hierreg.load_dataset("sleepstudy")
    b = build_design("Reaction ~ Days + (Days | Subject)", df)
    nb = b.spec.rebuild(pd.DataFrame({"Days": [1, 2], "Subject": [308, 999]}))
    np.testing.assert_array_equal(nb.random[0].codes, [0, -1])


def test_spec_pickles(df):
    b = build_design("y ~ C(k) + x + (x | g)", df)
    spec = pickle.loads(pickle.dumps(b.spec))
    np.testing.assert_array_equal(spec.rebuild(df).X, b.X)


def test_million_rows_build():
    """A million rows and 10,000 groups build (speed is measured in benchmarks/, not here)."""
    rng = np.random.default_rng(0)
    n = 1_000_000
    big = pd.DataFrame(
        {"y": rng.normal(size=n), "x": rng.normal(size=n), "g": rng.integers(0, 10_000, n)}
    )
    b = build_design("y ~ x + (x | g)", big)
    assert b.random[0].nlevels == 10_000
    assert b.random[0].codes.max() == 9_999 and b.X.shape == (n, 2)


def ones(df):
    return np.ones(len(df))


def test_arrays_have_the_contract_dtypes(df):
    b = build_design("y ~ x + (x | g) + (1 | h)", df)
    assert b.y.dtype == np.float64 and b.y.shape == (len(df),)
    assert b.X.dtype == np.float64 and b.X.flags["C_CONTIGUOUS"]
    for blk in b.random:
        assert blk.codes.dtype == np.int64 and blk.codes.shape == (len(df),)
        assert blk.X.dtype == np.float64 and blk.X.shape[0] == len(df)
    assert b.n_dropped == 0 and b.unseen == {}
    assert list(b.index) == list(df.index)
    assert b.y_name == "y"


def test_several_slopes_and_interactions_in_a_random_term(df):
    b = build_design("y ~ 1 + (x + z | g)", df)
    (blk,) = b.random
    assert blk.names == ["Intercept", "x", "z"]
    np.testing.assert_array_equal(blk.X, np.column_stack([ones(df), df["x"], df["z"]]))
    b = build_design("y ~ 1 + (0 + x * z | g)", df)
    assert b.random[0].names == ["x", "z", "x:z"]
    np.testing.assert_allclose(
        b.random[0].X, np.column_stack([df["x"], df["z"], df["x"] * df["z"]])
    )
    b = build_design("y ~ 1 + (x:z | g)", df)
    np.testing.assert_allclose(b.random[0].X, np.column_stack([ones(df), df["x"] * df["z"]]))


def test_double_bar_block_columns(df):
    b = build_design("y ~ x + (1 + x + z || g)", df)
    assert [(r.group, r.names) for r in b.random] == [
        ("g", ["Intercept"]),
        ("g", ["x"]),
        ("g", ["z"]),
    ]
    np.testing.assert_array_equal(b.random[0].X, ones(df)[:, None])
    np.testing.assert_array_equal(b.random[1].X, df[["x"]].to_numpy())
    np.testing.assert_array_equal(b.random[2].X, df[["z"]].to_numpy())
    expected = codes_of(df["g"], ["a", "b", "c"])
    for blk in b.random:
        np.testing.assert_array_equal(blk.codes, expected)


def test_crossed_terms(df):
    b = build_design("y ~ x + (1 | g) + (0 + x | h)", df)
    g, h = b.random
    assert (g.group, g.names, h.group, h.names) == ("g", ["Intercept"], "h", ["x"])
    np.testing.assert_array_equal(g.codes, codes_of(df["g"], ["a", "b", "c"]))
    np.testing.assert_array_equal(h.codes, codes_of(df["h"], [10, 11, 12]))
    np.testing.assert_array_equal(h.X[:, 0], df["x"])


def test_string_bool_and_categorical_fixed_effects(df):
    b = build_design("y ~ g + flag + k + (1 | h)", df)
    # formulaic encodes a bool column as one 0/1 column named after it
    assert b.x_names == ["Intercept", "g[T.b]", "g[T.c]", "flag", "k[T.mid]", "k[T.hi]"]
    expected = np.column_stack(
        [ones(df)]
        + [(df["g"] == v).to_numpy(float) for v in ("b", "c")]
        + [df["flag"].to_numpy(float)]
        + [(df["k"] == v).to_numpy(float) for v in ("mid", "hi")]
    )
    np.testing.assert_array_equal(b.X, expected)


def test_float_grouping_and_no_random_term(df):
    df["w"] = np.round(df["z"], 1)
    b = build_design("y ~ x + (1 | w)", df)
    levels = np.unique(df["w"])
    assert list(b.random[0].levels) == list(levels)
    np.testing.assert_array_equal(b.random[0].codes, np.searchsorted(levels, df["w"]))
    b = build_design("y ~ x", df)
    assert b.random == [] and b.x_names == ["Intercept", "x"]


def test_categorical_grouping_keeps_only_observed_categories(df):
    df["c"] = pd.Categorical(df["g"], categories=["c", "zz", "b", "a"])
    (blk,) = build_design("y ~ 1 + (1 | c)", df).random
    assert list(blk.levels) == ["c", "b", "a"]
    np.testing.assert_array_equal(blk.codes, codes_of(df["g"], ["c", "b", "a"]))


def test_dict_of_columns_and_quoted_names(df):
    data = {"resp y": df["y"].to_numpy(), "a b": df["x"].to_numpy(), "my g": df["g"].tolist()}
    b = build_design("`resp y` ~ `a b` + (`a b` | `my g`)", data)
    np.testing.assert_array_equal(b.y, df["y"])
    assert b.x_names == ["Intercept", "a b"] and b.random[0].group == "my g"
    np.testing.assert_array_equal(b.random[0].X, np.column_stack([ones(df), df["x"]]))


def test_pastes_nested_grouping():
    df = hierreg.load_dataset("pastes")
    b = build_design("strength ~ 1 + (1 | batch/cask)", df)
    batch, sample = b.random
    assert (batch.group, sample.group) == ("batch", "batch:cask")
    assert list(batch.levels) == list("ABCDEFGHIJ")
    np.testing.assert_array_equal(batch.codes, df["batch"].cat.codes)
    # the dataset's own "sample" column is batch:cask with sorted "A:a".."J:c" labels
    assert list(sample.levels) == list(df["sample"].cat.categories)
    np.testing.assert_array_equal(sample.codes, df["sample"].cat.codes)
    np.testing.assert_array_equal(b.X, ones(df)[:, None])
    np.testing.assert_array_equal(b.y, df["strength"])
    inter = build_design("strength ~ 1 + (1 | batch:cask)", df).random[0]
    np.testing.assert_array_equal(inter.codes, sample.codes)


def test_rebuild_with_response_and_log(df):
    # (the response's own column may not appear in a random term: tests/formula/test_hardening)
    df["w"] = df["z"] + 1.0
    b = build_design("np.log(z) ~ np.log(w):x + (np.log(w) | h)", df)
    new = df.iloc[[3, 0]].assign(h=[12, 99])
    nb = b.spec.rebuild(new, response=True)
    lz, lw = np.log(new["z"].to_numpy()), np.log(new["w"].to_numpy())
    np.testing.assert_allclose(nb.y, lz)
    np.testing.assert_allclose(nb.X, np.column_stack([[1, 1], lw * new["x"]]))
    np.testing.assert_allclose(nb.random[0].X, np.column_stack([[1, 1], lw]))
    np.testing.assert_array_equal(nb.random[0].codes, [2, -1])
    assert nb.unseen == {"h": [99]}  # the label as it is in the data
    assert list(nb.index) == list(new.index) and nb.n_dropped == 0


def test_rebuild_keeps_categorical_columns_when_levels_are_missing(df):
    b = build_design("y ~ k + x + (1 | g)", df)
    new = pd.DataFrame({"k": ["hi", "hi"], "x": [0.5, 1.5], "g": ["a", "b"]})
    nb = b.spec.rebuild(new)
    assert nb.x_names == b.x_names == ["Intercept", "k[T.mid]", "k[T.hi]", "x"]
    np.testing.assert_array_equal(nb.X, [[1, 0, 1, 0.5], [1, 0, 1, 1.5]])


def test_rebuild_unseen_combination_labels(df):
    b = build_design("y ~ 1 + (1 | g/h)", df)
    new = pd.DataFrame({"g": ["a", "a", "q"], "h": [10, 77, 10]})
    nb = b.spec.rebuild(new)
    combos = sorted(set(zip(df["g"], df["h"], strict=True)))
    assert nb.random[1].codes[0] == combos.index(("a", 10))
    np.testing.assert_array_equal(nb.random[1].codes[1:], [-1, -1])
    np.testing.assert_array_equal(nb.random[0].codes, [0, 0, -1])
    assert nb.unseen == {"g": ["q"], "g:h": ["a:77", "q:10"]}


def test_rebuild_after_pickling_on_new_data(df):
    b = build_design("y ~ C(k) * x + center(z) + (x || g)", df)
    spec = pickle.loads(pickle.dumps(b.spec))
    new = df.sample(frac=1.0, random_state=0).head(7)
    nb, nb2 = spec.rebuild(new), b.spec.rebuild(new)
    np.testing.assert_array_equal(nb.X, nb2.X)
    # center() keeps the fitted mean
    col = nb.x_names.index("center(z)")
    np.testing.assert_allclose(nb.X[:, col], new["z"] - df["z"].mean())
    for blk, blk2 in zip(nb.random, nb2.random, strict=True):
        np.testing.assert_array_equal(blk.codes, blk2.codes)
        np.testing.assert_array_equal(blk.X, blk2.X)
