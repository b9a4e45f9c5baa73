"""The Dask driver: ``hierreg.fit(formula, ddf)`` for data larger than memory.

Dask (``pip install hierreg-formula[dask]``) schedules the passes; any scheduler
works (the default threads, ``distributed.LocalCluster``, a cluster through
``distributed.Client(address)``): each pass maps a plain-pandas function of
:mod:`.partition` over the partitions and adds the summaries in a tree on the
workers, so the client receives one summary per pass.

1. A few rows of the first partition that has rows give formulaic's model spec;
   categorical columns of the expressions whose levels the dtype does not give
   have them collected first (pass 0).
2. Pass 1: missing values (one :class:`~hierreg_formula.MissingDataWarning` with
   the total), dtypes, column moments and the levels of every grouping factor.
   The client fixes the recipe (levels, lme4's term order), drops linearly
   dependent columns (an extra pass only when the quick check finds some) and
   computes the conditioning the in-memory fit would use.
3. Pass 2: each partition rebuilds its design blocks and reduces them to
   :class:`~hierreg_formula.scale.stats.SufficientStats`; the client converts
   the sum to the core's cross-products and fits.

Memory per worker is bounded by a partition plus the statistics; on the client by
the statistics (:mod:`.memory`, which raises before pass 2 if they would not fit).

Example
-------
>>> import dask.dataframe as dd
>>> import hierreg_formula as hierreg
>>> df = hierreg.load_dataset("sleepstudy")
>>> res = hierreg.fit("Reaction ~ Days + (Days | Subject)", dd.from_pandas(df, npartitions=4))
>>> mem = hierreg.fit("Reaction ~ Days + (Days | Subject)", df)
>>> bool(abs(res.objective - mem.objective) < 1e-8), type(res.fittedvalues).__name__
(True, 'Series')
"""

from __future__ import annotations

import functools
import glob
import operator
import os
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import (
    DataError,
    EstimationError,
    HierregError,
    MissingDataWarning,
    RankDeficiencyWarning,
    warn,
)
from ..formula import DesignBlocks, RandomBlock, build_design
from ..formula.columns import check_not_all_missing
from ..models.prepare import RANK_TOL, lme4_term_order
from ..threads import blas_threads_limited
from .convert import full_counts, to_cross_products
from .design import (
    categorical_columns,
    check_levels,
    check_stateless,
    column_plan,
    columns_only,
    common_dtypes,
    final_spec,
    groupings_from_combos,
    level_frame,
    missing_rows,
    normalize_frame,
)
from .estimate import (
    ReducedModel,
    check_reduced,
    fit_lmm_reduced,
    fit_regularized_reduced,
    lmm_problem,
)
from .memory import check_memory
from .moments import (
    condition_from_moments,
    gram_is_full_rank,
    kept_from_r,
    rank_normalization,
)
from .partition import (
    PassOne,
    PassOnePlan,
    PassTwoPlan,
    RankPlan,
    pass_one,
    pass_rank,
    pass_two,
    pass_zero,
)
from .results import DaskLMMResults, DaskRegularizedResults, level_counts_by_group

#: summaries added per reduction task
SPLIT_EVERY = 8

#: rows of the first non-empty partition used to build formulaic's spec
SAMPLE_ROWS = 256


def _dask():
    try:
        import dask
        import dask.dataframe as dd
    except ImportError as err:  # pragma: no cover - exercised without the extra
        raise ImportError(
            "fitting a Dask DataFrame or Parquet files needs Dask: "
            "pip install 'hierreg-formula[dask]'"
        ) from err
    return dask, dd


