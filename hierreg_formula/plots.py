"""Plots of fitted models (matplotlib, the optional ``plot`` extra).

A leaf of the package: it imports nothing of it but the exceptions, and draws
from tables and the public results API (``random_effects``,
``random_effects_sd``, ``model_blocks``, ``fittedvalues``); what needs computing
(the pooling table behind the shrinkage figure) is computed by the caller.
matplotlib is imported inside the functions, so this module imports without it.

Example
-------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import hierreg_formula as hierreg
>>> res = hierreg.fit("Reaction ~ Days + (Days | Subject)", hierreg.load_dataset("sleepstudy"))
>>> fig = res.plot_random_effects()
>>> len(fig.axes)
2
>>> import matplotlib.pyplot as plt; plt.close("all")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .exceptions import HierregError

__all__ = [
    "draw_profile",
    "draw_shrinkage",
    "plot_fit",
    "plot_random_effects",
    "plot_shrinkage",
]

#: levels drawn by :func:`plot_fit` when ``levels`` is not given
MAX_FIT_LEVELS = 12
#: caterpillar plots label every level up to this many levels
MAX_LABELLED_LEVELS = 60


def _plt():
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plotting needs matplotlib, the optional 'plot' extra: "
            "pip install 'hierreg-formula[plot]' (or pip install matplotlib)"
        ) from err
    return plt


def _axes(ax: Any = None, figsize: tuple[float, float] = (6.0, 4.0)):
    if ax is not None:
        return ax
    _, ax = _plt().subplots(figsize=figsize)
    return ax


def _group(res: Any, group: str | None) -> str:
    names = list(res.group_names)
    if group is None:
        return names[0]
    if group not in names:
        raise HierregError(f"{group!r} is not a grouping factor of the model; choose from {names}")
    return group


def plot_random_effects(
    res: Any,
    group: str | None = None,
    ax: Any = None,
    *,
    z: float = 1.96,
):
    """Caterpillar plot of the conditional modes of one grouping factor.

    One panel per random-effects column; in each, the levels are sorted by
    their conditional mode and drawn with ``+- z`` conditional-SD intervals
    (``res.random_effects_sd``; without it, e.g. for the regularized mode, the
    points alone).  A vertical line marks zero.

    Parameters
    ----------
    res:
        A fitted model of this package.
    group:
        Grouping factor (default: the first of the formula).
    ax:
        Axes to draw on: one Axes per column (a single Axes when the factor
        has one column); default a new figure.
    z:
        Half-width of the intervals in conditional SDs (1.96: 95%).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import hierreg_formula as hierreg
    >>> res = hierreg.fit("Yield ~ 1 + (1 | Batch)", hierreg.load_dataset("Dyestuff"))
    >>> fig = plot_random_effects(res)
    >>> [len(ln.get_xdata()) for ln in fig.axes[0].lines[:1]]
    [6]
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    plt = _plt()
    group = _group(res, group)
    modes = res.random_effects[group]
    sd_all = getattr(res, "random_effects_sd", None)
    sds = sd_all[group] if sd_all is not None else None
    ncol = modes.shape[1]
    if ax is None:
        height = min(max(3.0, 0.18 * len(modes)), 16.0)
        fig, axes = plt.subplots(1, ncol, figsize=(4 * ncol, height), squeeze=False)
        panels = list(axes[0])
    else:
        panels = list(np.ravel(ax)) if isinstance(ax, Sequence | np.ndarray) else [ax]
        if len(panels) != ncol:
            raise HierregError(
                f"{group!r} has {ncol} random-effects columns ({list(modes.columns)}): "
                f"pass {ncol} Axes, not {len(panels)}"
            )
        fig = panels[0].figure
    labels = np.array([str(v) for v in modes.index])
    for panel, col in zip(panels, modes.columns, strict=True):
        m = modes[col].to_numpy(dtype=float)
        order = np.argsort(m, kind="stable")
        pos = np.arange(len(m))
        xerr = None if sds is None else z * sds[col].to_numpy(dtype=float)[order]
        panel.errorbar(
            m[order], pos, xerr=xerr, fmt="o", ms=3, color="tab:blue", ecolor="tab:gray", lw=1
        )
        panel.axvline(0.0, color="k", lw=0.8)
        if len(m) <= MAX_LABELLED_LEVELS:
            panel.set_yticks(pos)
            panel.set_yticklabels(labels[order], fontsize="x-small")
        else:
            panel.set_yticks([])
            panel.set_ylabel(f"{len(m)} levels (sorted)")
        panel.set_title(f"{group}: {col}")
    if ax is None:
        fig.tight_layout()
    return fig


