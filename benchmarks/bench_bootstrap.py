"""Benchmark: parametric bootstrap of the sleepstudy slope model, three tools in one run.

``Reaction ~ Days + (Days | Subject)`` (REML), ``nsim`` replicates of the fixed effects:

- ``hierreg``: ``res.bootstrap(nsim, seed=..., n_jobs=1 | 2, progress=False)`` (refits from
  the stored arrays: no formula or design rebuild per replicate);
- ``mixedlm``: ``mixedlm.bootMer(model, nsim, seed=..., n_jobs=1 | 2)`` (mixedlm 1.3, Rust core;
  benchmark-only peer);
- ``lme4``: ``bootMer(m, fixef, nsim, type = "parametric", use.u = FALSE)`` in R (elapsed time
  measured inside R, so R's start-up is not counted), when ``Rscript`` with lme4 is present.

Every BLAS/OpenMP/Rayon pool is pinned to one thread (variables set before numpy is imported;
``n_jobs=2`` uses two single-threaded processes).  The model is fitted once outside the
timings; each (tool, n_jobs) runs ``--repeats`` times and the median is reported, with the
bootstrap SDs of the fixed effects as a sanity check (random streams differ between tools, so
the SDs agree only to Monte-Carlo error, about 2% at nsim=1000).

Run ``python benchmarks/bench_bootstrap.py`` (about 5 minutes with the defaults); results go to
``benchmarks/results/bootstrap.json``.
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
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import hierreg_formula as hierreg  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "bootstrap.json"
FORMULA = "Reaction ~ Days + (Days | Subject)"
SEED = 20261130

R_SCRIPT = r"""
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
a <- commandArgs(trailingOnly = TRUE)
d <- read.csv(a[1], colClasses = c(Subject = "character"))
d$Subject <- factor(d$Subject)
nsim <- as.integer(a[2]); reps <- as.integer(a[3])
m <- lmer(Reaction ~ Days + (Days | Subject), d)
times <- numeric(0)
for (i in seq_len(reps)) {
  t0 <- proc.time()[["elapsed"]]
  b <- bootMer(m, function(x) fixef(x), nsim = nsim, seed = 20261130 + i,
               type = "parametric", use.u = FALSE)
  times <- c(times, proc.time()[["elapsed"]] - t0)
}
cat(toJSON(list(times_s = times, sd = unname(apply(b$t, 2, sd)),
                version = as.character(packageVersion("lme4"))), digits = NA))
"""


def _summary(times: list[float], sd: np.ndarray) -> dict:
    return {
        "median_s": statistics.median(times),
        "times_s": times,
        "bootstrap_sd": [float(v) for v in sd],
    }


def bench_hierreg(df, nsim: int, repeats: int, n_jobs: int) -> dict:
    res = hierreg.fit(FORMULA, df)
    res.bootstrap(nsim=20, seed=SEED, n_jobs=n_jobs, progress=False)  # warm-up
    times, boot = [], None
    for i in range(repeats):
        t0 = time.perf_counter()
        boot = res.bootstrap(nsim=nsim, seed=SEED + i, n_jobs=n_jobs, progress=False)
        times.append(time.perf_counter() - t0)
    cols = [boot.names.index(name) for name in ("Intercept", "Days")]
    reps = np.asarray(boot.replicates)[:, cols]
    return _summary(times, reps.std(axis=0, ddof=1))


def bench_mixedlm(df, nsim: int, repeats: int, n_jobs: int) -> dict | None:
    try:
        import mixedlm
    except ImportError:
        return None
    model = mixedlm.lmer(FORMULA, df, REML=True)
    mixedlm.bootMer(model, nsim=20, seed=SEED, n_jobs=n_jobs)  # warm-up
    times, boot = [], None
    for i in range(repeats):
        t0 = time.perf_counter()
        boot = mixedlm.bootMer(model, nsim=nsim, seed=SEED + i, n_jobs=n_jobs)
        times.append(time.perf_counter() - t0)
    beta = np.asarray(boot.beta_samples)
    return _summary(times, beta.std(axis=0, ddof=1))


def bench_lme4(df, nsim: int, repeats: int) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "sleepstudy.csv"
        script = Path(tmp) / "boot.R"
        df.to_csv(csv, index=False)
        script.write_text(R_SCRIPT)
        run = subprocess.run(
            ["Rscript", str(script), str(csv), str(nsim), str(repeats)],
            capture_output=True,
            text=True,
            env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
        )
    if run.returncode != 0:
        return {"error": run.stderr.strip()[-500:]}
    out = json.loads(run.stdout)
    return {**_summary(list(out["times_s"]), np.asarray(out["sd"])), "lme4": out["version"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nsim", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    df = hierreg.load_dataset("sleepstudy")
    rows: dict[str, dict | None] = {}
    with threadpool_limits(1):
        for n_jobs in (1, 2):
            rows[f"hierreg_jobs{n_jobs}"] = bench_hierreg(df, args.nsim, args.repeats, n_jobs)
            print(f"hierreg n_jobs={n_jobs}:", rows[f"hierreg_jobs{n_jobs}"]["median_s"])
            rows[f"mixedlm_jobs{n_jobs}"] = bench_mixedlm(df, args.nsim, args.repeats, n_jobs)
            print(
                f"mixedlm n_jobs={n_jobs}:", (rows[f"mixedlm_jobs{n_jobs}"] or {}).get("median_s")
            )
    rows["lme4_jobs1"] = bench_lme4(df, args.nsim, args.repeats)
    print("lme4:", (rows["lme4_jobs1"] or {}).get("median_s"))

    ours = rows["hierreg_jobs1"]["median_s"]
    ratios = {
        name: ours / row["median_s"]
        for name, row in rows.items()
        if row and "median_s" in row and name.endswith("jobs1") and name != "hierreg_jobs1"
    }
    out = {
        "formula": FORMULA,
        "nsim": args.nsim,
        "repeats": args.repeats,
        "rows": rows,
        "hierreg_over_peer_jobs1": ratios,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "loadavg_1m": os.getloadavg()[0],
        "date": time.strftime("%Y-%m-%d"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(ratios, indent=2))


if __name__ == "__main__":
    main()
