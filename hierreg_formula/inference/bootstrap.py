"""Parametric bootstrap of a linear mixed model (lme4's ``bootMer`` / ``simulate``).

Responses are simulated from the fitted model, ``y* = X beta + sigma (Z Lambda u + e)``
with ``u ~ N(0, I_q)`` and ``e ~ N(0, I_n)`` (so ``b* ~ N(0, sigma^2 Lambda Lambda')``;
on the working scale of prior weights, see :class:`~.arrays.ModelArrays`), and the
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
>>> from hierreg_formula.inference.arrays import ModelArrays
>>> rng = np.random.default_rng(0)
>>> g = np.repeat(np.arange(8), 5)
>>> y = 1.0 + rng.normal(size=8)[g] + rng.normal(size=40)
>>> arrays = ModelArrays.from_arrays(np.ones((40, 1)), y, [TermArrays(g, 8, np.ones((40, 1)))])
>>> b1 = parametric_bootstrap(arrays, nsim=20, seed=1)
>>> b2 = parametric_bootstrap(arrays, nsim=20, seed=1, n_jobs=2)
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

from ..core.lmm import LMMEstimate
from ..exceptions import EstimationError
from .arrays import ModelArrays
from .names import varpar_names
from .profile import ParameterMap
from .refit import CoreRefitter, fit_arrays


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
    arrays: ModelArrays,
    est: LMMEstimate,
    seeds: Sequence[np.random.SeedSequence],
) -> np.ndarray:
    """``(len(seeds), n)`` simulated responses on the working scale (one generator each).

    Each replicate is computed on its own (matrix-vector products), so its value
    does not depend on which other replicates are simulated with it.
    """
    Lam = arrays.lambda_matrix(est.theta)
    mu = arrays.X @ est.beta
    out = np.empty((len(seeds), arrays.n))
    for i, s in enumerate(seeds):  # one generator per replicate (reproducible by index)
        rng = np.random.default_rng(s)
        u = rng.standard_normal(arrays.q)
        e = rng.standard_normal(arrays.n)
        out[i] = mu + est.sigma * (arrays.Z @ (Lam @ u) + e)
    return out


@dataclass
class _Refitter:
    """Everything a worker needs to refit a chunk (picklable)."""

    arrays: ModelArrays
    est: LMMEstimate
    refitter: CoreRefitter
    statistic: Callable[[LMMEstimate], np.ndarray] | None

    def default_stat(self, est: LMMEstimate) -> np.ndarray:
        pmap = _param_map(self.arrays)
        return np.concatenate([pmap.from_theta(est.theta, est.sigma, est.factors), est.beta])

    def run(self, seeds: Sequence[np.random.SeedSequence]) -> tuple[np.ndarray, np.ndarray]:
        Y = simulate_responses(self.arrays, self.est, seeds)
        out, conv = [], []
        for y in Y:
            try:
                est = self.refitter.fit(y, theta0=self.est.theta)
            except (EstimationError, np.linalg.LinAlgError):
                out.append(None)
                conv.append(False)
                continue
            stat = self.statistic(est) if self.statistic is not None else self.default_stat(est)
            out.append(np.asarray(stat, dtype=float))
            conv.append(bool(est.converged))
        width = next((len(o) for o in out if o is not None), 0)
        rows = [o if o is not None else np.full(width, np.nan) for o in out]
        return np.array(rows), np.array(conv)


def _param_map(arrays: ModelArrays) -> ParameterMap:
    names = varpar_names(
        [f"g{i + 1}" for i in range(len(arrays.terms))],
        [[f"c{j + 1}" for j in range(t.k)] for t in arrays.terms],
        arrays.nlevels,
    )
    return ParameterMap(names, arrays.ks)


def _chunks(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def parametric_bootstrap(
    arrays: ModelArrays,
    est: LMMEstimate | None = None,
    nsim: int = 1000,
    seed: int | None = None,
    statistic: Callable[[LMMEstimate], np.ndarray] | None = None,
    n_jobs: int = 1,
    backend: str = "processes",
    progress: bool = False,
    chunk_size: int = 25,
    reml: bool | None = None,
    groups: Sequence[str] | None = None,
    columns: Sequence[Sequence[str]] | None = None,
    fixed_names: Sequence[str] | None = None,
) -> BootstrapResult:
    """Simulate ``nsim`` responses from the fit and refit the model to each.

    Parameters
    ----------
    arrays, est: the model arrays and its fit (fitted here by REML if None).
    nsim, seed: number of replicates and the seed (``None``: fresh entropy).
    statistic: function of a refitted :class:`~hierreg_formula.core.lmm.LMMEstimate`
        (default: lme4's SDs/correlations, ``sigma`` and ``beta``, in ``confint()``'s
        order, named ``.sig01, ...`` and, in ``readable``, ``sd_<col>|<group>``, ...).
    n_jobs: worker processes (or threads with ``backend="threads"``); ``-1`` = all CPUs.
    progress: show a tqdm progress bar (if tqdm is installed).
    chunk_size: replicates simulated and refitted together per task.
    reml: refit criterion (default: the fit's).
    groups, columns, fixed_names: names for the default statistic's components (per
        term the grouping name and column names, caller's order; the fixed effects).
    """
    if est is None:
        est = fit_arrays(arrays, reml=True if reml is None else reml)
    reml = est.reml if reml is None else reml
    seeds = replicate_generators(seed, nsim)
    refitter = _Refitter(arrays, est, CoreRefitter(arrays, reml), statistic)
    if statistic is None:
        est0 = refitter.default_stat(est)
        vn = varpar_names(
            list(groups) if groups is not None else [f"g{i + 1}" for i in range(len(arrays.terms))],
            columns
            if columns is not None
            else [[f"c{j + 1}" for j in range(t.k)] for t in arrays.terms],
            arrays.nlevels,
        )
        fixed = list(fixed_names) if fixed_names else [f"x{j + 1}" for j in range(arrays.p)]
        names, readable = vn.sig_names + fixed, vn.readable + fixed
    else:
        est0 = np.asarray(statistic(est), dtype=float)
        names = readable = [f"t{j + 1}" for j in range(est0.size)]
    chunks = _chunks(nsim, max(1, chunk_size))
    bar = _progress_bar(nsim) if progress else None
    results: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(chunks)
    jobs = (os.cpu_count() or 1) if n_jobs == -1 else max(1, n_jobs)
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
    return BootstrapResult(
        names=names, estimate=est0, replicates=reps, converged=conv, seed=seed, readable=readable
    )


def _progress_bar(total: int):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # optional dependency
        import warnings

        warnings.warn("progress=True needs tqdm (pip install tqdm)", RuntimeWarning, stacklevel=3)
        return None
    return tqdm(total=total, desc="bootstrap")