def as_dask_frame(data: Any) -> Any:
    """A Dask DataFrame from a Dask DataFrame or a path/glob/directory of Parquet files."""
    _, dd = _dask()
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        local = "://" not in path
        if local and glob.has_magic(path) and not glob.glob(path):
            raise DataError(f"no Parquet files match {path!r}")
        if local and not glob.has_magic(path) and not os.path.exists(path):
            raise DataError(f"no Parquet file or directory {path!r}")
        try:
            return dd.read_parquet(path)
        except (OSError, ValueError) as err:
            raise DataError(f"cannot read {path!r} as Parquet: {err}") from err
    if not hasattr(data, "npartitions"):
        raise DataError(f"expected a Dask DataFrame or Parquet files, got {type(data).__name__}")
    return data


def map_reduce(ddf: Any, func: Callable, plan: Any, split_every: int = SPLIT_EVERY) -> Any:
    """``func(partition, plan)`` on every partition, added with ``+`` in a tree of
    ``split_every``-ary tasks, computed with the current Dask scheduler."""
    dask, _ = _dask()
    parts = ddf.to_delayed(optimize_graph=True)
    plan_d = dask.delayed(plan, name=f"hierreg-plan-{uuid.uuid4().hex}", traverse=False)
    level = [dask.delayed(func, pure=False)(p, plan_d) for p in parts]
    while len(level) > 1:
        level = [
            dask.delayed(_add_all, pure=False)(level[i : i + split_every])
            for i in range(0, len(level), split_every)
        ]
    # one BLAS thread per task thread (Dask's threads run the partitions in parallel;
    # distributed's worker processes already start with one)
    with blas_threads_limited():
        return level[0].compute()


def _add_all(items: list[Any]) -> Any:
    return functools.reduce(operator.add, items)


def _pass_zero(part: pd.DataFrame, plan: tuple) -> Any:
    return pass_zero(part, *plan)


def _known_categories(ddf: Any, used: tuple[str, ...]) -> Any:
    """Categorical columns with unknown categories (e.g. from Parquet) made known."""
    cols = {}
    for c in used:
        dt = ddf[c].dtype
        if isinstance(dt, pd.CategoricalDtype) and not ddf[c].cat.known:
            cols[c] = ddf[c].cat.as_known()
    return ddf.assign(**cols) if cols else ddf


def _sample(ddf: Any, used: tuple[str, ...]) -> pd.DataFrame | None:
    """The first rows without missing values (``None`` when there are none)."""
    for i in range(ddf.npartitions):
        part = normalize_frame(ddf.get_partition(i).compute(), used)
        bad, _ = missing_rows(part)
        part = part.loc[~bad]
        if len(part):
            return part.iloc[:SAMPLE_ROWS]
    return None


def _missing(one: PassOne, missing: str) -> None:
    """The in-memory path's errors and warning about empty data and missing values."""
    if one.n_all == 0:
        raise DataError("the data frame is empty")
    check_not_all_missing(one.nan_counts, one.n_all)
    if one.n_bad:
        counts = ", ".join(f"{c!r}: {k}" for c, k in one.nan_counts.items())
        if missing == "raise":
            raise DataError(f"{one.n_bad} of {one.n_all} rows have missing values ({counts})")
        warn(
            f"dropped {one.n_bad} of {one.n_all} rows with missing values ({counts})",
            MissingDataWarning,
        )
        if one.n == 0:
            raise DataError("no rows left after dropping rows with missing values")


def _counting_pass(ddf: Any, plan: Any, missing: str) -> None:
    """Only missing values and rows (no partition has a usable row): raise as in memory."""
    one = map_reduce(ddf, pass_one, PassOnePlan(plan.used, None, {}))  # type: ignore[arg-type]
    _missing(one, missing)
    raise DataError("no rows left after dropping rows with missing values")  # pragma: no cover


