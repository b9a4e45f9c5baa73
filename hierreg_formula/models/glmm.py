"""Generalized linear mixed models (lme4's ``glmer``): formula -> prepare -> core -> results.

Example
-------
>>> import hierreg_formula as hierreg
>>> res = fit_glmm_formula("TICKS ~ YEAR + (1 | LOCATION)", hierreg.load_dataset("grouseticks"),
...                        family="poisson")
>>> res.family, res.nagq
('poisson/log', 1)
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..core.families import Family, get_family
from ..core.glmer import fit_glmm
from ..exceptions import (
    ConvergenceWarning,
    DataError,
    EstimationError,
    HierregError,
    SingularFitWarning,
    warn,
)
from ..formula import build_design
from ..formula.blocks import DesignBlocks
from ..results.glmm import GLMMResults
from ..threads import blas_threads_limited
from .prepare import prepare
from .response import binomial_design
from .rows import attach_row_values

#: options of the GLMM core passed through ``fit``
GLMM_OPTIONS = ("cov", "theta0", "nb_theta", "xtol", "ftol", "maxeval")


def resolve_family(family: Any) -> Family:
    """The core's family object; a clear error for an unknown one."""
    try:
        return get_family(family)
    except (ValueError, TypeError) as err:
        raise HierregError(str(err)) from err


def is_gaussian_identity(family: Any) -> bool:
    """``family`` is the linear mixed model (Gaussian with the identity link)."""
    if family is None:
        return True
    fam = resolve_family(family)
    return fam.name == "gaussian" and fam.link.name == "identity"


def fit_glmm_blocks(
    formula: str,
    blocks: DesignBlocks,
    family: Any,
    nagq: int = 1,
    data: Any = None,
    weights: np.ndarray | None = None,
    offset: np.ndarray | None = None,
    labels: tuple[Any, Any] | None = None,
    **core_kwargs: Any,
) -> GLMMResults:
    """Fit a GLMM on design blocks (``blocks.trials`` are the binomial weights)."""
    refit = functools.partial(
        fit_glmm_blocks,
        formula,
        family=family,
        nagq=nagq,
        data=data,
        weights=weights,
        offset=offset,
        labels=labels,
        **core_kwargs,
    )
    fam = resolve_family(family)
    if blocks.trials is not None:
        if fam.name != "binomial":
            raise HierregError(
                f"a cbind(successes, failures) response is binomial, not family={fam.name!r}"
            )
        if weights is not None:
            raise HierregError(
                "weights= with a cbind(successes, failures) response: the trials already "
                "are the prior weights (give one or the other)"
            )
        weights = blocks.trials
    if not blocks.random:
        raise EstimationError(
            "the formula has no random-effects term such as '(1 | group)'; a GLMM needs one "
            "(fit a model without random effects with statsmodels' glm; "
            "hierreg.anova(glm_result, glmm_result) compares them)"
        )
    if blocks.y is None:
        raise EstimationError("the formula has no response")
    pm = prepare(blocks, weights=weights, offset=offset, zero_weights=True)
    with blas_threads_limited():
        try:
            est = fit_glmm(
                pm.X,
                pm.y,
                list(pm.terms),
                fam,
                weights=pm.weights,
                offset=pm.offset,
                nagq=nagq,
                **core_kwargs,
            )
        except np.linalg.LinAlgError as err:
            raise EstimationError(f"the model cannot be estimated from these data: {err}") from err
        except (ValueError, TypeError) as err:
            if isinstance(err, HierregError):
                raise
            raise HierregError(str(err)) from err
    if not est.converged:
        warn(
            f"the optimiser did not converge ({est.message}); estimates may be inaccurate",
            ConvergenceWarning,
        )
    if est.singular_terms:
        names = ", ".join(pm.blocks.random[i].label for i in est.singular_terms)
        warn(
            f"boundary (singular) fit: a variance component of {names} is estimated as (near) "
            "zero, or a correlation as +-1; simplify the random-effects structure",
            SingularFitWarning,
        )
    fitted_family = fam if est.nb_theta is None else fam.with_nb_theta(est.nb_theta)
    res = GLMMResults(
        formula=formula,
        blocks=pm.blocks,
        estimate=est,
        family=fitted_family,
        dropped_columns=pm.dropped_columns,
        data=data,
        offset=pm.offset,
        weights=pm.weights,
        offset_argument=offset is not None,
        labels=labels,
        prepared=pm,
    )
    res._nb_free = fam.name == "negative_binomial" and fam.nb_theta is None
    # how to fit again (the null model of r2()/icc(), update): partials stay picklable
    res._raw_blocks = blocks
    res._refit_blocks = refit
    return res


def fit_glmm_formula(
    formula: str,
    data: pd.DataFrame | Mapping[str, Any],
    family: Any,
    nagq: int = 1,
    missing: str = "drop",
    weights: str | np.ndarray | None = None,
    offset: str | np.ndarray | None = None,
    **core_kwargs: Any,
) -> GLMMResults:
    """Build the design blocks and fit the GLMM (binomial responses as lme4 accepts them:
    0/1, two labels, ``cbind(successes, failures)``, or proportions with ``weights=``
    the trials)."""
    fam = resolve_family(family)
    if not (isinstance(nagq, int | np.integer) and 0 <= int(nagq) <= 25):
        raise HierregError(f"nagq must be an integer from 0 to 25, got {nagq!r}")
    frame, names = attach_row_values(data, {"weights": weights, "offset": offset})
    extra = list(names.values())
    labels = None
    if fam.name == "binomial":
        blocks, labels = binomial_design(formula, frame, missing, extra=extra, proportions=True)
    else:
        blocks = build_design(formula, frame, missing=missing, extra=extra)
        if blocks.trials is not None:
            raise DataError(
                f"a cbind(successes, failures) response needs family='binomial', not {fam.name!r}"
            )
    w = blocks.extra.get(names["weights"]) if "weights" in names else None
    off = blocks.extra.get(names["offset"]) if "offset" in names else None
    res = fit_glmm_blocks(
        formula,
        blocks,
        fam,
        nagq=int(nagq),
        data=data,
        weights=w,
        offset=off,
        labels=labels,
        **core_kwargs,
    )
    # res.update(...): the formula-level fit, the original options unless overridden
    res._refit_formula = functools.partial(
        fit_glmm_formula,
        family=family,
        nagq=nagq,
        missing=missing,
        weights=weights,
        offset=offset,
        **core_kwargs,
    )
    return res
