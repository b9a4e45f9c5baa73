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
from .models.glmm import GLMM_OPTIONS, fit_glmm_formula, is_gaussian_identity
from .models.lmm import CORE_OPTIONS, fit_lmm_formula
from .regularized.fit import fit_regularized
from .scale.detect import is_out_of_core

METHODS = ("reml", "ml", "regularized")

#: keyword options accepted by each method (besides ``missing``)
OPTIONS: dict[str, tuple[str, ...]] = {
    "reml": ("weights", "offset", *CORE_OPTIONS),
    "ml": ("weights", "offset", *CORE_OPTIONS),
    "glmm": ("nagq", "weights", "offset", *GLMM_OPTIONS),
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
    "nagq": "nagq is for GLMMs (a non-Gaussian family=...)",
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
    label = "a GLMM (family=...)" if method == "glmm" else f"method={method!r}"
    if not unknown:
        return
    hints = [f"{k}: {_HINTS[k]}" for k in unknown if k in _HINTS]
    raise HierregError(
        f"unknown option(s) {', '.join(map(repr, unknown))} for {label}; "
        f"valid options: missing, {', '.join(valid)}" + (f" ({'; '.join(hints)})" if hints else "")
    )


def fit(
    formula: str,
    data: pd.DataFrame | Mapping[str, Any],
    method: str | None = None,
    *,
    family: Any = None,
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
        ``"reml"`` (default for a linear mixed model) or ``"ml"``;
        ``"regularized"`` for hierreg's penalized group deviations.  A GLMM (a
        non-Gaussian ``family``) is fitted by maximum likelihood (``"ml"``, the default
        then; ``"reml"`` is an error).
    family:
        ``None``/``"gaussian"``: a linear mixed model.  ``"binomial"``, ``"poisson"``,
        ``"negative_binomial"`` (its shape estimated as ``glmer.nb``), ``"gamma"``,
        ``"inverse_gaussian"`` or a statsmodels family instance
        (``sm.families.Binomial(link=sm.families.links.Probit())``): a generalized linear
        mixed model as lme4's ``glmer`` (options ``nagq``: 1 Laplace, 0 lme4's nAGQ=0,
        2-25 adaptive Gauss-Hermite for one scalar term; ``weights``, ``offset``; ``cov``:
        ``"hessian"`` (lme4's default standard errors) or ``"rx"``; ``nb_theta``).  With
        ``method="regularized"``, ``"gaussian"`` or ``"binomial"`` (logistic).
    missing:
        ``"drop"`` (default: drop rows with missing values in the used columns,
        with a warning giving their count) or ``"raise"``.
    **kwargs:
        Options of the method.  REML/ML: ``weights`` (prior weights, lme4's: the
        residual variance of row ``i`` is ``sigma^2 / w_i``) and ``offset`` (added to
        the linear predictor, as the formula's ``offset(expr)`` terms), each a column
        name or one value per row; ``theta0`` (start, lme4's layout), ``xtol``,
        ``ftol``, ``maxeval``, ``gradient`` (optimiser settings).
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
    m = "reml" if method is None else str(method).lower()
    if m not in METHODS:
        raise HierregError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if is_out_of_core(data):  # a Dask DataFrame or Parquet files: hierreg_formula.scale
        return _fit_out_of_core(formula, data, m, family, missing, kwargs, method)
    if m == "regularized":
        if family is not None:
            kwargs["family"] = family
        _check_options(m, kwargs)
        return fit_regularized(formula, data, missing=missing, **kwargs)
    if not is_gaussian_identity(family):
        if method is not None and m == "reml":
            raise HierregError(
                "method='reml' is for linear mixed models; a GLMM (family="
                f"{family!r}) is fitted by maximum likelihood: use method='ml' or leave it out"
            )
        _check_options("glmm", kwargs)
        return fit_glmm_formula(formula, data, family=family, missing=missing, **kwargs)
    _check_options(m, kwargs)
    return fit_lmm_formula(formula, data, reml=(m == "reml"), missing=missing, **kwargs)


def _fit_out_of_core(
    formula: str,
    data: Any,
    m: str,
    family: Any,
    missing: str,
    kwargs: dict[str, Any],
    method: str | None = None,
):
    """The fit of a Dask DataFrame or Parquet files (:mod:`hierreg_formula.scale`)."""
    if m == "regularized":
        if family is not None:
            kwargs["family"] = family
    elif not is_gaussian_identity(family):
        if method is not None and m == "reml":
            raise HierregError(
                "method='reml' is for linear mixed models; a GLMM (family="
                f"{family!r}) is fitted by maximum likelihood: use method='ml' or leave it out"
            )
        _check_options("glmm", kwargs)
        from .scale.glmm import fit_glmm_dask

        return fit_glmm_dask(formula, data, family, missing=missing, **kwargs)
    _check_options(m, kwargs)
    for name in ("weights", "offset"):
        if kwargs.get(name) is not None:
            raise HierregError(
                f"{name}= is not available out of core yet (an offset(...) term in the "
                "formula neither)"
            )
        kwargs.pop(name, None)
    from .scale.dask import fit_dask

    return fit_dask(formula, data, method=m, missing=missing, **kwargs)


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
