"""Fit a generalized linear mixed model by maximum likelihood, as lme4's ``glmer``.

:func:`fit_glmm` checks the input, picks the family (:mod:`.families`) and runs
the two stages of :mod:`.glmm` (or the negative binomial's outer optimisation,
:mod:`.negbin`).

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.structure import TermArrays
>>> rng = np.random.default_rng(1)
>>> g = np.repeat(np.arange(30), 20)
>>> eta = -0.5 + rng.normal(size=30)[g]
>>> y = (rng.uniform(size=600) < 1 / (1 + np.exp(-eta))).astype(float)
>>> est = fit_glmm(np.ones((600, 1)), y, [TermArrays(g, 30, np.ones((600, 1)))], "binomial")
>>> est.converged, est.family
(True, 'binomial/logit')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..exceptions import ConvergenceWarning, DataError, EstimationError, warn
from .families import get_family
from .glmm import MAX_NAGQ, GLMMEstimate, GLMMProblem, estimate_at, fit_stages
from .negbin import fit_glmm_nb
from .pirls import GLMMData
from .structure import TermArrays


def _check_inputs(
    X: np.ndarray,
    y: np.ndarray,
    terms: Sequence[TermArrays],
    weights: np.ndarray | None,
    offset: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    n = len(y)
    if X.ndim != 2 or X.shape[0] != n:
        raise DataError(f"X must be (n, p) with n = {n} rows, got {X.shape}")
    if not np.isfinite(X).all():
        raise DataError("X has non-finite values (NaN or inf)")
    if not terms:
        raise EstimationError("a GLMM needs at least one random-effects term")
    for t in terms:
        if len(t.codes) != n or t.Xz.shape[0] != n:
            raise DataError("every random-effects term needs one code and one row per observation")
    w = None if weights is None else np.asarray(weights, dtype=float).reshape(-1)
    if w is not None and len(w) != n:
        raise DataError(f"weights has {len(w)} values for {n} rows")
    o = None if offset is None else np.asarray(offset, dtype=float).reshape(-1)
    if o is not None:
        if len(o) != n:
            raise DataError(f"offset has {len(o)} values for {n} rows")
        if not np.isfinite(o).all():
            raise DataError("offset has non-finite values (NaN or inf)")
    return X, y, w, o


def check_nagq(nagq: int, terms: Sequence[TermArrays]) -> int:
    """Validate ``nagq`` (0, 1, or 2..25 with a single scalar term)."""
    if isinstance(nagq, bool) or int(nagq) != nagq or nagq < 0:
        raise ValueError(f"nagq must be a non-negative integer, got {nagq!r}")
    nagq = int(nagq)
    if nagq > MAX_NAGQ:
        raise ValueError(f"nagq must be at most {MAX_NAGQ} (lme4's limit), got {nagq}")
    if nagq > 1 and not (len(terms) == 1 and terms[0].k == 1):
        raise EstimationError(
            f"nagq = {nagq} (adaptive Gauss-Hermite quadrature) needs a single scalar "
            "random-effects term such as (1 | g); this model has "
            + ", ".join(f"a term with {t.k} column(s)" for t in terms)
            + ": use nagq = 1 (Laplace)"
        )
    return nagq


def fit_glmm(
    X: np.ndarray,
    y: np.ndarray,
    terms: Sequence[TermArrays],
    family: str | Any,
    weights: np.ndarray | None = None,
    offset: np.ndarray | None = None,
    nagq: int = 1,
    cov: str = "hessian",
    theta0: np.ndarray | None = None,
    nb_theta: float | None = None,
    xtol: float = 1e-8,
    ftol: float = 1e-11,
    maxeval: int = 10_000,
) -> GLMMEstimate:
    """Fit a GLMM by maximum likelihood (Laplace, or AGQ with ``nagq > 1``) as lme4's glmer.

    Parameters
    ----------
    X, y:
        ``(n, p)`` full-rank fixed-effects matrix and response (binomial: 0/1, or
        proportions with the numbers of trials as ``weights``).
    terms:
        Random-effects terms, the one with the most levels first (lme4's order).
    family:
        ``"binomial"``, ``"poisson"``, ``"negative_binomial"`` (its ``theta``
        estimated as ``glmer.nb`` does unless ``nb_theta`` is given), ``"gamma"``,
        ``"inverse_gaussian"`` or a statsmodels family instance (its link is used).
    weights, offset:
        Prior weights and offset (``None``: ones, zeros).
    nagq:
        ``1``: Laplace; ``0``: lme4's ``nAGQ = 0`` (``beta`` from PIRLS);
        ``2..25``: adaptive Gauss-Hermite quadrature (single scalar term only).
    cov:
        ``"hessian"`` (default, lme4's): standard errors from the finite-difference
        Hessian in ``(theta, beta)``; ``"rx"``: ``(R_X' R_X)^-1`` (cheaper, ignores the
        uncertainty of ``theta``).
    theta0:
        Starting ``theta`` (default: identity factors, as lme4).
    xtol, ftol, maxeval:
        BOBYQA's absolute tolerances (``xtol`` on ``theta`` and on ``beta`` in units
        of its standard error) and evaluation limit.
    """
    fam = get_family(family, nb_theta=nb_theta)
    X, y, w, o = _check_inputs(X, y, terms, weights, offset)
    nagq = check_nagq(nagq, terms)
    if cov not in ("hessian", "rx"):
        raise ValueError("cov must be 'hessian' or 'rx'")
    if fam.name == "gaussian" and fam.link.name == "identity":
        raise EstimationError(
            "a Gaussian family with the identity link is a linear mixed model: fit it with "
            "fit_lmm (REML or ML), as lme4's glmer hands it to lmer"
        )
    fam.validate(y, w)
    if fam.name == "negative_binomial" and fam.nb_theta is None:
        return fit_glmm_nb(X, y, terms, fam, w, o, nagq, cov, theta0, xtol, ftol, maxeval)
    data = GLMMData(X, y, tuple(terms), fam, w, o)
    prob = GLMMProblem(data, nagq)
    theta, beta, ok, msg = fit_stages(prob, theta0, None, xtol, ftol, maxeval)
    if not ok:
        warn(f"the GLMM optimiser did not converge ({msg})", ConvergenceWarning)
    return estimate_at(prob, theta, beta, cov=cov, converged=ok, message=msg)
