"""Benchmark: GLMM (Laplace) fits of hierreg-formula's core vs mixedlm 1.3.0's glmer.

Models (``--only NAME`` runs one; ``--quick`` skips ``bern_1m``):

- ``cbpp``          ``prop ~ period + (1 | herd)``, binomial, trials as weights    56 rows
- ``grouseticks``   ``TICKS ~ YEAR + cHEIGHT + (1|BROOD) + (1|INDEX) + (1|LOCATION)``, Poisson  403 rows
- ``bern_100k``     ``y ~ x + (x | g)``, Bernoulli, 100,000 rows, 2,000 groups (correlated slope)
- ``bern_1m``       ``y ~ x + (1 | g)``, Bernoulli, 1,000,000 rows, 10,000 groups

Tools: ``hierreg`` (``build_design`` + ``core.fit_glmm``, formula included; the
default standard errors from the Hessian, as lme4's), ``hierreg_rx`` (the same
with ``cov="rx"``: no Hessian) and ``mixedlm`` (``mixedlm.glmer(formula, df,
family, weights)``, default control).

Method (as ``bench_lmm.py``): every (model, tool) pair runs in a fresh subprocess
with every BLAS / OpenMP / rayon pool pinned to one thread; a warm-up fit on the
first 2,000 rows, one measured fit (objective, peak RSS above the baseline via
``/proc/self/clear_refs``), then ``repeats`` timed fits: the median wall time is
reported, with the median CPU time of the process beside it (the machine is
shared: under load the CPU time is the better measure of the work).  Objectives are ``-2 log L`` with lme4's constants (binomial
log-choose, Poisson ``log y!``): ours is ``est.objective``, mixedlm's
``-2 * logLik().value``.

Run ``python benchmarks/bench_glmm.py`` (results in ``benchmarks/results/glmm.json``).
"""

from __future__ import annotations

import os
import sys

PINNED = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "RAYON_NUM_THREADS",
)
for _v in PINNED:
    os.environ[_v] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "glmm.json"
SEED = 20261130
WARMUP_ROWS = 2000

MODELS: dict[str, dict] = {
    "cbpp": {
        "formula": "prop ~ period + (1 | herd)",
        "family": "binomial",
        "weights": "size",
        "repeats": 7,
    },
    "grouseticks": {
        "formula": "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)",
        "family": "poisson",
        "weights": None,
        "repeats": 3,
    },
    "bern_100k": {
        "formula": "y ~ x + (x | g)",
        "family": "binomial",
        "weights": None,
        "repeats": 3,
    },
    "bern_1m": {"formula": "y ~ x + (1 | g)", "family": "binomial", "weights": None, "repeats": 2},
}
TOOLS = ("hierreg", "hierreg_rx", "mixedlm")


