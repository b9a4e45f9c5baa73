"""The main entry points: :func:`fit` and the one-call comparisons.

This is the top layer: it validates the options of every estimator and
dispatches to the drivers (:mod:`hierreg_formula.models.lmm`,
:mod:`hierreg_formula.regularized.fit`); nothing below it imports it.

Example
-------
>>> import hierreg_formula as hierreg
>>> df = hierreg.load_dataset("sleepstudy")
>>> res = hierreg.fit("Reaction ~ Days + (Days | Subject)", df)
>>> round(res.sigma, 3)
25.592
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from .compare.mixedlm import DEFAULT_METHODS, MixedLMComparison, compare_results
from .compare.pooling import PoolingComparison, pooling_table
from .exceptions import HierregError, HierregWarning
from .models.lmm import CORE_OPTIONS, fit_lmm_formula
from .regularized.fit import fit_regularized
from .scale.detect import is_out_of_core

METHODS = ("reml", "ml", "regularized")

#: keyword options accepted by each method (besides ``missing``)
OPTIONS: dict[str, tuple[str, ...]] = {
    "reml": CORE_OPTIONS,
    "ml": CORE_OPTIONS,
    "regularized": (
        "alpha",
        "loss",
        "l1",
        "linf",
        "main_l2",
        "weight_by_nobs",
        "family",
        "cv",
        "alphas",
        "random_state",
    ),
}

#: what a user coming from lme4 / statsmodels may pass, and what to do instead
_HINTS = {
    "REML": "use method='reml' or method='ml'",
    "reml": "use method='reml' or method='ml'",
    "family": "generalized linear mixed models (family=...) are not available yet; for a "
    "two-label response use method='regularized' with family='binomial'",
    "groups": "name the grouping factor in the formula, e.g. 'y ~ x + (1 | g)'",
    "re_formula": "write random terms in the formula, e.g. 'y ~ x + (x | g)'",
}


def _check_options(method: str, kwargs: Mapping[str, Any]) -> None:
    valid = OPTIONS[method]
    if method == "regularized" and kwargs.get("family", "gaussian") not in (
        "gaussian",
        "binomial",
    ):
        raise HierregError(
            f"family={kwargs['family']!r} is not available for method='regularized'; "
            "choose 'gaussian' or 'binomial'"
        )
    unknown = [k for k in kwargs if k not in valid]
    if not unknown:
        return
    hints = [f"{k}: {_HINTS[k]}" for k in unknown if k in _HINTS]
    raise HierregError(
        f"unknown option(s) {', '.join(map(repr, unknown))} for method={method!r}; "
        f"valid options: missing, {', '.join(valid)}" + (f" ({'; '.join(hints)})" if hints else "")
    )


def fit(
    formula: str,
    data: pd.DataFrame | Mapping[str, Any],
    method: str = "reml",
    *,
    missing: str = "drop",
    **kwargs: Any,
):
    """Fit a hierarchical regression model from an lme4-style formula.

    Parameters
    ----------
    formula:
        e.g. ``"y ~ x + (x | g)"``: fixed effects as in formulaic, random terms
        ``(expr | group)``, ``(expr || group)``, ``(1 | a/b)``, ``(1 | a:b)``.
    data:
        A pandas DataFrame (or a mapping of columns); or, out of core, a Dask
        DataFrame or a path/glob of Parquet files (see :mod:`hierreg_formula.scale`;
        needs ``pip install hierreg-formula[dask]``).
    method:
        ``"reml"`` (default) or ``"ml"`` for a linear mixed model;
        ``"regularized"`` for hierreg's penalized group deviations.
    missing:
        ``"drop"`` (default: drop rows with missing values in the used columns,
        with a warning giving their count) or ``"raise"``.
    **kwargs:
        Options of the method.  REML/ML: ``theta0`` (start, lme4's layout),
        ``xtol``, ``ftol``, ``maxeval``, ``gradient`` (optimiser settings).
        Regularized: ``alpha``, ``loss``, ``l1``, ``linf``, ``main_l2``,
        ``weight_by_nobs``, ``family``, ``cv``, ``alphas``, ``random_state`` (see
        :func:`hierreg_formula.regularized.fit_regularized`).  Any other keyword is
        a :class:`~hierreg_formula.HierregError` naming the valid ones.

    Examples
    --------
    >>> import hierreg_formula as hierreg
    >>> try:
    ...     hierreg.fit("Yield ~ 1 + (1 | Batch)", hierreg.load_dataset("Dyestuff"), REML=False)
    ... except hierreg.HierregError as err:
    ...     print(str(err).split(";")[0])
    unknown option(s) 'REML' for method='reml'
    """
    m = str(method).lower()
    if m not in METHODS:
        raise HierregError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    _check_options(m, kwargs)
    if is_out_of_core(data):  # a Dask DataFrame or Parquet files: hierreg_formula.scale
        from .scale.dask import fit_dask

        return fit_dask(formula, data, method=m, missing=missing, **kwargs)
    if m in ("reml", "ml"):
        return fit_lmm_formula(formula, data, reml=(m == "reml"), missing=missing, **kwargs)
    return fit_regularized(formula, data, missing=missing, **kwargs)


def compare_mixedlm(
    formula: str,
    data: pd.DataFrame,
    method: str = "reml",
    *,
    methods: Sequence[str] = DEFAULT_METHODS,
    **fit_kwargs: Any,
) -> MixedLMComparison:
    """Fit ``formula`` with this package and with statsmodels' MixedLM, and compare.

    Parameters
    ----------
    formula:
        An lme4-style formula, e.g. ``"y ~ x + (x | g)"``.
    data:
        The data frame.
    method:
        ``"reml"`` (default) or ``"ml"``; statsmodels is fitted the same way.
    methods:
        statsmodels optimizers tried in turn (see
        :func:`~hierreg_formula.compare.mixedlm.compare_results`).
    **fit_kwargs:
        Passed to :func:`fit`.

    Examples
    --------
    >>> import hierreg_formula as hierreg
    >>> cmp = compare_mixedlm("Reaction ~ Days + (Days | Subject)",
    ...                       hierreg.load_dataset("sleepstudy"), method="ml")
    >>> cmp.fit_info.loc["method"].tolist()
    ['ML', 'ML']
    """
    if str(method).lower() not in ("reml", "ml"):
        raise HierregError(f"compare_mixedlm fits method='reml' or 'ml', not {method!r}")
    return compare_results(fit(formula, data, method=method, **fit_kwargs), methods=methods)


def compare_pooling(
    formula: str,
    data: pd.DataFrame,
    include_regularized: bool = False,
    *,
    regularized_kwargs: dict[str, Any] | None = None,
    **fit_kwargs: Any,
) -> PoolingComparison:
    """Complete, no and partial pooling (and optionally the regularized mode) side by side.

    Parameters
    ----------
    formula:
        An lme4-style formula, e.g. ``"log_radon ~ floor + (1 | county)"``.
    data:
        The data frame.
    include_regularized:
        Also fit ``method="regularized"`` (its defaults, or ``regularized_kwargs``)
        and add ``regularized:<column>`` columns.
    regularized_kwargs:
        Options of the regularized fit (e.g. ``{"alpha": 1.0}``).
    **fit_kwargs:
        Passed to :func:`fit` for the mixed model (e.g. ``method="ml"``; default REML).

    Returns
    -------
    PoolingComparison
        ``.table[group]`` per grouping factor, ``.plot()`` the shrinkage figure.

    Examples
    --------
    >>> import hierreg_formula as hierreg
    >>> cmp = compare_pooling("Reaction ~ Days + (Days | Subject)",
    ...                       hierreg.load_dataset("sleepstudy"))
    >>> row = cmp.table["Subject"].loc["308"]
    >>> round(float(row["no_pooling:Days"]), 3), round(float(row["partial_pooling:Days"]), 3)
    (21.765, 19.666)
    """
    res = fit(formula, data, **fit_kwargs)
    reg = None
    if include_regularized:
        try:
            reg = fit(formula, data, method="regularized", **(regularized_kwargs or {}))
        except ImportError as err:  # pragma: no cover - optional pieces missing
            warnings.warn(
                f"the regularized mode is not available ({err}); comparing without it",
                HierregWarning,
                stacklevel=2,
            )
    return pooling_table(res, reg)
