"""Fits from reduced statistics: the same checks, optimiser and warnings as in memory.

:class:`ReducedModel` is what the client holds after the passes over the data:
the design recipe, the kept fixed-effects columns, the conditioning and the
core's cross-products.  :func:`fit_lmm_reduced` runs the core's optimiser on them
(:meth:`~hierreg_formula.core.lmm.LMMProblem.from_cross_products`) with the checks
of :func:`~hierreg_formula.models.prepare.check_mixed_model` and the warnings of
:func:`~hierreg_formula.models.lmm.fit_prepared`; :func:`fit_regularized_reduced`
solves the regularized mode's squared loss (a number ``alpha``, or ``"reml"``).

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.structure import TermArrays
>>> from hierreg_formula.scale.moments import ColumnMoments, condition_from_moments
>>> from hierreg_formula.scale.stats import SufficientStats
>>> from hierreg_formula.scale.convert import to_cross_products
>>> rng = np.random.default_rng(0); g = np.repeat(np.arange(8), 6)
>>> X = np.ones((48, 1)); y = rng.normal(size=8)[g] + rng.normal(size=48)
>>> cond = condition_from_moments(ColumnMoments.of(X), ColumnMoments.of(y), [None])
>>> Xs, ys, ts = cond.apply(X, y, [TermArrays(g, 8, X)])
>>> cp = to_cross_products(SufficientStats.from_arrays(Xs, ys, ts), [8])
>>> from hierreg_formula.core.lmm import fit_lmm
>>> ref = fit_lmm(X, y, [TermArrays(g, 8, X)])
>>> est = LMMProblem.from_cross_products(cp, cond).fit()
>>> bool(abs(est.objective - ref.objective) < 1e-9)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.conditioning import Conditioning
from ..core.lmm import LMMEstimate, LMMProblem
from ..core.structure import CrossProducts
from ..core.theta import ThetaMap
from ..exceptions import (
    ConvergenceWarning,
    EstimationError,
    HierregError,
    ResponseWarning,
    SingularFitWarning,
    warn,
)
from ..formula import DesignSpec
from ..memory import check_fit_memory
from ..models.prepare import check_identifiable
from ..regularized.penalty import group_weights
from ..regularized.squared import solve_ridge
from ..threads import blas_threads_limited
from .moments import ColumnMoments


@dataclass(frozen=True)
class ReducedModel:
    """A model reduced to statistics, with its recipe.

    Attributes
    ----------
    formula, spec:
        The formula and the final design recipe (terms in lme4's order).
    x_names, dropped:
        Kept fixed-effects columns and the ones dropped as linearly dependent.
    n, n_dropped:
        Rows used and rows dropped for missing values.
    y_moments:
        Moments of the response (its range tells a constant response).
    binary:
        Every response value is 0 or 1.
    cond:
        The conditioning the statistics were computed with (``None``: raw arrays).
    cp:
        The core's cross-products (terms carry their rows per level).
    """

    formula: str
    spec: DesignSpec
    x_names: list[str]
    dropped: tuple[str, ...]
    n: int
    n_dropped: int
    y_moments: ColumnMoments
    binary: bool
    cond: Conditioning | None
    cp: CrossProducts

    @property
    def nlevels(self) -> list[int]:
        return [len(rs.grouping.levels) for rs in self.spec.random]

    @property
    def labels(self) -> list[str]:
        return [f"({' + '.join(rs.names)} | {rs.grouping.name})" for rs in self.spec.random]


def check_reduced(
    spec: DesignSpec, n: int, p: int, ks: list[int], nlevels: list[int], ym: ColumnMoments
) -> None:
    """The checks of :func:`~hierreg_formula.models.prepare.check_mixed_model`, from the
    statistics (same messages)."""
    if not spec.random:
        raise EstimationError(
            "the formula has no random-effects term such as '(1 | group)'; "
            "a linear mixed model needs at least one"
        )
    if not spec.parsed.response:
        raise EstimationError("the formula has no response")
    if ym.lo[0] == ym.hi[0]:
        raise EstimationError(
            f"the response {spec.parsed.response!r} has no variance (all values "
            f"{np.float64(ym.lo[0])!r})"
        )
    check_identifiable(
        [rs.grouping.name for rs in spec.random],
        [f"({' + '.join(rs.names)} | {rs.grouping.name})" for rs in spec.random],
        nlevels,
        ks,
        n,
    )
    sizes = [L * k for L, k in zip(nlevels, ks, strict=True)]
    check_fit_memory(sum(sizes[1:]), 0, 0)  # the rows are not on the client
    if p >= n:
        raise EstimationError(
            f"{p} fixed-effects columns for {n} observations: nothing left to estimate the variance"
        )


def warn_binary(model: ReducedModel) -> None:
    if model.binary:
        warn(
            f"the response {model.spec.parsed.response!r} takes only the values 0 and 1: a "
            "linear mixed model of it is a linear probability model (Gaussian errors); for a "
            "logistic mixed model use family='binomial'",
            ResponseWarning,
        )


def lmm_problem(model: ReducedModel, reml: bool) -> LMMProblem:
    """The core's problem on the reduced statistics."""
    if model.cond is None:
        raise ValueError("a mixed model needs statistics of the conditioned arrays")
    try:
        return LMMProblem.from_cross_products(model.cp, model.cond, reml=reml)
    except np.linalg.LinAlgError as err:  # pragma: no cover - exact fits raise first
        raise EstimationError(f"the model cannot be estimated from these data: {err}") from err


def fit_lmm_reduced(
    model: ReducedModel, reml: bool = True, **core_kwargs: Any
) -> tuple[LMMProblem, LMMEstimate]:
    """REML/ML estimate from the reduced statistics (checks, optimisation, warnings)."""
    warn_binary(model)
    with blas_threads_limited():
        prob = lmm_problem(model, reml)
        try:
            est = prob.fit(**core_kwargs)
        except np.linalg.LinAlgError as err:
            raise EstimationError(f"the model cannot be estimated from these data: {err}") from err
    if not est.converged:
        warn(
            f"the optimiser did not converge ({est.message}); estimates may be inaccurate",
            ConvergenceWarning,
        )
    if est.is_singular:
        names = ", ".join(model.labels[i] for i in est.singular_terms)
        warn(
            f"boundary (singular) fit: a variance component of {names} is estimated as (near) "
            "zero, or a correlation as +-1; simplify the random-effects structure",
            SingularFitWarning,
        )
    return prob, est


def fit_regularized_reduced(
    model: ReducedModel,
    alpha: float,
    main_l2: float = 0.0,
    weight_by_nobs: bool = True,
) -> tuple[np.ndarray, list[np.ndarray], float, np.ndarray | None]:
    """hierreg's squared loss with a ridge penalty on the reduced (raw) statistics:
    ``w``, the deviations per term, the objective and ``theta`` (when one factor per
    term describes the penalty)."""
    if model.cond is not None:
        raise ValueError("the regularized mode needs statistics of the raw arrays")
    if not alpha > 0:
        raise HierregError("alpha must be > 0 (alpha -> 0 is the unpooled fit)")
    cp, n = model.cp, model.n
    groups = [rs.grouping.name for rs in model.spec.random]
    weights = group_weights(list(cp.terms), weight_by_nobs, groups)
    with blas_threads_limited():
        w, v, pwrss = solve_ridge(cp, weights, n * alpha, n * main_l2)
    theta = None
    if not weight_by_nobs:
        tmap = ThetaMap([t.k for t in cp.terms])
        lam = 1.0 / np.sqrt(n * alpha)
        theta = tmap.theta_of([lam * np.eye(t.k) for t in cp.terms])
    return w, v, pwrss / n, theta
