"""Comparing fitted models: likelihood-ratio tests (lme4's ``anova(m0, m1)``) and
information criteria.

REML log-likelihoods of models with different fixed effects are not comparable,
so, as lme4 does, REML fits are refitted by maximum likelihood first (the table
says so); the refit reuses the fitted model's arrays (no formula or design
rebuild).

Example
-------
>>> import hierreg_formula as hierreg
>>> df = hierreg.load_dataset("sleepstudy")
>>> m0 = hierreg.fit("Reaction ~ Days + (1 | Subject)", df)
>>> m1 = hierreg.fit("Reaction ~ Days + (Days | Subject)", df)
>>> tab = anova(m0, m1)
>>> round(float(tab.table["Chisq"].iloc[1]), 3), int(tab.table["Df"].iloc[1])
(42.139, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..exceptions import HierregError
from ..inference.lrt import loglik as _arrays_loglik
from ..inference.refit import refit_ml

COLUMNS = ["npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "Pr(>Chisq)"]


@dataclass(frozen=True)
class ModelComparisonTable:
    """A table of fitted models (one row each) and the notes that go with it."""

    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, key: Any) -> Any:
        return self.table[key]

    def __str__(self) -> str:
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            body = self.table.to_string(float_format=lambda v: f"{v:.6g}", na_rep="")
        return "\n".join([*self.notes, body])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        notes = "".join(f"<p>{n}</p>" for n in self.notes)
        return notes + self.table.to_html(float_format=lambda v: f"{v:.6g}", na_rep="")


def _ml_loglik(res: Any) -> tuple[float, int, bool]:
    """The model's maximised (ML) log-likelihood, its number of parameters, and whether a
    REML fit had to be refitted by ML."""
    method = str(getattr(res, "method", ""))
    npar = int(res.df_modelwc)
    if method == "REML":
        arrays = res._arrays
        ml = refit_ml(arrays, res.estimate)
        return float(_arrays_loglik(arrays, ml)), npar, True
    if method == "regularized":
        raise HierregError("a penalized (regularized) fit has no likelihood to compare")
    return float(res.llf), npar, False


def _same_data(models: Sequence[Any]) -> None:
    first = models[0]
    y0 = np.asarray(first.model_blocks.y)
    for m in models[1:]:
        y = np.asarray(m.model_blocks.y)
        if m.nobs != first.nobs or m.endog_name != first.endog_name:
            raise HierregError(
                "the models were not fitted to the same data: "
                f"{first.endog_name!r} with {first.nobs} rows vs {m.endog_name!r} with "
                f"{m.nobs} rows (refit them on the same rows, e.g. after dropping missing "
                "values from the union of their columns)"
            )
        if not np.array_equal(y0, y):
            raise HierregError(
                "the models were not fitted to the same data: their responses differ "
                "(different rows or another response)"
            )


def _names(models: Sequence[Any], names: Sequence[str] | None) -> list[str]:
    if names is not None:
        if len(names) != len(models):
            raise HierregError(f"{len(names)} names for {len(models)} models")
        return list(names)
    return [getattr(m, "formula", f"m{i}") or f"m{i}" for i, m in enumerate(models)]


def anova(*models: Any, names: Sequence[str] | None = None) -> ModelComparisonTable:
    """Likelihood-ratio tests between nested models (lme4's ``anova(m0, m1, ...)``).

    Rows ordered by the number of parameters; each model is tested against the one
    before it: ``Chisq = 2 (logLik_1 - logLik_0)`` on ``Df = npar_1 - npar_0``.  REML
    fits are refitted by ML first (a note says so).  The models must be fitted to the
    same rows and response.
    """
    if len(models) < 2:
        raise HierregError("anova() compares two or more fitted models")
    _same_data(models)
    labels = _names(models, names)
    rows = [_ml_loglik(m) for m in models]
    order = np.argsort([r[1] for r in rows], kind="stable")
    n = models[0].nobs
    ll = np.array([rows[i][0] for i in order])
    k = np.array([rows[i][1] for i in order], dtype=float)
    chisq = np.full(len(ll), np.nan)
    df = np.full(len(ll), np.nan)
    p = np.full(len(ll), np.nan)
    for i in range(1, len(ll)):
        df[i] = k[i] - k[i - 1]
        chisq[i] = max(0.0, 2.0 * (ll[i] - ll[i - 1]))
        p[i] = stats.chi2.sf(chisq[i], df[i]) if df[i] > 0 else np.nan
    table = pd.DataFrame(
        {
            "npar": k.astype(int),
            "AIC": -2.0 * ll + 2.0 * k,
            "BIC": -2.0 * ll + np.log(n) * k,
            "logLik": ll,
            "deviance": -2.0 * ll,
            "Chisq": chisq,
            "Df": df,
            "Pr(>Chisq)": p,
        },
        index=pd.Index([labels[i] for i in order], name="model"),
    )[COLUMNS]
    notes = []
    if any(r[2] for r in rows):
        notes.append("refitting model(s) with ML (instead of REML)")
    return ModelComparisonTable(table, notes)


def compare_models(
    *models: Any, names: Sequence[str] | None = None, refit_ml: bool = True
) -> ModelComparisonTable:
    """AIC / BIC / log-likelihood of several models on the same data (nested or not).

    With ``refit_ml=True`` (default) REML fits are compared at their ML refits, as
    :func:`anova` does; ``False`` keeps each model's own criterion (only valid between
    REML fits with the same fixed effects).
    """
    if not models:
        raise HierregError("compare_models() needs at least one fitted model")
    _same_data(models)
    labels = _names(models, names)
    ll, k, notes = [], [], []
    for m in models:
        if refit_ml:
            value, npar, refitted = _ml_loglik(m)
            if refitted and not notes:
                notes.append("REML fits compared at their ML refits")
        else:
            value, npar = float(m.llf), int(m.df_modelwc)
        ll.append(value)
        k.append(npar)
    ll_a, k_a = np.array(ll), np.array(k, dtype=float)
    n = models[0].nobs
    table = pd.DataFrame(
        {
            "npar": k_a.astype(int),
            "AIC": -2.0 * ll_a + 2.0 * k_a,
            "BIC": -2.0 * ll_a + np.log(n) * k_a,
            "logLik": ll_a,
        },
        index=pd.Index(labels, name="model"),
    )
    table["dAIC"] = table["AIC"] - table["AIC"].min()
    return ModelComparisonTable(table, notes)
