"""Bad input out of core: the same behaviour as the in-memory path."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg
from hierreg_formula.scale import memory

from .sim import frame, to_dask
from .test_dask_fit import assert_same_fit, close

dd = pytest.importorskip("dask.dataframe")
dask = pytest.importorskip("dask")

F = "y ~ x + (1 | g)"


def from_parts(parts, meta=None):
    """A Dask DataFrame with exactly these pandas partitions (dtypes may differ)."""
    meta = parts[0].iloc[:0] if meta is None else meta
    return dd.from_delayed([dask.delayed(p) for p in parts], meta=meta, verify_meta=False)


def errors_alike(fn_mem, fn_ooc, exc):
    with pytest.raises(exc) as a:
        fn_mem()
    with pytest.raises(exc) as b:
        fn_ooc()
    assert str(b.value) == str(a.value)
    return str(a.value)


@pytest.fixture(scope="module")
def df():
    return frame(n=600, seed=3, G=25)


def test_levels_in_some_partitions_only(df):
    srt = df.sort_values("g", kind="stable")
    parts = [srt.iloc[:200], srt.iloc[200:400], srt.iloc[400:]]
    assert not set(parts[0].g) & set(parts[2].g)
    mem = hierreg.fit("y ~ x + (x | g) + (1 | h)", srt, gradient=False)
    ooc = hierreg.fit("y ~ x + (x | g) + (1 | h)", from_parts(parts), gradient=False)
    assert_same_fit(mem, ooc, exact=False)


def test_partitions_without_rows(df):
    empty = df.iloc[:0]
    all_missing = df.iloc[:5].assign(y=np.nan)
    parts = [empty, df.iloc[:300], empty, all_missing, df.iloc[300:], empty]
    with pytest.warns(hierreg.MissingDataWarning, match="dropped 5 of 605 rows"):
        ooc = hierreg.fit(F, from_parts(parts))
    assert_same_fit(hierreg.fit(F, df), ooc)
    assert ooc.fittedvalues.compute().index.equals(df.index)


def test_empty_data_and_no_rows_left(df):
    empty = df.iloc[:0]
    errors_alike(
        lambda: hierreg.fit(F, empty),
        lambda: hierreg.fit(F, from_parts([empty, empty])),
        hierreg.DataError,
    )
    gone = df.iloc[:10].copy()
    gone.loc[gone.index[:5], "x"] = np.nan  # every row misses a value, no column all of them
    gone.loc[gone.index[5:], "y"] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hierreg.MissingDataWarning)
        msg = errors_alike(
            lambda: hierreg.fit(F, gone),
            lambda: hierreg.fit(F, from_parts([gone.iloc[:5], gone.iloc[5:]])),
            hierreg.DataError,
        )
    assert "no rows left" in msg
    all_x = df.iloc[:10].assign(x=np.nan)
    msg = errors_alike(
        lambda: hierreg.fit(F, all_x),
        lambda: hierreg.fit(F, from_parts([all_x.iloc[:5], all_x.iloc[5:]])),
        hierreg.DataError,
    )
    assert "only missing values" in msg


@pytest.mark.parametrize("missing", ["drop", "raise"])
def test_missing_values_in_some_partitions(df, missing):
    bad = df.copy()
    bad.loc[bad.index[[3, 10, 400]], "x"] = np.nan
    bad.loc[bad.index[[10, 500]], "g"] = None
    ddf = to_dask(bad, 4)
    if missing == "raise":
        msg = errors_alike(
            lambda: hierreg.fit(F, bad, missing="raise"),
            lambda: hierreg.fit(F, ddf, missing="raise"),
            hierreg.DataError,
        )
        assert msg.startswith("4 of 600 rows have missing values")
        return
    with pytest.warns(hierreg.MissingDataWarning) as mem_w:
        mem = hierreg.fit(F, bad)
    with pytest.warns(hierreg.MissingDataWarning) as ooc_w:
        ooc = hierreg.fit(F, ddf)
    assert len(ooc_w) == 1 and str(ooc_w[0].message) == str(mem_w[0].message)
    assert "dropped 4 of 600 rows" in str(ooc_w[0].message)
    assert_same_fit(mem, ooc)
    fv = ooc.fittedvalues.compute()
    assert fv.index.equals(mem.fittedvalues.index)


def test_numeric_dtype_differing_between_partitions(df):
    a = df.iloc[:300].assign(h=df.h.iloc[:300].astype("int64"))
    b = df.iloc[300:].assign(h=df.h.iloc[300:].astype("float64"))
    combined = pd.concat([a, b])  # what the in-memory path sees
    assert combined.h.dtype == np.float64
    f = "y ~ x + h + (1 | g) + (1 | a)"
    mem = hierreg.fit(f, combined)
    ooc = hierreg.fit(f, from_parts([a, b]))
    assert_same_fit(mem, ooc)


def test_text_against_numbers_between_partitions(df):
    a = df.iloc[:300]
    b = df.iloc[300:].assign(x=df.x.iloc[300:].astype(str))
    with pytest.raises(hierreg.DataError, match=r"column 'x' has different types"):
        hierreg.fit(F, from_parts([a, b]))


def test_unseen_levels_and_categories_at_predict_time(df):
    f = "y ~ x + k + (1 | g)"
    mem, ooc = hierreg.fit(f, df), hierreg.fit(f, to_dask(df, 3))
    new = df.iloc[:6].drop(columns="y").assign(g=["new"] * 3 + list(df.g.iloc[3:6]))
    lazy = ooc.predict(to_dask(new, 2))
    close(lazy.compute(), mem.predict(new))  # an unseen level contributes 0
    close(lazy.compute().iloc[:3], mem.predict(new, include_random=False).iloc[:3])
    newcat = new.assign(k=["zzz"] + list(new.k.iloc[1:]))
    with pytest.raises(hierreg.DataError) as a:
        mem.predict(newcat)
    with pytest.raises(hierreg.DataError) as b:  # raised when the lazy series is computed
        ooc.predict(to_dask(newcat, 2)).compute()
    assert "categories not seen in fitting" in str(b.value)
    assert str(a.value).split(";")[0] == str(b.value).split(";")[0]
    nan = new.assign(x=[np.nan] + list(new.x.iloc[1:]))
    with pytest.raises(hierreg.DataError, match="missing values in the new data"):
        ooc.predict(to_dask(nan, 1)).compute()


def test_categorical_levels_only_in_some_partitions(df):
    d = df.copy()
    d.loc[d.index[-5:], "k"] = "rare"  # only in the last partition
    f = "y ~ x + k + (1 | g)"
    assert_same_fit(hierreg.fit(f, d), hierreg.fit(f, to_dask(d, 4)))


def test_known_categorical_with_an_unused_category(df):
    d = df.assign(k=pd.Categorical(df.k, categories=["w", "u", "v", "never"]))
    f = "y ~ x + k + (1 | g)"
    with pytest.warns(hierreg.RankDeficiencyWarning) as mem_w:
        mem = hierreg.fit(f, d)
    with pytest.warns(hierreg.RankDeficiencyWarning) as ooc_w:
        ooc = hierreg.fit(f, to_dask(d, 3))
    assert str(ooc_w[0].message) == str(mem_w[0].message)
    assert_same_fit(mem, ooc)


def test_dependent_columns_are_dropped_as_in_memory(df):
    d = df.assign(x2=2.0 * df.x, one=1.0)
    f = "y ~ x + x2 + one + (1 | g)"
    with pytest.warns(hierreg.RankDeficiencyWarning) as mem_w:
        mem = hierreg.fit(f, d)
    with pytest.warns(hierreg.RankDeficiencyWarning) as ooc_w:
        ooc = hierreg.fit(f, to_dask(d, 4))
    assert str(ooc_w[0].message) == str(mem_w[0].message)
    assert ooc.dropped_columns == mem.dropped_columns == ["x2", "one"]
    assert_same_fit(mem, ooc)


@pytest.mark.parametrize(
    "formula, change, exc",
    [
        ("y ~ x + (1 | nope)", {}, hierreg.DataError),  # missing grouping column
        ("y ~ zz + (1 | g)", {}, hierreg.DataError),  # missing column
        ("y ~ x + (1 | g)", {"y": 3.0}, hierreg.EstimationError),  # constant response
        ("y ~ x + x:g + (1 | g)", {}, None),  # fine, text interaction
        ("y ~ x", {}, hierreg.EstimationError),  # no random term
        ("y ~ x + (1 | g)", {"x": np.inf}, hierreg.DataError),  # non-finite value
    ],
)
def test_errors_as_in_memory(df, formula, change, exc):
    d = df.assign(**change)
    if exc is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert_same_fit(hierreg.fit(formula, d), hierreg.fit(formula, to_dask(d, 3)), False)
        return
    with pytest.raises(exc) as a:
        hierreg.fit(formula, d)
    with pytest.raises(exc) as b:
        hierreg.fit(formula, to_dask(d, 3))
    first = re.split(r"[(;]", str(a.value))[0]
    assert str(b.value).startswith(first)


def test_binary_response_warns(df):
    d = df.assign(y=(df.y > df.y.median()).astype(float))
    with pytest.warns(hierreg.ResponseWarning):
        hierreg.fit(F, to_dask(d, 3))


def test_stateful_transforms_are_refused(df):
    with pytest.raises(hierreg.FormulaError, match="learns its state"):
        hierreg.fit("y ~ center(x) + (1 | g)", to_dask(df, 2))
    # a stateless transform is fine
    assert_same_fit(
        hierreg.fit("y ~ np.exp(x) + (1 | g)", df),
        hierreg.fit("y ~ np.exp(x) + (1 | g)", to_dask(df, 2)),
    )


def test_clear_error_before_the_statistics_would_not_fit(df, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 10_000)
    with pytest.raises(memory.StatisticsMemoryError, match="grow with the levels"):
        hierreg.fit("y ~ x + (x | g) + (1 | h)", to_dask(df, 2))
    assert issubclass(memory.StatisticsMemoryError, hierreg.EstimationError)


def test_regularized_options_that_need_the_rows(df):
    for kwargs in (dict(alpha="cv"), dict(alpha=1.0, loss="norm"), dict(alpha=1.0, l1=0.1)):
        with pytest.raises(hierreg.HierregError, match="out of core"):
            hierreg.fit(F, to_dask(df, 2), method="regularized", **kwargs)


def test_bad_options_and_sources(df, tmp_path):
    with pytest.raises(hierreg.HierregError, match="unknown option"):
        hierreg.fit(F, to_dask(df, 2), REML=False)
    with pytest.raises(hierreg.DataError, match="missing must be"):
        hierreg.fit(F, to_dask(df, 2), missing="keep")
    with pytest.raises(hierreg.DataError, match="no Parquet file"):
        hierreg.fit(F, str(tmp_path / "absent.parquet"))


def test_what_is_not_available_out_of_core_says_so(df):
    ddf = to_dask(df, 2)
    with pytest.raises(hierreg.HierregError, match="Laplace approximation"):
        hierreg.fit(F, ddf.assign(y=(ddf.y > 0).astype(float)), family="binomial", nagq=0)
    with pytest.raises(hierreg.HierregError, match="weights= is not available out of core"):
        hierreg.fit(F, ddf.assign(w=1.0), weights="w")
    with pytest.raises(hierreg.FormulaError, match="offset"):
        hierreg.fit("y ~ x + offset(h) + (1 | g)", ddf)


def test_inference_that_needs_rows_says_so(df):
    res = hierreg.fit("y ~ x + k + (1 | g)", to_dask(df, 2))
    for call in (
        lambda: res.anova(),
        lambda: res.conf_int(method="profile"),
        lambda: res.bootstrap(nsim=2),
        lambda: res.simulate(),
        lambda: res.r2(),
    ):
        with pytest.raises(hierreg.HierregError, match="needs the rows"):
            call()
    assert res.conf_int().shape == (4, 2)
