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


def test_million_rows_builds_quickly():
    import time

    rng = np.random.default_rng(0)
    n = 1_000_000
    big = pd.DataFrame(
        {"y": rng.normal(size=n), "x": rng.normal(size=n), "g": rng.integers(0, 10_000, n)}
    )
    t0 = time.perf_counter()
    b = build_design("y ~ x + (x | g)", big)
    elapsed = time.perf_counter() - t0
    assert b.random[0].nlevels == 10_000
    assert elapsed < 20  # generous: a functional check, the timing lives in benchmarks/
