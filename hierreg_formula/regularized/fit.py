"""The regularized mode from a formula: ``hierreg.fit(..., method="regularized")``.

The random-effects terms of the formula are hierreg's group deviations:
``y ~ x1 + x2 + (1 + x1 + x2 | school)`` is hierreg's model with deviations of
the intercept and both slopes by school.

Two modes, one linear system.  The squared loss with a ridge penalty,

    (1/n) ||y - X w - Z v||^2 + alpha ||d * v||^2,

is the penalized least-squares problem of a linear mixed model in which the
relative covariance of the deviations is *fixed* (``Lambda_k = I / (sqrt(n
alpha) d_k)``) rather than estimated.  ``alpha="reml"`` closes the loop: it uses
the covariance ratio that REML estimates, so the deviations are exactly the
mixed model's conditional modes.  ``alpha="cv"`` instead picks the penalty that
predicts held-out rows best (K folds, each group split across folds).

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

from ..core import cross_products
from ..core.lmm import fit_lmm
from ..exceptions import DataError, EstimationError, HierregError
from ..formula import build_design, parse_formula
from ..formula.blocks import DesignBlocks
from ..models.checks import drop_dependent_columns
from ..models.lmm import term_arrays
from .cv import default_alphas, group_folds
from .results import RegularizedResults
from .solvers import (
    _eta,
    level_weights,
    solve_cvxpy,
    solve_logistic,
    solve_squared,
    solve_with_factors,
)


def binary_response(values: pd.Series, name: str) -> tuple[np.ndarray, tuple[Any, Any]]:
    """0/1 codes of a two-label response and its (negative, positive) labels."""
    if pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=float), (False, True)
    labels = pd.unique(values.dropna())
    if len(labels) != 2:
        raise DataError(
            f"family='binomial' needs a response with exactly two labels; {name!r} has "
            f"{len(labels)}: {list(labels)[:5]}"
        )
    try:
        labels = sorted(labels)
    except TypeError:
        labels = sorted(labels, key=str)
    y = (values == labels[1]).to_numpy(dtype=float)
    y[values.isna().to_numpy()] = np.nan
    return y, (labels[0], labels[1])


def _cv_curve(blocks, terms, alphas, k, seed, family, main_l2, by_nobs):
    X, y = blocks.X, blocks.y
    folds = group_folds(terms[0].codes, k, seed)
    scores = np.empty((len(alphas), k))
    for f in range(k):
        tr, te = folds != f, folds == f
        t_tr = [type(t)(t.codes[tr], t.nlevels, t.Xz[tr]) for t in terms]
        t_te = [type(t)(t.codes[te], t.nlevels, t.Xz[te]) for t in terms]
        cp = cross_products(X[tr], y[tr], t_tr) if family == "gaussian" else None
        for i, a in enumerate(alphas):
            try:
                scores[i, f] = _fold_score(
                    X, y, tr, te, t_tr, t_te, a, cp, family, main_l2, by_nobs
                )
            except np.linalg.LinAlgError:  # a fold whose training columns are collinear
                scores[i, f] = np.nan
    name = "mse" if family == "gaussian" else "log_loss"
    with np.errstate(all="ignore"):
        mean = np.nanmean(scores, axis=1) if np.isfinite(scores).any() else scores.mean(1)
    return pd.DataFrame(
        {"alpha": alphas, f"mean_{name}": mean, f"sd_{name}": np.nanstd(scores, axis=1, ddof=1)}
    )


def _fold_score(X, y, tr, te, t_tr, t_te, a, cp, family, main_l2, by_nobs) -> float:
    if family == "gaussian":
        w, v = solve_squared(X[tr], y[tr], t_tr, a, main_l2, by_nobs, cp=cp)
        r = y[te] - _eta(X[te], t_te, w, v)
        return float(np.mean(r * r))
    w, v, _ = solve_logistic(X[tr], y[tr], t_tr, a, main_l2, by_nobs, tol=1e-8)
    eta = _eta(X[te], t_te, w, v)
    return float(np.mean(np.logaddexp(0.0, eta) - y[te] * eta))


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
) -> RegularizedResults:
    """The regularized fit on already-built design blocks (see :func:`fit_regularized`)."""
    if family not in ("gaussian", "binomial"):
        raise HierregError(f"family must be 'gaussian' or 'binomial', got {family!r}")
    if loss not in ("squared", "norm"):
        raise HierregError(f"loss must be 'squared' or 'norm', got {loss!r}")
    if not blocks.random:
        raise EstimationError(
            "the formula has no group term such as '(1 + x | group)': nothing to regularize"
        )
    blocks, _ = drop_dependent_columns(blocks)
    X, y = blocks.X, blocks.y
    terms = term_arrays(blocks)
    uses_cvxpy = loss == "norm" or l1 > 0 or linf > 0
    cv_table, objective, converged = None, None, True
    if isinstance(alpha, str):
        if uses_cvxpy:
            raise HierregError(
                f"alpha={alpha!r} is available for loss='squared' without l1/linf penalties; "
                "give a number for the cvxpy path"
            )
        if alpha == "reml":
            if family != "gaussian":
                raise HierregError("alpha='reml' is available for family='gaussian'")
            est = fit_lmm(X, y, terms, reml=True)
            w, v = solve_with_factors(X, y, terms, est.factors)
            return RegularizedResults(
                formula=formula,
                blocks=blocks,
                w=w,
                v=v,
                alpha="reml",
                loss="squared",
                family=family,
                theta=est.theta,
                converged=est.converged,
            )
        if alpha != "cv":
            raise HierregError(f"alpha must be a positive number, 'cv' or 'reml', got {alpha!r}")
        grid = (
            default_alphas(len(y), level_weights(terms, weight_by_nobs))
            if alphas is None
            else np.asarray(alphas, float)
        )
        cv_table = _cv_curve(blocks, terms, grid, cv, random_state, family, main_l2, weight_by_nobs)
        curve = cv_table.iloc[:, 1].to_numpy()
        if not np.isfinite(curve).any():
            raise EstimationError("cross-validation failed in every fold (collinear columns?)")
        alpha = float(grid[int(np.nanargmin(curve))])
    alpha = float(alpha)
    if alpha <= 0:
        raise HierregError("alpha must be positive")
    if uses_cvxpy:
        w, v, objective = solve_cvxpy(
            X, y, terms, alpha, l1, linf, main_l2, weight_by_nobs, loss=loss, family=family
        )
    elif family == "binomial":
        w, v, converged = solve_logistic(X, y, terms, alpha, main_l2, weight_by_nobs)
    else:
        w, v, objective = solve_squared(
            X, y, terms, alpha, main_l2, weight_by_nobs, with_objective=True
        )
    return RegularizedResults(
        formula=formula,
        blocks=blocks,
        w=w,
        v=v,
        alpha=alpha,
        loss=loss,
        family=family,
        objective=objective,
        cv_results=cv_table,
        labels=labels,
        converged=converged,
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
    alpha:
        hierreg's ``l2_reg``; ``"cv"`` (default) picks it by ``cv``-fold
        cross-validation with each group split across folds (curve in
        ``res.cv_results_``); ``"reml"`` uses the REML variance ratio.
    loss:
        ``"squared"`` (hierreg's casadi objective; one linear solve on the mixed
        model core) or ``"norm"`` (hierreg's default un-squared norms; solved
        with cvxpy + Clarabel, much slower).
    l1, linf, main_l2:
        hierreg's ``l1_reg``, ``linf_reg`` and ``main_l2_reg`` (l1/linf use cvxpy).
    weight_by_nobs:
        hierreg's weighting of each level's deviations by ``1/n_k`` (normalised).
    family:
        ``"gaussian"`` or ``"binomial"`` (0/1, bool or any two-label response).
    """
    if family == "binomial":
        pf = parse_formula(formula)
        df = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
        if pf.response not in df.columns:
            raise DataError(f"family='binomial' needs the response {pf.response!r} as a column")
        y01, labels = binary_response(df[pf.response], pf.response)
        df = df.assign(**{pf.response: y01})
        blocks = build_design(formula, df, missing=missing)
    else:
        labels = None
        blocks = build_design(formula, data, missing=missing)
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
    )
