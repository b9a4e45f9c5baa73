"""The regularized mode from a formula: ``hierreg.fit(..., method="regularized")``.

The random-effects terms of the formula are hierreg's group deviations:
``y ~ x1 + x2 + (1 + x1 + x2 | school)`` is hierreg's model with deviations of
the intercept and both slopes by school (hierreg itself puts deviations on every
column; here the formula says which).

Ridge penalty = mixed model with a fixed variance ratio
------------------------------------------------------
The squared loss with a ridge penalty,

    (1/n) ||y - X w - Z v||^2 + alpha ||d * v||^2,

times ``n`` is the penalized least-squares (PLS) problem that a linear mixed
model solves for a given relative covariance factor ``Lambda`` (``v = Lambda u``,
penalty ``||u||^2``), with ``Lambda_k = I / (sqrt(n alpha) d_k)`` for level
``k``: the deviations of level ``k`` have the prior ``N(0, sigma^2 / (n alpha
d_k^2) I)``.  hierreg's ``alpha`` with its ``nw`` weights (``d_k`` proportional to
``1/n_k``) is therefore a mixed model whose variance ratio differs by level
(it grows as ``n_k^2``: large groups are barely shrunk), fixed by ``alpha``
instead of estimated; with ``weight_by_nobs=False`` and one scalar term,
``alpha = sigma^2 / (n sigma_b^2)``.  Hence the two automatic choices:

- ``alpha="reml"`` estimates the ratio by REML (same formula) and uses the
  fitted factor ``T`` (``Sigma / sigma^2 = T T'``) as ``Lambda`` for every level,
  with no ``nw`` weights: the deviations are exactly the mixed model's
  conditional modes (BLUPs) and ``w`` its fixed effects.
- ``alpha="cv"`` keeps hierreg's penalty and picks ``alpha`` by K-fold
  cross-validation with each group's rows split across the folds
  (``res.cv_results_`` holds the curve), then refits on all rows.

Example
-------
>>> import hierreg_formula as hierreg
>>> df = hierreg.load_dataset("sleepstudy")
>>> res = fit_regularized("Reaction ~ Days + (Days | Subject)", df, alpha="reml")
>>> lmm = hierreg.fit("Reaction ~ Days + (Days | Subject)", df)
>>> bool(abs(res.params["Days"] - lmm.params["Days"]) < 1e-8)
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..core.lmm import LMMProblem
from ..core.theta import ThetaMap
from ..exceptions import ConvergenceWarning, DataError, EstimationError, HierregError, warn
from ..formula import build_design
from ..formula.blocks import DesignBlocks
from ..models.prepare import check_mixed_model, prepare
from ..models.response import binomial_design
from ..results.regularized import RegularizedResults
from ..threads import blas_threads_limited
from .convex import solve_cvxpy
from .cv import cv_curve, default_alphas
from .logistic import solve_logistic
from .penalty import group_weights
from .squared import solve_squared, solve_with_factors

LOSSES = ("squared", "norm")
FAMILIES = ("gaussian", "binomial")


def _check_options(alpha, loss, family, l1, linf, main_l2, cv) -> None:
    if family not in FAMILIES:
        raise HierregError(f"family must be 'gaussian' or 'binomial', got {family!r}")
    if loss not in LOSSES:
        raise HierregError(f"loss must be 'squared' or 'norm', got {loss!r}")
    for name, val in (("l1", l1), ("linf", linf), ("main_l2", main_l2)):
        if not (np.isscalar(val) and float(val) >= 0):
            raise HierregError(f"{name} must be a number >= 0, got {val!r}")
    if isinstance(alpha, str):
        if alpha not in ("cv", "reml"):
            raise HierregError(f"alpha must be a number > 0, 'cv' or 'reml', got {alpha!r}")
        if alpha == "cv" and not (isinstance(cv, (int, np.integer)) and cv >= 2):
            raise HierregError(f"cv must be an integer >= 2, got {cv!r}")
    elif not np.isscalar(alpha) or not np.isfinite(float(alpha)) or float(alpha) < 0:
        raise HierregError(f"alpha must be a number > 0, 'cv' or 'reml', got {alpha!r}")


def fit_regularized_blocks(
    formula: str,
    blocks: DesignBlocks,
    *,
    alpha: float | str = "cv",
    loss: str = "squared",
    l1: float = 0.0,
    linf: float = 0.0,
    main_l2: float = 0.0,
    weight_by_nobs: bool = True,
    family: str = "gaussian",
    cv: int = 5,
    alphas: np.ndarray | None = None,
    random_state: int = 0,
    labels: tuple[Any, Any] | None = None,
    data: Any = None,
) -> RegularizedResults:
    """The regularized fit on already-built design blocks (see :func:`fit_regularized`).

    ``blocks.y`` must be 0/1 for ``family="binomial"`` (``labels`` names them).
    Random blocks may have rows with code ``-1`` (no level): they get no deviation.

    Examples
    --------
    >>> import hierreg_formula as hierreg
    >>> from hierreg_formula.formula import build_design
    >>> f = "Reaction ~ Days + (Days | Subject)"
    >>> blocks = build_design(f, hierreg.load_dataset("sleepstudy"))
    >>> fit_regularized_blocks(f, blocks, alpha=0.01).loss
    'squared'
    """
    _check_options(alpha, loss, family, l1, linf, main_l2, cv)
    if not blocks.random:
        raise EstimationError(
            "the formula has no group term such as '(1 + x | group)': nothing to regularize"
        )
    if blocks.y is None:
        raise EstimationError("the formula has no response")
    if blocks.offset is not None:
        raise HierregError(
            "offset() terms are not supported by the regularized mode (hierreg's objective "
            "has no offset); use method='reml'/'ml', or subtract the offset from the response"
        )
    if blocks.trials is not None:
        raise HierregError(
            "a cbind(successes, failures) response is not supported by the regularized mode; "
            "give one row per trial with a two-label response and family='binomial'"
        )
    if family == "binomial" and not np.isin(blocks.y, (0.0, 1.0)).all():
        raise DataError("family='binomial' needs a two-label response (coded 0/1 here)")
    pm = prepare(blocks)
    with blas_threads_limited():
        return _fit_prepared(
            formula,
            pm,
            alpha=alpha,
            loss=loss,
            l1=l1,
            linf=linf,
            main_l2=main_l2,
            weight_by_nobs=weight_by_nobs,
            family=family,
            cv=cv,
            alphas=alphas,
            random_state=random_state,
            labels=labels,
            data=data,
        )


def _fit_prepared(
    formula: str,
    pm: Any,
    *,
    alpha: float | str,
    loss: str,
    l1: float,
    linf: float,
    main_l2: float,
    weight_by_nobs: bool,
    family: str,
    cv: int,
    alphas: np.ndarray | None,
    random_state: int,
    labels: tuple[Any, Any] | None,
    data: Any,
) -> RegularizedResults:
    """The regularized fit on a prepared model (terms in lme4's order, X full rank)."""
    uses_cvxpy = loss == "norm" or l1 > 0 or linf > 0
    X, y, terms = pm.X, pm.y, list(pm.terms)
    groups = pm.groups
    common = dict(
        formula=formula,
        blocks=pm.blocks,
        loss=loss,
        family=family,
        labels=labels,
        data=data,
        dropped_columns=pm.dropped_columns,
        alpha_request=alpha,
    )
    if alpha == "reml":
        if uses_cvxpy or family != "gaussian":
            raise HierregError(
                "alpha='reml' is the linear mixed model's variance ratio: it needs "
                "family='gaussian', loss='squared' and no l1/linf penalty"
            )
        check_mixed_model(pm)
        est = LMMProblem(X, y, terms, reml=True).fit()
        w, v = solve_with_factors(X, y, terms, est.factors)
        return RegularizedResults(
            w=w, v=v, alpha=float("nan"), theta=est.theta, converged=est.converged, **common
        )
    cv_table = None
    if alpha == "cv":
        if uses_cvxpy:
            raise HierregError(
                "alpha='cv' is available for loss='squared' without l1/linf penalties "
                "(each alpha is then one factorization); give a number for the cvxpy path"
            )
        grid = (
            default_alphas(len(y), group_weights(terms, weight_by_nobs, groups))
            if alphas is None
            else np.asarray(alphas, dtype=float)
        )
        if grid.ndim != 1 or len(grid) == 0 or not np.all(grid > 0):
            raise HierregError("alphas must be a non-empty 1-d array of positive numbers")
        cv_table = cv_curve(
            X,
            y,
            terms,
            grid,
            k=cv,
            seed=random_state,
            family=family,
            main_l2=main_l2,
            weight_by_nobs=weight_by_nobs,
            groups=groups,
        )
        curve = cv_table.iloc[:, 1].to_numpy()
        if not np.isfinite(curve).any():
            raise EstimationError("cross-validation failed in every fold (collinear columns?)")
        alpha = float(cv_table["alpha"].iloc[int(np.nanargmin(curve))])
    alpha = float(alpha)
    converged = True
    if uses_cvxpy:
        if alpha == 0 and l1 == 0 and linf == 0:
            raise HierregError("alpha must be > 0 unless l1 or linf penalizes the deviations")
        w, v, objective = solve_cvxpy(
            X, y, terms, alpha, l1, linf, main_l2, weight_by_nobs, loss, family, groups
        )
    elif alpha <= 0:
        raise HierregError("alpha must be > 0 (alpha -> 0 is the unpooled fit)")
    elif family == "binomial":
        w, v, converged, objective = solve_logistic(
            X, y, terms, alpha, main_l2, weight_by_nobs, groups
        )
        if not converged:
            warn(
                "penalized IRLS did not converge in 100 iterations (separable data with a "
                "small alpha?)",
                ConvergenceWarning,
            )
    else:
        w, v, objective = solve_squared(
            X, y, terms, alpha, main_l2, weight_by_nobs, with_objective=True, groups=groups
        )
    theta = None
    if not weight_by_nobs and not uses_cvxpy and family == "gaussian":
        # one factor per term: Lambda = I / sqrt(n alpha) (squared loss, d_k = 1)
        tmap = ThetaMap([t.k for t in terms])
        lam = 1.0 / np.sqrt(len(y) * alpha)
        theta = tmap.theta_of([lam * np.eye(t.k) for t in terms])
    return RegularizedResults(
        w=w,
        v=v,
        alpha=alpha,
        objective=objective,
        cv_results=cv_table,
        converged=converged,
        theta=theta,
        **common,
    )


def fit_regularized(
    formula: str,
    data: pd.DataFrame | Mapping[str, Any],
    *,
    alpha: float | str = "cv",
    loss: str = "squared",
    l1: float = 0.0,
    linf: float = 0.0,
    main_l2: float = 0.0,
    weight_by_nobs: bool = True,
    family: str = "gaussian",
    cv: int = 5,
    alphas: np.ndarray | None = None,
    random_state: int = 0,
    missing: str = "drop",
) -> RegularizedResults:
    """hierreg's penalized group deviations on the formula's random terms.

    Parameters
    ----------
    formula:
        lme4-style formula; its random terms ``(cols | group)`` are the deviations.
    data:
        A DataFrame (or a mapping of columns).
    alpha:
        hierreg's ``l2_reg`` (a number > 0); ``"cv"`` (default) picks it by
        ``cv``-fold cross-validation with each group split across folds (curve in
        ``res.cv_results_``); ``"reml"`` uses the REML variance ratio instead of
        hierreg's penalty (the mixed model's conditional modes).
    loss:
        ``"squared"`` (hierreg's casadi objective; one linear solve on the mixed
        model core) or ``"norm"`` (hierreg's default un-squared norms; cvxpy with
        Clarabel, much slower).
    l1, linf, main_l2:
        hierreg's ``l1_reg``, ``linf_reg`` and ``main_l2_reg`` (l1/linf use cvxpy).
    weight_by_nobs:
        hierreg's weighting of each level's deviations by ``1/n_k`` (normalised
        over the levels of all grouping factors, divided by the number of columns).
    family:
        ``"gaussian"`` or ``"binomial"`` (0/1, bool or any two-label response;
        the larger label in sort order is the positive one).
    cv, alphas, random_state:
        Folds, alpha grid (default: 25 values on a log scale) and seed of
        ``alpha="cv"``.
    missing:
        ``"drop"`` rows with missing values (with a warning) or ``"raise"``.

    Returns
    -------
    RegularizedResults
        ``params`` (w), ``random_effects`` (deviations), ``predict``, ``summary``.

    Examples
    --------
    >>> import hierreg_formula as hierreg
    >>> df = hierreg.load_dataset("sleepstudy")
    >>> res = fit_regularized("Reaction ~ Days + (Days | Subject)", df, alpha="cv")
    >>> list(res.cv_results_.columns)
    ['alpha', 'mean_mse', 'sd_mse']
    """
    _check_options(alpha, loss, family, l1, linf, main_l2, cv)
    if family == "binomial":
        blocks, labels = binomial_design(formula, data, missing)
    else:
        blocks, labels = build_design(formula, data, missing=missing), None
    return fit_regularized_blocks(
        formula,
        blocks,
        alpha=alpha,
        loss=loss,
        l1=l1,
        linf=linf,
        main_l2=main_l2,
        weight_by_nobs=weight_by_nobs,
        family=family,
        cv=cv,
        alphas=alphas,
        random_state=random_state,
        labels=labels,
        data=data,
    )
