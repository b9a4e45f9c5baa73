"""Linear mixed models by REML/ML: design blocks -> :func:`prepare` -> core -> results.

Example
-------
>>> import hierreg_formula as hierreg
>>> res = fit_lmm_formula("Reaction ~ Days + (1 | Subject)", hierreg.load_dataset("sleepstudy"))
>>> res.method
'REML'
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..core.lmm import LMMProblem
from ..exceptions import (
    ConvergenceWarning,
    EstimationError,
    ResponseWarning,
    SingularFitWarning,
    warn,
)
from ..formula import build_design
from ..formula.blocks import DesignBlocks
from ..results.lmm import LMMResults
from ..threads import blas_threads_limited
from .prepare import PreparedModel, check_mixed_model, prepare
from .rows import attach_row_values

#: options of :func:`fit_lmm_blocks` passed on to the core's optimiser
CORE_OPTIONS = ("theta0", "xtol", "ftol", "maxeval", "gradient")


def _warn_binary_response(pm: PreparedModel) -> None:
    y = pm.y
    if y is not None and len(y) and np.isin(y, (0.0, 1.0)).all():
        warn(
            f"the response {pm.blocks.y_name!r} takes only the values 0 and 1: a linear mixed "
            "model of it is a linear probability model (Gaussian errors); for a logistic mixed "
            "model use family='binomial'",
            ResponseWarning,
        )


def fit_prepared(pm: PreparedModel, reml: bool = True, **core_kwargs: Any):
    """The core's estimate for a prepared model (checks, optimisation, warnings)."""
    check_mixed_model(pm)
    _warn_binary_response(pm)
    with blas_threads_limited():
        try:
            prob = LMMProblem(pm.X, pm.y, pm.terms, reml=reml, weights=pm.weights, offset=pm.offset)
            est = prob.fit(**core_kwargs)
        except np.linalg.LinAlgError as err:
            raise EstimationError(f"the model cannot be estimated from these data: {err}") from err
    if not est.converged:
        warn(
            f"the optimiser did not converge ({est.message}); estimates may be inaccurate",
            ConvergenceWarning,
        )
    if est.is_singular:
        names = ", ".join(pm.blocks.random[i].label for i in est.singular_terms)
        warn(
            f"boundary (singular) fit: a variance component of {names} is estimated as (near) "
            "zero, or a correlation as +-1; simplify the random-effects structure",
            SingularFitWarning,
        )
    return est


def fit_lmm_blocks(
    formula: str,
    blocks: DesignBlocks,
    reml: bool = True,
    data: Any = None,
    weights: np.ndarray | None = None,
    offset: np.ndarray | None = None,
    **core_kwargs: Any,
) -> LMMResults:
    """Fit a linear mixed model on already-built design blocks.

    ``weights`` are lme4's prior weights (the residual variance of row ``i`` is
    ``sigma^2 / w_i``); ``offset`` adds to the formula's ``offset()`` terms.
    """
    if blocks.trials is not None:
        raise EstimationError(
            "a cbind(successes, failures) response is binomial: fit it with "
            "family='binomial' (a linear mixed model of the proportions is not what it means)"
        )
    pm = prepare(blocks, weights=weights, offset=offset)
    est = fit_prepared(pm, reml=reml, **core_kwargs)
    res = LMMResults(
        formula=formula,
        blocks=pm.blocks,
        estimate=est,
        dropped_columns=pm.dropped_columns,
        data=data,
        offset=pm.offset,
        weights=pm.weights,
        offset_argument=offset is not None,
        prepared=pm,
    )
    # how to fit again (refit with another response, update): partials stay picklable
    res._raw_blocks = pm.blocks
    res._refit_blocks = functools.partial(
        fit_lmm_blocks,
        formula,
        reml=reml,
        data=data,
        weights=pm.weights,
        offset=offset,
        **core_kwargs,
    )
    res._refit_formula = functools.partial(_update, reml=reml, weights=weights, offset=offset)
    return res


def _update(formula: str, data: Any, reml: bool, weights: Any, offset: Any, **kwargs: Any):
    """``res.update(...)``: the formula-level fit with the original options unless overridden."""
    method = kwargs.pop("method", None)
    if method is not None:
        reml = str(method).lower() == "reml"
    kwargs.setdefault("weights", weights)
    kwargs.setdefault("offset", offset)
    return fit_lmm_formula(formula, data, reml=reml, **kwargs)


def fit_lmm_formula(
    formula: str,
    data: pd.DataFrame | Mapping[str, Any],
    reml: bool = True,
    missing: str = "drop",
    weights: str | np.ndarray | None = None,
    offset: str | np.ndarray | None = None,
    **kwargs: Any,
) -> LMMResults:
    """Build the design blocks from ``formula`` and ``data`` and fit by REML or ML.

    ``weights`` and ``offset`` are column names or one value per row of ``data``.
    """
    frame, names = attach_row_values(data, {"weights": weights, "offset": offset})
    blocks = build_design(formula, frame, missing=missing, extra=list(names.values()))
    w = blocks.extra.get(names["weights"]) if "weights" in names else None
    off = blocks.extra.get(names["offset"]) if "offset" in names else None
    res = fit_lmm_blocks(formula, blocks, reml=reml, data=data, weights=w, offset=off, **kwargs)
    res._refit_formula = functools.partial(
        _update, reml=reml, weights=weights, offset=offset, missing=missing, **kwargs
    )
    return res
