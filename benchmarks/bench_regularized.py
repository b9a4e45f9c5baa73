"""Benchmark: the regularized mode vs a plain cvxpy formulation (stand-in for hierreg).

hierreg's setting: X ~ N(0, 1) with 3 columns, deviations on the intercept and all
columns, one grouping of G levels, alpha (l2_reg) = 0.1.  For n = 100k (G = 500) and
n = 1M (G = 5000) it times, each in a fresh subprocess with BLAS pinned to one thread:

- ``ours_squared``: ``HierarchicalRegression(l2_reg=0.1, loss="squared").fit(X, y, g)``
  (arrays in, one pass over the rows for the cross-products, one factorization);
- ``ours_formula``: the same model from a formula,
  ``hierreg.fit("y ~ x1 + x2 + x3 + (1 + x1 + x2 + x3 | g)", df, method="regularized")``
  (formulaic's model matrix included);
- ``ours_cv``: ``l2_reg="cv"`` (5 folds x 25 alphas, then the refit);
- ``ours_norm``: ``loss="norm"``, hierreg's default un-squared objective (cvxpy + Clarabel,
  sparse Z, tight tolerances);
- ``cvxpy_squared``: the squared objective written directly in cvxpy with a sparse Z and
  solved by Clarabel with its defaults (what hierreg's solver does, minus its dense
  design): the stand-in for hierreg.  One run; cut at ``--timeout`` (300 s);
- ``cvxpy_dense`` (only with ``--dense``, 100k only, about 6 GB): the same with a dense
  Z, as hierreg 0.1 builds it.

Time: a warm-up fit on 2,000 rows, one measured fit (memory, objective), then
``repeats`` timed fits; the median is reported (7 for ours_squared, 3 for the other
ours_*, 1 for cvxpy).  Memory: the kernel's peak-RSS counter is reset
(``/proc/self/clear_refs``) before the measured fit; ``peak_mb`` is the peak RSS during
the fit minus the RSS before it (the extra memory one fit needs), ``process_peak_mb`` the
whole process's peak (interpreter, imports and data included).  ``objective`` is the
minimised objective on hierreg's scale: ours_squared and cvxpy_squared solve the same
problem, so their objectives must agree.

Prints a table (ratios to ours_squared and cvxpy_squared / ours) and the targets
(ours_squared >= 100x faster than cvxpy_squared at 100k rows; the 1M-row fit under 5 s
and 2 GB) and writes ``benchmarks/results/regularized.json``.  ``--quick``: 100k only.
"""

from __future__ import annotations

import os

for _v in (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "RAYON_NUM_THREADS",
):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

SIZES = {"100k": (100_000, 500), "1M": (1_000_000, 5_000)}
TOOLS = ("ours_squared", "ours_formula", "ours_cv", "ours_norm", "cvxpy_squared", "cvxpy_dense")
REPEATS = {"ours_squared": 7, "ours_formula": 3, "ours_cv": 3, "ours_norm": 3}
ALPHA = 0.1
FORMULA = "y ~ x1 + x2 + x3 + (1 + x1 + x2 + x3 | g)"
TARGET_SPEEDUP = 100.0
TARGET_1M_S = 5.0
TARGET_1M_MB = 2048.0


