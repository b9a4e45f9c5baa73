"""Results of a REML/ML linear mixed model: statsmodels names, lme4 content.

Example
-------
>>> import hierreg_formula as hierreg
>>> res = hierreg.fit("Reaction ~ Days + (Days | Subject)", hierreg.load_dataset("sleepstudy"))
>>> round(res.reml_criterion, 4), round(res.deviance, 4)
(1743.6283, 1751.9859)
>>> row = res.varcorr().iloc[0]
>>> row["group"], row["var1"], round(float(row["sd"]), 3)
('Subject', 'Intercept', 24.74)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..core.lmm import LMMEstimate
from ..formula.blocks import DesignBlocks
from .base import MixedResultsBase, theta_names
from .inference import LMMInference
from .varcorr import varcorr_frame


class LMMResults(LMMInference, MixedResultsBase):
    """A fitted linear mixed model (immutable).

    ``tidy()``, ``summary()`` and ``pvalues`` use t tests with Satterthwaite's
    denominator df by default (lmerTest's choice; ``ddf="kenward-roger"`` or
    ``"normal"`` for the others); ``conf_int()`` gives Wald intervals by default
    (``method="profile"`` / ``"bootstrap"`` for the variance parameters too).  The
    criteria (``objective``, ``llf``, ``deviance``, ``reml_criterion``) are defined in
    :mod:`hierreg_formula.results.base`; the inference methods in
    :mod:`hierreg_formula.results.inference`.

    Parameters
    ----------
    formula:
        The model formula.
    blocks:
        The design blocks (random blocks in lme4's order, ``X`` reduced).
    estimate:
        The core's estimate, in the same term order.
    dropped_columns:
        Fixed-effects columns dropped as linearly dependent.
    data, offset, weights:
        The fitting data, offset and prior weights.
    prepared:
        The boundary's prepared model (the arrays behind the fit), for inference.
    """

    def __init__(
        self,
        *,
        formula: str,
        blocks: DesignBlocks,
        estimate: LMMEstimate,
        dropped_columns: tuple[str, ...] | list[str] = (),
        data: Any = None,
        offset: np.ndarray | None = None,
        weights: np.ndarray | None = None,
        offset_argument: bool = False,
        prepared: Any = None,
    ) -> None:
        self._est = estimate
        self._weights = weights
        self._prepared = prepared
        super().__init__(
            formula=formula,
            blocks=blocks,
            beta=estimate.beta,
            b=estimate.b,
            method="REML" if estimate.reml else "ML",
            dropped_columns=dropped_columns,
            data=data,
            offset=offset,
            offset_argument=offset_argument,
        )

    # --------------------------------------------------------------- estimates
    @property
    def estimate(self) -> LMMEstimate:
        """The raw arrays from the numeric core."""
        return self._est

    @property
    def bse(self) -> pd.Series:
        return pd.Series(self._est.bse, index=self.exog_names, name="bse")

    @property
    def sigma(self) -> float:
        """Residual standard deviation."""
        return self._est.sigma

    @property
    def scale(self) -> float:
        """Residual variance (statsmodels' ``scale``)."""
        return float(np.float64(self._est.sigma) ** 2)

    @property
    def weights(self) -> np.ndarray | None:
        """Prior weights of the fit (``None`` when unweighted)."""
        return self._weights

    @property
    def theta(self) -> pd.Series:
        """lme4's covariance parameters (lower triangles of the relative factors)."""
        return pd.Series(self._est.theta, index=theta_names(self._blocks.random), name="theta")

    @property
    def objective(self) -> float:
        """The minimised criterion: the REML criterion (REML) or the deviance (ML)."""
        return self._est.objective

    @property
    def reml_criterion(self) -> float:
        """The REML criterion at the estimates (lme4's ``REMLcrit``; for an ML fit,
        evaluated at the ML estimate)."""
        return self._est.reml_criterion

    @property
    def deviance(self) -> float:
        """``-2 log L`` at the estimates (for REML fits: lme4's ``deviance(m, REML=FALSE)``)."""
        return self._est.ml_deviance

    @property
    def llf(self) -> float:
        """Log-likelihood at the optimum: restricted (REML) or full (ML), as lme4's ``logLik``."""
        return -0.5 * self._est.objective

    @property
    def converged(self) -> bool:
        return self._est.converged

    @property
    def is_singular(self) -> bool:
        """A relative covariance factor has a (near-)zero diagonal element."""
        return self._est.is_singular

    # ------------------------------------------------------ variance components
    @property
    def cov_re(self) -> dict[str, pd.DataFrame]:
        """Per grouping factor, the covariance matrix of its random effects (a factor
        with several terms, ``(x || g)``, has zero covariances between them)."""
        out = {}
        for g, idx in self._groups.items():
            names = list(self.random_effects[g].columns)
            K = len(names)
            V = np.zeros((K, K))
            off = 0
            for i in idx:
                T = self._est.factors[i]
                k = T.shape[0]
                V[off : off + k, off : off + k] = self.scale * (T @ T.T)
                off += k
            out[g] = pd.DataFrame(V, index=names, columns=names)
        return out

    def varcorr(self) -> pd.DataFrame:
        """Variance components as lme4's ``as.data.frame(VarCorr(m))``.

        Columns ``group, var1, var2, variance, sd, corr``: one row per variance
        (``var2`` empty), one per covariance (``variance`` holds the covariance,
        ``corr`` the correlation), and a final ``Residual`` row.  Terms in lme4's order.
        """
        return varcorr_frame(self._blocks.random, self._est.factors, self._est.sigma)

    def _cond_cov_blocks(self) -> list[np.ndarray]:
        return self._est.cond_cov

    @property
    def random_effects_sd(self) -> dict[str, pd.DataFrame]:
        """Conditional SDs of the random effects (lme4's ``condVar``), per group."""
        return {g: self._group_frame(self._est.cond_sd, g) for g in self._groups}

    # ----------------------------------------------------------------- summary
    def summary(self, alpha: float = 0.05, ddf: str | None = None):
        """A statsmodels-style summary (print it, or use ``.tables``); ``ddf`` as in
        :meth:`tidy` (default Satterthwaite)."""
        from .summary import lmm_summary

        return lmm_summary(self, alpha, ddf)

    # ---------------------------------------------- comparisons and plots (lazy)
    def compare_mixedlm(self, **kwargs: Any):
        """Fit the same model with statsmodels' MixedLM and compare side by side."""
        from ..compare.mixedlm import compare_results

        return compare_results(self, **kwargs)

    def pooling_table(self, regularized: Any = None):
        """Complete, no and partial pooling per level (:func:`~hierreg_formula.compare.
        pooling.pooling_table`)."""
        from ..compare.pooling import pooling_table

        return pooling_table(self, regularized)

    def plot_shrinkage(self, group: str | None = None, column: str | None = None, ax: Any = None):
        """Shrinkage of per-level estimates towards the population value."""
        return self.pooling_table().plot(group=group, column=column, ax=ax)
