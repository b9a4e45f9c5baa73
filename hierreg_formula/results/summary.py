"""statsmodels-style summary tables for fitted models.

Example
-------
>>> import hierreg_formula as hierreg
>>> res = hierreg.fit("Yield ~ 1 + (1 | Batch)", hierreg.load_dataset("Dyestuff"))
>>> "Batch" in str(res.summary())
True
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.iolib.summary2 import Summary

from .inference import normalize_ddf


def _cells(df: pd.DataFrame, settings: dict) -> tuple[list[list[str]], bool]:
    """The table as rows of strings (header row first when shown) and its alignment."""
    body = df.astype(object).where(pd.notna(df), "").astype(str).values.tolist()
    rows = [list(r) for r in body]
    if settings.get("index", True):
        rows = [[str(i), *r] for i, r in zip(df.index, rows, strict=True)]
    if settings.get("header", True):
        head = [str(c) for c in df.columns]
        rows.insert(0, ([""] if settings.get("index", True) else []) + head)
    return rows, settings.get("align", "r") == "l"


def _render(rows: list[list[str]], left: bool, has_header: bool, width: int) -> list[str]:
    """Columns at their natural widths, three spaces apart, filled to ``width``."""
    if not rows:
        return []
    ncol = max(len(r) for r in rows)
    rows = [r + [""] * (ncol - len(r)) for r in rows]
    widths = [max(len(r[j]) for r in rows) for j in range(ncol)]
    gaps = max(ncol - 1, 1)
    gap = [3] * gaps
    spare = max(width - sum(widths) - 3 * gaps, 0)
    # the spare width goes after the labels (data packed to the right), or between the
    # two key/value pairs of the left-aligned model-info table
    gap[(ncol // 2 - 1) if left and ncol >= 4 else 0] += spare
    lines = []
    for i, r in enumerate(rows):
        parts = []
        for j, cell in enumerate(r):
            # the first column (labels) is left-aligned; data right-aligned unless left
            aligned = cell.ljust(widths[j]) if (left or j == 0) else cell.rjust(widths[j])
            parts.append(aligned + (" " * gap[j] if j < ncol - 1 else ""))
        lines.append("".join(parts).rstrip())
        if has_header and i == 0:
            lines.append("")  # placeholder for the rule under the header
    return lines


class MixedSummary(Summary):
    """statsmodels' :class:`~statsmodels.iolib.summary2.Summary` (``.tables``, HTML,
    LaTeX) with a compact text layout: each table keeps its natural column widths and
    all share one rule width, so a two-column variance table is not stretched to the
    fixed-effects table's column count."""

    def as_text(self) -> str:
        """The summary as plain text."""
        parts = [_cells(df, st) for df, st in zip(self.tables, self.settings, strict=True)]
        natural = [
            sum(max(len(r[j]) if j < len(r) else 0 for r in rows) for j in range(len(rows[0])))
            + 3 * (len(rows[0]) - 1)
            for rows, _ in parts
            if rows
        ]
        width = max([*natural, len(self.title or "")])
        out = [(self.title or "").center(width).rstrip(), "=" * width]
        for k, ((rows, left), st) in enumerate(zip(parts, self.settings, strict=True)):
            if k:
                out.append("-" * width)
            header = st.get("header", True) and len(rows) > 1
            for line in _render(rows, left, header, width):
                out.append(line if line else "-" * width)
        out.append("=" * width)
        for note in self.extra_txt:
            out.extend(textwrap.wrap(note, width) or [""])
        return "\n".join(out)


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
    smry = MixedSummary()
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
    smry = MixedSummary()
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
