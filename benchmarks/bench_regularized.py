"""Benchmark: the regularized mode vs a plain cvxpy formulation (stand-in for hierreg).

hierreg's setting: X ~ N(0, 1) with 3 columns, deviations on the intercept and all
columns, one grouping of G levels.  For n = 100k (G = 500) and n = 1M (G = 5000) it
times, in subprocesses with BLAS pinned to one thread:

- ``ours_squared``: ``HierarchicalRegression(l2_reg=..., loss="squared").fit`` (one
  factorization on the PLS core);
- ``ours_norm``: the same estimator with ``loss="norm"`` (cvxpy + Clarabel);
- ``cvxpy_squared``: the squared objective written directly in cvxpy with a sparse Z
  (what hierreg's solver does, minus its dense design);
- ``cvxpy_dense``: the same with a dense Z, as hierreg 0.1 builds it (100k only).

Reports the median time, the peak resident memory growth of one fit and the ratio to
ours_squared; writes ``benchmarks/results/regularized.json``.  ``--quick`` runs 100k only.
"""

from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

SIZES = {"100k": (100_000, 500), "1M": (1_000_000, 5_000)}
TOOLS = ("ours_squared", "ours_norm", "cvxpy_squared", "cvxpy_dense")
DENSE_SKIP = {"1M": "dense Z would be 1M x 20,000 doubles = 160 GB"}
ALPHA = 0.1


def simulate(n: int, G: int):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(n, 3))
    g = rng.integers(0, G, n)
    dev = rng.normal(scale=0.5, size=(G, 4))
    Xt = np.column_stack([np.ones(n), X])
    y = (
        Xt @ np.array([3.0, 1.0, -2.0, 0.5])
        + np.einsum("nk,nk->n", Xt, dev[g])
        + rng.normal(size=n)
    )
    return X, y, g


def fit_once(tool: str, X, y, g) -> float:
    if tool.startswith("ours"):
        from hierreg_formula.regularized.sklearn import HierarchicalRegression

        loss = "squared" if tool == "ours_squared" else "norm"
        HierarchicalRegression(l2_reg=ALPHA, loss=loss).fit(X, y, g)
        return 0.0
    import cvxpy as cvx
    import scipy.sparse as sp

    n = len(y)
    G = int(g.max()) + 1
    Xt = np.column_stack([np.ones(n), X])
    p = Xt.shape[1]
    cols = (g[:, None] * p + np.arange(p)).ravel()
    Z = sp.csr_matrix((Xt.ravel(), cols, np.arange(0, n * p + 1, p)), shape=(n, G * p))
    if tool == "cvxpy_dense":
        Z = Z.toarray()
    counts = np.bincount(g, minlength=G).astype(float)
    nw = (1 / counts) / (1 / counts).sum() / p
    d = np.repeat(nw, p)
    w = cvx.Variable(p)
    v = cvx.Variable(G * p)
    obj = cvx.sum_squares(y - Xt @ w - Z @ v) / n + ALPHA * cvx.sum_squares(cvx.multiply(d, v))
    prob = cvx.Problem(cvx.Minimize(obj))
    prob.solve(solver="CLARABEL")
    return float(prob.value)


def worker(size: str, tool: str, repeats: int) -> dict:
    X, y, g = simulate(*SIZES[size])
    Xs, ys, gs = simulate(2000, 20)
    fit_once(tool, Xs, ys, gs)  # warm-up imports on a small problem
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fit_once(tool, X, y, g)
        times.append(time.perf_counter() - t0)
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024.0
    return {"median_s": float(np.median(times)), "times_s": times, "peak_mb": peak}


def run(size: str, tool: str, timeout: float) -> dict:
    if tool == "cvxpy_dense" and size in DENSE_SKIP:
        return {"skipped": DENSE_SKIP[size]}
    repeats = 5 if tool == "ours_squared" else 1
    cmd = [sys.executable, __file__, "--worker", size, tool, str(repeats)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return {"skipped": f"timed out after {timeout:.0f} s"}
    except subprocess.CalledProcessError as err:
        return {"skipped": f"failed: {(err.stderr or '').strip().splitlines()[-1:]}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        size, tool, repeats = args.worker
        print(json.dumps(worker(size, tool, int(repeats))))
        return
    sizes = ["100k"] if args.quick else list(SIZES)
    results = {s: {t: run(s, t, args.timeout) for t in TOOLS} for s in sizes}
    print(f"{'size':6s} {'tool':14s} {'median s':>10s} {'peak MB':>9s} {'x ours_squared':>15s}")
    for s, r in results.items():
        base = r["ours_squared"].get("median_s")
        for t, m in r.items():
            if "median_s" in m:
                ratio = m["median_s"] / base if base else float("nan")
                print(f"{s:6s} {t:14s} {m['median_s']:10.3f} {m['peak_mb']:9.1f} {ratio:15.1f}")
            else:
                print(f"{s:6s} {t:14s} {m['skipped']}")
    path = Path(__file__).parent / "results" / "regularized.json"
    path.write_text(
        json.dumps(
            {"date": time.strftime("%Y-%m-%d %H:%M"), "alpha": ALPHA, "results": results}, indent=1
        )
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
