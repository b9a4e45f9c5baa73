"""Out-of-core GLMM on Dask: a Bernoulli model with 10,000 groups from Parquet.

Data (``write``): ``--rows`` rows in files of ``--rows-per-file`` rows (default
250,000) under ``--dir`` (default ``/work/bench-data/dask-glmm-<rows>``, never in
the repository), columns ``y`` (0/1 float64), ``x`` (float64), ``g`` (int32,
``--groups`` groups, default 10,000), simulated from

    P(y = 1) = logit^-1(-0.5 + 0.5 x + b[g]),   b ~ N(0, 1)

(seed 20261201).  Model: ``y ~ x + (1 | g)``, ``family="binomial"`` (Laplace).

Measurements (``run``), each in a fresh subprocess with BLAS pinned to one
thread, ``--repeat`` times (medians reported):

- ``ooc``: ``hierreg.fit(formula, "dir/*.parquet", family="binomial")`` with Dask's
  default threaded scheduler (2 threads): wall time, the process's peak RSS, the
  row passes per fit (``scale_info["passes"]``, per stage), the wall time of the
  passes;
- ``mem``: ``pd.read_parquet`` of the same files, then the in-memory fit: read and
  fit seconds, peak RSS;
- ``cluster`` (not run by default): ``ooc`` on ``distributed.LocalCluster(n_workers=2,
  threads_per_worker=1)`` (client and worker peak RSS).

Usage::

    python benchmarks/bench_dask_glmm.py write --rows 1000000
    python benchmarks/bench_dask_glmm.py run --rows 1000000 --repeat 3
    python benchmarks/bench_dask_glmm.py write --rows 10000000
    python benchmarks/bench_dask_glmm.py run --rows 10000000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

HERE = Path(__file__).resolve().parent
FORMULA = "y ~ x + (1 | g)"
SEED = 20261201


def _dir(args: argparse.Namespace) -> Path:
    return Path(args.dir or f"/work/bench-data/dask-glmm-{args.rows}")


def write(args: argparse.Namespace) -> None:
    import numpy as np
    import pandas as pd

    out = _dir(args)
    out.mkdir(parents=True, exist_ok=True)
    b = np.random.default_rng(SEED).normal(size=args.groups)
    nfiles = -(-args.rows // args.rows_per_file)
    t0 = time.perf_counter()
    for i in range(nfiles):
        path = out / f"part-{i:04d}.parquet"
        if path.exists() and not args.force:
            continue
        n = min(args.rows_per_file, args.rows - i * args.rows_per_file)
        r = np.random.default_rng([SEED, i])
        x = r.normal(size=n)
        g = r.integers(0, args.groups, n).astype(np.int32)
        eta = -0.5 + 0.5 * x + b[g]
        y = (r.uniform(size=n) < 1.0 / (1.0 + np.exp(-eta))).astype(float)
        pd.DataFrame({"y": y, "x": x, "g": g}).to_parquet(path, index=False)
    print(f"{nfiles} files in {out} ({time.perf_counter() - t0:.0f} s)")


def _peak_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def measure(args: argparse.Namespace) -> dict:
    """One configuration, in this (fresh) process."""
    import numpy as np

    import hierreg_formula as hierreg

    files = sorted(str(p) for p in _dir(args).glob("*.parquet"))
    out: dict = {"config": args.config, "formula": FORMULA, "files": len(files)}
    if args.config == "mem":
        import pandas as pd

        t0 = time.perf_counter()
        df = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        t1 = time.perf_counter()
        res = hierreg.fit(FORMULA, df, family="binomial")
        t2 = time.perf_counter()
        out.update(rows=len(df), read_s=t1 - t0, fit_s=t2 - t1, wall_s=t2 - t0)
    else:
        client = cluster = None
        if args.config == "cluster":
            import distributed

            cluster = distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
            )
            client = distributed.Client(cluster)
            client.run(lambda: __import__("hierreg_formula"))  # imports before the clock
        t0 = time.perf_counter()
        res = hierreg.fit(FORMULA, str(_dir(args) / "*.parquet"), family="binomial")
        out.update(rows=res.nobs, wall_s=time.perf_counter() - t0, scale_info=res.scale_info)
        out["passes"] = res.scale_info["passes"]
        if client is not None:
            out["worker_peak_mb"] = max(client.run(_peak_mb).values())
            client.close()
            cluster.close()
    out["peak_mb"] = _peak_mb()
    out["objective"] = float(res.objective)
    out["params"] = {k: float(v) for k, v in res.params.items()}
    out["bse"] = {k: float(v) for k, v in res.bse.items()}
    out["theta"] = [float(t) for t in np.asarray(res.theta)]
    out["converged"] = bool(res.converged)
    return out


def run(args: argparse.Namespace) -> None:
    results = []
    for config in args.configs.split(","):
        reps = []
        for _ in range(args.repeat):
            cmd = [sys.executable, __file__, "_one", "--config", config, "--rows", str(args.rows)]
            if args.dir:
                cmd += ["--dir", args.dir]
            print("+", " ".join(cmd[2:]), flush=True)
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode:
                print(proc.stderr[-3000:], file=sys.stderr)
                reps.append({"config": config, "error": proc.stderr[-500:]})
                break
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            reps.append(r)
            print(summary_line(r), flush=True)
        ok = [r for r in reps if "error" not in r]
        med = {}
        if ok:
            for key in ("wall_s", "peak_mb", "fit_s", "read_s"):
                if key in ok[0]:
                    med[key] = statistics.median(r[key] for r in ok)
        results.append({"config": config, "median": med, "repeats": reps})
    by = {r["config"]: r["median"] for r in results}
    ratio = {}
    if by.get("ooc") and by.get("mem"):
        ratio = {
            "wall_ooc_over_mem": by["ooc"]["wall_s"] / by["mem"]["wall_s"],
            "wall_ooc_over_mem_fit": by["ooc"]["wall_s"] / by["mem"]["fit_s"],
            "peak_ooc_over_mem": by["ooc"]["peak_mb"] / by["mem"]["peak_mb"],
        }
        print("ratios:", json.dumps(ratio))
    payload = {
        "machine": {"cores": os.cpu_count(), "load_avg": os.getloadavg()},
        "args": vars(args),
        "results": results,
        "ratio": ratio,
    }
    out = Path(args.out or HERE / "results" / f"dask_glmm_{args.rows}.json")
    out.write_text(json.dumps(payload, indent=1, default=str))
    print(f"wrote {out}")


def summary_line(r: dict) -> str:
    extra = f" passes={r['passes']}" if "passes" in r else f" fit={r['fit_s']:.1f}s"
    return (
        f"{r['config']:5s} rows={r['rows']:>11,d} wall={r['wall_s']:8.1f}s "
        f"peak={r['peak_mb']:7.0f}MB{extra} objective={r['objective']:.6f}"
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("command", choices=("write", "run", "_one"))
    p.add_argument("--dir", default="")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--rows-per-file", type=int, default=250_000)
    p.add_argument("--groups", type=int, default=10_000)
    p.add_argument("--force", action="store_true", help="rewrite existing files")
    p.add_argument("--configs", default="ooc,mem")
    p.add_argument("--config", default="ooc")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", default="")
    args = p.parse_args(argv)
    if args.command == "write":
        write(args)
    elif args.command == "run":
        run(args)
    else:
        print(json.dumps(measure(args), default=str))


if __name__ == "__main__":
    main()