@dataclass(frozen=True, eq=False)
class DesignPlan:
    """The design recipe fixed by the first passes over the data (:func:`design_passes`).

    Attributes
    ----------
    ddf:
        The used columns of the data (categoricals with known categories).
    used, dtypes:
        The used columns and their common dtypes.
    spec:
        The final recipe (all levels, terms in lme4's order).
    keep, x_names, dropped:
        Kept fixed-effects columns (indices and names) and the dropped dependent ones.
    one:
        The pass-1 summary (rows, missing values, moments, ...).
    info:
        Partitions and wall seconds per pass.
    """

    ddf: Any
    used: tuple[str, ...]
    dtypes: dict[str, Any]
    spec: Any
    keep: np.ndarray
    x_names: list[str]
    dropped: tuple[str, ...]
    one: PassOne
    info: dict[str, Any]

    @property
    def all_columns(self) -> bool:
        """No fixed-effects column was dropped."""
        return len(self.keep) == len(self.spec.x_names)


def design_passes(
    formula: str,
    data: Any,
    *,
    missing: str = "drop",
    split_every: int = SPLIT_EVERY,
    extra: tuple[str, ...] = (),
) -> DesignPlan:
    """Passes 0 and 1 (and the rank pass): the recipe every partition rebuilds its
    design with.  ``extra``: further columns whose missing values drop a row (an
    offset column)."""
    if missing not in ("drop", "raise"):
        raise DataError(f"missing must be 'drop' or 'raise', got {missing!r}")
    ddf = as_dask_frame(data)
    plan = column_plan(formula, ddf.columns)
    absent = [c for c in extra if c not in ddf.columns]
    if absent:
        raise DataError(f"column(s) {', '.join(map(repr, absent))} not found in the data")
    used = plan.used + tuple(c for c in extra if c not in plan.used)
    ddf = _known_categories(ddf[list(used)], used)
    info: dict[str, Any] = {"npartitions": int(ddf.npartitions), "wall": {}}
    wall = info["wall"]
    t = time.perf_counter()
    sample = _sample(ddf, used)
    if sample is None:
        _counting_pass(ddf, plan, missing)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingDataWarning)
        spec0 = build_design(formula, sample).spec
    check_stateless(spec0)
    cats = categorical_columns(spec0, dict(sample.dtypes))
    wall["sample"] = time.perf_counter() - t
    if cats:
        t = time.perf_counter()
        values = map_reduce(ddf, _pass_zero, (used, tuple(cats)), split_every)
        spec0 = build_design(formula, level_frame(sample, values.values)).spec
        wall["levels"] = time.perf_counter() - t
    t = time.perf_counter()
    one = map_reduce(ddf, pass_one, PassOnePlan.make(used, spec0, sample), split_every)
    wall["pass1"] = time.perf_counter() - t
    dtypes = common_dtypes(one.dtypes)
    _missing(one, missing)
    groupings = groupings_from_combos(one.combos)
    check_levels(groupings, one.n)
    spec = final_spec(spec0, groupings)
    order = lme4_term_order([len(rs.grouping.levels) for rs in spec.random])
    if order != list(range(len(order))):
        spec = spec.reordered(order)
    # linearly dependent fixed-effects columns (prepare's full_rank_columns)
    xm = one.x
    p_all = xm.width
    keep = np.arange(p_all)
    if p_all:
        norm, gram = rank_normalization(xm)
        if not gram_is_full_rank(gram):
            t = time.perf_counter()
            rplan = RankPlan(used, dtypes, columns_only(spec), norm)
            R = map_reduce(ddf, pass_rank, rplan, split_every).R
            keep = kept_from_r(R, RANK_TOL)
            wall["rank"] = time.perf_counter() - t
    dropped: tuple[str, ...] = ()
    if len(keep) < p_all:
        kept = set(keep.tolist())
        dropped = tuple(nm for i, nm in enumerate(spec.x_names) if i not in kept)
        warn(
            f"fixed-effect model matrix is rank deficient: dropping {len(dropped)} "
            f"column(s) {', '.join(repr(d) for d in dropped)}",
            RankDeficiencyWarning,
        )
    x_names = [spec.x_names[i] for i in keep]
    return DesignPlan(ddf, used, dtypes, spec, keep, x_names, dropped, one, info)


