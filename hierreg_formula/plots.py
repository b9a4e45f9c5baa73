"""Plots of fitted models (matplotlib, the optional ``plot`` extra).

Example
-------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import hierreg_formula as hierreg
>>> res = hierreg.fit("Reaction ~ Days + (Days | Subject)", hierreg.load_dataset("sleepstudy"))
>>> fig = res.plot_random_effects()
>>> len(fig.axes)
2
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _plt():
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover
        raise ImportError("plots need matplotlib: pip install 'hierreg-formula[plot]'") from err
    return plt


def _axes(ax: Any = None):
    if ax is not None:
        return ax
    _, ax = _plt().subplots(figsize=(6, 4))
    return ax


def plot_random_effects(res: Any, group: str | None = None, z: float = 1.96):
    """Caterpillar plot: conditional modes +- ``z`` conditional SDs, sorted, one
    panel per column of the grouping factor's random effects.  Returns the Figure."""
    plt = _plt()
    group = group or res.group_names[0]
    modes = res.random_effects[group]
    sds = res.random_effects_sd[group]
    ncol = modes.shape[1]
    fig, axes = plt.subplots(1, ncol, figsize=(4 * ncol, max(3, 0.18 * len(modes))), squeeze=False)
    for ax, col in zip(axes[0], modes.columns, strict=True):
        order = np.argsort(modes[col].to_numpy())
        m = modes[col].to_numpy()[order]
        s = sds[col].to_numpy()[order]
        pos = np.arange(len(m))
        ax.errorbar(m, pos, xerr=z * s, fmt="o", ms=3, color="tab:blue", ecolor="tab:gray")
        ax.axvline(0.0, color="k", lw=0.8)
        ax.set_yticks(pos)
        ax.set_yticklabels([str(v) for v in modes.index[order]], fontsize="x-small")
        ax.set_title(f"{group}: {col}")
    fig.tight_layout()
    return fig


def plot_shrinkage(res: Any, group: str | None = None, column: str | None = None, ax: Any = None):
    """No-pooling -> partial-pooling arrows against group size.  Returns the Axes."""
    from .compare.pooling import pooling_table

    return pooling_table(res).plot(group=group, column=column, ax=ax)


def plot_fit(
    res: Any, group: str | None = None, x: str | None = None, levels: Any = None, ax: Any = None
):
    """Observed points and fitted lines per level of ``group`` against ``x``.

    ``x`` defaults to the first non-intercept column of the fixed effects;
    ``levels`` limits the levels drawn (default: up to 12).  Returns the Axes.
    """
    blocks = res.model_blocks
    group = group or res.group_names[0]
    blk = blocks.random[res._groups[group][0]]
    x = x or next(c for c in blocks.x_names if c != "Intercept")
    xv = blocks.X[:, blocks.x_names.index(x)]
    fitted = res.fittedvalues.to_numpy()
    chosen = list(blk.levels[:12]) if levels is None else list(levels)
    ax = _axes(ax)
    colors = _plt().get_cmap("tab20")
    for i, lev in enumerate(chosen):
        rows = blk.codes == blk.levels.get_loc(lev)
        order = np.argsort(xv[rows])
        c = colors(i % 20)
        ax.scatter(xv[rows], blocks.y[rows], s=10, color=c)
        ax.plot(xv[rows][order], fitted[rows][order], color=c, lw=1.2, label=str(lev))
    ax.set_xlabel(x)
    ax.set_ylabel(blocks.y_name)
    ax.set_title(f"Fitted lines by {group}")
    if len(chosen) <= 12:
        ax.legend(fontsize="x-small", ncol=2)
    return ax
