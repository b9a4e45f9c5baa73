"""Complete pooling vs no pooling vs partial pooling, level by level.

Example
-------
>>> import hierreg_formula as hierreg
>>> cmp = hierreg.compare_pooling("Reaction ~ Days + (Days | Subject)",
...                               hierreg.load_dataset("sleepstudy"))
>>> cmp.table["Subject"].columns[:4].tolist()
['n', 'no_pooling:Intercept', 'partial_pooling:Intercept', 'complete_pooling:Intercept']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: a level whose own design is this ill-conditioned has no no-pooling estimate
COND_LIMIT = 1e10


def _no_pooling(res: Any, group: str) -> pd.DataFrame:
    """Per-level estimates of the group's random-term columns from the fixed-effects
    model with level-specific coefficients (the limit of no penalty); NaN where a
    level's own design cannot identify them (a single row, a single x value)."""
    from ..regularized.solvers import solve_squared

    blocks = res.model_blocks
    idx = res._groups[group]
    from ..models.lmm import term_arrays

    terms = term_arrays(blocks)
    w, v = solve_squared(blocks.X, blocks.y, terms, alpha=1e-10, weight_by_nobs=False)
    frames = []
    for i in idx:
        blk, t = blocks.random[i], terms[i]
        coef = v[i].copy()
        for j, nm in enumerate(blk.names):
            if nm in blocks.x_names:
                coef[:, j] += w[blocks.x_names.index(nm)]
        # identifiability of each level's own columns
        gram = np.zeros((t.nlevels, t.k, t.k))
        for a in range(t.k):
            for b in range(t.k):
                gram[:, a, b] = np.bincount(
                    t.codes, weights=t.Xz[:, a] * t.Xz[:, b], minlength=t.nlevels
                )
        eig = np.linalg.eigvalsh(gram)
        bad = (eig[:, 0] <= 0) | (eig[:, -1] > COND_LIMIT * np.maximum(eig[:, 0], 1e-300))
        coef[bad] = np.nan
        frames.append(pd.DataFrame(coef, index=blk.levels, columns=blk.names))
    return pd.concat(frames, axis=1)


@dataclass
class PoolingComparison:
    """Per grouping factor, the table of level estimates under each kind of pooling."""

    table: dict[str, pd.DataFrame]
    partial: Any
    pooled: pd.Series

    def plot(self, group: str | None = None, column: str | None = None, ax: Any = None):
        """The shrinkage figure: arrows from no-pooling to partial-pooling estimates
        against group size, with the complete-pooling value as a line."""
        from ..plots import _axes

        group = group or next(iter(self.table))
        t = self.table[group]
        cols = [c.split(":", 1)[1] for c in t.columns if c.startswith("no_pooling:")]
        column = column or cols[0]
        ax = _axes(ax)
        n = t["n"].to_numpy(dtype=float)
        jitter = n * np.exp(np.random.default_rng(0).uniform(-0.05, 0.05, len(n)))
        nop = t[f"no_pooling:{column}"].to_numpy()
        par = t[f"partial_pooling:{column}"].to_numpy()
        ok = np.isfinite(nop)
        ax.scatter(jitter[ok], nop[ok], s=14, color="tab:gray", label="no pooling")
        ax.scatter(jitter, par, s=14, color="tab:blue", label="partial pooling")
        for xi, a, b in zip(jitter[ok], nop[ok], par[ok], strict=True):
            ax.annotate(
                "",
                xy=(xi, b),
                xytext=(xi, a),
                arrowprops={"arrowstyle": "->", "color": "tab:blue", "alpha": 0.5, "lw": 0.8},
            )
        ax.axhline(
            t[f"complete_pooling:{column}"].iloc[0],
            color="tab:red",
            ls="--",
            label="complete pooling",
        )
        ax.set_xscale("log")
        ax.set_xlabel(f"rows per {group} level")
        ax.set_ylabel(column)
        ax.set_title(f"Shrinkage of {column} by {group}")
        ax.legend(loc="best", fontsize="small")
        return ax


def pooling_table(res: Any, include_regularized: Any = None) -> PoolingComparison:
    """The comparison from a fitted mixed model (``res.model_blocks`` holds the data)."""
    blocks = res.model_blocks
    beta, *_ = np.linalg.lstsq(blocks.X, blocks.y, rcond=None)
    pooled = pd.Series(beta, index=blocks.x_names)
    coef = res.coef()
    tables = {}
    for g in res.group_names:
        codes = blocks.random[res._groups[g][0]].codes
        nop = _no_pooling(res, g)
        part = coef[g][nop.columns]
        cols: dict[str, Any] = {"n": np.bincount(codes, minlength=len(nop))}
        for c in nop.columns:
            cols[f"no_pooling:{c}"] = nop[c].to_numpy()
            cols[f"partial_pooling:{c}"] = part[c].to_numpy()
            cols[f"complete_pooling:{c}"] = np.full(len(nop), pooled.get(c, 0.0))
            if include_regularized is not None:
                rc = include_regularized.coef()[g]
                cols[f"regularized:{c}"] = rc[c].to_numpy()
        tables[g] = pd.DataFrame(cols, index=nop.index)
    return PoolingComparison(tables, res, pooled)


def compare_pooling(
    formula: str, data: pd.DataFrame, include_regularized: bool = False, **fit_kwargs: Any
) -> PoolingComparison:
    """Fit complete pooling (fixed part only), no pooling (a coefficient per level)
    and partial pooling (REML mixed model); optionally the regularized mode too."""
    from ..api import fit

    res = fit(formula, data, **fit_kwargs)
    reg = fit(formula, data, method="regularized", alpha="cv") if include_regularized else None
    return pooling_table(res, reg)
