"""Fits on a Dask DataFrame equal the in-memory fits of the same data.

Tolerances: the objective to 1e-10 (relative); everything else to 1e-8.  Where
the optimiser is L-BFGS-B with the analytic gradient (scalar terms, or one term
with ``gradient=True``) the whole fit agrees to 1e-8.  Where it is BOBYQA
(vector terms with others), the optimum is resolved only to ~1e-6 in ``theta``
(in-memory fits of the same rows in another order differ as much, see
``tests/test_properties.py``): there the objective is compared at 1e-10, ``theta``
at 1e-5, and every other quantity at the in-memory ``theta`` to 1e-8.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg
from hierreg_formula.results.lmm import LMMResults
from hierreg_formula.results.regularized import RegularizedResults

from .sim import frame, to_dask

dd = pytest.importorskip("dask.dataframe")

REL = 1e-8


def close(a, b, rtol=REL):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(1.0, np.abs(b).max(initial=0)))


def same_objective(a, b):
    assert abs(a - b) <= 1e-10 * max(1.0, abs(b)), (a, b)


def assert_same_fit(mem, ooc, exact=True):
    same_objective(ooc.objective, mem.objective)
    assert ooc.nobs == mem.nobs
    assert list(ooc.params.index) == list(mem.params.index)
    assert list(ooc.theta.index) == list(mem.theta.index)
    assert ooc.ngroups == mem.ngroups
    if exact:
        est = ooc.estimate
        close(ooc.theta, mem.theta)
    else:
        close(ooc.theta, mem.theta, rtol=1e-5)
        est = ooc.problem.estimate_at(mem.estimate.theta)  # same theta: the rest is exact
    m = mem.estimate
    same_objective(est.objective, m.objective)
    same_objective(est.ml_deviance, m.ml_deviance)  # the other criterion at the estimate
    same_objective(est.reml_criterion, m.reml_criterion)
    close(est.beta, m.beta)
    close(est.bse, m.bse)
    close(est.cov_beta, m.cov_beta)
    close(est.sigma, m.sigma)
    for b, bm, s, sm in zip(est.b, m.b, est.cond_sd, m.cond_sd, strict=True):
        close(b, bm)
        close(s, sm)
    for g in mem.random_effects:
        pd.testing.assert_index_equal(ooc.random_effects[g].index, mem.random_effects[g].index)


MODELS = [
    ("y ~ x + (1 | g)", {}, True),  # one scalar term
    ("y ~ x + (x | g)", {"gradient": True}, True),  # one vector term, analytic gradient
    ("y ~ x + (x | g)", {}, False),  # one vector term, BOBYQA
    ("y ~ x + (1 | g) + (1 | h)", {}, True),  # crossed
    ("y ~ x + (1 | a/b)", {}, True),  # nested
    ("y ~ x + k + (x | g) + (1 | h)", {}, False),  # crossed with a vector term, categorical
    ("y ~ 0 + x + (1 | g)", {}, True),  # no intercept: nothing centred
]


@pytest.fixture(scope="module")
def data():
    df = frame()
    return df, to_dask(df, npartitions=5)


@pytest.mark.parametrize("method", ["reml", "ml"])
@pytest.mark.parametrize("formula, kwargs, exact", MODELS)
def test_dask_fit_equals_in_memory(data, formula, kwargs, exact, method):
    df, ddf = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hierreg.SingularFitWarning)
        mem = hierreg.fit(formula, df, method=method, **kwargs)
        ooc = hierreg.fit(formula, ddf, method=method, **kwargs)
    assert isinstance(ooc, LMMResults) and ooc.method == mem.method
    assert_same_fit(mem, ooc, exact)


def test_partition_count_and_order_do_not_matter(data):
    df, _ = data
    mem = hierreg.fit("y ~ x + (1 | g) + (1 | h)", df)
    for nparts, frame_ in ((1, df), (13, df), (4, df.sort_values("g"))):
        assert_same_fit(mem, hierreg.fit("y ~ x + (1 | g) + (1 | h)", to_dask(frame_, nparts)))


def test_results_api_out_of_core(data):
    df, ddf = data
    f = "y ~ x + (1 | g) + (1 | h)"
    mem, ooc = hierreg.fit(f, df), hierreg.fit(f, ddf)
    pd.testing.assert_frame_equal(ooc.varcorr(), mem.varcorr(), rtol=1e-8)
    close(ooc.aic, mem.aic)
    close(ooc.bic, mem.bic)
    assert ooc.converged and not ooc.is_singular
    assert str(ooc.summary()) == str(mem.summary())  # group sizes from the statistics
    # lazy fitted values and residuals, rows as in memory
    fv, rs = ooc.fittedvalues, ooc.resid
    assert isinstance(fv, dd.Series) and isinstance(rs, dd.Series)
    close(fv.compute().loc[mem.fittedvalues.index], mem.fittedvalues)
    close(rs.compute().loc[mem.resid.index], mem.resid)
    # predictions: a Dask Series for a Dask frame, pandas for pandas
    new = df.iloc[:50].drop(columns="y")
    close(ooc.predict(new), mem.predict(new))
    lazy = ooc.predict(to_dask(new, 3), include_random=False)
    assert isinstance(lazy, dd.Series)
    close(lazy.compute(), mem.predict(new, include_random=False))
    pred = ooc.predict()
    assert isinstance(pred, dd.Series)
    close(pred.compute(), mem.predict(df))
    assert isinstance(ooc.model_data, dd.DataFrame)
    assert ooc.statistics.n == 1200 and ooc.problem is not None
    assert set(ooc.scale_info["wall"]) >= {"pass1", "pass2", "fit"}
    assert ooc.level_counts()["g"].sum() == 1200
    assert "out of core (5 partitions)" in repr(ooc)


def test_in_memory_results_predict_on_a_dask_frame(data):
    df, ddf = data
    mem = hierreg.fit("y ~ x + k + (x | g)", df)
    lazy = mem.predict(ddf)
    assert isinstance(lazy, dd.Series)
    close(lazy.compute(), mem.predict(df))


@pytest.mark.parametrize(
    "kwargs",
    [dict(alpha=0.05), dict(alpha=0.5, weight_by_nobs=False), dict(alpha=0.1, main_l2=0.01)],
)
def test_regularized_squared_mode(data, kwargs):
    df, ddf = data
    f = "y ~ x + (x | g) + (1 | h)"
    mem = hierreg.fit(f, df, method="regularized", **kwargs)
    ooc = hierreg.fit(f, ddf, method="regularized", **kwargs)
    assert isinstance(ooc, RegularizedResults)
    same_objective(ooc.objective, mem.objective)
    close(ooc.params, mem.params)
    for g in mem.random_effects:
        close(ooc.random_effects[g], mem.random_effects[g])
    close(ooc.theta.fillna(0), mem.theta.fillna(0))
    close(ooc.predict(df), mem.predict(df))


def test_regularized_reml_alpha(data):
    df, ddf = data
    f = "y ~ x + (1 | g) + (1 | h)"
    mem = hierreg.fit(f, df, method="regularized", alpha="reml")
    ooc = hierreg.fit(f, ddf, method="regularized", alpha="reml")
    close(ooc.params, mem.params)
    close(ooc.theta, mem.theta)
    for g in mem.random_effects:
        close(ooc.random_effects[g], mem.random_effects[g])


def test_parquet_glob_and_directory(data, tmp_path):
    df, _ = data
    for i, part in enumerate(np.array_split(np.arange(len(df)), 3)):
        df.iloc[part].to_parquet(tmp_path / f"part-{i}.parquet")
    mem = hierreg.fit("y ~ x + (1 | g)", df)
    for source in (str(tmp_path / "*.parquet"), tmp_path):
        ooc = hierreg.fit("y ~ x + (1 | g)", source)
        assert_same_fit(mem, ooc)
        assert ooc.scale_info["npartitions"] == 3


def test_cli_fits_parquet_files(data, tmp_path, capsys):
    from hierreg_formula.cli import main

    df, _ = data
    for i, part in enumerate(np.array_split(np.arange(len(df)), 2)):
        df.iloc[part].to_parquet(tmp_path / f"p{i}.parquet")
    code = main(["fit", "y ~ x + (1 | g)", "--data", str(tmp_path / "*.parquet")])
    out = capsys.readouterr()
    assert code == 0, out.err
    mem = hierreg.fit("y ~ x + (1 | g)", df)
    assert f"{mem.params['x']:.3f}" in out.out
    assert re.search(r"No\. Observations:\s+1200\b", out.out)
    code = main(["fit", "y ~ x + (1 | g)", "--data", str(tmp_path / "none-*.parquet")])
    assert code == 2 and "Parquet" in capsys.readouterr().err


def test_statistics_suffice_for_a_likelihood_ratio(data):
    """An ML refit and a likelihood-ratio statistic from the reduced statistics alone."""
    from hierreg_formula.core.lmm import LMMProblem

    df, ddf = data
    big, small = "y ~ x + (1 | g) + (1 | h)", "y ~ x + (1 | g)"
    ooc = hierreg.fit(big, ddf)  # REML
    prob = ooc.problem
    ml = LMMProblem.from_cross_products(prob.cp, prob.cond, reml=False).fit()
    mem_big, mem_small = hierreg.fit(big, df, method="ml"), hierreg.fit(small, df, method="ml")
    same_objective(ml.objective, mem_big.objective)
    lr = hierreg.fit(small, ddf, method="ml").deviance - ml.ml_deviance
    close(lr, mem_small.deviance - mem_big.deviance, rtol=1e-7)


@pytest.mark.parametrize(
    "formula", ["y ~ x + (x | g)", "y ~ x + k + (1 | g) + (1 | h)", "y ~ x + (1 | a/b)"]
)
def test_satterthwaite_and_kenward_roger_from_the_statistics(data, formula):
    df, ddf = data
    mem, ooc = hierreg.fit(formula, df), hierreg.fit(formula, ddf)
    exact = formula != "y ~ x + (x | g)"  # BOBYQA: theta to ~1e-6, df follow
    tol = 1e-7 if exact else 1e-4
    for kind in ("satterthwaite", "kenward-roger"):
        close(ooc.df_resid_fixed(kind), mem.df_resid_fixed(kind), rtol=tol)
        close(ooc.tidy(ddf=kind).to_numpy(), mem.tidy(ddf=kind).to_numpy(), rtol=tol)
    close(ooc.cov_params(adjust="kenward-roger"), mem.cov_params(adjust="kenward-roger"), tol)
