"""Parametric bootstrap of a linear mixed model (lme4's ``bootMer`` / ``simulate``).

Responses are simulated from the fitted model, ``y* = X beta + sigma (Z Lambda u + e)``
with ``u ~ N(0, I_q)`` and ``e ~ N(0, I_n)`` (so ``b* ~ N(0, sigma^2 Lambda Lambda')``;
on the working scale of prior weights, see :class:`~.problem.LMMProblem`), and the
model is refitted to each by the same criterion (REML or ML).  A refit changes
only the response: its cross-products ``Z'y*``, ``X'y*`` and ``y*'y*`` are computed
for a chunk of replicates at once (one sparse product) and swapped into the
fitted model's cross-products (:func:`~.refit.with_response`); nothing else is
rebuilt and the formula is not parsed again.  Each refit starts from the
original ``theta``.

Reproducibility: replicate ``i`` draws from its own generator,
``np.random.default_rng(SeedSequence(seed).spawn(nsim)[i])``, so the results
depend only on ``seed``, not on ``n_jobs`` or the chunking.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.structure import TermArrays
>>> from hierreg_formula.inference.problem import LMMProblem
>>> rng = np.random.default_rng(0)
>>> g = np.repeat(np.arange(8), 5)
>>> y = 1.0 + rng.normal(size=8)[g] + rng.normal(size=40)
>>> prob = LMMProblem.from_arrays(np.ones((40, 1)), y, [TermArrays(g, 8, np.ones((40, 1)))])
>>> b1 = parametric_bootstrap(prob, nsim=20, seed=1)
>>> b2 = parametric_bootstrap(prob, nsim=20, seed=1, n_jobs=2)
>>> b1.replicates.shape, bool(np.array_equal(b1.replicates, b2.replicates))
((20, 3), True)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ..core.lmm import DevianceFunction, LMMEstimate, _optimize, _optimize_gradient
from ..core.theta import ThetaMap
from .names import varpar_names
from .problem import LMMProblem
from .profile import ParameterMap
from .refit import (
    fit_cp,
    sorted_response_products,
    theta_from_sorted,
    theta_to_sorted,
    with_response,
)


@dataclass
class BootstrapResult:
    """Bootstrap replicates of a statistic (default: lme4's SDs/correlations, sigma, beta).

    Attributes
    ----------
    names: the statistic's component names (lme4's ``.sig01, ..., .sigma``, fixed effects).
    estimate: the statistic at the original fit.
    replicates: ``(nsim, len(names))``.
    converged: per replicate, whether the refit's optimiser converged.
    seed: the seed used.
    """

    names: list[str]
    estimate: np.ndarray
    replicates: np.ndarray
    converged: np.ndarray
    seed: int | None
    readable: list[str] = field(default_factory=list)

    def confint(self, level: float = 0.95, kind: str = "perc") -> tuple[np.ndarray, np.ndarray]:
        """Bootstrap intervals: ``"perc"`` (percentile, lme4's default), ``"basic"`` or ``"norm"``.

        Quantiles are those of R's ``quantile(type = 7)`` (numpy's default linear
        interpolation); replicates with a non-finite value are left out per column.
        """
        a = (1.0 - level) / 2.0
        R = self.replicates
        lo = np.array([np.quantile(c[np.isfinite(c)], a) for c in R.T])
        hi = np.array([np.quantile(c[np.isfinite(c)], 1 - a) for c in R.T])
        if kind == "perc":
            return lo, hi
        if kind == "basic":
            return 2 * self.estimate - hi, 2 * self.estimate - lo
        if kind == "norm":
            z = stats.norm.ppf(1 - a)
            bias = np.nanmean(R, axis=0) - self.estimate
            sd = np.nanstd(R, axis=0, ddof=1)
            return self.estimate - bias - z * sd, self.estimate - bias + z * sd
        raise ValueError(f"unknown interval type {kind!r}: 'perc', 'basic' or 'norm'")


def replicate_generators(seed: int | None, nsim: int) -> list[np.random.SeedSequence]:
    """One independent seed sequence per replicate."""
    return np.random.SeedSequence(seed).spawn(nsim)


def simulate_responses(
    prob: LMMProblem,
    est: LMMEstimate,
    seeds: Sequence[np.random.SeedSequence],
) -> np.ndarray:
    """``(len(seeds), n)`` simulated responses on the working scale (one generator each).

    Each replicate is computed on its own (matrix-vector products), so its value
    does not depend on which other replicates are simulated with it.
    """
    Lam = prob.lambda_matrix(est.theta)
    mu = prob.X @ est.beta
    out = np.empty((len(seeds), prob.n))
    for i, s in enumerate(seeds):  # one generator per replicate (reproducible by index)
        rng = np.random.default_rng(s)
        u = rng.standard_normal(prob.q)
        e = rng.standard_normal(prob.n)
        out[i] = mu + est.sigma * (prob.Z @ (Lam @ u) + e)
    return out


@dataclass
class _Refitter:
    """Everything a worker needs to refit a chunk (picklable)."""

    prob: LMMProblem
    est: LMMEstimate
    reml: bool
    statistic: Callable[[LMMEstimate], np.ndarray] | None

    def default_stat(self, theta: np.ndarray, sigma: float, beta: np.ndarray) -> np.ndarray:
        pmap = _param_map(self.prob)
        return np.concatenate([pmap.from_theta(theta, sigma, self.prob.factors(theta)), beta])

    def fit_one(
        self, y: np.ndarray, zy: np.ndarray, xy: np.ndarray, yy: float
    ) -> tuple[np.ndarray, bool]:
        prob = self.prob
        cp = with_response(prob.cp, zy, xy, yy)
        if self.statistic is not None:
            est = fit_cp(prob, cp, self.reml, theta0=self.est.theta)
            return np.asarray(self.statistic(est), dtype=float), est.converged
        # lean refit: the optimiser and one factorization (no conditional covariances)
        tmap = ThetaMap([prob.terms[i].k for i in prob.order])
        fun = DevianceFunction(cp, tmap, self.reml)
        x0 = theta_to_sorted(prob, self.est.theta)
        converged = False
        th = x0
        if all(t.k == 1 for t in prob.terms):
            th, _, converged, _ = _optimize_gradient(fun, x0, tmap.lower, 100_000)
        if not converged:
            th, _, converged, _ = _optimize(fun, th, tmap.lower, 1e-10, 1e-12, 100_000)
        f = fun.factor(th)
        sigma = float(np.sqrt(f.pwrss / (cp.n - cp.p if self.reml else cp.n)))
        theta = theta_from_sorted(prob, th)
        return self.default_stat(theta, sigma, f.beta), converged

    def run(self, seeds: Sequence[np.random.SeedSequence]) -> tuple[np.ndarray, np.ndarray]:
        Y = simulate_responses(self.prob, self.est, seeds)
        out, conv = [], []
        for i in range(len(seeds)):
            zy, xy, yy = sorted_response_products(self.prob, Y[i])
            s, c = self.fit_one(Y[i], zy, xy, yy)
            out.append(s)
            conv.append(c)
        return np.array(out), np.array(conv)


def _param_map(prob: LMMProblem) -> ParameterMap:
    names = varpar_names(
        [f"g{i + 1}" for i in range(len(prob.terms))],
        [[f"c{j + 1}" for j in range(t.k)] for t in prob.terms],
        prob.nlevels,
    )
    return ParameterMap(names, prob.ks)


def _chunks(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def parametric_bootstrap(
    prob: LMMProblem,
    est: LMMEstimate | None = None,
    nsim: int = 1000,
    seed: int | None = None,
    statistic: Callable[[LMMEstimate], np.ndarray] | None = None,
    n_jobs: int = 1,
    backend: str = "processes",
    progress: bool = False,
    chunk_size: int = 25,
    reml: bool | None = None,
    fixed_names: Sequence[str] | None = None,
) -> BootstrapResult:
    """Simulate ``nsim`` responses from the fit and refit the model to each.

    Parameters
    ----------
    prob, est: the model arrays and its fit (fitted here by REML if None).
    nsim, seed: number of replicates and the seed (``None``: fresh entropy).
    statistic: function of a refitted :class:`~hierreg_formula.core.lmm.LMMEstimate`
        (default: lme4's SDs/correlations, ``sigma`` and ``beta``, computed from a
        lean refit without the conditional covariances).
    n_jobs: worker processes (or threads with ``backend="threads"``); ``-1`` = all CPUs.
    progress: show a tqdm progress bar (if tqdm is installed).
    chunk_size: replicates simulated and refitted together per task.
    reml: refit criterion (default: the fit's).
    """
    if est is None:
        est = fit_cp(prob, prob.cp, reml=True if reml is None else reml)
    reml = est.reml if reml is None else reml
    seeds = replicate_generators(seed, nsim)
    refitter = _Refitter(prob, est, reml, statistic)
    if statistic is None:
        est0 = refitter.default_stat(est.theta, est.sigma, est.beta)
        pm = _param_map(prob)
        names = pm.names.sig_names + (
            list(fixed_names) if fixed_names else [f"x{j + 1}" for j in range(prob.p)]
        )
    else:
        est0 = np.asarray(statistic(est), dtype=float)
        names = [f"t{j + 1}" for j in range(est0.size)]
    chunks = _chunks(nsim, max(1, chunk_size))
    bar = _progress_bar(nsim) if progress else None
    results: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(chunks)
    jobs = (os.cpu_count() or 1) if n_jobs == -1 else max(1, n_jobs)
    prob.cp  # noqa: B018 - build the cached cross-products before any worker starts
    if jobs == 1:
        for k, sl in enumerate(chunks):
            results[k] = refitter.run(seeds[sl])
            if bar is not None:
                bar.update(sl.stop - sl.start)
    else:
        pool_cls = ThreadPoolExecutor if backend == "threads" else ProcessPoolExecutor
        if pool_cls is ProcessPoolExecutor and statistic is not None:
            import pickle

            try:
                pickle.dumps(statistic)
            except Exception as err:  # e.g. a lambda
                raise ValueError(
                    "the statistic cannot be sent to worker processes (not picklable: "
                    f"{err}); use a module-level function or backend='threads'"
                ) from err
        kwargs = {}
        if pool_cls is ProcessPoolExecutor:
            import multiprocessing as mp

            methods = mp.get_all_start_methods()
            kwargs["mp_context"] = mp.get_context("fork" if "fork" in methods else methods[0])
        with pool_cls(max_workers=jobs, **kwargs) as pool:
            futs = {pool.submit(refitter.run, seeds[sl]): k for k, sl in enumerate(chunks)}
            from concurrent.futures import as_completed

            for fut in as_completed(futs):
                k = futs[fut]
                results[k] = fut.result()
                if bar is not None:
                    bar.update(chunks[k].stop - chunks[k].start)
    if bar is not None:
        bar.close()
    reps = np.vstack([r[0] for r in results])
    conv = np.concatenate([r[1] for r in results])
    return BootstrapResult(names=names, estimate=est0, replicates=reps, converged=conv, seed=seed)


def _progress_bar(total: int):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # optional dependency
        import warnings

        warnings.warn("progress=True needs tqdm (pip install tqdm)", RuntimeWarning, stacklevel=3)
        return None
    return tqdm(total=total, desc="bootstrap")