def reduce_model(
    formula: str,
    data: Any,
    *,
    raw: bool = False,
    missing: str = "drop",
    split_every: int = SPLIT_EVERY,
) -> tuple[ReducedModel, dict[str, Any]]:
    """The passes over the data: the reduced model and what the results need.

    ``raw``: statistics of the unconditioned arrays (the regularized mode's numeric
    ``alpha``); otherwise of the arrays conditioned as the in-memory fit does.
    """
    dp = design_passes(formula, data, missing=missing, split_every=split_every)
    ddf, used, dtypes, spec, keep, one = dp.ddf, dp.used, dp.dtypes, dp.spec, dp.keep, dp.one
    x_names, dropped, info = dp.x_names, dp.dropped, dp.info
    wall = info["wall"]
    xm = one.x
    p_all = xm.width
    shared = tuple(rs.expr == spec.parsed.fixed and not dropped for rs in spec.random)
    ks = [len(rs.names) for rs in spec.random]
    nlevels = [len(rs.grouping.levels) for rs in spec.random]
    n = one.n
    if not raw:
        check_reduced(spec, n, len(keep), ks, nlevels, one.y)
    elif not spec.random:
        raise EstimationError(
            "the formula has no group term such as '(1 + x | group)': nothing to regularize"
        )
    check_memory(n, len(keep), ks, nlevels)
    cond = None
    if not raw:
        zms = [None if sh else one.z[rs.expr] for rs, sh in zip(spec.random, shared, strict=True)]
        cond = condition_from_moments(xm.subset(keep), one.y, zms)
    t = time.perf_counter()
    two_plan = PassTwoPlan(used, dtypes, spec, None if len(keep) == p_all else keep, shared, cond)
    timed = map_reduce(ddf, pass_two, two_plan, split_every)
    wall["pass2"] = time.perf_counter() - t
    stats = timed.value
    t = time.perf_counter()
    cp = to_cross_products(stats, nlevels)
    wall["convert"] = time.perf_counter() - t
    info["seconds"] = {
        "pass1": dict(one.seconds),
        "pass2": dict(timed.seconds),
    }
    model = ReducedModel(
        formula=formula,
        spec=spec,
        x_names=x_names,
        dropped=dropped,
        n=n,
        n_dropped=one.n_bad,
        y_moments=one.y,
        binary=one.binary,
        cond=cond,
        cp=cp,
    )
    info.update(frame=ddf, used=used, dtypes=dtypes, statistics=stats)
    return model, info


def skeleton_blocks(model: ReducedModel) -> DesignBlocks:
    """Design blocks without rows: names, levels and the recipe (what the results read)."""
    spec = model.spec
    random = [
        RandomBlock(
            rs.grouping.name,
            np.zeros(0, dtype=np.int64),
            rs.grouping.levels,
            np.zeros((0, len(rs.names))),
            list(rs.names),
        )
        for rs in spec.random
    ]
    return DesignBlocks(
        y=None,
        y_name=spec.parsed.response or "",
        X=np.zeros((0, len(model.x_names))),
        x_names=list(model.x_names),
        random=random,
        index=pd.RangeIndex(0),
        n_dropped=model.n_dropped,
        spec=spec,
    )


def _results(cls: type, model: ReducedModel, info: dict[str, Any], **kwargs: Any) -> Any:
    counts = full_counts(info["statistics"], model.nlevels)
    res = cls(formula=model.formula, blocks=skeleton_blocks(model), **kwargs)
    res._set_out_of_core(
        frame=info["frame"],
        nobs=model.n,
        used=info["used"],
        dtypes=info["dtypes"],
        level_counts=level_counts_by_group(model.spec, counts),
        statistics=info["statistics"],
        problem=info.get("problem"),
        scale_info={k: info[k] for k in ("npartitions", "wall", "seconds")},
    )
    return res


