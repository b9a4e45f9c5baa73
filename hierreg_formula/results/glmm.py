"""Results of a generalized linear mixed model (lme4's ``glmer``), in the shared vocabulary.

Criteria (see :mod:`hierreg_formula.results.base`): ``objective`` is what lme4
minimises (the Laplace ``-2 log L`` with all constants; for ``nagq > 1`` lme4's
quadrature deviance, which leaves out the saturated model's constant); ``llf`` is the
log-likelihood *with* every constant for every ``nagq`` (so fits with different
``nagq`` compare; for ``nagq > 1`` lme4's ``logLik`` is ``llf`` plus half that
constant, given by ``saturated_constant``); ``deviance = -2 llf``.  lme4's
``deviance()`` of a GLMM, the sum of the squared deviance residuals, is
``deviance_residuals_sum``.  Standard errors come from lme4's finite-difference
Hessian in ``(theta, beta)`` by default (``cov_params(kind="rx")`` for the
``(R_X'R_X)^{-1}`` version); tests are Wald z tests.

Example
-------
>>> import hierreg_formula as hierreg
>>> res = hierreg.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)",
...                   hierreg.load_dataset("cbpp"), family="binomial")
>>> round(res.objective, 4), res.family
(184.0526, 'binomial/logit')
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ..core.families import Family
from ..core.glmm import GLMMEstimate
from ..exceptions import HierregError
from ..formula.blocks import DesignBlocks
from .base import MixedResultsBase, theta_names
from .glmm_inference import GLMMInference
from .varcorr import varcorr_frame

TYPES = ("response", "link")
RESIDUALS = ("response", "pearson", "deviance", "working")


class GLMMResults(GLMMInference, MixedResultsBase):
    """A fitted generalized linear mixed model (immutable).

    Parameters
    ----------
    formula, blocks, dropped_columns, data, offset, offset_argument:
        As for :class:`~hierreg_formula.results.base.MixedResultsBase`.
    estimate:
        The core's :class:`~hierreg_formula.core.glmm.GLMMEstimate`.
    family:
        The fitted :class:`~hierreg_formula.core.families.Family` (with its link; the
        negative binomial's estimated shape).
    weights:
        Prior weights (binomial: the trials).
    labels:
        ``(failure, success)`` labels of a two-label binomial response.
    prepared:
        The boundary's prepared model (the arrays behind the fit), for inference.
    """

    def __init__(
        self,
        *,
        formula: str,
        blocks: DesignBlocks,
        estimate: GLMMEstimate,
        family: Family,
        dropped_columns: tuple[str, ...] | list[str] = (),
        data: Any = None,
        offset: np.ndarray | None = None,
        weights: np.ndarray | None = None,
        offset_argument: bool = False,
        labels: tuple[Any, Any] | None = None,
        prepared: Any = None,
    ) -> None:
        self._est = estimate
        self._prepared = prepared
        self._fam = family
        self._weights = weights
        self._labels = labels
        super().__init__(
            formula=formula,
            blocks=blocks,
            beta=estimate.beta,
            b=estimate.b,
            method=f"ML ({'Laplace' if estimate.nagq == 1 else _nagq_label(estimate.nagq)})",
            dropped_columns=dropped_columns,
            data=data,
            offset=offset,
            offset_argument=offset_argument,
        )

    # --------------------------------------------------------------- model
    @property
    def estimate(self) -> GLMMEstimate:
        """The raw arrays from the numeric core."""
        return self._est

    @property
    def family(self) -> str:
        """``"<distribution>/<link>"``, e.g. ``"binomial/logit"``."""
        return str(self._fam)

    @property
    def family_object(self) -> Family:
        return self._fam

    @property
    def nagq(self) -> int:
        """Quadrature points: 1 Laplace, 0 lme4's ``nAGQ = 0``, > 1 adaptive Gauss-Hermite."""
        return self._est.nagq

    @property
    def nb_theta(self) -> float | None:
        """The negative binomial's shape (``V = mu + mu^2 / theta``), else None."""
        return self._est.nb_theta

    @property
    def weights(self) -> np.ndarray | None:
        return self._weights

    @property
    def classes_(self) -> tuple[Any, Any] | None:
        """``(failure, success)`` labels of a two-label binomial response."""
        return self._labels

    # ------------------------------------------------------------- criteria
    @property
    def objective(self) -> float:
        """What lme4 minimises (see the module docstring)."""
        return self._est.objective

    @property
    def saturated_constant(self) -> float:
        """``objective_full - objective``: 0 for Laplace and ``nagq = 0``; for ``nagq > 1``
        the saturated model's ``-2 log L``, which lme4's quadrature deviance leaves out."""
        return float(self._est.objective_full - self._est.objective)

    @property
    def llf(self) -> float:
        """Log-likelihood with every constant (Laplace or quadrature approximation)."""
        return -0.5 * self._est.objective_full

    @property
    def deviance(self) -> float:
        """``-2 llf``."""
        return float(self._est.objective_full)

    @property
    def deviance_residuals_sum(self) -> float:
        """lme4's ``deviance()`` of a GLMM: the sum of the squared deviance residuals."""
        return self._est.deviance_residual_sum

    @property
    def df_modelwc(self) -> int:
        """Estimated parameters: fixed effects, theta (and the negative binomial's shape)."""
        nb = 1 if self._est.nb_theta is not None and self._nb_estimated else 0
        return len(self._beta) + len(self._est.theta) + nb

    @property
    def _nb_estimated(self) -> bool:
        return bool(getattr(self, "_nb_free", True))

    @property
    def converged(self) -> bool:
        return self._est.converged

    @property
    def is_singular(self) -> bool:
        return bool(self._est.singular_terms)

    @property
    def theta(self) -> pd.Series:
        return pd.Series(self._est.theta, index=theta_names(self._blocks.random), name="theta")

    # ------------------------------------------------------- fixed effects
    def cov_params(self, kind: str | None = None) -> pd.DataFrame:
        """Covariance of the fixed effects: ``"hessian"`` (lme4's default) or ``"rx"``
        (``(R_X'R_X)^{-1}`` at the modes); default: the fit's (``cov=`` in ``fit``)."""
        kind = kind or self._est.cov_method
        if kind == "hessian":
            C = self._est.cov_beta_hessian
            if C is None:
                raise HierregError("no Hessian-based covariance for this fit (nagq=0, or cov='rx')")
        elif kind == "rx":
            C = self._est.cov_beta_rx
        else:
            raise HierregError(f"kind must be 'hessian' or 'rx', got {kind!r}")
        names = self.exog_names
        return pd.DataFrame(C, index=names, columns=names)

    @property
    def bse(self) -> pd.Series:
        return pd.Series(self._est.bse, index=self.exog_names, name="bse")

    # ----------------------------------------------------- random effects
    def varcorr(self) -> pd.DataFrame:
        """Variance components as lme4's ``as.data.frame(VarCorr(m))`` (no residual row:
        the family fixes the scale)."""
        vc = varcorr_frame(self._blocks.random, self._est.factors, 1.0)
        return vc[vc["group"] != "Residual"].reset_index(drop=True)

    def _cond_cov_blocks(self) -> list[np.ndarray]:
        return self._est.cond_cov

    @property
    def random_effects_sd(self) -> dict[str, pd.DataFrame]:
        return {g: self._group_frame(self._est.cond_sd, g) for g in self._groups}

    # ---------------------------------------------------- fitted, residuals
    @property
    def fittedvalues(self) -> pd.Series:
        """Fitted means (response scale, with the random effects; lme4's ``fitted``)."""
        return pd.Series(self._est.mu, index=self._blocks.index, name="fitted")

    @property
    def linear_predictor(self) -> pd.Series:
        """The fitted linear predictor (link scale, offset included)."""
        return pd.Series(self._est.eta, index=self._blocks.index, name="eta")

    def residuals(self, type: str = "deviance") -> pd.Series:
        """Residuals as lme4's ``residuals(m, type=)``: ``"deviance"`` (default),
        ``"pearson"``, ``"response"`` or ``"working"`` (prior weights as lme4)."""
        if type not in RESIDUALS:
            raise HierregError(f"type must be one of {RESIDUALS}, got {type!r}")
        y, mu, eta = self._blocks.y, self._est.mu, self._est.eta
        w = np.ones_like(y) if self._weights is None else self._weights
        fam = self._fam
        if type == "response":
            r = y - mu
        elif type == "pearson":
            r = np.sqrt(w) * (y - mu) / np.sqrt(fam.variance(mu))
        elif type == "deviance":
            r = np.sign(y - mu) * np.sqrt(np.maximum(fam.dev_resids(y, mu, w), 0.0))
        else:
            r = (y - mu) / fam.link.mu_eta(eta)
        return pd.Series(r, index=self._blocks.index, name=f"resid_{type}")

    @property
    def resid(self) -> pd.Series:
        """Response residuals ``y - fitted`` (statsmodels' ``resid_response``)."""
        return self.residuals("response")

    @property
    def resid_pearson(self) -> pd.Series:
        return self.residuals("pearson")

    @property
    def resid_deviance(self) -> pd.Series:
        return self.residuals("deviance")

    # ------------------------------------------------------------ predict
    def predict(
        self,
        newdata: pd.DataFrame | Mapping[str, Any] | None = None,
        include_random: bool = True,
        offset: Any = None,
        type: str = "response",
    ) -> pd.Series:
        """Predictions on ``newdata`` (default: the fitting rows): ``type="response"``
        (means, default) or ``"link"``.  Unseen levels get the population value
        (lme4's ``allow.new.levels = TRUE``); ``include_random=False`` is ``re.form = NA``."""
        if type not in TYPES:
            raise HierregError(f"type must be 'response' or 'link', got {type!r}")
        eta, index = self._linear_predictor(newdata, include_random, offset)
        out = eta if type == "link" else self._fam.link.linkinv(eta)
        return pd.Series(out, index=index, name="predicted")

    # ------------------------------------------------------------ summary
    def summary(self, alpha: float = 0.05):
        """A statsmodels-style summary (print it, or use ``.tables``)."""
        from .summary import glmm_summary

        return glmm_summary(self, alpha)

    def compare_mixedlm(self, **kwargs: Any):
        """Not available: statsmodels has no frequentist GLMM to compare with."""
        from ..compare.mixedlm import NotExpressibleError

        raise NotExpressibleError(
            "statsmodels has no maximum-likelihood GLMM (only variational Bayes "
            "BinomialBayesMixedGLM/PoissonBayesMixedGLM, whose estimates are posterior "
            "approximations, not lme4's Laplace fit): there is nothing comparable"
        )

    # -------------------------------------------------------------- ICC and R2
    def r2(self, method: str = "lognormal") -> pd.Series:
        """Nakagawa's marginal and conditional R^2 on the latent (link) scale (Nakagawa,
        Johnson & Schielzeth 2017; Johnson 2014 for random slopes).

        The observation-level variance ``Var_D``: binomial ``pi^2 / 3`` (logit), ``1``
        (probit), ``pi^2 / 6`` (cloglog); Poisson with the log link from ``lambda =
        exp(beta_0 + Var_R / 2)`` of the null model (the same random terms, offset and
        weights with an intercept only, fitted here): ``method="lognormal"``
        ``log(1 + 1 / lambda)`` (the paper's recommendation), ``"delta"`` ``1 / lambda``,
        ``"trigamma"`` ``trigamma(lambda)``.  Other families raise :class:`HierregError`.

        >>> import hierreg_formula as hierreg
        >>> res = hierreg.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...                   hierreg.load_dataset("cbpp"), family="binomial")
        >>> res.r2().round(4).tolist()
        [0.0854, 0.1873]
        """
        d = self._decomposition(method)
        return pd.Series({"marginal": d.r2_marginal, "conditional": d.r2_conditional}, name="R2")

    def icc(self, method: str = "lognormal") -> pd.Series:
        """Intraclass correlation on the latent scale: adjusted (``Var_R / (Var_R + Var_D)``)
        and conditional (over the total with the fixed effects' variance); ``Var_D`` as in
        :meth:`r2`."""
        d = self._decomposition(method)
        return pd.Series({"adjusted": d.icc_adjusted, "conditional": d.icc_conditional}, name="ICC")

    def _random_parts(self, est: GLMMEstimate, blocks: DesignBlocks):
        return [blk.X for blk in blocks.random], [T @ T.T for T in est.factors]

    def _decomposition(self, method: str):
        from ..inference.r2 import nakagawa_r2

        fam = self._fam
        link = fam.link.name
        if method not in ("lognormal", "delta", "trigamma"):
            raise HierregError(f"method must be 'lognormal', 'delta' or 'trigamma', got {method!r}")
        if fam.name == "binomial" and link in _BINOMIAL_VAR_D:
            var_d = _BINOMIAL_VAR_D[link]
        elif fam.name == "poisson" and link == "log":
            lam = self._null_lambda()
            if method == "lognormal":
                var_d = float(np.log1p(1.0 / lam))
            elif method == "delta":
                var_d = 1.0 / lam
            else:
                from scipy.special import polygamma

                var_d = float(polygamma(1, lam))
        else:
            raise HierregError(
                f"Nakagawa's R^2 and the ICC are defined here for binomial (logit, probit, "
                f"cloglog) and Poisson (log) GLMMs, not {self.family}"
            )
        blocks = self.model_blocks
        Z, S = self._random_parts(self._est, blocks)
        return nakagawa_r2(blocks.X, self._beta, Z, S, var_d=var_d)

    def _null_lambda(self) -> float:
        """``exp(beta_0 + Var_R / 2)`` of the intercept-only model with the same random
        terms, offset and weights (Nakagawa, Johnson & Schielzeth 2017)."""
        cached = getattr(self, "_null_lambda_value", None)
        if cached is not None:
            return cached
        refit = getattr(self, "_refit_blocks", None)
        if refit is None:
            raise HierregError("the null model cannot be fitted (no driver recorded)")
        from ..inference.r2 import random_variance

        raw = self._raw_blocks
        null_blocks = replace(raw, X=np.ones((raw.X.shape[0], 1)), x_names=["Intercept"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the null model's own warnings are not the user's
            null = refit(null_blocks)
        Z, S = self._random_parts(null._est, null.model_blocks)
        var_r = float(sum(random_variance(Z, S)))
        lam = float(np.exp(null._beta[0] + var_r / 2.0))
        object.__setattr__(self, "_null_lambda_value", lam)
        return lam


#: latent-scale variance of the binomial's links (Nakagawa, Johnson & Schielzeth 2017)
_BINOMIAL_VAR_D = {"logit": float(np.pi**2 / 3.0), "probit": 1.0, "cloglog": float(np.pi**2 / 6.0)}


def _nagq_label(nagq: int) -> str:
    return "nAGQ=0" if nagq == 0 else f"adaptive Gauss-Hermite, {nagq} points"
