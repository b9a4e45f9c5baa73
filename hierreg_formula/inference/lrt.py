"""Likelihood-ratio tests between nested models (lme4's ``anova(m0, m1)``).

lme4 compares REML fits after refitting them by maximum likelihood
(:func:`~.refit.refit_ml`), sorts the models by their number of parameters
``npar`` (fixed effects + ``theta`` + ``sigma``) and reports, for each model after
the first, ``Chisq = 2 max(0, logLik_i - logLik_{i-1})`` on ``Df = npar_i -
npar_{i-1}`` degrees of freedom.

Example
-------
>>> r = lrt(loglik0=-897.0393, npar0=4, loglik1=-875.9697, npar1=6)
>>> round(r.chisq, 4), r.df, r.p_value < 1e-9
(42.1392, 2, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..core.lmm import LMMEstimate
from .arrays import ModelArrays


@dataclass(frozen=True)
class LRTResult:
    chisq: float
    df: int
    p_value: float


def lrt(loglik0: float, npar0: int, loglik1: float, npar1: int) -> LRTResult:
    """The likelihood-ratio test of model 0 (fewer parameters) within model 1."""
    df = int(npar1 - npar0)
    chisq = 2.0 * max(0.0, loglik1 - loglik0)
    p = float(stats.chi2.sf(chisq, df)) if df > 0 else float("nan")
    return LRTResult(chisq, df, p)


def loglik(arrays: ModelArrays, est: LMMEstimate) -> float:
    """(Restricted) log-likelihood, with the ``sum(log w)`` term of prior weights (as lme4)."""
    return -0.5 * (est.objective - arrays.log_weights_sum)


def npar(est: LMMEstimate) -> int:
    """Number of parameters: fixed effects, ``theta`` and ``sigma``."""
    return int(est.p + len(est.theta) + 1)


@dataclass(frozen=True)
class ModelComparison:
    """lme4's ``anova()`` table: one entry per model, sorted by ``npar``."""

    names: list[str]
    npar: np.ndarray
    aic: np.ndarray
    bic: np.ndarray
    loglik: np.ndarray
    deviance: np.ndarray
    chisq: np.ndarray
    df: np.ndarray
    p_value: np.ndarray


def compare_models(
    names: Sequence[str], logliks: Sequence[float], npars: Sequence[int], nobs: int
) -> ModelComparison:
    """The table of :func:`lrt` between consecutive models (ML log-likelihoods)."""
    order = np.argsort(np.asarray(npars), kind="stable")
    ll = np.asarray(logliks, dtype=float)[order]
    k = np.asarray(npars, dtype=float)[order]
    chisq = np.full(len(ll), np.nan)
    dfs = np.full(len(ll), np.nan)
    p = np.full(len(ll), np.nan)
    for i in range(1, len(ll)):
        r = lrt(ll[i - 1], int(k[i - 1]), ll[i], int(k[i]))
        chisq[i], dfs[i], p[i] = r.chisq, r.df, r.p_value
    return ModelComparison(
        names=[names[i] for i in order],
        npar=k.astype(int),
        aic=-2.0 * ll + 2.0 * k,
        bic=-2.0 * ll + np.log(nobs) * k,
        loglik=ll,
        deviance=-2.0 * ll,
        chisq=chisq,
        df=dfs,
        p_value=p,
    )