def simulate(n: int, G: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """hierreg's setting: X ~ N(0, 1) (3 columns), deviations on every column."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(n, 3))
    g = rng.integers(0, G, n)
    dev = rng.normal(scale=0.5, size=(G, 4))
    Xt = np.column_stack([np.ones(n), X])
    y = Xt @ np.array([3.0, 1.0, -2.0, 0.5]) + np.einsum("nk,nk->n", Xt, dev[g])
    return X, y + rng.normal(size=n), g


def fit_once(tool: str, X: np.ndarray, y: np.ndarray, g: np.ndarray) -> float | None:
    """One complete fit from the raw data; returns the minimised objective."""
    if tool in ("ours_squared", "ours_cv", "ours_norm"):
        from hierreg_formula.estimators import HierarchicalRegression

        l2 = "cv" if tool == "ours_cv" else ALPHA
        loss = "norm" if tool == "ours_norm" else "squared"
        est = HierarchicalRegression(l2_reg=l2, loss=loss).fit(X, y, g)
        return est.result_.objective
    if tool == "ours_formula":
        import pandas as pd

        import hierreg_formula as hierreg

        df = pd.DataFrame({"y": y, "x1": X[:, 0], "x2": X[:, 1], "x3": X[:, 2], "g": g})
        return hierreg.fit(FORMULA, df, method="regularized", alpha=ALPHA).objective
    import cvxpy as cvx
    import scipy.sparse as sp

    n = len(y)
    G = int(g.max()) + 1
    Xt = np.column_stack([np.ones(n), X])
    p = Xt.shape[1]
    # hierreg's layout: column j * G + k holds X~_j for the rows of level k
    cols = (np.arange(p)[None, :] * G + g[:, None]).ravel()
    Z = sp.csr_matrix((Xt.ravel(), cols, np.arange(0, n * p + 1, p)), shape=(n, G * p))
    if tool == "cvxpy_dense":
        Z = Z.toarray()
    counts = np.bincount(g, minlength=G).astype(float)
    nw = (1 / counts) / (1 / counts).sum() / p
    d = np.tile(nw, p)
    w = cvx.Variable(p)
    v = cvx.Variable(G * p)
    obj = cvx.sum_squares(y - Xt @ w - Z @ v) / n + ALPHA * cvx.sum_squares(cvx.multiply(d, v))
    prob = cvx.Problem(cvx.Minimize(obj))
    prob.solve(solver="CLARABEL")
    return float(prob.value)


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


def worker(size: str, tool: str, repeats: int) -> dict:
    """Runs in a subprocess: warm-up, one measured fit (memory), ``repeats`` timed fits."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    warnings.simplefilter("ignore")
    X, y, g = simulate(*SIZES[size])
    Xs, ys, gs = simulate(2000, 20)
    fit_once(tool, Xs, ys, gs)  # imports and lazy set-up
    reset = _reset_peak() and _status_kb("VmHWM") is not None
    base = _status_kb("VmRSS") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    objective = fit_once(tool, X, y, g)
    first = time.perf_counter() - t0
    peak = _status_kb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    process_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fit_once(tool, X, y, g)
        times.append(time.perf_counter() - t0)
    times = times or [first]
    return {
        "median_s": float(np.median(times)),
        "min_s": float(np.min(times)),
        "times_s": times,
        "first_fit_s": first,
        "peak_mb": max(peak - base, 0) / 1024.0,
        "process_peak_mb": process_peak / 1024.0,
        "mem_method": "VmHWM-VmRSS after clear_refs" if reset else "ru_maxrss growth",
        "objective": objective,
        "loadavg_1m": os.getloadavg()[0],
    }


def run(size: str, tool: str, timeout: float) -> dict:
    if tool == "cvxpy_dense" and size != "100k":
        return {"skipped": "dense Z would be 1M x 20,000 doubles = 160 GB"}
    cmd = [sys.executable, __file__, "--worker", size, tool, str(REPEATS.get(tool, 0))]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return {"skipped": f"timed out after {timeout:.0f} s"}
    except subprocess.CalledProcessError as err:
        return {"skipped": f"failed: {(err.stderr or '').strip().splitlines()[-1:]}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def targets(results: dict) -> dict:
    out = {}
    r = results.get("100k", {})
    if "median_s" in r.get("ours_squared", {}) and "median_s" in r.get("cvxpy_squared", {}):
        speedup = r["cvxpy_squared"]["median_s"] / r["ours_squared"]["median_s"]
        out["speedup_100k_vs_cvxpy_squared"] = {
            "value": speedup,
            "target": f">= {TARGET_SPEEDUP:.0f}",
            "met": speedup >= TARGET_SPEEDUP,
        }
    m = results.get("1M", {}).get("ours_squared", {})
    if "median_s" in m:
        out["1M_fit_s"] = {
            "value": m["median_s"],
            "target": f"< {TARGET_1M_S}",
            "met": m["median_s"] < TARGET_1M_S,
        }
        out["1M_process_peak_mb"] = {
            "value": m["process_peak_mb"],
            "target": f"< {TARGET_1M_MB:.0f}",
            "met": m["process_peak_mb"] < TARGET_1M_MB,
        }
    return out


def environment() -> dict:
    import threadpoolctl

    versions = {}
    for mod in ("hierreg_formula", "numpy", "scipy", "cvxpy", "clarabel", "sklearn"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - informational only
            versions[mod] = None
    blas = [
        {k: d.get(k) for k in ("internal_api", "version", "num_threads")}
        for d in threadpoolctl.threadpool_info()
    ]
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "versions": versions,
        "blas": blas,
        "loadavg": os.getloadavg(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100k rows only")
    ap.add_argument("--dense", action="store_true", help="also cvxpy with a dense Z (100k, ~6 GB)")
    ap.add_argument("--timeout", type=float, default=300.0, help="per cvxpy run, seconds")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "regularized.json"))
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        size, tool, repeats = args.worker
        print(json.dumps(worker(size, tool, int(repeats))))
        return
    sizes = ["100k"] if args.quick else list(SIZES)
    tools = [t for t in TOOLS if t != "cvxpy_dense" or args.dense]
    results = {}
    for s in sizes:
        results[s] = {}
        for t in tools:
            results[s][t] = run(s, t, args.timeout if t.startswith("cvxpy") else 1800.0)
            print(f"  {s} {t}: {results[s][t].get('median_s', results[s][t].get('skipped'))}")
    head = (
        f"{'size':5s} {'tool':14s} {'median s':>9s} {'min s':>8s} {'peak MB':>8s} "
        f"{'proc MB':>8s} {'x ours_sq':>9s} {'cvxpy_sq/x':>10s} {'objective':>14s}"
    )
    print(head)
    for s, r in results.items():
        base = r["ours_squared"].get("median_s")
        stand_in = r.get("cvxpy_squared", {}).get("median_s")
        for t, m in r.items():
            if "median_s" not in m:
                print(f"{s:5s} {t:14s} {m['skipped']}")
                continue
            ratio = m["median_s"] / base if base else float("nan")
            speed = stand_in / m["median_s"] if stand_in else float("nan")
            obj = "-" if m["objective"] is None else f"{m['objective']:.10g}"
            print(
                f"{s:5s} {t:14s} {m['median_s']:9.4f} {m['min_s']:8.4f} {m['peak_mb']:8.1f} "
                f"{m['process_peak_mb']:8.1f} {ratio:9.1f} {speed:10.1f} {obj:>14s}"
            )
        ours, cv = r["ours_squared"].get("objective"), r.get("cvxpy_squared", {}).get("objective")
        if ours is not None and cv is not None:
            print(f"{s:5s} objective ours_squared vs cvxpy_squared: rel. diff {cv / ours - 1:.2e}")
    tg = targets(results)
    for name, t in tg.items():
        print(f"target {name}: {t['value']:.4g} ({t['target']}): {'met' if t['met'] else 'MISS'}")
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "alpha": ALPHA,
        "formula": FORMULA,
        "environment": environment(),
        "results": results,
        "targets": tg,
    }
    path.write_text(json.dumps(payload, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
