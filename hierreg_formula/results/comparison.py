"""Comparing fitted models: likelihood-ratio tests (lme4's ``anova(m0, m1)``) and
information criteria.

REML log-likelihoods of models with different fixed effects are not comparable,
so, as lme4 does, REML fits are refitted by maximum likelihood first (the table
says so); the refit reuses the fitted model's arrays (no formula or design
rebuild).

A model without random effects enters as a statsmodels result (``smf.ols(...).fit()`` or
``smf.glm(...).fit()``), as lme4 accepts an ``lm``/``glm`` beside ``lmer`` fits.

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


def _is_statsmodels(res: Any) -> bool:
    """A statsmodels regression or GLM result (a model without random effects)."""
    return not hasattr(res, "model_blocks") and hasattr(getattr(res, "model", None), "endog")


def _statsmodels_loglik(res: Any) -> tuple[float, int]:
    """Maximised log-likelihood and parameter count of a statsmodels OLS/WLS or GLM fit,
    counting the residual SD as a parameter where the model has one (as R's ``logLik``)."""
    k = len(np.asarray(res.params))
    family = getattr(res.model, "family", None)
    if family is None:  # OLS / WLS: statsmodels' llf is the ML one; sigma is estimated
        return float(res.llf), k + 1
    name = type(family).__name__
    if name == "Gaussian":
        # statsmodels' GLM llf uses the Pearson scale, not the ML one: recompute at the MLE
        w = np.asarray(getattr(res.model, "var_weights", 1.0), dtype=float)
        r = np.asarray(res.resid_response, dtype=float)
        n = r.size
        rss = float(np.sum(w * r * r))
        ll = -0.5 * n * (np.log(2.0 * np.pi * rss / n) + 1.0) + 0.5 * float(np.sum(np.log(w)))
        return ll, k + 1
    if name not in ("Binomial", "Poisson"):
        raise HierregError(
            f"anova() takes statsmodels OLS/WLS or GLM fits with a Gaussian, binomial or "
            f"Poisson family; got a {name} GLM (its dispersion is not a fitted parameter)"
        )
    return float(res.llf), k


def _response(res: Any) -> tuple[str, int, np.ndarray]:
    """Response name, number of rows and response values of a fitted model."""
    if _is_statsmodels(res):
        y = np.asarray(res.model.endog, dtype=float)
        if y.ndim == 2 and y.shape[1] == 2:  # binomial (successes, failures): proportions
            with np.errstate(invalid="ignore", divide="ignore"):
                y = np.where(y.sum(axis=1) > 0, y[:, 0] / y.sum(axis=1), 0.0)
        return "", int(res.nobs), y  # statsmodels names a two-column response its own way
    return str(res.endog_name), int(res.nobs), np.asarray(res.model_blocks.y, dtype=float)


def _ml_loglik(res: Any) -> tuple[float, int, bool]:
    """The model's maximised (ML) log-likelihood, its number of parameters, and whether a
    REML fit had to be refitted by ML."""
    if _is_statsmodels(res):
        return (*_statsmodels_loglik(res), False)
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
    name0, n0, y0 = _response(models[0])
    for m in models[1:]:
        name, n, y = _response(m)
        if n != n0 or (name and name0 and name != name0):
            raise HierregError(
                "the models were not fitted to the same data: "
                f"{name0!r} with {n0} rows vs {name!r} with "
                f"{n} rows (refit them on the same rows, e.g. after dropping missing "
                "values from the union of their columns)"
            )
        if y.shape != y0.shape or not np.allclose(y0, y, rtol=0.0, atol=1e-12):
            raise HierregError(
                "the models were not fitted to the same data: their responses differ "
                "(different rows or another response)"
            )


def _names(models: Sequence[Any], names: Sequence[str] | None) -> list[str]:
    if names is not None:
        if len(names) != len(models):
            raise HierregError(f"{len(names)} names for {len(models)} models")
        return list(names)
    out = []
    for i, m in enumerate(models):
        model = m.model if _is_statsmodels(m) else m
        out.append(getattr(model, "formula", None) or f"m{i}")
    return out


def anova(*models: Any, names: Sequence[str] | None = None) -> ModelComparisonTable:
    """Likelihood-ratio tests between nested models (lme4's ``anova(m0, m1, ...)``).

    Rows ordered by the number of parameters; each model is tested against the one
    before it: ``Chisq = 2 (logLik_1 - logLik_0)`` on ``Df = npar_1 - npar_0``.  REML
    fits are refitted by ML first (a note says so).  The models must be fitted to the
    same rows and response.  A model without random effects is a statsmodels OLS/WLS or
    GLM (binomial, Poisson, Gaussian) result, its residual SD counted as a parameter.

    Example
    -------
    >>> import statsmodels.formula.api as smf
    >>> import hierreg_formula as hierreg
    >>> df = hierreg.load_dataset("sleepstudy")
    >>> m1 = hierreg.fit("Reaction ~ Days + (Days | Subject)", df)
    >>> tab = anova(smf.ols("Reaction ~ Days", df).fit(), m1)
    >>> round(float(tab["Chisq"].iloc[1]), 2)  # lme4: 148.35
    148.35
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
    if any(_is_statsmodels(m) for m in models):
        notes.append(
            "a model without random effects tests variances on the boundary (zero): the "
            "chi-square p-value is conservative (Self & Liang 1987)"
        )
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
            value, npar = (
                _statsmodels_loglik(m) if _is_statsmodels(m) else (float(m.llf), int(m.df_modelwc))
            )
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