def plot_shrinkage(res: Any, group: str | None = None, column: str | None = None, ax: Any = None):
    """No-pooling -> partial-pooling arrows per level, against the level's size.

    The same as ``res.plot_shrinkage(...)``: the pooling table is computed by
    :func:`hierreg_formula.compare.pooling.pooling_table` and drawn by
    :func:`draw_shrinkage`.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import hierreg_formula as hierreg
    >>> res = hierreg.fit("log_radon ~ floor + (1 | county)", hierreg.load_dataset("radon"))
    >>> ax = plot_shrinkage(res)
    >>> ax.get_xscale()
    'log'
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    return res.plot_shrinkage(group=group, column=column, ax=ax)


def draw_shrinkage(table: Any, group: str, column: str, ax: Any = None):
    """Draw the shrinkage figure of one column from a pooling table.

    ``table`` has one row per level: ``n`` (rows of the level) and the columns
    ``no_pooling:<column>``, ``partial_pooling:<column>``,
    ``complete_pooling:<column>`` (and optionally ``regularized:<column>``).  Each
    level is drawn at its number of rows (slightly jittered; log scale when the
    sizes span a factor of 4 or more): its no-pooling estimate (grey), an arrow to
    its partial-pooling estimate (blue), the regularized estimate when present
    (green crosses), and the complete-pooling value as a dashed red line.  Levels
    without a no-pooling estimate show only the partial-pooling point.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> t = pd.DataFrame({"n": [2, 8], "no_pooling:a": [1.0, 3.0],
    ...                   "partial_pooling:a": [1.5, 2.9], "complete_pooling:a": [2.0, 2.0]})
    >>> ax = draw_shrinkage(t, "g", "a")
    >>> ax.get_ylabel(), ax.get_xscale()
    ('a', 'log')
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    ax = _axes(ax)
    n = table["n"].to_numpy(dtype=float)
    jitter = np.random.default_rng(0).uniform(-1.0, 1.0, len(n))
    log_x = n.max() >= 4 * max(n.min(), 1.0)  # sizes spread: log scale
    x = n * np.exp(0.08 * jitter) if log_x else n + 0.3 * jitter
    nop = table[f"no_pooling:{column}"].to_numpy(dtype=float)
    par = table[f"partial_pooling:{column}"].to_numpy(dtype=float)
    ok = np.isfinite(nop)
    ax.scatter(x[ok], nop[ok], s=14, color="tab:gray", label="no pooling", zorder=2)
    ax.scatter(x, par, s=14, color="tab:blue", label="partial pooling", zorder=3)
    for xi, a, b in zip(x[ok], nop[ok], par[ok], strict=True):
        ax.annotate(
            "",
            xy=(xi, b),
            xytext=(xi, a),
            arrowprops={"arrowstyle": "->", "color": "tab:blue", "alpha": 0.5, "lw": 0.8},
        )
    if f"regularized:{column}" in table.columns:
        reg = table[f"regularized:{column}"].to_numpy(dtype=float)
        ax.scatter(x, reg, s=18, marker="x", color="tab:green", label="regularized", zorder=4)
    ax.axhline(
        table[f"complete_pooling:{column}"].iloc[0],
        color="tab:red",
        ls="--",
        label="complete pooling",
    )
    if log_x:
        from matplotlib.ticker import NullFormatter, StrMethodFormatter

        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_xticks(np.unique(n))
    ax.set_xlabel(f"rows per level of {group}")
    ax.set_ylabel(column)
    ax.set_title(f"Shrinkage of {column} by {group}")
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_fit(
    res: Any,
    group: str | None = None,
    x: str | None = None,
    levels: Sequence[Any] | None = None,
    ax: Any = None,
):
    """Observed points and fitted lines of some levels of a grouping factor.

    For every chosen level: a scatter of the observed response against ``x``
    and the line of the fitted values (fixed + random part) through the
    level's rows, sorted by ``x`` (with other covariates in the model the line
    follows their observed values).  A model with no covariate is drawn
    against the level: points per level and a horizontal fitted segment.

    Parameters
    ----------
    res:
        A fitted model of this package.
    group:
        Grouping factor (default: the first).
    x:
        The x-axis: a fixed-effects column or a column of the fitting data
        (default: the first non-intercept fixed-effects column, else the first
        non-intercept random-effects column, else the level).
    levels:
        The levels to draw (default: the first 12).
    ax:
        Axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import hierreg_formula as hierreg
    >>> res = hierreg.fit("Reaction ~ Days + (Days | Subject)",
    ...                   hierreg.load_dataset("sleepstudy"))
    >>> ax = plot_fit(res, levels=["308", "309"])
    >>> len(ax.lines), ax.get_xlabel()
    (2, 'Days')
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    plt = _plt()
    blocks = res.model_blocks
    group = _group(res, group)
    blk = next(b for b in blocks.random if b.group == group)
    if levels is None:
        chosen = list(blk.levels[:MAX_FIT_LEVELS])
    else:
        chosen = list(levels)
        missing = [lev for lev in chosen if lev not in blk.levels]
        if missing:
            raise HierregError(f"levels {missing} are not levels of {group!r}")
    xv = _x_values(res, x)
    xname = x if x is not None else _default_x(res)
    fitted = res.fittedvalues.to_numpy()
    y = blocks.y
    ax = _axes(ax)
    colors = plt.get_cmap("tab10" if len(chosen) <= 10 else "tab20")
    for i, lev in enumerate(chosen):
        rows = blk.codes == blk.levels.get_loc(lev)
        c = colors(i % colors.N)
        if xv is None:  # against the level
            ax.scatter(np.full(rows.sum(), i), y[rows], s=10, color=c)
            ax.plot([i - 0.35, i + 0.35], [fitted[rows].mean()] * 2, color=c, lw=1.5)
            continue
        order = np.argsort(xv[rows], kind="stable")
        ax.scatter(xv[rows], y[rows], s=10, color=c)
        ax.plot(xv[rows][order], fitted[rows][order], color=c, lw=1.2, label=str(lev))
    if xv is None:
        ax.set_xticks(range(len(chosen)))
        ax.set_xticklabels([str(v) for v in chosen], rotation=90, fontsize="small")
        ax.set_xlabel(group)
    else:
        ax.set_xlabel(xname)
        if len(chosen) <= MAX_FIT_LEVELS:
            ax.legend(title=group, fontsize="x-small", ncol=2)
    ax.set_ylabel(blocks.y_name)
    ax.set_title(f"Observed and fitted by {group}")
    return ax


def _default_x(res: Any) -> str | None:
    blocks = res.model_blocks
    for names in [blocks.x_names] + [b.names for b in blocks.random]:
        for nm in names:
            if nm != "Intercept":
                return nm
    return None


def _x_values(res: Any, x: str | None) -> np.ndarray | None:
    blocks = res.model_blocks
    name = x if x is not None else _default_x(res)
    if name is None:
        return None
    if name in blocks.x_names:
        return blocks.X[:, blocks.x_names.index(name)]
    for b in blocks.random:
        if name in b.names:
            return b.X[:, b.names.index(name)]
    data = res.model_data
    if data is not None and name in data.columns:
        values = data[name].to_numpy()
        if np.issubdtype(values.dtype, np.number):
            return values.astype(float)
        raise HierregError(f"x={name!r} is not numeric")
    raise HierregError(
        f"x={name!r} is neither a model column ({blocks.x_names}) nor a column of the data"
    )


def draw_profile(frame: Any, ax: Any = None, levels: Sequence[float] = (0.5, 0.8, 0.9, 0.95, 0.99)):
    """lme4's zeta plot from a profile table (``parameter``, ``value``, ``zeta`` columns).

    One panel per parameter: ``zeta`` (the signed square root of the change in
    deviance) against the parameter, with dotted lines at the normal quantiles of
    ``levels`` (a straight line means a quadratic profile: Wald intervals are fine).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> f = pd.DataFrame({"parameter": ["a"] * 3, "value": [0.0, 1.0, 2.0], "zeta": [-1, 0, 1]})
    >>> fig = draw_profile(f)
    >>> len(fig.axes)
    1
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    from scipy import stats

    plt = _plt()
    params = list(dict.fromkeys(frame["parameter"]))
    if ax is None:
        ncol = min(3, len(params))
        nrow = -(-len(params) // ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.6 * nrow), squeeze=False)
        panels = list(axes.ravel())
        for extra in panels[len(params) :]:
            extra.set_visible(False)
    else:
        panels = list(np.ravel(ax)) if isinstance(ax, Sequence | np.ndarray) else [ax]
        if len(panels) < len(params):
            raise HierregError(f"{len(params)} parameters need {len(params)} Axes")
        fig = panels[0].figure
    qs = stats.norm.ppf(0.5 + np.asarray(levels) / 2.0)
    for panel, name in zip(panels, params, strict=False):
        rows = frame[frame["parameter"] == name].sort_values("value")
        panel.plot(rows["value"], rows["zeta"], "-o", ms=2.5, color="tab:blue")
        for q in qs:
            for s in (-q, q):
                panel.axhline(s, color="gray", ls=":", lw=0.7)
        panel.axhline(0.0, color="k", lw=0.6)
        panel.set_title(str(name), fontsize="small")
        panel.set_ylabel("zeta")
    if ax is None:
        fig.tight_layout()
    return fig
