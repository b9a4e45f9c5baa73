"""GLMMs fitted from a Dask DataFrame equal the in-memory fits of the same data.

Tolerances: the objective and ``llf`` to 1e-8 (relative); ``params``, ``theta``
and ``bse`` to 1e-6.  With one term the optimiser path is the in-memory one
(L-BFGS-B on the analytic gradient, here from per-level sums) and the fits agree
to ~1e-12; with several terms BOBYQA resolves the optimum to ~1e-7.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg
from hierreg_formula.scale.results import DaskGLMMResults

from .sim import frame, to_dask

dd = pytest.importorskip("dask.dataframe")

OBJ = 1e-8
PAR = 1e-6


def close(a, b, rtol=PAR):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(1.0, np.abs(b).max(initial=0)))


def assert_same_glmm(mem, ooc):
    assert isinstance(ooc, DaskGLMMResults)
    assert abs(ooc.objective - mem.objective) <= OBJ * abs(mem.objective)
    assert abs(ooc.llf - mem.llf) <= OBJ * abs(mem.llf)
    close(ooc.aic, mem.aic, OBJ)
    close(ooc.bic, mem.bic, OBJ)
    assert ooc.nobs == mem.nobs and ooc.family == mem.family
    assert list(ooc.params.index) == list(mem.params.index)
    close(ooc.params, mem.params)
    close(ooc.theta, mem.theta)
    close(ooc.bse, mem.bse)
    close(ooc.cov_params(kind="rx"), mem.cov_params(kind="rx"))
    close(ooc.varcorr()["variance"], mem.varcorr()["variance"])
    for g, re in mem.random_effects.items():
        close(ooc.random_effects[g].loc[re.index], re)
    assert ooc.ngroups == mem.ngroups
    info = ooc.scale_info
    assert info["passes"] == sum(info["passes_by_stage"].values()) > 0


@pytest.fixture(scope="module")
def cbpp():
    return hierreg.load_dataset("cbpp")


def test_cbpp_binomial_cbind(cbpp):
    f = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    mem = hierreg.fit(f, cbpp, family="binomial")
    ooc = hierreg.fit(f, dd.from_pandas(cbpp, npartitions=3), family="binomial")
    assert_same_glmm(mem, ooc)
    assert ooc.estimate.cov_method == "hessian"
    fv = ooc.fittedvalues
    assert isinstance(fv, dd.Series)
    close(fv.compute().to_numpy(), mem.fittedvalues.to_numpy(), 1e-8)
    close(ooc.linear_predictor.compute().to_numpy(), mem.linear_predictor.to_numpy(), 1e-8)
    close(ooc.resid.compute().to_numpy(), mem.resid.to_numpy(), 1e-8)
    text = str(ooc.summary())
    assert "binomial/logit" in text and "Hessian" in text


@pytest.fixture(scope="module")
def bern():
    """0/1 response, ``g`` sorted so that each partition sees only some levels."""
    df = frame(n=1500, seed=11)
    rng = np.random.default_rng(2)
    eta = -0.3 + 0.8 * df.x + rng.normal(size=40)[df.g.str[1:].astype(int)]
    eta += 0.8 * rng.normal(size=9)[df.h]
    df["yb"] = (rng.uniform(size=len(df)) < 1 / (1 + np.exp(-eta))).astype(float)
    return df.sort_values("g", kind="stable").reset_index(drop=True)


def test_bernoulli_levels_only_in_some_partitions(bern):
    f = "yb ~ x + k + (1 | g)"
    ddf = to_dask(bern, npartitions=5)
    firsts = ddf.map_partitions(lambda p: p.g.nunique()).compute()
    assert firsts.max() < 40  # every partition misses levels
    mem = hierreg.fit(f, bern, family="binomial")
    ooc = hierreg.fit(f, ddf, family="binomial")
    assert_same_glmm(mem, ooc)
    pred = ooc.predict()
    assert isinstance(pred, dd.Series)
    close(pred.compute().to_numpy(), mem.predict().to_numpy(), 1e-8)
    new = bern.iloc[::50].assign(g=lambda d: d.g.where(d.index % 100 != 0, "unseen"))
    close(
        ooc.predict(to_dask(new, 2), type="link").compute().to_numpy(),
        mem.predict(new, type="link").to_numpy(),
        1e-8,
    )
    close(ooc.predict(new, include_random=False), mem.predict(new, include_random=False), 1e-8)


def test_bernoulli_crossed_terms(bern):
    # two terms: PIRLS on the reduced sufficient statistics, BOBYQA on the client
    df = bern.iloc[:500]
    f = "yb ~ x + (1 | g) + (1 | h)"
    mem = hierreg.fit(f, df, family="binomial")
    ooc = hierreg.fit(f, to_dask(df, 2), family="binomial")
    assert not mem.is_singular
    assert_same_glmm(mem, ooc)


@pytest.fixture(scope="module")
def counts():
    rng = np.random.default_rng(4)
    n, G = 1200, 30
    g = rng.integers(0, G, n)
    x = rng.normal(size=n)
    le = np.log(rng.uniform(0.5, 4.0, n))
    eta = 0.2 + 0.4 * x + le + 0.5 * rng.normal(size=G)[g]
    return pd.DataFrame(
        {"y": rng.poisson(np.exp(eta)), "x": x, "g": g, "exposure": le}
    ).sort_values("g")


def test_poisson_with_offset(counts):
    f = "y ~ x + (1 | g)"
    mem = hierreg.fit(f, counts, family="poisson", offset="exposure")
    ooc = hierreg.fit(f, to_dask(counts, 4), family="poisson", offset="exposure")
    assert_same_glmm(mem, ooc)
    close(ooc.fittedvalues.compute().to_numpy(), mem.fittedvalues.to_numpy(), 1e-8)
    new = counts.iloc[:40]
    close(
        ooc.predict(to_dask(new, 2)).compute().to_numpy(),
        mem.predict(new, offset=new["exposure"].to_numpy()).to_numpy(),
        1e-8,
    )
    # without the offset the fit differs: the column is used
    plain = hierreg.fit(f, to_dask(counts, 4), family="poisson")
    assert abs(plain.objective - ooc.objective) > 1.0


def test_missing_offset_values_drop_rows(counts):
    df = counts.copy()
    df.loc[df.index[:5], "exposure"] = np.nan
    f = "y ~ x + (1 | g)"
    with pytest.warns(hierreg.MissingDataWarning):
        ooc = hierreg.fit(f, to_dask(df, 3), family="poisson", offset="exposure")
    with pytest.warns(hierreg.MissingDataWarning):
        mem = hierreg.fit(f, df, family="poisson", offset="exposure")
    assert ooc.nobs == mem.nobs == len(df) - 5
    assert abs(ooc.objective - mem.objective) <= OBJ * abs(mem.objective)


def test_rx_covariance_option(cbpp):
    f = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    mem = hierreg.fit(f, cbpp, family="binomial", cov="rx")
    ooc = hierreg.fit(f, dd.from_pandas(cbpp, npartitions=2), family="binomial", cov="rx")
    close(ooc.bse, mem.bse)
    assert ooc.scale_info["passes_by_stage"]["estimate"] < 10  # no Hessian


def test_unsupported_options_say_so(bern, counts, cbpp):
    ddf = to_dask(bern, 2)
    f = "yb ~ x + (1 | g)"
    with pytest.raises(hierreg.HierregError, match="nagq=1"):
        hierreg.fit(f, ddf, family="binomial", nagq=0)
    with pytest.raises(hierreg.HierregError, match="nagq=1"):
        hierreg.fit(f, ddf, family="binomial", nagq=5)
    with pytest.raises(hierreg.HierregError, match="not 'negative_binomial'"):
        hierreg.fit("y ~ x + (1 | g)", to_dask(counts, 2), family="negative_binomial")
    with pytest.raises(hierreg.HierregError, match="weights="):
        hierreg.fit(f, ddf.assign(w=1.0), family="binomial", weights="w")
    with pytest.raises(hierreg.HierregError, match="name of a column"):
        hierreg.fit(f, ddf, family="binomial", offset=np.zeros(len(bern)))
    with pytest.raises(hierreg.HierregError, match="cov must be"):
        hierreg.fit(f, ddf, family="binomial", cov="sandwich")
    with pytest.raises(hierreg.HierregError, match="nb_theta"):
        hierreg.fit(f, ddf, family="binomial", nb_theta=2.0)
    with pytest.raises(hierreg.HierregError, match="method='reml'"):
        hierreg.fit(f, ddf, family="binomial", method="reml")
    with pytest.raises(hierreg.DataError, match="0/1 or cbind"):
        prop = cbpp.assign(p=cbpp.incidence / cbpp["size"])
        hierreg.fit("p ~ period + (1 | herd)", dd.from_pandas(prop, 2), family="binomial")
    with pytest.raises(hierreg.DataError, match="must be numeric"):
        hierreg.fit("k ~ x + (1 | g)", ddf, family="binomial")
    with pytest.raises(hierreg.DataError, match="not found"):
        hierreg.fit(f, ddf, family="poisson", offset="absent")
    with pytest.raises(hierreg.DataError, match="poisson"):
        hierreg.fit("x ~ yb + (1 | g)", ddf, family="poisson")
    with pytest.raises(hierreg.FormulaError, match="offset"):
        hierreg.fit("yb ~ x + offset(h) + (1 | g)", ddf, family="binomial")


def test_what_needs_the_rows_says_so(cbpp):
    f = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    res = hierreg.fit(f, dd.from_pandas(cbpp, npartitions=2), family="binomial", cov="rx")
    for call in (
        lambda: res.conf_int(method="profile"),
        lambda: res.bootstrap(nsim=2),
        lambda: res.simulate(),
        lambda: res.residuals("pearson"),
        lambda: res.r2(),
        lambda: res.icc(),
        lambda: res.update("cbind(incidence, size - incidence) ~ 1 + (1 | herd)"),
    ):
        with pytest.raises(hierreg.HierregError, match="needs the rows"):
            call()
    assert res.conf_int().shape == (4, 2)
