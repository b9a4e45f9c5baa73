"""The catalogue of bad and tricky input: every case names its outcome.

Each case goes through a public entry point (``fit``, ``predict``, the
scikit-learn estimators, the CLI) and asserts either the exact error class and a
message that names the problem, or the warning and a correct result.  The list
is the one the closing note of issue 8 reports, case by case.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg
from hierreg_formula.cli import main as cli_main

F = "y ~ x + (1 | g)"


def data(n: int = 60, G: int = 6, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(G), n // G)
    x = rng.normal(size=n)
    y = 1 + 0.5 * x + rng.normal(size=G)[g] + rng.normal(size=n)
    return pd.DataFrame({"y": y, "x": x, "g": g})


@dataclass(frozen=True)
class Raises:
    error: type[BaseException]
    match: str


@dataclass(frozen=True)
class Warns:
    warning: type[Warning]
    match: str
    check: Callable[[Any], None] | None = None


@dataclass(frozen=True)
class Works:
    check: Callable[[Any], None]


CASES: dict[str, tuple[Callable[[], Any], Any]] = {}


def case(name: str, outcome: Any):
    def deco(f):
        CASES[name] = (f, outcome)
        return f

    return deco


def _with(**cols):
    d = data()
    for k, v in cols.items():
        d[k] = v(d) if callable(v) else v
    return d


def _set(d, row, col, value, dtype=None):
    if dtype is not None:
        d[col] = d[col].astype(dtype)
    d.loc[row, col] = value
    return d


def _ref():
    return hierreg.fit(F, data())


# ----------------------------------------------------------- missing values
@case("NaN in y", Warns(hierreg.MissingDataWarning, r"dropped 1 of 60 rows.*'y': 1"))
def _():
    return hierreg.fit(F, _set(data(), 3, "y", np.nan))


@case("pd.NA in a nullable Float64 x", Warns(hierreg.MissingDataWarning, r"'x': 1"))
def _():
    return hierreg.fit(F, _set(data(), 3, "x", pd.NA, "Float64"))


@case("pd.NA in a string grouping column", Warns(hierreg.MissingDataWarning, r"'g': 1"))
def _():
    return hierreg.fit(F, _set(data(), 3, "g", pd.NA, "string"))


@case("NaN group labels", Warns(hierreg.MissingDataWarning, r"dropped 3 of 60.*'g': 3"))
def _():
    d = data()
    d["g"] = d["g"].astype(float)
    d.loc[:2, "g"] = np.nan
    return hierreg.fit(F, d)


@case("missing='raise' with NaN", Raises(hierreg.DataError, r"1 of 60 rows have missing values"))
def _():
    return hierreg.fit(F, _set(data(), 3, "y", np.nan), missing="raise")


@case("an all-NaN response", Raises(hierreg.DataError, "'y' have only missing values"))
def _():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hierreg.MissingDataWarning)
        return hierreg.fit(F, _with(y=np.nan))


@case("missing='foo'", Raises(hierreg.DataError, "missing must be 'drop' or 'raise'"))
def _():
    return hierreg.fit(F, data(), missing="foo")


# ---------------------------------------------------------- non-finite values
@case("inf in x", Raises(hierreg.DataError, r"non-finite values.*'x'.*1 row"))
def _():
    return hierreg.fit(F, _set(data(), 2, "x", np.inf))


@case("inf in y", Raises(hierreg.DataError, r"non-finite values.*response.*'y'"))
def _():
    return hierreg.fit(F, _set(data(), 2, "y", -np.inf))


@case("log of a non-positive value", Raises(hierreg.DataError, r"non-finite.*np.log\(x\)"))
def _():
    return hierreg.fit("y ~ np.log(x) + (1 | g)", data())


# ------------------------------------------------------------ frame and rows
@case("an empty frame", Raises(hierreg.DataError, "empty"))
def _():
    return hierreg.fit(F, data().iloc[:0])


@case("a one-row frame", Raises(hierreg.DataError, "'g' has a single level"))
def _():
    return hierreg.fit(F, data().head(1))


@case("data that is not a frame", Raises(hierreg.DataError, "not found in the data"))
def _():
    return hierreg.fit(F, [1, 2, 3])


@case("a missing column", Raises(hierreg.DataError, r"column\(s\) 'z' used in .* not found"))
def _():
    return hierreg.fit("y ~ z + (1 | g)", data())


# --------------------------------------------------------------- grouping
@case(
    "every group a single row",
    Raises(hierreg.EstimationError, "60 levels for 60 observations"),
)
def _():
    return hierreg.fit(F, _with(g=lambda d: np.arange(len(d))))


@case("datetime group labels", Works(lambda r: r.random_effects["g"].shape == (6, 1)))
def _():
    return hierreg.fit(F, _with(g=lambda d: pd.Timestamp("2020-01-01") + pd.to_timedelta(d.g, "D")))


@case(
    "mixed-type group labels",
    Works(lambda r: list(r.random_effects["g"].index) == [1, 2, 3, 4, 5, "zero"]),
)
def _():
    d = data()
    d["g"] = d["g"].astype(object)
    d.loc[d.g == 0, "g"] = "zero"
    return hierreg.fit(F, d)


@case(
    "int vs float vs categorical grouping give one fit",
    Works(lambda rs: all(np.allclose(rs[0].params, r.params, rtol=1e-10) for r in rs[1:])),
)
def _():
    d = data()
    return [
        hierreg.fit(F, d.assign(g=g))
        for g in (d.g, d.g.astype(float), d.g.astype("category"), d.g.astype(str))
    ]


@case(
    "an unused categorical level",
    Works(lambda r: list(r.random_effects["g"].index) == [0, 1, 2, 3, 4, 5]),
)
def _():
    d = data()
    d["g"] = pd.Categorical(d.g, categories=[0, 1, 2, 3, 4, 5, 99])
    return hierreg.fit(F, d)


# ---------------------------------------------------------- columns of X
@case("a constant column", Warns(hierreg.RankDeficiencyWarning, "dropping 1 column.*'x'"))
def _():
    return hierreg.fit(F, _with(x=2.0))


@case(
    "a duplicated column",
    Warns(
        hierreg.RankDeficiencyWarning,
        "dropping 1 column.*'x2'",
        lambda r: r.dropped_columns == ["x2"] and "x2" not in r.params,
    ),
)
def _():
    return hierreg.fit("y ~ x + x2 + (1 | g)", _with(x2=lambda d: d.x))


@case(
    "as many fixed columns as rows",
    Raises(hierreg.EstimationError, "10 fixed-effects columns for 10 observations"),
)
def _():
    return hierreg.fit("y ~ C(x) + (1 | g)", data(10, 2))


@case(
    "more fixed columns than rows",
    Raises(hierreg.EstimationError, "fixed-effects columns for 8 observations"),
)
def _():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hierreg.RankDeficiencyWarning)
        return hierreg.fit("y ~ C(x) + z + (1 | g)", data(8, 2).assign(z=np.arange(8.0)))


@case(
    "float32 columns give the float64 fit",
    Works(lambda r: np.allclose(r.params, _ref().params, rtol=1e-6)),
)
def _():
    d = data()
    d["x"] = d.x.astype(np.float32).astype(np.float64)
    r = hierreg.fit(F, data().assign(x=d.x.astype(np.float32)))
    ref = hierreg.fit(F, data().assign(x=d.x))
    assert np.allclose(r.params, ref.params, rtol=1e-12)
    return r


# ------------------------------------------------------------- responses
@case("a string response", Raises(hierreg.DataError, "response 'y' is not numeric"))
def _():
    return hierreg.fit(F, _with(y="a"))


@case("a constant response", Raises(hierreg.EstimationError, "has no variance"))
def _():
    return hierreg.fit(F, _with(y=3.0))


@case(
    "a boolean response in a Gaussian LMM",
    Warns(hierreg.ResponseWarning, "only the values 0 and 1.*family='binomial'"),
)
def _():
    return hierreg.fit(F, _with(y=lambda d: d.y > 1))


@case(
    "a nullable Int64 response",
    Works(lambda r: np.allclose(r.params, hierreg.fit(F, _int_y()).params)),
)
def _():
    return hierreg.fit(F, _int_y().astype({"y": "Int64"}))


def _int_y():
    return _with(y=lambda d: (10 * d.y).round())


@case(
    "y reproduced exactly by X",
    Raises(hierreg.EstimationError, "fixed effects reproduce the response exactly"),
)
def _():
    return hierreg.fit(F, _with(y=lambda d: 1 + 2 * d.x))


@case(
    "y reproduced exactly by the groups",
    Raises(hierreg.EstimationError, "reproduces the response almost exactly"),
)
def _():
    return hierreg.fit(F, _with(y=lambda d: d.g * 1.5))


# ------------------------------------------------------------- huge / tiny
@pytest.fixture(scope="module")
def reference_fit():
    return _ref()


def _scaled(sy: float, sx: float, shift: float = 0.0):
    d = data()
    r = hierreg.fit(F, d.assign(y=(d.y + shift) * sy, x=d.x * sx))
    ref = _ref()
    np.testing.assert_allclose(r.params["x"] * sx / sy, ref.params["x"], rtol=1e-6)
    np.testing.assert_allclose(r.theta, ref.theta, rtol=1e-5)
    np.testing.assert_allclose(r.sigma / sy, ref.sigma, rtol=1e-6)
    np.testing.assert_allclose(r.bse["x"] * sx / sy, ref.bse["x"], rtol=1e-5)
    return r


for _sy, _sx, _shift in [(1e200, 1, 0), (1e-200, 1, 0), (1, 1e200, 0), (1, 1e-200, 0), (1, 1, 1e8)]:
    case(
        f"y x {_sy:g}, x x {_sx:g}, y + {_shift:g}: same fit",
        Works(lambda r: bool(r.converged)),
    )(lambda a=_sy, b=_sx, c=_shift: _scaled(a, b, c))


def _far_slope():
    """(x + 1e6 | g) is (x | g) reparametrised: the same optimum, fitted values and slope SD."""
    df = hierreg.load_dataset("sleepstudy")
    f = "Reaction ~ Days + (Days | Subject)"
    a = hierreg.fit(f, df)
    b = hierreg.fit(f, df.assign(Days=df.Days + 1e6))
    assert b.objective == pytest.approx(a.objective, rel=1e-9)
    np.testing.assert_allclose(b.fittedvalues, a.fittedvalues, rtol=1e-6)
    sd = lambda r: r.varcorr().query("var1 == 'Days' and var2.isna()")["sd"].iloc[0]  # noqa: E731
    assert sd(b) == pytest.approx(sd(a), rel=1e-5)
    return b


case("a random-slope covariate far from zero (x + 1e6)", Works(lambda r: r.converged))(_far_slope)


# ------------------------------------------------------------ formulas
@case("a malformed formula", Raises(hierreg.FormulaError, "malformed formula"))
def _():
    return hierreg.fit("y ~ x + (1 | g", data())


@case("'|' outside parentheses", Raises(hierreg.FormulaError, "top level"))
def _():
    return hierreg.fit("y ~ x | g", data())


@case("the '.' shorthand", Raises(hierreg.FormulaError, "shorthand"))
def _():
    return hierreg.fit("y ~ . + (1 | g)", data())


@case("no random term", Raises(hierreg.EstimationError, "no random-effects term"))
def _():
    return hierreg.fit("y ~ x", data())


@case("a formula that is not a string", Raises(hierreg.FormulaError, "non-empty string"))
def _():
    return hierreg.fit(3, data())


@case("an unknown function", Raises(hierreg.FormulaError, "unknown function.*'foo'"))
def _():
    return hierreg.fit("y ~ foo(x) + (1 | g)", data())


@case(
    "y ~ -1 + x + (1 | g) is lme4's no-intercept form",
    Works(lambda r: list(r.params.index) == ["x"]),
)
def _():
    return hierreg.fit("y ~ -1 + x + (1 | g)", data())


@case("a repeated random intercept (x||g) + (1|g)", Raises(hierreg.FormulaError, "appears twice"))
def _():
    return hierreg.fit("y ~ x + (x || g) + (1 | g)", data())


@case("a repeated nested term (1|g/h) + (1|g)", Raises(hierreg.FormulaError, "appears twice"))
def _():
    return hierreg.fit("y ~ x + (1 | g/h) + (1 | g)", _with(h=lambda d: d.index % 2))


@case("the response inside a random term", Raises(hierreg.FormulaError, "response column 'y'"))
def _():
    return hierreg.fit("y ~ x + (y | g)", data())


@case("a grouping expression g - h", Raises(hierreg.FormulaError, "grouping side"))
def _():
    return hierreg.fit("y ~ x + (1 | g - h)", _with(h=lambda d: d.index % 2))


@case("a transformed grouping log(g)", Raises(hierreg.FormulaError, "must be a column name"))
def _():
    return hierreg.fit("y ~ x + (1 | log(g))", data())


@case("a grouping factor with one level", Raises(hierreg.DataError, "'g' has a single level"))
def _():
    return hierreg.fit(F, _with(g=1))


@case(
    "duplicated column names in the frame", Raises(hierreg.DataError, "several columns named 'x'")
)
def _():
    d = data()
    return hierreg.fit(F, pd.concat([d, d[["x"]]], axis=1))


@case(
    "an object column of numbers is numeric",
    Works(lambda r: list(r.params.index) == ["Intercept", "x"]),
)
def _():
    return hierreg.fit(F, _with(x=lambda d: d.x.astype(object)))


@case("a categorical response", Raises(hierreg.DataError, "not numeric.*category"))
def _():
    return hierreg.fit(F, _with(y=lambda d: pd.Categorical(d.g)))


@case(
    "group labels '3' for a model fitted on 3 (and 3.0)",
    Works(lambda p: np.allclose(p, p.iloc[0])),
)
def _():
    r = _ref()
    return pd.concat(
        [r.predict(pd.DataFrame({"x": [0.3], "g": [v]})) for v in (3, "3", 3.0, np.int8(3))]
    )


@case(
    "group labels of another type with no match",
    Raises(hierreg.DataError, "none of the new labels matches.*dtype"),
)
def _():
    return _ref().predict(pd.DataFrame({"x": [0.3], "g": ["a"]}))


@case("missing group labels at predict", Raises(hierreg.DataError, "missing values in the new"))
def _():
    return _ref().predict(pd.DataFrame({"x": [0.3], "g": [None]}))


@case("offset() inside a random term", Raises(hierreg.FormulaError, "offset"))
def _():
    return hierreg.fit("y ~ x + (offset(x) | g)", data())


@case("negative binomial counts in cbind()", Raises(hierreg.DataError, "negative values"))
def _():
    d = _with(s=lambda d: d.index % 3 - 1, f=2)
    return hierreg.fit("cbind(s, f) ~ x + (1 | g)", d)


@case("offset= at fit, none at predict", Raises(hierreg.DataError, "pass the offset of the new"))
def _():
    r = hierreg.fit(F, data(), offset=np.zeros(60))
    return r.predict(pd.DataFrame({"x": [0.3], "g": [1]}))


# ------------------------------------------------------------- options
@case("REML=False (lme4's spelling)", Raises(hierreg.HierregError, "'REML'.*method='ml'"))
def _():
    return hierreg.fit(F, data(), REML=False)


@case("an unknown keyword", Raises(hierreg.HierregError, "unknown option.*'foo'.*valid options"))
def _():
    return hierreg.fit(F, data(), foo=1)


@case("an unknown method", Raises(hierreg.HierregError, "unknown method 'bayes'"))
def _():
    return hierreg.fit(F, data(), method="bayes")


@case("a negative penalty", Raises(hierreg.HierregError, "alpha must be a number > 0"))
def _():
    return hierreg.fit(F, data(), method="regularized", alpha=-1)


@case(
    "binomial with three labels",
    Raises(hierreg.DataError, "exactly two labels; 'y' has 3"),
)
def _():
    return hierreg.fit(
        F, _with(y=lambda d: d.g % 3), method="regularized", alpha=0.1, family="binomial"
    )


# ------------------------------------------------------------- prediction
@case(
    "an unseen group level predicts the population value",
    Works(lambda p: np.isclose(p.iloc[0], p.iloc[1])),
)
def _():
    r = _ref()
    new = pd.DataFrame({"x": [0.3, 0.3], "g": [99, 99]})
    pop = r.predict(new, include_random=False)
    return pd.Series([r.predict(new).iloc[0], pop.iloc[0]])


@case("an unseen fixed-factor level", Raises(hierreg.DataError, "categories not seen in fitting"))
def _():
    r = hierreg.fit("y ~ k + (1 | g)", _with(k=lambda d: np.where(d.x > 0, "a", "b")))
    return r.predict(pd.DataFrame({"k": ["c"], "g": [1]}))


@case("a column missing in newdata", Raises(hierreg.DataError, r"'x' used in .* not found"))
def _():
    return _ref().predict(pd.DataFrame({"g": [1]}))


@case("NaN in newdata", Raises(hierreg.DataError, "missing values in the new data"))
def _():
    return _ref().predict(pd.DataFrame({"x": [np.nan], "g": [1]}))


@case("predict(train) equals fittedvalues", Works(lambda ok: ok))
def _():
    r = _ref()
    return bool(np.allclose(r.predict(data()), r.fittedvalues, rtol=1e-12))


# ------------------------------------------------------------------ GLMMs
def _glmm_data(**cols):
    rng = np.random.default_rng(3)
    d = data()
    d["b"] = (rng.uniform(size=len(d)) < 0.4).astype(float)
    d["c"] = rng.poisson(2.0, size=len(d)).astype(float)
    for k, v in cols.items():
        d[k] = v(d) if callable(v) else v
    return d


def _glmm(formula, family, **kw):
    def run(**cols):
        return hierreg.fit(formula, _glmm_data(**cols), family=family, **kw)

    return run


@case("binomial: a response outside [0, 1]", Raises(hierreg.DataError, r"must be in \[0, 1\]"))
def _():
    return _glmm("b ~ x + (1 | g)", "binomial")(b=lambda d: np.where(d.index == 3, 1.5, d.b))


@case("binomial: non-integer trials", Raises(hierreg.DataError, "trials.*whole numbers"))
def _():
    return _glmm("b ~ x + (1 | g)", "binomial", weights="w")(b=0.5, w=2.5)


@case("poisson: a negative count", Raises(hierreg.DataError, "non-negative counts"))
def _():
    return _glmm("c ~ x + (1 | g)", "poisson")(c=lambda d: np.where(d.index == 3, -1.0, d.c))


@case("poisson: a non-integer count", Raises(hierreg.DataError, "whole counts"))
def _():
    return _glmm("c ~ x + (1 | g)", "poisson")(c=lambda d: np.where(d.index == 3, 1.5, d.c))


@case("binomial: all responses 0", Raises(hierreg.DataError, "0 \\(no successes\\) in every row"))
def _():
    return _glmm("b ~ x + (1 | g)", "binomial")(b=0.0)


@case("binomial: all responses 1", Raises(hierreg.DataError, "no failures"))
def _():
    return _glmm("b ~ x + (1 | g)", "binomial")(b=1.0)


@case("binomial: complete separation", Warns(hierreg.SeparationWarning, "complete separation"))
def _():
    return _glmm("b ~ x + (1 | g)", "binomial")(b=lambda d: (d.x > 0).astype(float))


@case("nagq > 1 with a vector term", Raises(hierreg.EstimationError, "single scalar"))
def _():
    return _glmm("b ~ x + (x | g)", "binomial", nagq=5)()


@case("a GLMM with method='reml'", Raises(hierreg.HierregError, "maximum likelihood"))
def _():
    return _glmm("b ~ x + (1 | g)", "binomial", method="reml")()


@case(
    "a Poisson GLMM with an observation-level random effect",
    Works(lambda r: r.ngroups["obs"] == 60),
)
def _():
    rng = np.random.default_rng(5)
    over = np.exp(0.5 + rng.normal(0.0, 0.8, 60) + rng.normal(0.0, 0.5, 6)[np.repeat(range(6), 10)])
    return _glmm("c ~ x + (1 | g) + (1 | obs)", "poisson")(
        obs=lambda d: d.index, c=rng.poisson(over)
    )


# ----------------------------------------------------------- estimators
@case("estimator: NaN in X", Raises(ValueError, "NaN"))
def _():
    d = _set(data(), 1, "x", np.nan)
    return hierreg.HierarchicalRegression(l2_reg=0.1).fit(d[["x"]], d.y, d.g)


@case("estimator: groups of another length", Raises(ValueError, "groups has 5 rows, X has 60"))
def _():
    d = data()
    return hierreg.HierarchicalRegression(l2_reg=0.1).fit(d[["x"]], d.y, d.g[:5])


@case("estimator: l2_reg='abc'", Raises(hierreg.HierregError, "alpha must be a number"))
def _():
    d = data()
    return hierreg.HierarchicalRegression(l2_reg="abc").fit(d[["x"]], d.y, d.g)


@case(
    "estimator: reordered columns at predict",
    Raises(ValueError, r"columns of X differ from those seen in fit.*\['x', 'z'\].*\['z', 'x'\]"),
)
def _():
    d = _with(z=lambda d: -d.x)
    est = hierreg.HierarchicalRegression(l2_reg=0.1).fit(d[["x", "z"]], d.y, d.g)
    return est.predict(d[["z", "x"]], d.g)


@case(
    "estimator: a missing group with l2_reg='reml'",
    Works(lambda est: np.isfinite(est.coef_).all()),
)
def _():
    d = data()
    g = d.g.astype(float)
    g[:3] = np.nan
    return hierreg.HierarchicalRegression(l2_reg="reml").fit(d[["x"]], d.y, g)


@case(
    "estimator: result_.predict(newdata)",
    Works(lambda ok: ok),
)
def _():
    d = data()
    est = hierreg.HierarchicalRegression(l2_reg=0.1).fit(d[["x"]], d.y, d.g)
    via = est.result_.predict(pd.DataFrame({"x": d.x, "g": d.g}))
    return bool(np.allclose(via, est.predict(d[["x"]], d.g)))


@case("estimator: predict without groups", Raises(ValueError, "fitted with groups"))
def _():
    d = data()
    est = hierreg.HierarchicalRegression(l2_reg=0.1).fit(d[["x"]], d.y, d.g)
    return est.predict(d[["x"]])


# ------------------------------------------------------------------- CLI
def _cli(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = cli_main(list(argv))
        except SystemExit as exc:  # argparse's own usage errors
            code = int(exc.code)
    return code, err.getvalue()


def _cli_case(*argv: str, match: str):
    def run():
        code, err = _cli(*argv)
        assert code == 2, (code, err)
        assert err.startswith("hierreg: error:") or "error:" in err, err
        import re

        assert re.search(match, err), err
        return code

    return run


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    (root / "empty.csv").write_text("")
    (root / "header.csv").write_text("y,x,g\n")
    return root


CLI_CASES = {
    "CLI: an empty CSV": ("empty.csv", "is empty"),
    "CLI: a CSV with a header only": ("header.csv", "header but no rows"),
    "CLI: a directory": (".", "is a directory"),
    "CLI: a missing file": ("nope.csv", "is neither a built-in dataset"),
}


@pytest.mark.parametrize("name", list(CLI_CASES))
def test_cli_files(name, files, monkeypatch):
    monkeypatch.chdir(files)
    path, match = CLI_CASES[name]
    code, err = _cli("fit", "y ~ x + (1 | g)", "--data", path)
    assert code == 2 and err.startswith("hierreg: error:") and match in err, err


case("CLI: --alpha abc", Works(lambda c: c == 2))(
    _cli_case(
        "fit",
        "Reaction ~ Days + (1|Subject)",
        "--data",
        "sleepstudy",
        "--method",
        "regularized",
        "--alpha",
        "abc",
        match="--alpha must be a number",
    )
)
case("CLI: --alpha without --method regularized", Works(lambda c: c == 2))(
    _cli_case(
        "fit",
        "Reaction ~ Days + (1|Subject)",
        "--data",
        "sleepstudy",
        "--alpha",
        "0.1",
        match="no meaning for --method reml",
    )
)
case("CLI: a malformed formula", Works(lambda c: c == 2))(
    _cli_case(
        "fit", "Reaction ~ Days + (1|Subject", "--data", "sleepstudy", match="malformed formula"
    )
)
case("CLI: a missing column", Works(lambda c: c == 2))(
    _cli_case(
        "fit", "Reaction ~ Dayz + (1|Subject)", "--data", "sleepstudy", match="'Dayz'.*not found"
    )
)
case("CLI: an unknown method", Works(lambda c: c == 2))(
    _cli_case(
        "fit",
        "Reaction ~ Days + (1|Subject)",
        "--data",
        "sleepstudy",
        "--method",
        "bayes",
        match="invalid choice",
    )
)


# ---------------------------------------------------------------- runner
@pytest.mark.parametrize("name", list(CASES))
def test_catalogue(name):
    func, outcome = CASES[name]
    if isinstance(outcome, Raises):
        with pytest.raises(outcome.error, match=outcome.match):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                func()
    elif isinstance(outcome, Warns):
        with pytest.warns(outcome.warning, match=outcome.match):
            res = func()
        if outcome.check is not None:
            assert outcome.check(res) is not False
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error", hierreg.HierregWarning)
            res = func()
        assert outcome.check(res) is not False


def test_catalogue_is_large_enough():
    assert len(CASES) + len(CLI_CASES) >= 40
