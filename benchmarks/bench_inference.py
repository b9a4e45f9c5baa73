"""Benchmark: small-sample inference for LMMs (``hierreg_formula.inference``).

Cases (``--only NAME`` runs one; ``--quick`` skips ``insteval``, ``synthetic_1m`` and
``crossed_12k``):

- ``sleepstudy``  ``Reaction ~ Days + (Days | Subject)``: Satterthwaite (analytic and
  numeric variance-parameter Hessian), Kenward-Roger, profile CIs (all 6 parameters),
  1000 parametric-bootstrap replicates (1 process, 2 processes, 2 threads).
- ``cake``        ``angle ~ recipe * temp + (1 | recipe:replicate)``: the same tests and
  the type III ANOVA table with both ddf methods.
- ``insteval``    ``y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept:service)``, 73,421
  rows, q = 4,128 random effects: Satterthwaite (analytic, numeric) and Kenward-Roger.
- ``synthetic_1m`` ``y ~ x + (x | g)``, 1,000,000 rows, 10,000 groups (q = 20,000): one
  random term, so the block-diagonal path (no q x q array, no size limit) is used.
- ``crossed_12k`` a simulated crossed model with q = 12,000 (100k rows): above the
  default dense limit (q <= 8000), so Kenward-Roger refuses with its cost estimate and
  Satterthwaite switches to finite differences of sparse factorizations.

Method: every BLAS/OpenMP pool pinned to one thread (environment variables set
before numpy is imported, plus ``threadpoolctl.threadpool_limits(1)``; the
2-process bootstrap uses one thread per process); each case runs once to warm up,
then ``repeats`` times: the median wall time is reported (the machine has 2 cores
and is shared).  The model is fitted once outside the timings; a timing covers the
inference step only (e.g. ``varpar_covariance`` + ``satterthwaite_t``).  Peak memory
of the dense q-space steps is ``tracemalloc``'s peak (numpy reports its buffers to it)
in a separate untimed run.

Run ``python benchmarks/bench_inference.py`` (about 3-4 minutes); results go to
``benchmarks/results/inference.json`` (a partial run updates only its cases).
"""

from __future__ import annotations

import os

for _v in (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import hierreg_formula as hierreg  # noqa: E402
from hierreg_formula.core.structure import TermArrays  # noqa: E402
from hierreg_formula.formula import build_design  # noqa: E402
from hierreg_formula.inference import (  # noqa: E402
    DenseSizeError,
    ModelArrays,
    anova_tests,
    fit_arrays,
    fixed_terms_from_spec,
    full_dummy_blocks,
    kr_adjustment,
    kr_t,
    parametric_bootstrap,
    profile_confint,
    satterthwaite_t,
    type3_contrasts,
    varpar_covariance,
)
from hierreg_formula.models.prepare import prepare  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "inference.json"

MODELS = {
    "sleepstudy": ("Reaction ~ Days + (Days | Subject)", "sleepstudy"),
    "cake": ("angle ~ recipe * temp + (1 | recipe:replicate)", "cake"),
    "insteval": ("y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept:service)", "InstEval"),
}


def timed(fn, repeats: int) -> dict:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times), "repeats": repeats}


def peak_mb(fn) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def setup(name: str):
    formula, data = MODELS[name]
    df = hierreg.load_dataset(data)
    pm = prepare(build_design(formula, df))
    blocks, prob = pm.blocks, ModelArrays.from_prepared(pm)
    est = fit_arrays(prob, reml=True)
    return blocks, prob, est, df


def satt(prob, est, method):
    return satterthwaite_t(varpar_covariance(prob, est.theta, est.sigma, True, method=method))


def kr(prob, est):
    return kr_t(kr_adjustment(prob, est.theta, est.sigma))


