"""ANOVA tables of F tests, one row per fixed-effects term (lmerTest's ``anova(m, type=, ddf=)``).

:func:`anova_tests` runs :func:`~.satterthwaite.satterthwaite_f` or
:func:`~.kenward_roger.kr_f` on each term's contrast (from :mod:`.contrasts`) and
returns the :class:`~.satterthwaite.FTestResult` per term; :func:`anova_frame`
is the thin pandas table with lmerTest's columns ``Sum Sq, Mean Sq, NumDF, DenDF,
F value, Pr(>F)``.

Example
-------
>>> from hierreg_formula.inference.satterthwaite import FTestResult
>>> r = {"x": FTestResult(4.0, 4.0, 1, 10.0, 2.0, 0.19)}
>>> list(anova_frame(r).columns)
['Sum Sq', 'Mean Sq', 'NumDF', 'DenDF', 'F value', 'Pr(>F)']
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .kenward_roger import KRAdjustment, kr_f
from .satterthwaite import FTestResult, satterthwaite_f
from .varpar import VarParCovariance

DDF_METHODS = ("satterthwaite", "kenward-roger")


def normalize_ddf(ddf: str) -> str:
    """Accept ``"satterthwaite"``, ``"Satterthwaite"``, ``"kenward-roger"``, ``"KR"``, ..."""
    key = ddf.lower().replace("_", "-").replace(" ", "-")
    if key in ("satterthwaite", "satt", "s"):
        return "satterthwaite"
    if key in ("kenward-roger", "kenwardroger", "kr", "k-r"):
        return "kenward-roger"
    raise ValueError(f"unknown ddf method {ddf!r}; use 'satterthwaite' or 'kenward-roger'")


def anova_tests(
    contrasts: Mapping[str, np.ndarray],
    ddf: str = "satterthwaite",
    varpar: VarParCovariance | None = None,
    kr: KRAdjustment | None = None,
) -> dict[str, FTestResult]:
    """One F test per term: Satterthwaite (needs ``varpar``) or Kenward-Roger (needs ``kr``)."""
    method = normalize_ddf(ddf)
    out = {}
    for name, L in contrasts.items():
        L = np.atleast_2d(L)
        if L.shape[0] == 0:
            continue
        if method == "satterthwaite":
            if varpar is None:
                raise ValueError("Satterthwaite's method needs the VarParCovariance")
            out[name] = satterthwaite_f(varpar, L)
        else:
            if kr is None:
                raise ValueError("Kenward-Roger's method needs the KRAdjustment")
            out[name] = kr_f(kr, L)
    return out


def anova_frame(results: Mapping[str, FTestResult]):
    """lmerTest-style ANOVA table (pandas) from per-term F tests."""
    import pandas as pd

    rows = list(results)
    return pd.DataFrame(
        {
            "Sum Sq": [results[r].sum_sq for r in rows],
            "Mean Sq": [results[r].mean_sq for r in rows],
            "NumDF": [results[r].num_df for r in rows],
            "DenDF": [results[r].den_df for r in rows],
            "F value": [results[r].f_value for r in rows],
            "Pr(>F)": [results[r].p_value for r in rows],
        },
        index=pd.Index(rows, name="term"),
    )
