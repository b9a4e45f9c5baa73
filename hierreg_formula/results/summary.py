"""statsmodels-style summary tables for fitted models.

Example
-------
>>> import hierreg_formula as hierreg
>>> res = hierreg.fit("Yield ~ 1 + (1 | Batch)", hierreg.load_dataset("Dyestuff"))
>>> "Batch" in str(res.summary())
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from statsmodels.iolib.summary2 import Summary

from .inference import normalize_ddf


def _fmt(x: float) -> str:
    return "" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.4f}"


def _group_sizes(res: Any) -> np.ndarray:
    ng = res.ngroups
    first = next(iter(ng)) if ng else None
    if not first:
        return np.array([0])
    counts = getattr(res, "level_counts", None)  # out-of-core fits keep no rows
    if counts is not None:
        return counts()[first]
    blk = next(b for b in res.model_blocks.random if b.group == first)
    return np.bincount(blk.codes[blk.codes >= 0], minlength=blk.nlevels)


def _vc_table(res: Any) -> pd.DataFrame:
    """Variances (and SDs) and correlations, one row each, as strings."""
    rows = []
    for _, r in res.varcorr().iterrows():
        is_var = pd.isna(r["var2"])
        if r["group"] == "Residual":
            name = "Residual"
        elif is_var:
            name = f"{r['group']} {r['var1']} Var"
        else:
            name = f"{r['group']} {r['var1']} x {r['var2']} Corr"
        if is_var:
            rows.append((name, _fmt(r["variance"]), _fmt(r["sd"])))
        else:
            rows.append((name, _fmt(r["corr"]), ""))
    return pd.DataFrame(
        [r[1:] for r in rows], index=[r[0] for r in rows], columns=["Variance / Corr.", "Std.Dev."]
    )


def _notes(res: Any) -> list[str]:
    notes = []
    if res.dropped_columns:
        notes.append(f"Dropped linearly dependent columns: {', '.join(res.dropped_columns)}.")
    if res.is_singular:
        notes.append("Singular fit: a variance component is (near) zero.")
    return notes


def lmm_summary(res: Any, alpha: float = 0.05, ddf: str | None = None) -> Summary:
    """Model info, fixed-effects table and variance-components table."""
    ng = res.ngroups
    sizes = _group_sizes(res)
    info = {
        "Model:": "LMM (hierreg)",
        "Dependent Variable:": res.endog_name,
        "No. Observations:": str(res.nobs),
        "Method:": res.method,
        "No. Groups:": ", ".join(f"{g}: {n}" for g, n in ng.items()),
        "Scale:": f"{res.scale:.4f}",
        "Min. group size:": str(int(sizes.min())),
        "Log-Likelihood:": f"{res.llf:.4f}",
        "Max. group size:": str(int(sizes.max())),
        "Converged:": "Yes" if res.converged else "No",
        "Mean group size:": f"{sizes.mean():.1f}",
        "AIC / BIC:": f"{res.aic:.4f} / {res.bic:.4f}",
    }
    smry = Summary()
    smry.add_title("Linear Mixed Model Regression Results")
    smry.add_dict(info, ncols=2)
    ddf = normalize_ddf(ddf or getattr(res, "default_ddf", "normal"))
    fe = res.tidy(alpha, ddf=ddf)
    smry.add_df(fe.map(lambda v: f"{v:.3f}"), float_format="%s")
    smry.add_df(_vc_table(res), float_format="%s")
    notes = _notes(res)
    notes.append(
        {
            "satterthwaite": "t tests with Satterthwaite's denominator df (as lmerTest).",
            "kenward-roger": "t tests with Kenward-Roger's df and adjusted standard errors.",
        }.get(ddf, "p-values use the normal approximation.")
    )
    for note in notes:
        smry.add_text(note)
    return smry


def glmm_summary(res: Any, alpha: float = 0.05) -> Summary:
    """Model info, Wald z table of the fixed effects and the variance components."""
    ng = res.ngroups
    sizes = _group_sizes(res)
    info = {
        "Model:": "GLMM (hierreg)",
        "Dependent Variable:": res.endog_name,
        "Family / link:": res.family,
        "Method:": res.method,
        "No. Observations:": str(res.nobs),
        "No. Groups:": ", ".join(f"{g}: {n}" for g, n in ng.items()),
        "Log-Likelihood:": f"{res.llf:.4f}",
        "Deviance:": f"{res.deviance:.4f}",
        "AIC / BIC:": f"{res.aic:.4f} / {res.bic:.4f}",
        "Converged:": "Yes" if res.converged else "No",
        "Min. group size:": str(int(sizes.min())),
        "Max. group size:": str(int(sizes.max())),
    }
    if res.nb_theta is not None:
        info["NB theta:"] = f"{res.nb_theta:.4f}"
    smry = Summary()
    smry.add_title("Generalized Linear Mixed Model Results")
    smry.add_dict(info, ncols=2)
    smry.add_df(res.tidy(alpha).map(lambda v: f"{v:.3f}"), float_format="%s")
    smry.add_df(_vc_table(res), float_format="%s")
    notes = _notes(res)
    se = (
        "a finite-difference Hessian in (theta, beta), as lme4"
        if (res.estimate.cov_method == "hessian")
        else "(R_X'R_X)^-1 at the conditional modes"
    )
    notes.append(f"Wald z tests; standard errors from {se}.")
    for note in notes:
        smry.add_text(note)
    return smry
