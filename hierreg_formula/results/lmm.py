"""Results of a REML/ML linear mixed model: statsmodels names, lme4 content.

Example
-------
>>> import hierreg_formula as hierreg
>>> res = hierreg.fit("Reaction ~ Days + (Days | Subject)", hierreg.load_dataset("sleepstudy"))
>>> round(res.reml_criterion, 4)
1743.6283
>>> row = res.varcorr().iloc[0]
>>> row["group"], row["var1"], round(float(row["sd"]), 4)
('Subject', 'Intercept', 24.7405)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..core.lmm import LMMEstimate
from ..formula.blocks import DesignBlocks
from .base import HierarchicalFitBase


class LMMResults(HierarchicalFitBase):
    """A fitted linear mixed model (immutable).

    p-values use the normal approximation (``z = coef / se``, as statsmodels'
    MixedLM); they ignore the uncertainty in the variance parameters, which
    matters with few groups.
    """

    def __init__(
        self,
        *,
        formula: str,
        blocks: DesignBlocks,
        estimate: LMMEstimate,
        dropped_columns: list[str] | None = None,
        data: Any = None,
    ) -> None:
        self._est = estimate
        self._dropped = list(dropped_columns or [])
        super().__init__(
            formula=formula,
            blocks=blocks,
            beta=estimate.beta,
            b=estimate.b,
            method="REML" if estimate.reml else "ML",
            data=data,
        )

    # --------------------------------------------------------------- estimates
    @property
    def estimate(self) -> LMMEstimate:
        """The raw arrays from the numeric core."""
        return self._est

    @property
    def dropped_columns(self) -> list[str]:
        """Fixed-effects columns dropped as linearly dependent."""
        return list(self._dropped)

    def cov_params(self) -> pd.DataFrame:
        """Covariance matrix of the fixed effects (``sigma^2 (R_X'R_X)^{-1}``)."""
        names = self.exog_names
        return pd.DataFrame(self._est.cov_beta, index=names, columns=names)

    @property
    def bse(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self._est.cov_beta)), index=self.exog_names, name="bse")

    @property
    def tvalues(self) -> pd.Series:
        return pd.Series(self._beta / self.bse.values, index=self.exog_names, name="z")

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values from the normal approximation."""
        return pd.Series(
            2.0 * stats.norm.sf(np.abs(self.tvalues.values)), index=self.exog_names, name="P>|z|"
        )

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald confidence intervals (normal quantiles) for the fixed effects."""
        z = stats.norm.ppf(1.0 - alpha / 2.0)
        se = self.bse.values
        return pd.DataFrame({0: self._beta - z * se, 1: self._beta + z * se}, index=self.exog_names)

    @property
    def sigma(self) -> float:
        """Residual standard deviation."""
        return self._est.sigma

    @property
    def scale(self) -> float:
        """Residual variance (statsmodels' ``scale``)."""
        return self._est.sigma**2

    @property
    def theta(self) -> pd.Series:
        """lme4's covariance parameters (lower triangles of the relative factors)."""
        names = []
        for blk in self._blocks.random:
            k = blk.ncols
            for c in range(k):
                for r in range(c, k):
                    nm = blk.names[r] if r == c else f"{blk.names[r]}.{blk.names[c]}"
                    names.append(f"{blk.group}.{nm}")
        return pd.Series(self._est.theta, index=names, name="theta")

    @property
    def reml_criterion(self) -> float:
        """The minimised objective: REML criterion (REML) or deviance (ML)."""
        return self._est.objective

    @property
    def deviance(self) -> float:
        """``-2 llf`` (the REML criterion for REML fits, as lme4's ``REMLcrit``)."""
        return self._est.objective

    @property
    def llf(self) -> float:
        """(Restricted) log-likelihood at the optimum."""
        return -0.5 * self._est.objective

    @property
    def df_modelwc(self) -> int:
        """Number of estimated parameters: fixed effects + theta + sigma."""
        return self._est.p + len(self._est.theta) + 1

    @property
    def aic(self) -> float:
        return -2.0 * self.llf + 2.0 * self.df_modelwc

    @property
    def bic(self) -> float:
        return -2.0 * self.llf + np.log(self.nobs) * self.df_modelwc

    @property
    def converged(self) -> bool:
        return self._est.converged

    @property
    def is_singular(self) -> bool:
        """A relative covariance factor has a (near-)zero diagonal element."""
        return self._est.is_singular

    # ------------------------------------------------------ variance components
    def _block_cov(self, i: int) -> np.ndarray:
        T = self._est.factors[i]
        return self.scale * (T @ T.T)

    @property
    def cov_re(self) -> dict[str, pd.DataFrame]:
        """Per random block label, the covariance matrix of its effects."""
        out = {}
        for i, blk in enumerate(self._blocks.random):
            out[blk.label] = pd.DataFrame(self._block_cov(i), index=blk.names, columns=blk.names)
        return out

    def varcorr(self) -> pd.DataFrame:
        """Variance components as lme4's ``as.data.frame(VarCorr(m))``.

        Columns ``group, var1, var2, variance, sd, corr``: one row per variance
        (``var2`` empty), one per covariance (``variance`` holds the covariance,
        ``corr`` the correlation), and a final ``Residual`` row.
        """
        rows: list[dict[str, Any]] = []
        for i, blk in enumerate(self._blocks.random):
            V = self._block_cov(i)
            sd = np.sqrt(np.diag(V))
            for a, nm in enumerate(blk.names):
                rows.append(
                    dict(
                        group=blk.group, var1=nm, var2=None, variance=V[a, a], sd=sd[a], corr=np.nan
                    )
                )
            for a in range(len(blk.names)):
                for c in range(a + 1, len(blk.names)):
                    denom = sd[a] * sd[c]
                    rows.append(
                        dict(
                            group=blk.group,
                            var1=blk.names[a],
                            var2=blk.names[c],
                            variance=V[a, c],
                            sd=np.nan,
                            corr=V[a, c] / denom if denom > 0 else np.nan,
                        )
                    )
        rows.append(
            dict(
                group="Residual",
                var1=None,
                var2=None,
                variance=self.scale,
                sd=self.sigma,
                corr=np.nan,
            )
        )
        return pd.DataFrame(rows, columns=["group", "var1", "var2", "variance", "sd", "corr"])

    @property
    def random_effects_sd(self) -> dict[str, pd.DataFrame]:
        """Conditional SDs of the random effects (lme4's ``condVar``), per group."""
        sds = [np.sqrt(np.diagonal(c, axis1=1, axis2=2)) for c in self._est.cond_cov]
        return {g: self._group_frame(sds, g) for g in self._groups}

    @property
    def random_effects_cov(self) -> dict[str, np.ndarray]:
        """Per random block label, the ``(L, k, k)`` conditional covariances."""
        return {
            blk.label: c for blk, c in zip(self._blocks.random, self._est.cond_cov, strict=True)
        }

    # ----------------------------------------------------------------- summary
    def tidy(self, alpha: float = 0.05) -> pd.DataFrame:
        """Fixed-effects table: coef, std err, z, p-value, confidence bounds."""
        ci = self.conf_int(alpha)
        return pd.DataFrame(
            {
                "Coef.": self._beta,
                "Std.Err.": self.bse.values,
                "z": self.tvalues.values,
                "P>|z|": self.pvalues.values,
                f"[{alpha / 2:.3f}": ci[0].values,
                f"{1 - alpha / 2:.3f}]": ci[1].values,
            },
            index=self.exog_names,
        )

    def summary(self, alpha: float = 0.05):
        """A statsmodels-style summary (print it, or use ``.tables``)."""
        from .summary import lmm_summary

        return lmm_summary(self, alpha)

    # ---------------------------------------------- comparisons and plots (lazy)
    def compare_mixedlm(self, **kwargs: Any):
        """Fit the same model with statsmodels' MixedLM and compare side by side."""
        from ..compare.mixedlm import compare_results

        return compare_results(self, **kwargs)

    def plot_random_effects(self, **kwargs: Any):
        """Caterpillar plot of the conditional modes with conditional-SD intervals."""
        from ..plots import plot_random_effects

        return plot_random_effects(self, **kwargs)

    def plot_shrinkage(self, **kwargs: Any):
        """Shrinkage of per-level estimates towards the population value."""
        from ..plots import plot_shrinkage

        return plot_shrinkage(self, **kwargs)

    def plot_fit(self, **kwargs: Any):
        """Observed vs fitted lines per level of a grouping factor."""
        from ..plots import plot_fit

        return plot_fit(self, **kwargs)