def bench_model(name: str, quick_boot: bool) -> dict:
    blocks, prob, est, df = setup(name)
    big = name == "insteval"
    rep = 3 if big else 25
    out: dict = {"n": prob.n, "q": prob.q, "p": prob.p, "ntheta": prob.ntheta}
    out["satterthwaite_analytic"] = timed(lambda: satt(prob, est, "analytic"), rep)
    out["satterthwaite_numeric"] = timed(lambda: satt(prob, est, "numeric"), rep)
    out["kenward_roger"] = timed(lambda: kr(prob, est), rep)
    out["df_satterthwaite"] = satt(prob, est, "analytic").df.tolist()
    out["df_satterthwaite_numeric"] = satt(prob, est, "numeric").df.tolist()
    out["df_kenward_roger"] = kr(prob, est).df.tolist()
    if big:
        out["peak_mb_satterthwaite_analytic"] = peak_mb(lambda: satt(prob, est, "analytic"))
        out["peak_mb_kenward_roger"] = peak_mb(lambda: kr(prob, est))
    if name == "cake":
        terms, icpt = fixed_terms_from_spec(blocks.spec.fixed_spec, blocks.x_names)
        L = type3_contrasts(blocks.X, terms, full_dummy_blocks(terms, df.loc[blocks.index]), icpt)
        out["anova_type3_satterthwaite"] = timed(
            lambda: anova_tests(
                L, "satterthwaite", varpar=varpar_covariance(prob, est.theta, est.sigma, True)
            ),
            rep,
        )
        out["anova_type3_kenward_roger"] = timed(
            lambda: anova_tests(L, "kenward-roger", kr=kr_adjustment(prob, est.theta, est.sigma)),
            rep,
        )
    if name == "sleepstudy":
        out["profile_confint_all"] = timed(lambda: profile_confint(prob, est), 3)
        nsim = 200 if quick_boot else 1000
        runs = {"processes_1": (1, "processes"), "processes_2": (2, "processes")}
        runs["threads_2"] = (2, "threads")
        for key, (jobs, backend) in runs.items():
            out[f"bootstrap_{nsim}_{key}"] = timed(
                lambda j=jobs, b=backend: parametric_bootstrap(
                    prob, est, nsim=nsim, seed=1, n_jobs=j, backend=b
                ),
                1 if not quick_boot else 1,
            )
    return out


def crossed_12k() -> dict:
    """q = 12,000 crossed random intercepts on 100k rows: above the dense limit."""
    rng = np.random.default_rng(20261130)
    n, La, Lb = 100_000, 8_000, 4_000
    a = rng.integers(0, La, n)
    b = rng.integers(0, Lb, n)
    x = rng.normal(size=n)
    y = 1 + 0.5 * x + rng.normal(size=La)[a] + 0.5 * rng.normal(size=Lb)[b] + rng.normal(size=n)
    X = np.column_stack([np.ones(n), x])
    terms = [TermArrays(a, La, np.ones((n, 1))), TermArrays(b, Lb, np.ones((n, 1)))]
    prob = ModelArrays.from_arrays(X, y, terms)
    t0 = time.perf_counter()
    est = fit_arrays(prob, reml=True)
    out: dict = {"n": n, "q": prob.q, "fit_s": time.perf_counter() - t0}
    try:
        kr_adjustment(prob, est.theta, est.sigma)
        out["kenward_roger"] = "ran"
    except DenseSizeError as err:
        out["kenward_roger_refused"] = str(err)
    out["satterthwaite_auto_numeric"] = timed(lambda: satt(prob, est, "auto"), 3)
    out["df_satterthwaite"] = satt(prob, est, "auto").df.tolist()
    return out


def synthetic_1m() -> dict:
    """``y = 1 + 2x + b0[g] + b1[g] x + e``, 10,000 groups (the seed of bench_lmm.py)."""
    rng = np.random.default_rng(20261123)
    n, L = 1_000_000, 10_000
    g = rng.integers(0, L, n)
    x = rng.normal(size=n)
    b = rng.multivariate_normal([0.0, 0.0], [[1.0, 0.3], [0.3, 0.5]], size=L)
    y = 1.0 + 2.0 * x + b[g, 0] + b[g, 1] * x + rng.normal(size=n)
    X = np.column_stack([np.ones(n), x])
    prob = ModelArrays.from_arrays(X, y, [TermArrays(g, L, X.copy())])
    t0 = time.perf_counter()
    est = fit_arrays(prob, reml=True)
    out: dict = {"n": n, "q": prob.q, "fit_s": time.perf_counter() - t0}
    out["satterthwaite_analytic"] = timed(lambda: satt(prob, est, "analytic"), 5)
    out["kenward_roger"] = timed(lambda: kr(prob, est), 5)
    out["peak_mb_kenward_roger"] = peak_mb(lambda: kr(prob, est))
    out["df_satterthwaite"] = satt(prob, est, "analytic").df.tolist()
    out["df_kenward_roger"] = kr(prob, est).df.tolist()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", action="append", help="case name (repeatable)")
    ap.add_argument("--quick", action="store_true", help="skip insteval and crossed_12k")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    cases = args.only or ["sleepstudy", "cake", "insteval", "synthetic_1m", "crossed_12k"]
    if args.quick:
        cases = [c for c in cases if c not in ("insteval", "synthetic_1m", "crossed_12k")]
    path = Path(args.out)
    results = json.loads(path.read_text()) if path.exists() else {}
    results.setdefault("cases", {})
    results["machine"] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "cpus": os.cpu_count(),
        "blas_threads": 1,
    }
    with threadpool_limits(1):
        for case in cases:
            t0 = time.perf_counter()
            special = {"crossed_12k": crossed_12k, "synthetic_1m": synthetic_1m}
            res = special[case]() if case in special else bench_model(case, args.quick)
            res["case_total_s"] = time.perf_counter() - t0
            res["loadavg_1m"] = os.getloadavg()[0]
            results["cases"][case] = res
            print(json.dumps({case: res}, indent=1))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