def fit_dask(
    formula: str,
    data: Any,
    method: str = "reml",
    *,
    missing: str = "drop",
    split_every: int = SPLIT_EVERY,
    **kwargs: Any,
) -> Any:
    """Fit ``formula`` on a Dask DataFrame or Parquet files (see the module docstring).

    Parameters
    ----------
    formula:
        An lme4-style formula.
    data:
        A Dask DataFrame, or a path, glob or directory of Parquet files.
    method:
        ``"reml"``, ``"ml"`` or ``"regularized"`` (``alpha`` a number or ``"reml"``;
        squared loss, Gaussian, no ``l1``/``linf``).
    missing:
        ``"drop"`` rows with missing values (one warning with the total) or ``"raise"``.
    split_every:
        Summaries added per reduction task.
    **kwargs:
        The method's options, as for :func:`hierreg_formula.fit`.

    Returns
    -------
    DaskLMMResults or DaskRegularizedResults
        The in-memory results classes with lazy ``fittedvalues``, ``resid`` and
        ``predict()`` (Dask Series).
    """
    m = str(method).lower()
    if m in ("reml", "ml"):
        model, info = reduce_model(formula, data, missing=missing, split_every=split_every)
        t = time.perf_counter()
        prob, est = fit_lmm_reduced(model, reml=(m == "reml"), **kwargs)
        info["wall"]["fit"] = time.perf_counter() - t
        info["problem"] = prob
        return _results(
            DaskLMMResults,
            model,
            info,
            estimate=est,
            dropped_columns=model.dropped,
            data=info["frame"],
        )
    if m != "regularized":
        raise HierregError(f"unknown method {method!r}; choose one of reml, ml, regularized")
    return _fit_regularized(formula, data, missing, split_every, **kwargs)


#: the regularized mode's options and what the out-of-core fit supports
_REGULARIZED_DEFAULTS = {
    "alpha": "cv",
    "loss": "squared",
    "l1": 0.0,
    "linf": 0.0,
    "main_l2": 0.0,
    "weight_by_nobs": True,
    "family": "gaussian",
}


def _fit_regularized(formula: str, data: Any, missing: str, split_every: int, **kwargs: Any):
    opts = {**_REGULARIZED_DEFAULTS, **kwargs}
    alpha = opts["alpha"]
    if (
        opts["loss"] != "squared"
        or opts["family"] != "gaussian"
        or opts["l1"]
        or opts["linf"]
        or alpha == "cv"
    ):
        raise HierregError(
            "out of core, method='regularized' supports the squared loss, family='gaussian', "
            "no l1/linf penalty and alpha a number or 'reml' (cross-validation and the cvxpy "
            "losses need the rows in memory)"
        )
    common = dict(loss="squared", family="gaussian", alpha_request=alpha)
    if alpha == "reml":
        model, info = reduce_model(formula, data, missing=missing, split_every=split_every)
        with blas_threads_limited():  # as fit_regularized: no convergence/singular warnings
            prob = lmm_problem(model, reml=True)
            est = prob.fit()
        info["problem"] = prob
        # the mixed model's fixed effects and conditional modes are the ridge solution
        # with the REML factors (fit_regularized's alpha="reml")
        return _results(
            DaskRegularizedResults,
            model,
            info,
            w=est.beta,
            v=est.b,
            alpha=float("nan"),
            theta=est.theta,
            converged=est.converged,
            dropped_columns=model.dropped,
            data=info["frame"],
            **common,
        )
    try:
        alpha = float(alpha)
    except (TypeError, ValueError):
        raise HierregError(f"alpha must be a number > 0, 'cv' or 'reml', got {alpha!r}") from None
    model, info = reduce_model(formula, data, raw=True, missing=missing, split_every=split_every)
    w, v, objective, theta = fit_regularized_reduced(
        model, alpha, float(opts["main_l2"]), bool(opts["weight_by_nobs"])
    )
    return _results(
        DaskRegularizedResults,
        model,
        info,
        w=w,
        v=v,
        alpha=alpha,
        objective=objective,
        theta=theta,
        dropped_columns=model.dropped,
        data=info["frame"],
        **common,
    )
