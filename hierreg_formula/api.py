"""The main entry point: :func:`fit`.

Example
-------
>>> import hierreg_formula as hierreg
>>> df = hierreg.load_dataset("sleepstudy")
>>> res = hierreg.fit("Reaction ~ Days + (Days | Subject)", df)
>>> round(res.sigma, 3)
25.592
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from .exceptions import HierregError

METHODS = ("reml", "ml", "regularized")


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
        A pandas DataFrame (or a mapping of columns).
    method:
        ``"reml"`` (default) or ``"ml"`` for a linear mixed model;
        ``"regularized"`` for hierreg's penalized group deviations (see
        :func:`hierreg_formula.regularized.fit_regularized` for its options).
    missing:
        ``"drop"`` (default: drop rows with missing values in the used columns,
        with a warning giving their count) or ``"raise"``.
    **kwargs:
        Passed to the estimator.
    """
    m = str(method).lower()
    if m in ("reml", "ml"):
        from .models.lmm import fit_lmm_formula

        return fit_lmm_formula(formula, data, reml=(m == "reml"), missing=missing, **kwargs)
    if m == "regularized":
        from .regularized import fit_regularized

        return fit_regularized(formula, data, missing=missing, **kwargs)
    raise HierregError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
