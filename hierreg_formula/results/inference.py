"""Small-sample inference on a fitted linear mixed model (lmerTest, pbkrtest, lme4).

:class:`LMMInference` is mixed into :class:`~hierreg_formula.results.lmm.LMMResults`
and wires the numerics of :mod:`hierreg_formula.inference` into the results API:

- ``tidy(ddf=...)``, ``summary(ddf=...)``, ``pvalues``: t tests with Satterthwaite
  (default, as lmerTest) or Kenward-Roger denominator df, or the normal
  approximation (``ddf="normal"``, statsmodels' MixedLM);
  ``cov_params(adjust="kenward-roger")`` the Kenward-Roger adjusted covariance;
- ``anova(type=3 | 1, ddf=...)``: F tests per formula term;
- ``conf_int(level, method="wald" | "profile" | "bootstrap")`` and ``profile()``;
- ``simulate``, ``refit``, ``update``, ``bootstrap`` (parametric, as ``bootMer``);
- ``get_prediction(newdata)`` with ``summary_frame()``, ``icc()``, ``r2()``.

Example
-------
>>> import hierreg_formula as hierreg
>>> res = hierreg.fit("Reaction ~ Days + (Days | Subject)", hierreg.load_dataset("sleepstudy"))
>>> t = res.tidy()
>>> list(t.columns), round(float(t.loc["Days", "df"]), 3)
(['Coef.', 'Std.Err.', 'df', 't', 'P>|t|', '[0.025', '0.975]'], 17.0)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..core.conditional import prediction_variance
from ..core.pls import factorize
from ..core.structure import cross_products, random_part
from ..exceptions import HierregError
from ..inference import (
    ModelArrays,
    fixed_prediction,
    kr_for_estimate,
    kr_t,
    nakagawa_r2,
    parametric_bootstrap,
    profile_confint,
    profile_grid,
    satterthwaite_t,
    simulate_responses,
    varpar_for_estimate,
)
from ..inference.bootstrap import BootstrapResult, replicate_generators
from ..inference.contrasts import (
    fixed_terms_from_spec,
    full_dummy_blocks,
    type1_contrasts,
    type3_contrasts,
)
from ..inference.ftests import anova_frame, anova_tests
from ..inference.qspace import DenseSizeError
from .base import design_terms

DDF = ("satterthwaite", "kenward-roger", "normal")
_ALIASES = {
    "satterthwaite": "satterthwaite",
    "s": "satterthwaite",
    "kenward-roger": "kenward-roger",
    "kenward_roger": "kenward-roger",
    "kr": "kenward-roger",
    "normal": "normal",
    "z": "normal",
    "wald": "normal",
}


def normalize_ddf(ddf: str) -> str:
    key = str(ddf).lower().replace(" ", "-")
    if key not in _ALIASES:
        raise HierregError(f"ddf must be one of {', '.join(DDF)}, got {ddf!r}")
    return _ALIASES[key]


@dataclass(frozen=True)
class PredictionResults:
    """Predictions with their uncertainty (statsmodels' ``get_prediction`` shape).

    ``predicted_mean``, ``se_mean`` and ``summary_frame(alpha)`` with the columns
    ``mean, mean_se, mean_ci_lower, mean_ci_upper, obs_ci_lower, obs_ci_upper``.
    """

    predicted_mean: np.ndarray
    se_mean: np.ndarray
    index: pd.Index
    obs_var: np.ndarray
    df: np.ndarray | float | None

    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Mean, its SE, the confidence interval of the mean and the prediction interval."""
        a = 1.0 - alpha / 2.0
        q = stats.norm.ppf(a) if self.df is None else stats.t.ppf(a, self.df)
        m, se = self.predicted_mean, self.se_mean
        obs = np.sqrt(se**2 + self.obs_var)
        return pd.DataFrame(
            {
                "mean": m,
                "mean_se": se,
                "mean_ci_lower": m - q * se,
                "mean_ci_upper": m + q * se,
                "obs_ci_lower": m - q * obs,
                "obs_ci_upper": m + q * obs,
            },
            index=self.index,
        )


class LMMInference:
    """Inference methods of a fitted linear mixed model (see the module docstring)."""

    #: the denominator df of ``tidy()``, ``summary()`` and ``pvalues`` (lmerTest's choice)
    default_ddf = "satterthwaite"

    # ------------------------------------------------------------ plumbing
    @functools.cached_property
    def _arrays(self) -> ModelArrays:
        pm = getattr(self, "_prepared", None)
        if pm is None:
            raise HierregError("this fit does not keep its model arrays; refit it to use inference")
        return ModelArrays.from_prepared(pm)

    @functools.cached_property
    def _varpar(self):
        return varpar_for_estimate(self._arrays, self._est)

    @functools.cached_property
    def _kr(self):
        return kr_for_estimate(self._arrays, self._est)

    def _names(self) -> tuple[list[str], list[list[str]]]:
        blocks = self.model_blocks
        return [b.group for b in blocks.random], [list(b.names) for b in blocks.random]

    def _ttests(self, ddf: str):
        ddf = normalize_ddf(ddf)
        if ddf == "satterthwaite":
            return satterthwaite_t(self._varpar)
        if ddf == "kenward-roger":
            try:
                return kr_t(self._kr)
            except DenseSizeError as err:
                raise HierregError(f"Kenward-Roger is out of reach for this model: {err}") from err
        return None

    # ------------------------------------------------------- t tests, tables
    def cov_params(self, adjust: str | None = None) -> pd.DataFrame:
        """Covariance of the fixed effects; ``adjust="kenward-roger"`` gives Kenward and
        Roger's small-sample adjusted covariance (pbkrtest's ``vcovAdj``)."""
        names = self.exog_names
        if adjust is None:
            return pd.DataFrame(self._est.cov_beta, index=names, columns=names)
        if normalize_ddf(adjust) != "kenward-roger":
            raise HierregError(f"adjust must be None or 'kenward-roger', got {adjust!r}")
        return pd.DataFrame(self._kr.vcov_adj, index=names, columns=names)

    def df_resid_fixed(self, ddf: str | None = None) -> pd.Series:
        """Denominator df per coefficient (NaN for ``ddf="normal"``)."""
        res = self._ttests(ddf or self.default_ddf)
        df = np.full(len(self.exog_names), np.nan) if res is None else res.df
        return pd.Series(df, index=self.exog_names, name="df")

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values of the fixed effects with the default ddf (Satterthwaite; see
        :meth:`tidy` for the others)."""
        return self.tidy(ddf=self.default_ddf).iloc[:, 4].rename("pvalue")

    def tidy(self, alpha: float = 0.05, ddf: str | None = None) -> pd.DataFrame:
        """One row per fixed effect: ``Coef., Std.Err., df, t, P>|t|`` and the interval.

        ``ddf``: ``"satterthwaite"`` (default, as lmerTest), ``"kenward-roger"`` (Std.Err.
        from the adjusted covariance, as lmerTest with pbkrtest) or ``"normal"`` (columns
        ``z`` and ``P>|z|``, no df).  The interval uses the same t (or normal) quantiles.
        """
        ddf = normalize_ddf(ddf or self.default_ddf)
        lo, hi = f"[{alpha / 2:.3f}", f"{1 - alpha / 2:.3f}]"
        beta = self._beta
        res = self._ttests(ddf)
        if res is None:
            se = self._est.bse
            z = beta / se
            q = stats.norm.ppf(1 - alpha / 2)
            cols = {
                "Coef.": beta,
                "Std.Err.": se,
                "z": z,
                "P>|z|": 2 * stats.norm.sf(np.abs(z)),
                lo: beta - q * se,
                hi: beta + q * se,
            }
        else:
            q = stats.t.ppf(1 - alpha / 2, res.df)
            cols = {
                "Coef.": beta,
                "Std.Err.": res.std_error,
                "df": res.df,
                "t": res.t_value,
                "P>|t|": res.p_value,
                lo: beta - q * res.std_error,
                hi: beta + q * res.std_error,
            }
        return pd.DataFrame(cols, index=self.exog_names)

    def anova(self, type: int | str = 3, ddf: str | None = None) -> pd.DataFrame:
        """F tests per formula term (lmerTest's ``anova(m, type=, ddf=)``).

        Columns ``Sum Sq, Mean Sq, NumDF, DenDF, F value, Pr(>F)``; a factor with several
        columns is one row; the index holds the formula's term names (``recipe``,
        ``temp``, ``recipe:temp``).  ``type`` 3 (default) or 1; ``ddf`` as in :meth:`tidy`
        (Satterthwaite or Kenward-Roger).
        """
        ddf = normalize_ddf(ddf or self.default_ddf)
        if ddf == "normal":
            raise HierregError("anova() needs ddf='satterthwaite' or 'kenward-roger'")
        blocks = self.model_blocks
        spec = getattr(blocks.spec, "fixed_spec", None)
        if spec is None:
            raise HierregError("anova() needs a formula fit (the terms come from the formula)")
        terms, intercept = fixed_terms_from_spec(spec, blocks.x_names)
        kind = str(type)
        if kind in ("3", "III", "iii"):
            data = self.model_data
            if data is None:
                raise HierregError("type III tests need the fitting data; refit with a DataFrame")
            try:
                L = type3_contrasts(blocks.X, terms, full_dummy_blocks(terms, data), intercept)
            except ValueError as err:
                raise HierregError(f"type III contrasts: {err}") from err
        elif kind in ("1", "I", "i"):
            L = type1_contrasts(blocks.X, terms)
        else:
            raise HierregError(f"type must be 1 or 3, got {type!r}")
        if ddf == "satterthwaite":
            tests = anova_tests(L, "satterthwaite", varpar=self._varpar)
        else:
            tests = anova_tests(L, "kenward-roger", kr=self._kr)
        table = anova_frame(tests)
        table.attrs["type"] = int(kind) if kind.isdigit() else (3 if "I" * 3 == kind else 1)
        table.attrs["ddf"] = ddf
        return table

    # ------------------------------------------------------------ intervals
    def conf_int(
        self,
        alpha: float | None = None,
        *,
        level: float = 0.95,
        method: str = "wald",
        nsim: int = 1000,
        seed: int | None = None,
        n_jobs: int = 1,
        progress: bool = True,
    ) -> pd.DataFrame:
        """Confidence intervals.

        ``method="wald"`` (default): the fixed effects with normal quantiles (lme4's
        ``confint(method = "Wald")``, statsmodels' ``conf_int``), columns ``0`` and ``1``.
        ``"profile"`` / ``"bootstrap"``: also the variance parameters, in lme4
        ``confint()``'s row order (per random term its SDs and correlations, ``.sig01,
        .sig02, ...``, then ``.sigma``, then the fixed effects), indexed by readable names
        (``sd_Intercept|Subject``, ``cor_Days.Intercept|Subject``, ``sigma``) with lme4's
        names in the column ``name``; columns ``estimate``, ``lower`` and ``upper``
        (``estimate`` is the point the method starts from: the ML refit for ``"profile"``,
        as lme4 profiles the ML deviance; the fit itself for ``"bootstrap"``).  ``nsim``,
        ``seed``, ``n_jobs`` and ``progress`` are the bootstrap's.  ``alpha`` (the
        statsmodels spelling) overrides ``level`` when given.  The Wald intervals use
        normal quantiles as lme4's ``confint(method = "Wald")``; ``tidy()`` shows the t
        intervals of its ``ddf``.
        """
        if alpha is not None:
            level = 1.0 - alpha
        m = str(method).lower()
        if m == "wald":
            q = stats.norm.ppf(0.5 + level / 2.0)
            se = self._est.bse
            return pd.DataFrame(
                {0: self._beta - q * se, 1: self._beta + q * se}, index=self.exog_names
            )
        if m == "profile":
            groups, cols = self._names()
            ci = profile_confint(
                self._arrays,
                self._est,
                level=level,
                groups=groups,
                columns=cols,
                fixed_names=self.exog_names,
            )
            return _ci_frame(ci.names, ci.readable, ci.estimate, ci.lower, ci.upper)
        if m == "bootstrap":
            boot = self.bootstrap(nsim=nsim, seed=seed, n_jobs=n_jobs, progress=progress)
            lo, hi = boot.confint(level, "perc")
            return _ci_frame(boot.names, boot.readable, boot.estimate, lo, hi)
        raise HierregError(f"method must be 'wald', 'profile' or 'bootstrap', got {method!r}")

    def profile(self, which: Sequence[int | str] | None = None) -> ProfileResults:
        """The likelihood profile of each parameter (lme4's ``profile(m)``): the parameter
        values, the signed square root of the deviance change ``zeta``; ``.plot()`` draws
        lme4's zeta plot."""
        groups, cols = self._names()
        pr, profiles = profile_grid(
            self._arrays, self._est, which, groups, cols, fixed_names=self.exog_names
        )
        names = dict(zip(pr.names, pr.readable, strict=True))
        frames = [
            pd.DataFrame(
                {"parameter": names[p.name], "name": p.name, "value": p.values, "zeta": p.zeta}
            )
            for p in profiles
        ]
        return ProfileResults(pd.concat(frames, ignore_index=True))

    # ----------------------------------------------------- simulate, refit
    def simulate(self, nsim: int = 1, seed: int | None = None) -> pd.DataFrame:
        """Responses simulated from the fitted model (lme4's ``simulate``): new random
        effects and residuals each time, ``(n, nsim)`` with the fitting rows as index."""
        arrays = self._arrays
        sims = simulate_responses(arrays, self._est, replicate_generators(seed, nsim))
        w = getattr(self, "_weights", None)
        if w is not None:  # back from the working scale of prior weights
            sims = sims / np.sqrt(w)[None, :]
        if self._offset is not None:
            sims = sims + self._offset[None, :]
        cols = [f"sim_{i + 1}" for i in range(nsim)]
        return pd.DataFrame(sims.T, index=self.model_blocks.index, columns=cols)

    def refit(self, new_y: Any):
        """The same model refitted to another response (same rows, design and options)."""
        from dataclasses import replace

        y = np.asarray(new_y, dtype=float).reshape(-1)
        if len(y) != self.nobs or not np.isfinite(y).all():
            raise HierregError(f"new_y must have {self.nobs} finite values, one per fitting row")
        refit_blocks = getattr(self, "_refit_blocks", None)
        if refit_blocks is None:
            raise HierregError("this fit cannot be refitted (no driver recorded)")
        return refit_blocks(replace(self._raw_blocks, y=y))

    def bootstrap(
        self,
        nsim: int = 1000,
        statistic: Callable[[Any], np.ndarray] | None = None,
        seed: int | None = None,
        n_jobs: int = 1,
        progress: bool = True,
    ) -> BootstrapResult:
        """Parametric bootstrap (lme4's ``bootMer``): simulate ``nsim`` responses from the fit
        and refit each, reusing the fitted structure (no formula or design rebuild).

        ``statistic`` is a function of the refitted core estimate
        (:class:`~hierreg_formula.core.lmm.LMMEstimate`; default: the SDs and correlations,
        ``sigma`` and the fixed effects in ``confint()``'s order).  Replicate ``i`` uses its
        own stream of ``seed``, so the result depends on the seed only (not on ``n_jobs``).
        ``progress`` shows a tqdm bar on long runs (when tqdm is installed).
        """
        groups, cols = self._names()
        return parametric_bootstrap(
            self._arrays,
            self._est,
            nsim=nsim,
            seed=seed,
            statistic=statistic,
            n_jobs=n_jobs,
            progress=progress and nsim >= 200,
            groups=groups,
            columns=cols,
            fixed_names=self.exog_names,
        )

    # --------------------------------------------------------- predictions
    def get_prediction(
        self,
        newdata: pd.DataFrame | Mapping[str, Any] | None = None,
        include_random: bool = True,
        ddf: str | None = "normal",
    ) -> PredictionResults:
        """Predictions with standard errors and intervals (``summary_frame(alpha)``).

        ``include_random=True`` (default, as :meth:`predict`): the conditional mean
        ``x' beta + z' b`` of each row's levels, with the SE of ``(beta, b)`` given
        ``theta`` (from the penalized least-squares factor; unseen levels get the
        population value and the new-group variance); the prediction interval adds the
        residual variance.  ``include_random=False``: the population mean ``x' beta``
        and its SE; the prediction interval adds the residual variance and the variance
        of the random effects of a new group.
        ``ddf="satterthwaite"`` uses t quantiles with Satterthwaite df for the fixed part.
        """
        blocks = self.model_blocks if newdata is None else self.model_blocks.spec.rebuild(newdata)
        X = blocks.X
        if list(blocks.x_names) != self.exog_names:
            pos = {nm: i for i, nm in enumerate(blocks.x_names)}
            X = X[:, [pos[nm] for nm in self.exog_names]]
        sigmas = [self.scale * (T @ T.T) for T in self._est.factors]
        new_group = np.zeros(blocks.nobs)
        if include_random:
            mean, se, unseen_var = self._conditional_prediction(blocks, X)
            new_group = unseen_var
        else:
            fp = fixed_prediction(X, self._beta, self._est.cov_beta)
            mean, se = fp.mean, fp.se
            for blk, S in zip(blocks.random, sigmas, strict=True):
                new_group = new_group + np.einsum("ij,jk,ik->i", blk.X, S, blk.X)
        offset = blocks.offset if newdata is not None else self._offset
        if offset is not None:
            mean = mean + offset
        df = None
        if ddf is not None and normalize_ddf(ddf) != "normal":
            df = float(np.median(self.df_resid_fixed(ddf)))
        return PredictionResults(mean, se, blocks.index, new_group + self.scale, df)

    def _conditional_prediction(self, blocks: Any, X: np.ndarray):
        """Mean with the levels' effects, its SE given theta, new-group variance of unseen
        levels (see :mod:`hierreg_formula.core.conditional`)."""
        pm = self._prepared
        cp = cross_products(pm.X, np.zeros(pm.nobs), list(pm.terms), weights=pm.weights)
        f = factorize(cp, self._est.factors)
        terms = design_terms(blocks)
        var = prediction_variance(f, X, terms)
        mean = X @ self._beta + random_part(terms, self._b)
        unseen = np.zeros(blocks.nobs)
        for t, T in zip(terms, self._est.factors, strict=True):
            S = self.scale * (T @ T.T)
            new = t.codes < 0
            if new.any():
                unseen[new] += np.einsum("ij,jk,ik->i", t.Xz[new], S, t.Xz[new])
        return mean, self.sigma * np.sqrt(var), unseen

    # ---------------------------------------------------------- ICC and R2
    def r2(self) -> pd.Series:
        """Nakagawa's marginal and conditional R^2 (Nakagawa & Schielzeth 2013; Johnson 2014
        for random slopes)."""
        d = self._decomposition()
        return pd.Series({"marginal": d.r2_marginal, "conditional": d.r2_conditional}, name="R2")

    def icc(self) -> pd.Series:
        """Intraclass correlation: adjusted (random over random + residual variance) and
        conditional (random over total, fixed-effects variance included)."""
        d = self._decomposition()
        return pd.Series({"adjusted": d.icc_adjusted, "conditional": d.icc_conditional}, name="ICC")

    def _decomposition(self):
        blocks = self.model_blocks
        Z = [blk.X for blk in blocks.random]
        S = [self.scale * (T @ T.T) for T in self._est.factors]
        return nakagawa_r2(blocks.X, self._beta, Z, S, var_d=self.scale)


def _ci_frame(names, readable, estimate, lower, upper) -> pd.DataFrame:
    return pd.DataFrame(
        {"name": names, "estimate": estimate, "lower": lower, "upper": upper},
        index=pd.Index(readable, name="parameter"),
    )


@dataclass(frozen=True)
class ProfileResults:
    """A likelihood profile: one row per point (``parameter, name, value, zeta``)."""

    frame: pd.DataFrame

    def plot(self, ax: Any = None):
        """lme4's zeta plot: ``zeta`` against each parameter, one panel per parameter."""
        from ..plots import draw_profile

        return draw_profile(self.frame, ax=ax)
