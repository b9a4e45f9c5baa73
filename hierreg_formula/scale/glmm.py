"""GLMMs on Dask: lme4's Laplace fit with one pass over persisted partitions per PIRLS step.

``hierreg.fit(formula, ddf, family="binomial")`` (or ``"poisson"``, with an
``offset=`` column) on a Dask DataFrame or Parquet files:

1. The passes of :func:`~hierreg_formula.scale.dask.design_passes` fix the design
   recipe (levels, lme4's term order, dependent columns dropped), as for a
   linear mixed model.
2. Every partition materializes its arrays once (``X``, ``y``, trials, offset,
   level codes: :func:`~.glmm_rows.make_bundle`) and Dask *persists* them on the
   workers; a first pass over them adds the rows, the saturated model's
   constant and the column norms.
3. The core's optimiser (:func:`~hierreg_formula.core.glmm.fit_stages` and
   :func:`~hierreg_formula.core.glmm.estimate_at`, the in-memory code) runs on
   the client on a :class:`DaskGLMMProblem`, whose PIRLS makes **one row pass per
   iteration** (and one per step halving): the workers evaluate ``eta``, the
   working weights and residuals and the deviance at the current parameters and
   return the sums of the next Fisher-scoring step (:func:`~.glmm_rows.row_pass`);
   the client adds them, factors and solves.  With one random-effects term the
   same pass also returns the sums of the analytic Laplace gradient, so an
   optimiser evaluation costs as many passes as PIRLS iterations.

The count of row passes is ``res.scale_info["passes"]`` (per stage in
``res.scale_info["passes_by_stage"]``).  Memory: the workers hold the design
arrays of all partitions (about ``8 (p + 2 + sum k_i) + 8 m`` bytes per row, ``m``
terms) for the duration of the fit; the client holds per-level sums.

Example
-------
>>> import dask.dataframe as dd
>>> import hierreg_formula as hierreg
>>> df = hierreg.load_dataset("cbpp")
>>> f = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
>>> res = hierreg.fit(f, dd.from_pandas(df, npartitions=3), family="binomial")
>>> mem = hierreg.fit(f, df, family="binomial")
>>> bool(abs(res.objective - mem.objective) < 1e-8 * mem.objective), res.scale_info["passes"] > 0
(True, True)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core.families import Family, get_family
from ..core.glmm import (
    PIRLS_TOL,
    GLMMProblem,
    estimate_at,
    fit_stages,
)
from ..core.pirls import MAX_HALVINGS, PirlsResult, b_from_u
from ..core.pls import PLSFactor, factorize
from ..core.single import GradientSums, laplace_gradient_from_sums, newton_step_from_sums
from ..core.structure import CrossProducts
from ..exceptions import (
    ConvergenceWarning,
    DataError,
    EstimationError,
    HierregError,
    SingularFitWarning,
    warn,
)
from ..threads import blas_threads_limited
from .convert import CountedTerm, to_cross_products
from .dask import SPLIT_EVERY, _add_all, _dask, as_dask_frame, design_passes, skeleton_blocks
from .design import column_plan
from .glmm_rows import BundlePlan, PassSums, RowRequest, bundle_summary, make_bundle, row_pass
from .memory import check_memory

#: the families fitted out of core
FAMILIES = ("binomial", "poisson")


# ------------------------------------------------------------------ row passes
class DaskRows:
    """The persisted partition bundles and the row passes over them.

    Parameters
    ----------
    bundles:
        One persisted Dask object per partition (a :class:`~.glmm_rows.RowBundle`
        or ``None``).
    split_every:
        Summaries added per reduction task.
    """

    def __init__(self, bundles: Sequence[Any], split_every: int = SPLIT_EVERY) -> None:
        self.bundles = list(bundles)
        self.split_every = split_every
        self.passes = 0
        self.wall = 0.0
        self.worker_seconds = 0.0

    def run(self, func: Any, *args: Any) -> PassSums:
        """``func(bundle, *args)`` on every bundle, added in a tree on the workers."""
        dask, _ = _dask()
        t = time.perf_counter()
        args_d = [
            dask.delayed(a, name=f"hierreg-req-{uuid.uuid4().hex}", traverse=False) for a in args
        ]
        level = [dask.delayed(func, pure=False)(b, *args_d) for b in self.bundles]
        se = self.split_every
        while len(level) > 1:
            level = [
                dask.delayed(_add_all, pure=False)(level[i : i + se])
                for i in range(0, len(level), se)
            ]
        with blas_threads_limited():
            out = level[0].compute()
        self.wall += time.perf_counter() - t
        self.worker_seconds += out.seconds
        return out

    def row_pass(self, req: RowRequest) -> PassSums:
        """One row pass (counted in :attr:`passes`)."""
        self.passes += 1
        return self.run(row_pass, req)


@dataclass(frozen=True, eq=False)
class RemoteState:
    """The summary of the rows at one linear predictor (a ``WorkingState`` without rows).

    ``eta`` and ``mu`` are empty (the rows stay on the workers); ``request`` is the
    pass that produced the sums.
    """

    sums: PassSums
    request: RowRequest
    eta: np.ndarray = field(default_factory=lambda: np.zeros(0))
    mu: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def dev(self) -> float:
        """The deviance ``sum w d(y, mu)``."""
        return self.sums.dev

    @property
    def n_boundary(self) -> int:
        """Fitted probabilities numerically 0 or 1 (binomial)."""
        return self.sums.n_boundary


def _evaluate(rows: DaskRows, req: RowRequest, u: np.ndarray) -> tuple[RemoteState, float]:
    s = rows.row_pass(req)
    return RemoteState(s, req), s.dev + float(u @ u)


def _cp(state: RemoteState, nlevels: Sequence[int]) -> CrossProducts:
    return to_cross_products(state.sums.stats, nlevels)


# ------------------------------------------------------------------ PIRLS
def pirls_modes_remote(
    rows: DaskRows,
    terms: Sequence[CountedTerm],
    lambdas: Sequence[np.ndarray],
    beta: np.ndarray,
    u0: np.ndarray | None = None,
    tol: float = PIRLS_TOL,
    maxit: int = 100,
    gradient: bool = False,
) -> PirlsResult:
    """:func:`~hierreg_formula.core.pirls.pirls_modes` with one row pass per iteration."""
    q = int(sum(t.q for t in terms))
    nlevels = [t.nlevels for t in terms]
    single = len(terms) == 1
    kind = "single" if single else "modes"
    T = np.asarray(lambdas[0], dtype=float)

    def request(u: np.ndarray) -> RowRequest:
        return RowRequest(beta, tuple(b_from_u(u, terms, lambdas)), kind, gradient)

    u = np.zeros(q) if u0 is None else np.array(u0, dtype=float)
    st, pdev = _evaluate(rows, request(u), u)
    L, k = terms[0].nlevels, terms[0].k

    def done(it: int, ok: bool, msg: str = "") -> PirlsResult:
        if single:
            return PirlsResult(u, beta, st, ldl, Lc, None, pdev, it, ok, msg)
        return PirlsResult(u, beta, st, f.logdet_L, f.L11, f, pdev, it, ok, msg)

    for it in range(1, maxit + 1):
        if single:
            a = st.sums.arrays
            step, Lc = newton_step_from_sums(T, u.reshape(L, k), a["M"], a["rz"])
            step = step.ravel()
            ldl = float(2.0 * np.log(np.diagonal(Lc, axis1=1, axis2=2)).sum())
        else:
            f = factorize(_cp(st, nlevels), lambdas)
            step = f.solution()[0] - u
        if np.max(np.abs(step), initial=0.0) <= tol * (1.0 + np.max(np.abs(u), initial=0.0)):
            return done(it, True)
        for _ in range(MAX_HALVINGS):
            st_new, pdev_new = _evaluate(rows, request(u + step), u + step)
            if pdev_new <= pdev * (1.0 + 1e-15) or not np.isfinite(pdev):
                break
            step = 0.5 * step
        else:
            small = np.max(np.abs(step)) <= 1e-6 * (1.0 + np.max(np.abs(u)))
            return done(it, bool(small), "step halving could not decrease the penalized deviance")
        u, st, pdev = u + step, st_new, pdev_new
    return done(maxit, False, f"no convergence in {maxit} iterations")


def pirls_joint_remote(
    rows: DaskRows,
    terms: Sequence[CountedTerm],
    lambdas: Sequence[np.ndarray],
    xscale: np.ndarray,
    binomial: bool,
    beta0: np.ndarray | None = None,
    u0: np.ndarray | None = None,
    tol: float = PIRLS_TOL,
    maxit: int = 100,
) -> PirlsResult:
    """:func:`~hierreg_formula.core.pirls.pirls_joint` with one row pass per iteration."""
    q = int(sum(t.q for t in terms))
    nlevels = [t.nlevels for t in terms]
    p = len(xscale)

    def request(u: np.ndarray, beta: np.ndarray | None) -> RowRequest:
        return RowRequest(beta, tuple(b_from_u(u, terms, lambdas)), "joint")

    if beta0 is None:
        u, beta = np.zeros(q), np.zeros(p)
        st = RemoteState(rows.row_pass(request(u, None)), request(u, None))
        pdev = np.inf  # the start is not a point (u, beta): no halving on the first step
    else:
        beta = np.array(beta0, dtype=float)
        u = np.zeros(q) if u0 is None else np.array(u0, dtype=float)
        st, pdev = _evaluate(rows, request(u, beta), u)
    pdev_prev = np.inf

    def done(it: int, ok: bool, msg: str = "") -> PirlsResult:
        return PirlsResult(u, beta, st, f.logdet_L, f.L11, f, pdev, it, ok, msg)

    for it in range(1, maxit + 1):
        f = factorize(_cp(st, nlevels), lambdas)
        u_new, _, beta_new = f.solution()
        du, db = u_new - u, beta_new - beta
        size = max(
            np.max(np.abs(du), initial=0.0) / (1.0 + np.max(np.abs(u), initial=0.0)),
            np.max(np.abs(db) * xscale, initial=0.0) / (1.0 + st.sums.maxima["eta"]),
        )
        if np.isfinite(pdev) and size <= tol:
            return done(it, True)
        if it > 1 and binomial and np.isfinite(pdev_prev) and st.n_boundary:
            # complete separation: the deviance has converged while beta drifts off
            if abs(pdev_prev - pdev) <= 1e-10 * (abs(pdev) + 0.1):
                return done(it, True, "complete separation")
        pdev_prev = pdev
        for _ in range(MAX_HALVINGS):
            st_new, pdev_new = _evaluate(rows, request(u + du, beta + db), u + du)
            if pdev_new <= pdev * (1.0 + 1e-15) or not np.isfinite(pdev):
                break
            du, db = 0.5 * du, 0.5 * db
        else:
            msg = "step halving could not decrease the penalized deviance"
            return done(it, bool(size <= 1e-6), msg)
        u, beta, st, pdev = u + du, beta + db, st_new, pdev_new
    return done(maxit, False, f"no convergence in {maxit} iterations")


# ------------------------------------------------------------------ problem
@dataclass(frozen=True, eq=False)
class RemoteData:
    """What :class:`~hierreg_formula.core.glmm.GLMMProblem` reads of its data when the
    rows live on the workers: the terms (sizes and rows per level), the family and
    the number of fixed-effects columns (``X`` has no rows)."""

    terms: tuple[CountedTerm, ...]
    family: Family
    p: int
    n: int
    X: np.ndarray = field(init=False)
    _X0: np.ndarray = field(init=False)
    y: np.ndarray = field(default_factory=lambda: np.zeros(0))
    weights: None = None
    offset: None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "X", np.zeros((0, self.p)))
        object.__setattr__(self, "_X0", np.zeros((0, 0)))

    @property
    def single(self) -> bool | None:
        """Truthy with one term (the problem's analytic-gradient switch)."""
        return True if len(self.terms) == 1 else None

    @property
    def q(self) -> int:
        return int(sum(t.q for t in self.terms))


class DaskGLMMProblem(GLMMProblem):
    """The core's GLMM problem with PIRLS, the factors and the gradient from row passes.

    Everything else (the two stages, L-BFGS-B / BOBYQA, the Hessian, the estimate)
    is the in-memory code of :mod:`hierreg_formula.core.glmm`.
    """

    def __init__(
        self, rows: DaskRows, data: RemoteData, const: float, xscale: np.ndarray, nagq: int = 1
    ) -> None:
        super().__init__(data, nagq)  # type: ignore[arg-type]
        self.rows = rows
        self.const = float(const) if data.family.additive_constants else None
        self.xscale = np.asarray(xscale, dtype=float)
        self._want_gradient = False

    def pirls_joint(
        self,
        lambdas: list[np.ndarray],
        beta0: np.ndarray | None = None,
        u0: np.ndarray | None = None,
    ) -> PirlsResult:
        """Joint modes of ``(u, beta)`` by :func:`pirls_joint_remote`."""
        d = self.data
        binomial = d.family.name == "binomial"
        return pirls_joint_remote(
            self.rows, d.terms, lambdas, self.xscale, binomial, beta0, u0, tol=PIRLS_TOL
        )

    def modes(self, theta: np.ndarray, beta: np.ndarray) -> PirlsResult:
        """Conditional modes at ``(theta, beta)`` by :func:`pirls_modes_remote`, warm-started
        as in memory."""
        u0 = self.warm_start(theta, beta)
        res = pirls_modes_remote(
            self.rows,
            self.data.terms,
            self._lambdas(theta),
            np.asarray(beta, float),
            u0,
            tol=self.pirls_tol,
            gradient=self._want_gradient,
        )
        if res.converged:
            self._u = res.u
        return res

    def value_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Laplace deviance and its analytic gradient (one term): one row pass per PIRLS
        iteration, the gradient's sums coming with the last one."""
        m = self.tmap.size
        theta, beta = x[:m], x[m:]
        self._want_gradient = True
        try:
            f = self.deviance(theta, beta)
        finally:
            self._want_gradient = False
        if not np.isfinite(f):
            return f, np.zeros(len(x))
        res = self.last_pirls
        t = self.data.terms[0]
        T = self._lambdas(theta)[0]
        a = res.state.sums.arrays
        S3, SX = a["S3"], a["SX"]

        def a_sums(B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return np.einsum("lab,labc->lc", B, S3), np.einsum("lab,labp->p", B, SX)

        sums = GradientSums(M=a["M"], Mo=a.get("Mo", a["M"]), rz=a["rz"], rX=a["rX"], ZoX=a["ZoX"])
        layout = [(r, c) for (_, r, c) in self.tmap.layout()]
        g, sens = laplace_gradient_from_sums(T, res.u.reshape(t.nlevels, t.k), sums, a_sums, layout)
        self._predict = (np.array(x, dtype=float), res.u, sens)
        return f, g

    # the factors at the modes: one row pass with X and eta, shared by both
    def _state_cp(self, res: PirlsResult) -> CrossProducts:
        st = res.state
        cached = getattr(st, "_state_cp", None)
        if cached is None:
            req = RowRequest(st.request.beta, st.request.b, "state")
            s = self.rows.row_pass(req)
            cached = to_cross_products(s.stats, [t.nlevels for t in self.data.terms])
            object.__setattr__(st, "_state_cp", cached)
        return cached

    def fixed_factor(self, res: PirlsResult, lambdas: list[np.ndarray]) -> PLSFactor:
        """The PLS factor with ``X`` at the modes (one row pass, shared with
        :meth:`conditional_factor`)."""
        return factorize(self._state_cp(res), lambdas)

    def conditional_factor(self, res: PirlsResult, lambdas: list[np.ndarray]) -> PLSFactor:
        """The PLS factor of the random effects alone at the modes (the conditional
        covariances): the columns of ``X`` left out of the cross-products with ``X``."""
        cp = self._state_cp(res)
        z_only = CrossProducts(
            n=cp.n,
            p=0,
            terms=cp.terms,
            D1=cp.D1,
            P1=np.ascontiguousarray(cp.P1[:, :, -1:]),
            C=cp.C,
            R=cp.R,
            RXY=np.ascontiguousarray(cp.RXY[:, -1:]),
            XYXY=np.ascontiguousarray(cp.XYXY[-1:, -1:]),
            pairs=cp.pairs,
        )
        return factorize(z_only, lambdas)


# ------------------------------------------------------------------ driver
#: the core options of an out-of-core GLMM (the in-memory ones but ``nb_theta``)
OPTIONS = ("cov", "theta0", "xtol", "ftol", "maxeval")


def _check_options(family: Any, nagq: Any, weights: Any, offset: Any, kwargs: dict) -> Family:
    try:
        fam = get_family(family)
    except (ValueError, TypeError) as err:
        raise HierregError(str(err)) from err
    if fam.name not in FAMILIES:
        raise HierregError(
            f"out of core, GLMMs support family='binomial' and 'poisson', not {fam.name!r} "
            "(fit it in memory)"
        )
    if isinstance(nagq, bool) or not isinstance(nagq, int | np.integer) or int(nagq) != 1:
        raise HierregError(
            f"out of core, GLMMs are fitted by the Laplace approximation (nagq=1), not "
            f"nagq={nagq!r}; adaptive quadrature and nAGQ=0 need the rows in memory"
        )
    if weights is not None:
        raise HierregError(
            "weights= is not available for an out-of-core GLMM (a binomial response with "
            "trials: cbind(successes, failures))"
        )
    if offset is not None and not isinstance(offset, str):
        raise HierregError("out of core, offset= must be the name of a column of the data")
    if kwargs.get("cov", "hessian") not in ("hessian", "rx"):
        raise HierregError("cov must be 'hessian' or 'rx'")
    unknown = [k for k in kwargs if k not in OPTIONS]
    if unknown:
        raise HierregError(
            f"option(s) {', '.join(map(repr, unknown))} not available for an out-of-core GLMM "
            f"(available: {', '.join(OPTIONS)})"
        )
    return fam


def _check_response_columns(formula: str, ddf: Any) -> None:
    """A response column must be numeric (before any pass)."""
    for c in column_plan(formula, ddf.columns).response_vars:
        dt = ddf[c].dtype
        if not pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt):
            raise DataError(
                f"out of core, the response column {c!r} must be numeric (0/1 for a binomial "
                f"model, or cbind(successes, failures)), not {dt}; convert labels first"
            )


def _check_response(dp: Any, fam: Family) -> None:
    spec, one = dp.spec, dp.one
    if fam.name == "binomial" and spec.parsed.binomial is None and not one.binary:
        raise DataError(
            "out of core, a binomial response must be 0/1 or cbind(successes, failures) "
            "(proportions need the trials: use cbind)"
        )


def fit_glmm_dask(
    formula: str,
    data: Any,
    family: Any,
    *,
    nagq: int = 1,
    weights: Any = None,
    offset: str | None = None,
    missing: str = "drop",
    split_every: int = SPLIT_EVERY,
    **kwargs: Any,
) -> Any:
    """Fit a GLMM on a Dask DataFrame or Parquet files (see the module docstring).

    Parameters
    ----------
    formula:
        An lme4-style formula (binomial: a 0/1 response or ``cbind(successes, failures)``).
    data:
        A Dask DataFrame, or a path, glob or directory of Parquet files.
    family:
        ``"binomial"`` or ``"poisson"`` (or a family instance of those with its link).
    nagq:
        ``1`` (the Laplace approximation) only.
    offset:
        The name of a column added to the linear predictor (rows where it is missing
        are dropped, as for the formula's columns).
    missing, split_every:
        As for :func:`~hierreg_formula.scale.dask.fit_dask`.
    **kwargs:
        The core options ``cov`` (``"hessian"``, lme4's default, or ``"rx"``), ``theta0``,
        ``xtol``, ``ftol``, ``maxeval``.

    Returns
    -------
    DaskGLMMResults
        The in-memory GLMM results with lazy ``fittedvalues``, ``resid`` and
        ``predict()``; ``scale_info["passes"]`` the number of row passes.
    """
    dask, _ = _dask()
    fam = _check_options(family, nagq, weights, offset, kwargs)
    extra = () if offset is None else (offset,)
    ddf = as_dask_frame(data)
    _check_response_columns(formula, ddf)
    dp = design_passes(formula, ddf, missing=missing, split_every=split_every, extra=extra)
    spec = dp.spec
    if not spec.random:
        raise EstimationError(
            "the formula has no random-effects term such as '(1 | group)'; a GLMM needs one"
        )
    if not spec.parsed.response:
        raise EstimationError("the formula has no response")
    _check_response(dp, fam)
    info = dp.info
    wall = info["wall"]
    ks = [len(rs.names) for rs in spec.random]
    nlevels = [len(rs.grouping.levels) for rs in spec.random]
    check_memory(dp.one.n, len(dp.keep), ks, nlevels)
    # materialize and persist every partition's arrays
    t = time.perf_counter()
    plan = BundlePlan(
        dp.used, dp.dtypes, spec, None if dp.all_columns else dp.keep, fam, offset=offset
    )
    plan_d = dask.delayed(plan, name=f"hierreg-glmm-plan-{uuid.uuid4().hex}", traverse=False)
    parts = dp.ddf.to_delayed(optimize_graph=True)
    with blas_threads_limited():
        bundles = dask.persist(*[dask.delayed(make_bundle, pure=False)(p, plan_d) for p in parts])
    rows = DaskRows(bundles, split_every)
    summary = rows.run(bundle_summary)
    wall["persist"] = time.perf_counter() - t
    n = summary.n
    counts = [summary.arrays[f"count{i}"].astype(np.int64) for i in range(len(nlevels))]
    terms = tuple(
        CountedTerm(np.zeros(0, dtype=np.int64), L, np.zeros((0, k)), None, c)
        for L, k, c in zip(nlevels, ks, counts, strict=True)
    )
    p = len(dp.keep)
    xscale = np.sqrt(summary.arrays["xsq"] / n) if p else np.zeros(0)
    data_r = RemoteData(terms, fam, p, n)
    prob = DaskGLMMProblem(rows, data_r, float(summary.arrays["const"]), xscale, nagq=1)
    opts = {k: kwargs[k] for k in ("theta0", "xtol", "ftol", "maxeval") if k in kwargs}
    cov = kwargs.get("cov", "hessian")
    t = time.perf_counter()
    by_stage: dict[str, int] = {}
    try:
        with blas_threads_limited():
            theta, beta, ok, msg = fit_stages(
                prob,
                opts.get("theta0"),
                None,
                opts.get("xtol", 1e-8),
                opts.get("ftol", 1e-11),
                opts.get("maxeval", 10_000),
            )
            by_stage["optimize"] = rows.passes
            wall["fit"] = time.perf_counter() - t
            t = time.perf_counter()
            if not ok:
                warn(f"the GLMM optimiser did not converge ({msg})", ConvergenceWarning)
            est = estimate_at(prob, theta, beta, cov=cov, converged=ok, message=msg)
            by_stage["estimate"] = rows.passes - by_stage["optimize"]
            wall["estimate"] = time.perf_counter() - t
    except np.linalg.LinAlgError as err:
        raise EstimationError(f"the model cannot be estimated from these data: {err}") from err
    finally:
        passes, row_wall = rows.passes, rows.wall
        rows.bundles = []  # the persisted arrays are released when the fit returns
    if not est.converged:
        warn(
            f"the optimiser did not converge ({est.message}); estimates may be inaccurate",
            ConvergenceWarning,
        )
    skeleton = skeleton_blocks(_Skeleton(formula, spec, dp.x_names, dp.one.n_bad))
    if est.singular_terms:
        names = ", ".join(skeleton.random[i].label for i in est.singular_terms)
        warn(
            f"boundary (singular) fit: a variance component of {names} is estimated as (near) "
            "zero, or a correlation as +-1; simplify the random-effects structure",
            SingularFitWarning,
        )
    info["passes"] = passes
    info["passes_by_stage"] = by_stage
    info["row_pass_wall"] = row_wall
    info["nbytes"] = int(summary.arrays["nbytes"])
    from .results import DaskGLMMResults, level_counts_by_group

    res = DaskGLMMResults(
        formula=formula,
        blocks=skeleton,
        estimate=est,
        family=fam,
        dropped_columns=dp.dropped,
        data=dp.ddf,
        offset=None,
        weights=None,
        offset_argument=offset is not None,
    )
    res._set_out_of_core(
        frame=dp.ddf,
        nobs=n,
        used=dp.used,
        dtypes=dp.dtypes,
        level_counts=level_counts_by_group(spec, list(counts)),
        statistics=None,
        problem=None,
        scale_info={
            k: info[k]
            for k in (
                "npartitions",
                "wall",
                "passes",
                "passes_by_stage",
                "row_pass_wall",
                "nbytes",
            )
        },
    )
    res._offset_column = offset
    return res


@dataclass(frozen=True)
class _Skeleton:
    """What :func:`~.dask.skeleton_blocks` reads of a model."""

    formula: str
    spec: Any
    x_names: list[str]
    n_dropped: int
