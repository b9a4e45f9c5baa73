"""Out-of-core fits on Dask: 100 million rows from Parquet on one 2-core machine.

Data (``write``): ``--rows`` rows in files of ``--rows-per-file`` rows (default 100
files of 1,000,000) under ``--dir`` (default ``/work/bench-data/dask``, never in the
repository), columns ``y, x1, x2, x3`` (float64), ``g`` (int32, 100,000 groups),
``h`` (int16, 50 sites crossed with ``g``), simulated from

    y = 1 + 0.5 x1 - 0.3 x2 + 0.2 x3 + b0[g] + b1[g] x1 + c[h] + e

with ``sd(b0) = 1, sd(b1) = 0.5, corr = 0.3, sd(c) = 0.7, sd(e) = 1`` (seed 20261130).

Measurements (``run``), each in a fresh subprocess with BLAS pinned to one thread:

- ``ooc``: ``hierreg.fit(formula, "dir/*.parquet")`` with Dask's default threaded
  scheduler (2 threads): wall time, rows per second, the process's peak RSS, the
  wall time of each pass and the seconds per stage summed over partitions;
- ``read``: a pass that only reads the used columns (``map_partitions(len)``): the
  reading part of one pass;
- ``mem``: the same model in memory on the first ``--mem-rows`` rows
  (``pd.read_parquet`` of those files, then ``hierreg.fit``), for the per-row cost;
- ``cluster``: the out-of-core fit on ``distributed.LocalCluster(n_workers=2,
  threads_per_worker=1)`` (client + worker peak RSS).

Models: ``single`` ``y ~ x1 + x2 + x3 + (x1 | g)`` and ``crossed``
``y ~ x1 + x2 + x3 + (1 | g) + (1 | h)`` (scalar terms: a vector term crossed with
100,000 groups costs the core minutes per fit, in memory as out of core).

Usage::

    df -h /work                                          # 100M rows need ~4 GB on disk
    python benchmarks/bench_dask.py write                # ~1-2 min
    python benchmarks/bench_dask.py run                  # writes results/dask.json
    python benchmarks/bench_dask.py run --only single --configs ooc,mem
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

HERE = Path(__file__).resolve().parent
DEFAULT_DIR = "/work/bench-data/dask"
MODELS = {
    "single": "y ~ x1 + x2 + x3 + (x1 | g)",
    "crossed": "y ~ x1 + x2 + x3 + (1 | g) + (1 | h)",
}
SEED = 20261130


def write(args: argparse.Namespace) -> None:
    import numpy as np
    import pandas as pd

    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    G, H = args.groups, 50
    cov = np.array([[1.0, 0.3 * 0.5], [0.3 * 0.5, 0.25]])
    b = rng.multivariate_normal([0.0, 0.0], cov, size=G)
    c = 0.7 * rng.normal(size=H)
    nfiles = -(-args.rows // args.rows_per_file)
    t0 = time.perf_counter()
    for i in range(nfiles):
        path = out / f"part-{i:04d}.parquet"
        n = min(args.rows_per_file, args.rows - i * args.rows_per_file)
        if path.exists() and not args.force:
            continue
        r = np.random.default_rng([SEED, i])
        x = r.normal(size=(n, 3))
        g = r.integers(0, G, n).astype(np.int32)
        h = r.integers(0, H, n).astype(np.int16)
        y = (
            1.0
            + x @ np.array([0.5, -0.3, 0.2])
            + b[g, 0]
            + b[g, 1] * x[:, 0]
            + c[h]
            + r.normal(size=n)
        )
        pd.DataFrame(
            {"y": y, "x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2], "g": g, "h": h}
        ).to_parquet(path, index=False)
    print(f"{nfiles} files in {out} ({time.perf_counter() - t0:.0f} s)")


# ------------------------------------------------------------------ measurements
def _peak_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _files(args: argparse.Namespace, nrows: int | None = None) -> list[str]:
    files = sorted(str(p) for p in Path(args.dir).glob("*.parquet"))
    if nrows is None:
        return files
    return files[: max(1, nrows // args.rows_per_file)]


def measure(args: argparse.Namespace) -> dict:
    """One configuration, in this (fresh) process."""
    import numpy as np

    import hierreg_formula as hierreg

    formula = MODELS[args.model]
    out: dict = {"model": args.model, "config": args.config, "formula": formula}
    if args.config == "mem":
        import pandas as pd

        files = _files(args, args.mem_rows)
        t0 = time.perf_counter()
        df = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        t1 = time.perf_counter()
        res = hierreg.fit(formula, df)
        t2 = time.perf_counter()
        out.update(rows=len(df), read_s=t1 - t0, fit_s=t2 - t1, wall_s=t2 - t0)
    elif args.config == "read":
        import dask.dataframe as dd

        files = _files(args, args.rows)
        cols = ["y", "x1", "x2", "x3", "g"] + (["h"] if args.model == "crossed" else [])
        t0 = time.perf_counter()
        ddf = dd.read_parquet(files)[cols]
        n = int(ddf.map_partitions(len).compute().sum())
        out.update(rows=n, wall_s=time.perf_counter() - t0, peak_mb=_peak_mb())
        return out
    else:
        files = _files(args, args.rows)
        client = cluster = None
        if args.config == "cluster":
            import distributed

            cluster = distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
            )
            client = distributed.Client(cluster)
            client.run(lambda: __import__("hierreg_formula"))  # imports before the clock
        source = files[0] if len(files) == 1 else str(Path(args.dir) / "*.parquet")
        if len(files) < len(_files(args)):
            import dask.dataframe as dd

            source = dd.read_parquet(files)
        t0 = time.perf_counter()
        res = hierreg.fit(formula, source)
        wall = time.perf_counter() - t0
        out.update(rows=res.nobs, wall_s=wall, scale_info=res.scale_info)
        if client is not None:
            out["worker_peak_mb"] = max(client.run(_peak_mb).values())
            client.close()
            cluster.close()
    out["peak_mb"] = _peak_mb()
    out["rows_per_s"] = out["rows"] / out["wall_s"]
    out["us_per_row"] = 1e6 * out["wall_s"] / out["rows"]
    out["objective"] = float(res.objective)
    out["params"] = {k: float(v) for k, v in res.params.items()}
    out["theta"] = [float(t) for t in np.asarray(res.theta)]
    out["sigma"] = float(res.sigma)
    out["converged"] = bool(res.converged)
    return out


def run(args: argparse.Namespace) -> None:
    results = []
    models = args.only.split(",") if args.only else list(MODELS)
    configs = args.configs.split(",")
    for model in models:
        for config in configs:
            cmd = [
                sys.executable,
                __file__,
                "_one",
                "--model",
                model,
                "--config",
                config,
                "--dir",
                args.dir,
                "--rows",
                str(args.rows),
                "--rows-per-file",
                str(args.rows_per_file),
                "--mem-rows",
                str(args.mem_rows),
            ]
            print("+", " ".join(cmd[2:]), flush=True)
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode:
                print(proc.stderr[-3000:], file=sys.stderr)
                results.append({"model": model, "config": config, "error": proc.stderr[-500:]})
                continue
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            res["subprocess_s"] = time.perf_counter() - t0
            results.append(res)
            print(summary_line(res), flush=True)
    payload = {
        "machine": {"cores": os.cpu_count(), "load_avg": os.getloadavg()},
        "args": vars(args),
        "results": results,
    }
    Path(args.out).write_text(json.dumps(payload, indent=1, default=str))
    print(f"wrote {args.out}")


def summary_line(r: dict) -> str:
    return (
        f"{r['model']:8s} {r['config']:8s} rows={r['rows']:>11,d} wall={r['wall_s']:8.1f}s "
        f"rows/s={r['rows'] / r['wall_s']:12,.0f} peak={r.get('peak_mb', float('nan')):7.0f}MB"
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("command", choices=("write", "run", "_one"))
    p.add_argument("--dir", default=DEFAULT_DIR)
    p.add_argument("--rows", type=int, default=100_000_000)
    p.add_argument("--rows-per-file", type=int, default=1_000_000)
    p.add_argument("--groups", type=int, default=100_000)
    p.add_argument("--mem-rows", type=int, default=10_000_000)
    p.add_argument("--force", action="store_true", help="rewrite existing files")
    p.add_argument("--only", default="", help="models, comma-separated (single,crossed)")
    p.add_argument("--configs", default="read,ooc,mem,cluster")
    p.add_argument("--model", default="single")
    p.add_argument("--config", default="ooc")
    p.add_argument("--out", default=str(HERE / "results" / "dask.json"))
    args = p.parse_args(argv)
    if args.command == "write":
        write(args)
    elif args.command == "run":
        run(args)
    else:
        print(json.dumps(measure(args), default=str))


if __name__ == "__main__":
    main()