def simulate(n: int, n_groups: int, slope: bool, seed: int = SEED) -> pd.DataFrame:
    """Bernoulli ``logit P = -0.3 + 0.5 x + b0[g] (+ b1[g] x)``, sd(b0) 0.8, sd(b1) 0.4, corr 0.3."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, n_groups, n)
    x = rng.normal(size=n)
    cov = [[0.64, 0.096], [0.096, 0.16]]
    b = rng.multivariate_normal([0.0, 0.0], cov, size=n_groups)
    eta = -0.3 + 0.5 * x + b[g, 0] + (b[g, 1] * x if slope else 0.0)
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-eta))).astype(float)
    return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical(g, categories=range(n_groups))})


def load(name: str) -> pd.DataFrame:
    import hierreg_formula as hierreg

    if name == "cbpp":
        d = hierreg.load_dataset("cbpp")
        return d.assign(herd=d["herd"].astype(str), period=d["period"].astype(str))
    if name == "grouseticks":
        d = hierreg.load_dataset("grouseticks")
        return d.astype({c: str for c in ("INDEX", "BROOD", "YEAR", "LOCATION")})
    if name == "bern_100k":
        return simulate(100_000, 2_000, slope=True)
    if name == "bern_1m":
        return simulate(1_000_000, 10_000, slope=False)
    raise SystemExit(f"unknown model {name!r}")


def fit_once(tool: str, name: str, df: pd.DataFrame) -> dict:
    spec = MODELS[name]
    w = None if spec["weights"] is None else df[spec["weights"]].to_numpy(float)
    if tool.startswith("hierreg"):
        from hierreg_formula.core import TermArrays, fit_glmm
        from hierreg_formula.formula import build_design

        bl = build_design(spec["formula"], df)
        rand = sorted(bl.random, key=lambda b: -len(b.levels))
        terms = [TermArrays(b.codes, len(b.levels), b.X) for b in rand]
        cov = "rx" if tool == "hierreg_rx" else "hessian"
        est = fit_glmm(bl.X, bl.y, terms, spec["family"], weights=w, cov=cov)
        return {
            "objective": est.objective,
            "beta": est.beta.tolist(),
            "bse": est.bse.tolist(),
            "theta": est.theta.tolist(),
            "nfev": est.nfev,
            "converged": est.converged,
        }
    import mixedlm

    fam = (
        mixedlm.families.Binomial() if spec["family"] == "binomial" else mixedlm.families.Poisson()
    )
    m = mixedlm.glmer(spec["formula"], df, family=fam, weights=w)
    return {
        "objective": -2.0 * float(m.logLik().value),
        "beta": np.asarray(list(m.fixef().values()), float).tolist(),
        "bse": np.sqrt(np.diag(np.asarray(m.vcov()))).tolist() if hasattr(m, "vcov") else None,
        "theta": np.asarray(m.theta, float).tolist(),
        "converged": bool(m.converged),
    }


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def worker(name: str, tool: str) -> dict:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    df = load(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit_once(tool, name, df.head(WARMUP_ROWS).reset_index(drop=True))
        except Exception:  # noqa: BLE001 - a subset can be degenerate
            pass
        gc.collect()
        reset = _reset_peak() and _status_kb("VmHWM") is not None
        base = _status_kb("VmRSS") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0, c0 = time.perf_counter(), time.process_time()
        out = fit_once(tool, name, df)
        first, first_cpu = time.perf_counter() - t0, time.process_time() - c0
        peak = _status_kb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        times, cpus = [first], [first_cpu]
        for _ in range(MODELS[name]["repeats"] - 1):
            gc.collect()
            t0, c0 = time.perf_counter(), time.process_time()
            fit_once(tool, name, df)
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
    out.update(
        median_s=float(np.median(times)),
        median_cpu_s=float(np.median(cpus)),
        times_s=times,
        peak_mb=max(peak - base, 0) / 1024.0,
        process_peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        n_rows=len(df),
        loadavg_1m=os.getloadavg()[0],
    )
    return out


def run(name: str, tool: str, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, tool]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return {"skipped": f"timed out after {timeout:.0f} s"}
    except subprocess.CalledProcessError as err:
        last = err.stderr.strip().splitlines()[-1] if err.stderr.strip() else str(err)
        return {"skipped": f"failed: {last}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", nargs=2, metavar=("MODEL", "TOOL"))
    ap.add_argument("--only", action="append")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--timeout", type=float, default=900.0)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    names = args.only or [m for m in MODELS if not (args.quick and m == "bern_1m")]
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in names:
        results.setdefault(name, {})
        for tool in args.tools.split(","):
            r = run(name, tool, args.timeout)
            results[name][tool] = r
            t = r.get("median_s")
            obj = r.get("objective")
            print(
                f"{name:12s} {tool:11s} "
                + (
                    f"{t:8.3f} s (cpu {r['median_cpu_s']:.3f} s)  obj {obj:.6f}  "
                    f"peak {r['peak_mb']:.0f} MB  load {r['loadavg_1m']:.1f}"
                    if t
                    else r["skipped"]
                ),
                flush=True,
            )
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
