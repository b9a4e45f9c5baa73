"""Benchmark: REML fits of hierreg-formula vs mixedlm (Rust core) vs statsmodels MixedLM.

Each (model, tool) pair runs in a fresh subprocess with BLAS pinned to one
thread: it loads or simulates the data, warms up on its first 2,000 rows
(imports, lazy set-up), fits once on all rows, then times ``repeats`` whole fits
(formula included) and reports the median.  Peak memory is the growth of the
subprocess's maximum resident set size (``ru_maxrss``) across the first full
fit, i.e. the peak extra memory of one fit.

Run: ``python benchmarks/bench_lmm.py`` (``--quick`` skips InstEval and the 1M
model; ``--only NAME`` runs one model).  Writes ``benchmarks/results/lmm.json``.
Needs the ``bench`` extra (``pip install -e ".[bench]"``) for mixedlm.
"""

from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
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
import pandas as pd  # noqa: E402

MODELS = {
    "sleepstudy": ("Reaction ~ Days + (Days | Subject)", 15),
    "radon": ("log_radon ~ floor + (floor | county)", 15),
    "insteval": ("y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept:service)", 3),
    "synthetic_100k": ("y ~ x + (x | g)", 5),
    "synthetic_1m": ("y ~ x + (x | g)", 3),
}
STATSMODELS_SKIP = {
    "insteval": "crossed factors only as variance components on one all-rows group",
    "synthetic_1m": "not run (about 10x the 100k time per fit)",
}
TOOLS = ("hierreg", "mixedlm", "statsmodels")


def load(name: str) -> pd.DataFrame:
    import hierreg_formula as hierreg

    if name == "sleepstudy":
        return hierreg.load_dataset("sleepstudy")
    if name == "radon":
        return hierreg.load_dataset("radon")[["log_radon", "floor", "county"]]
    if name == "insteval":
        return hierreg.load_dataset("InstEval")
    n, G = (100_000, 1_000) if name == "synthetic_100k" else (1_000_000, 10_000)
    rng = np.random.default_rng(20261123)
    g = rng.integers(0, G, n)
    x = rng.normal(size=n)
    b = rng.multivariate_normal([0.0, 0.0], [[1.0, 0.3], [0.3, 0.5]], size=G)
    y = 1.0 + 2.0 * x + b[g, 0] + b[g, 1] * x + rng.normal(size=n)
    return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical(g)})


def fit_once(tool: str, name: str, formula: str, df: pd.DataFrame) -> float:
    """One whole fit; returns the REML criterion (-2 restricted log-likelihood)."""
    if tool == "hierreg":
        import hierreg_formula as hierreg

        return hierreg.fit(formula, df).reml_criterion
    if tool == "mixedlm":
        import mixedlm

        return float(mixedlm.lmer(formula, df, REML=True).REMLcrit())
    import statsmodels.formula.api as smf

    fixed, _, rand = formula.partition(" + (")
    slope = rand.split("|")[0].strip()
    group = rand.split("|")[1].strip(" )")
    model = smf.mixedlm(fixed, df, groups=df[group], re_formula=f"~{slope}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(reml=True)
    return -2.0 * float(res.llf)


def worker(name: str, tool: str) -> dict:
    formula, repeats = MODELS[name]
    df = load(name)
    if tool == "mixedlm" and name == "insteval":
        df = df.assign(service=df["service"].astype(str))
    fit_once(tool, name, formula, df.head(2000))  # warm-up: imports and lazy set-up
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    obj = fit_once(tool, name, formula, df)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fit_once(tool, name, formula, df)
        times.append(time.perf_counter() - t0)
    return {
        "median_s": float(np.median(times)),
        "times_s": times,
        "objective": obj,
        "peak_mb": peak_kb / 1024.0,
    }


def run(name: str, tool: str, timeout: float) -> dict:
    if tool == "statsmodels" and name in STATSMODELS_SKIP:
        return {"skipped": STATSMODELS_SKIP[name]}
    cmd = [sys.executable, __file__, "--worker", name, tool]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return {"skipped": f"timed out after {timeout:.0f} s"}
    except subprocess.CalledProcessError as err:
        return {"skipped": f"failed: {err.stderr.strip().splitlines()[-1] if err.stderr else err}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> dict:
    import scipy
    import threadpoolctl

    with threadpoolctl.threadpool_limits(1):
        blas = [
            {k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for d in threadpoolctl.threadpool_info()
        ]
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "blas": blas,
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="skip InstEval and the 1M model")
    ap.add_argument("--only", default=None, help="run one model")
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--worker", nargs=2, metavar=("MODEL", "TOOL"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    names = [args.only] if args.only else list(MODELS)
    if args.quick:
        names = [n for n in names if n not in ("insteval", "synthetic_1m")]
    results = {}
    for name in names:
        results[name] = {tool: run(name, tool, args.timeout) for tool in TOOLS}
        print(f"{name}: done", file=sys.stderr)
    rows = []
    for name, r in results.items():
        ours = r["hierreg"].get("median_s")
        row = {"model": name}
        for tool in TOOLS:
            m = r[tool]
            row[f"{tool}_s"] = m.get("median_s")
            row[f"{tool}_MB"] = m.get("peak_mb")
            row[f"{tool}_obj"] = m.get("objective")
            if tool != "hierreg":
                row[f"ours/{tool}"] = ours / m["median_s"] if ours and m.get("median_s") else None
        rows.append(row)
    table = pd.DataFrame(rows).set_index("model")
    with pd.option_context(
        "display.width", 250, "display.max_columns", 30, "display.float_format", "{:.4g}".format
    ):
        print(table)
    out = {
        "machine": machine(),
        "models": {k: MODELS[k][0] for k in names},
        "results": results,
        "table": table.reset_index().to_dict(orient="records"),
    }
    path = Path(__file__).parent / "results" / "lmm.json"
    path.write_text(json.dumps(out, indent=1, default=float))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
