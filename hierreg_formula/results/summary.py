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


def _fmt(x: float) -> str:
    return "" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.4f}"


def lmm_summary(res: Any, alpha: float = 0.05) -> Summary:
    """Model info, fixed-effects table and variance-components table."""
    ng = res.ngroups
    first = next(iter(ng)) if ng else None
    sizes = np.array([0])
    if first:
        blk = next(b for b in res.model_blocks.random if b.group == first)
        counts = getattr(res, "level_counts", None)  # out-of-core fits keep no rows
        sizes = (
            counts()[first]
            if counts is not None
            else np.bincount(blk.codes[blk.codes >= 0], minlength=blk.nlevels)
        )
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
    fe = res.tidy(alpha)
    smry.add_df(fe.map(lambda v: f"{v:.3f}"), float_format="%s")
    vc = res.varcorr()
    rows = []
    for _, r in vc.iterrows():
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
    smry.add_df(
        pd.DataFrame(
            [r[1:] for r in rows],
            index=[r[0] for r in rows],
            columns=["Variance / Corr.", "Std.Dev."],
        ),
        float_format="%s",
    )
    notes = []
    if res.dropped_columns:
        notes.append(f"Dropped linearly dependent columns: {', '.join(res.dropped_columns)}.")
    if res.is_singular:
        notes.append("Singular fit: a variance component is (near) zero.")
    notes.append("p-values use the normal approximation.")
    for note in notes:
        smry.add_text(note)
    return smry
