"""Benchmark: REML fits of hierreg-formula vs mixedlm 1.3.0 (Rust core) vs statsmodels MixedLM.

Models (``--only NAME`` runs one; ``--quick`` skips ``insteval`` and ``synthetic_1m``):

- ``sleepstudy``      ``Reaction ~ Days + (Days | Subject)``                     180 rows
- ``radon``           ``log_radon ~ floor + (floor | county)``                   919 rows
- ``insteval``        ``y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept:service)`` 73,421 rows
- ``synthetic_100k``  ``y ~ x + (x | g)``  100,000 rows, 1,000 groups
- ``synthetic_1m``    ``y ~ x + (x | g)``  1,000,000 rows, 10,000 groups

Tools: ``hierreg`` (``hierreg.fit(formula, df)``, formula included), ``mixedlm``
(``mixedlm.lmer(formula, df, REML=True)``, default control, which computes the
Hessian after the fit as lme4 does), ``mixedlm_noderiv`` (the same with
``lmerControl(calc_derivs=False)``: the same work as ours) and ``statsmodels``
(``smf.mixedlm(fixed, df, groups=g, re_formula=slope).fit(reml=True)``).

Method.  Every (model, tool) pair runs in a fresh subprocess with every BLAS,
OpenMP and rayon pool pinned to one thread (environment variables set before
numpy is imported, plus ``threadpoolctl.threadpool_limits(1)``).  The worker
loads or simulates the data, warms up on the first 2,000 rows (imports, lazy
set-up), then runs one full fit for the objective and the memory, then
``repeats`` timed full fits; the wall time reported is their median (the
machine has 2 cores and is shared: medians, and the CPU time beside it).

Memory.  Before the measured fit the worker runs ``gc.collect()``, resets the
kernel's peak-RSS counter (``echo 5 > /proc/self/clear_refs``, Linux) and reads
the current RSS; ``peak_mb`` is the peak RSS during the fit minus that baseline,
i.e. the extra resident memory one fit needs on top of the interpreter, the
imports and the loaded data.  RSS (not tracemalloc) because mixedlm allocates in
Rust, which tracemalloc does not see.  Where ``clear_refs`` is not writable the
fallback is the growth of ``ru_maxrss`` (which then under-counts a fit whose
peak is below the data-loading peak; ``mem_method`` says which was used).
``process_peak_mb`` is the whole process's peak RSS at the end of that fit.

Objective.  All three report the REML criterion on lme4's scale, ``REMLcrit =
-2 * restricted log-likelihood`` (profiled, with the full ``2 pi`` constant and
no ``log|X'X|`` term): ours is ``res.reml_criterion``, mixedlm's ``REMLcrit()``;
statsmodels' ``MixedLMResults.llf`` of a ``reml=True`` fit is that restricted
log-likelihood, so its criterion is ``-2 * llf``.  Where lme4 reference values
exist (``/work/shared/reference/lme4``, tight refit) the difference is reported.

Run ``python benchmarks/bench_lmm.py`` (2-3 minutes, about half of it
statsmodels); results go to ``benchmarks/results/lmm.json`` (a partial run
updates only its models there).  Needs the ``bench`` extra for mixedlm.
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
#: this tool runs with the machine's default threads: only the package limits them
DEFAULT_THREADS_TOOL = "hierreg_default_threads"
if DEFAULT_THREADS_TOOL not in sys.argv:
    for _v in PINNED:
        os.environ[_v] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "lmm.json"
LME4_REF = Path(os.environ.get("HIERREG_LME4_REF", "/work/shared/reference/lme4"))

# name: formula, repeats per tool, statsmodels (fixed, group, re_formula) or the reason it
# is not run, lme4 reference file (or None)
MODELS: dict[str, dict] = {
    "sleepstudy": {
        "formula": "Reaction ~ Days + (Days | Subject)",
        "repeats": {"hierreg": 25, "mixedlm": 25, "mixedlm_noderiv": 25, "statsmodels": 7},
        "statsmodels": ("Reaction ~ Days", "Subject", "~Days"),
        "lme4": "sleep_slope.json",
    },
    "radon": {
        "formula": "log_radon ~ floor + (floor | county)",
        "repeats": {"hierreg": 25, "mixedlm": 25, "mixedlm_noderiv": 25, "statsmodels": 7},
        "statsmodels": ("log_radon ~ floor", "county", "~floor"),
        "lme4": None,
    },
    "insteval": {
        "formula": "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept:service)",
        "repeats": {"hierreg": 3, "mixedlm": 3, "mixedlm_noderiv": 3},
        "statsmodels": (
            "not measured: MixedLM has one grouping factor; crossed s, d and dept:service "
            "would be variance components of a single all-rows group (dense 73k x 73k)"
        ),
        "lme4": "insteval_crossed.json",
    },
    "synthetic_100k": {
        "formula": "y ~ x + (x | g)",
        "repeats": {"hierreg": 7, "mixedlm": 7, "mixedlm_noderiv": 7, "statsmodels": 3},
        "statsmodels": ("y ~ x", "g", "~x"),
        "lme4": None,
    },
    "synthetic_1m": {
        "formula": "y ~ x + (x | g)",
        # statsmodels: only the measured fit (about a minute); cut by --sm-timeout
        "repeats": {"hierreg": 3, "mixedlm": 3, "mixedlm_noderiv": 3, "statsmodels": 0},
        "statsmodels": ("y ~ x", "g", "~x"),
        "lme4": None,
    },
}
TOOLS = ("hierreg", "mixedlm", "mixedlm_noderiv", "statsmodels", DEFAULT_THREADS_TOOL)
PEERS = ("mixedlm", "mixedlm_noderiv", "statsmodels")
WARMUP_ROWS = 2000
SEED = 20261123

# targets from the issue: (model, what, limit)
TARGETS = [
    ("sleepstudy", "hierreg whole fit (formula included) < 10 ms", "whole_s", 0.010),
    ("insteval", "faster than mixedlm (ratio < 1)", "ratio_mixedlm", 1.0),
    ("synthetic_100k", "faster than mixedlm (ratio < 1)", "ratio_mixedlm", 1.0),
    ("synthetic_1m", "faster than mixedlm (ratio < 1)", "ratio_mixedlm", 1.0),
    ("synthetic_1m", "hierreg fit < 5 s", "whole_s", 5.0),
    ("synthetic_1m", "hierreg fit < 2 GB (extra peak RSS)", "peak_mb", 2048.0),
    ("synthetic_1m", "hierreg fit < 2 GB (whole process peak RSS)", "process_peak_mb", 2048.0),
]
#: (model, what, key, lower bound): pinned time / default-threads time >= 0.9 (noise allowed)
LOWER_TARGETS = [
    (
        m,
        "default BLAS threads no slower than pinned (pinned/default >= 0.9)",
        "default_threads_vs_pinned",
        0.9,
    )
    for m in ("insteval", "synthetic_1m")
]


# ---------------------------------------------------------------------------- data


def simulate(n: int, n_groups: int, seed: int = SEED) -> pd.DataFrame:
    """``y = 1 + 2 x + b0[g] + b1[g] x + e`` with correlated (b0, b1) and unit noise."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, n_groups, n)
    x = rng.normal(size=n)
    # sd(b0) = 1, sd(b1) = 0.71, corr(b0, b1) = 0.42
    b = rng.multivariate_normal([0.0, 0.0], [[1.0, 0.3], [0.3, 0.5]], size=n_groups)
    y = 1.0 + 2.0 * x + b[g, 0] + b[g, 1] * x + rng.normal(size=n)
    return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical(g, categories=range(n_groups))})


def load(name: str) -> pd.DataFrame:
    """The model's data: only the used columns, the same frame for every tool."""
    import hierreg_formula as hierreg

    if name == "sleepstudy":
        return hierreg.load_dataset("sleepstudy")[["Reaction", "Days", "Subject"]]
    if name == "radon":
        return hierreg.load_dataset("radon")[["log_radon", "floor", "county"]]
    if name == "insteval":
        df = hierreg.load_dataset("InstEval")[["y", "service", "s", "d", "dept"]]
        # treatment coding with baseline "0" in every tool
        service = pd.Categorical(df["service"].astype(str), categories=["0", "1"])
        return df.assign(service=service, y=df["y"].astype(float))
    if name == "synthetic_100k":
        return simulate(100_000, 1_000)
    if name == "synthetic_1m":
        return simulate(1_000_000, 10_000)
    raise SystemExit(f"unknown model {name!r}; choose from {', '.join(MODELS)}")


# ---------------------------------------------------------------------------- fits


def fit_once(tool: str, name: str, df: pd.DataFrame) -> dict:
    """One whole fit from the formula; returns the objective and convergence details."""
    spec = MODELS[name]
    formula = spec["formula"]
    if tool in ("hierreg", DEFAULT_THREADS_TOOL):
        import hierreg_formula as hierreg

        res = hierreg.fit(formula, df, method="reml")
        est = res.estimate
        return {
            "objective": float(res.reml_criterion),
            "nfev": int(est.nfev),
            "converged": bool(est.converged),
        }
    if tool in ("mixedlm", "mixedlm_noderiv"):
        import mixedlm

        ctrl = mixedlm.lmerControl(calc_derivs=False) if tool == "mixedlm_noderiv" else None
        m = mixedlm.lmer(formula, df, REML=True, control=ctrl)
        if not m.REML:
            raise RuntimeError("mixedlm did not fit by REML")
        return {
            "objective": float(m.REMLcrit()),
            "nfev": int(m.function_evals or m.n_iter),
            "converged": bool(m.converged),
            "optimizer": m.optimizer,
        }
    import statsmodels.formula.api as smf

    fixed, group, re_formula = spec["statsmodels"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = smf.mixedlm(fixed, df, groups=df[group], re_formula=re_formula)
        res = model.fit(reml=True)
    if not model.reml:
        raise RuntimeError("statsmodels did not fit by REML")
    return {
        "objective": -2.0 * float(res.llf),
        "converged": bool(res.converged),
        "optimizer": str(getattr(res, "method", "")),
    }


def hierreg_parts(name: str, df: pd.DataFrame, repeats: int) -> dict:
    """Median times of hierreg's formula layer (``build_design``) and numeric core alone."""
    from hierreg_formula.core import fit_lmm
    from hierreg_formula.formula import build_design
    from hierreg_formula.models.prepare import prepare

    formula = MODELS[name]["formula"]
    t_design, t_core = [], []
    for _ in range(max(repeats, 1)):
        t0 = time.perf_counter()
        blocks = build_design(formula, df)
        t1 = time.perf_counter()
        pm = prepare(blocks)
        fit_lmm(pm.X, pm.y, pm.terms, reml=True)
        t2 = time.perf_counter()
        t_design.append(t1 - t0)
        t_core.append(t2 - t1)
    return {
        "design_median_s": float(np.median(t_design)),
        "core_median_s": float(np.median(t_core)),
    }


# ---------------------------------------------------------------------------- memory


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


def measured_fit(tool: str, name: str, df: pd.DataFrame) -> dict:
    """One full fit with its extra peak resident memory (see the module docstring)."""
    gc.collect()
    reset = _reset_peak() and _status_kb("VmHWM") is not None
    base_kb = _status_kb("VmRSS") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0, c0 = time.perf_counter(), time.process_time()
    out = fit_once(tool, name, df)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak_kb = _status_kb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.update(
        first_fit_s=wall,
        first_fit_cpu_s=cpu,
        peak_mb=max(peak_kb - base_kb, 0) / 1024.0,
        process_peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        baseline_mb=base_kb / 1024.0 if reset else None,
        mem_method="VmHWM-VmRSS after clear_refs" if reset else "ru_maxrss growth",
    )
    return out


# ---------------------------------------------------------------------------- worker


def worker(name: str, tool: str) -> dict:
    from threadpoolctl import threadpool_limits

    if tool != DEFAULT_THREADS_TOOL:
        threadpool_limits(1)
    load0 = os.getloadavg()[0]
    repeats = MODELS[name]["repeats"].get(tool, MODELS[name]["repeats"]["hierreg"])
    df = load(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:  # warm-up: imports and lazy set-up (a subset can be degenerate for a peer)
            fit_once(tool, name, df.head(WARMUP_ROWS).reset_index(drop=True))
        except Exception:  # noqa: BLE001
            pass
        out = measured_fit(tool, name, df)
        times, cpus = [], []
        for _ in range(repeats):
            gc.collect()
            t0, c0 = time.perf_counter(), time.process_time()
            fit_once(tool, name, df)
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        if tool == "hierreg":
            out.update(hierreg_parts(name, df, repeats))
    if not times:  # the measured fit is the only one
        times, cpus = [out["first_fit_s"]], [out["first_fit_cpu_s"]]
    out.update(
        median_s=float(np.median(times)),
        median_cpu_s=float(np.median(cpus)),
        min_s=float(np.min(times)),
        times_s=times,
        n_rows=len(df),
        loadavg_1m=[load0, os.getloadavg()[0]],
    )
    return out


def run(name: str, tool: str, timeout: float) -> dict:
    sm = MODELS[name]["statsmodels"]
    if tool == "statsmodels" and isinstance(sm, str):
        return {"skipped": sm}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, tool]
    env = dict(os.environ)
    if tool == DEFAULT_THREADS_TOOL:  # what a user gets: no environment variables set
        for v in PINNED:
            env.pop(v, None)
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=True, env=env
        )
    except subprocess.TimeoutExpired:
        return {"skipped": f"timed out after {timeout:.0f} s (warm-up + one full fit)"}
    except subprocess.CalledProcessError as err:
        last = err.stderr.strip().splitlines()[-1] if err.stderr.strip() else str(err)
        return {"skipped": f"failed: {last}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- report


def lme4_objective(name: str) -> float | None:
    ref = MODELS[name]["lme4"]
    path = LME4_REF / ref if ref else None
    if path is None or not path.exists():
        return None
    d = json.loads(path.read_text())
    tight = d.get("extras", {}).get("tight_refit", {}).get("criteria", {}).get("REMLcrit")
    return float(tight if tight is not None else d["criteria"]["REMLcrit"])


def summarize(name: str, r: dict) -> dict:
    """Per-model summary: ratios of our median time to each peer's, objective differences."""
    ours = r["hierreg"]
    s: dict = {
        "whole_s": ours.get("median_s"),
        "peak_mb": ours.get("peak_mb"),
        "process_peak_mb": ours.get("process_peak_mb"),
    }
    for peer in (*PEERS, DEFAULT_THREADS_TOOL):
        m = r.get(peer, {})
        ok = ours.get("median_s") and m.get("median_s")
        s[f"ratio_{peer}"] = ours["median_s"] / m["median_s"] if ok else None
    # pinned / default threads: >= 1 means the defaults are no slower than pinning
    s["default_threads_vs_pinned"] = s.pop(f"ratio_{DEFAULT_THREADS_TOOL}")
    ref = lme4_objective(name)
    s["lme4_objective"] = ref
    for tool in TOOLS:
        obj = r.get(tool, {}).get("objective")
        s[f"{tool}_minus_lme4"] = obj - ref if obj is not None and ref is not None else None
    return s


def fmt(x, spec: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return format(x, spec)


def fmt_time(x) -> str:
    if x is None:
        return "-"
    return f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.2f} s"


def print_table(results: dict, summaries: dict) -> None:
    head = (
        f"{'model':<15} {'tool':<16} {'median':>10} {'min':>10} {'cpu':>10} {'peak MB':>8} "
        f"{'REML criterion':>19} {'- lme4':>9} {'- ours':>9} {'evals':>6} {'ours/tool':>9}"
    )
    print(head)
    print("-" * len(head))
    for name, r in results.items():
        ours_obj = r["hierreg"].get("objective")
        ref = summaries[name]["lme4_objective"]
        for tool in TOOLS:
            m = r.get(tool, {})
            if "skipped" in m or not m:
                print(f"{name:<15} {tool:<16} {m.get('skipped', 'not run')}")
                continue
            obj = m["objective"]
            ratio = summaries[name].get(f"ratio_{tool}") if tool != "hierreg" else None
            print(
                f"{name:<15} {tool:<16} {fmt_time(m['median_s']):>10} {fmt_time(m['min_s']):>10} "
                f"{fmt_time(m['median_cpu_s']):>10} {fmt(m['peak_mb'], '.1f'):>8} "
                f"{obj:>19.6f} {fmt(obj - ref if ref else None, '.1e'):>9} "
                f"{fmt(obj - ours_obj if ours_obj else None, '.1e'):>9} "
                f"{fmt(m.get('nfev'), 'd'):>6} {fmt(ratio, '.3f'):>9}"
            )
        h = r["hierreg"]
        if "design_median_s" in h:
            print(
                f"{'':<15} {'  hierreg parts':<16} formula {fmt_time(h['design_median_s'])}, "
                f"core {fmt_time(h['core_median_s'])} (of {fmt_time(h['median_s'])} whole)"
            )
    print()


def check_targets(summaries: dict) -> list[dict]:
    out = []
    for name, what, key, limit in TARGETS:
        if name not in summaries:
            continue
        value = summaries[name].get(key)
        ok = None if value is None else bool(value < limit)
        out.append({"model": name, "target": what, "value": value, "limit": limit, "met": ok})
        status = "n/a " if ok is None else "met " if ok else "MISS"
        print(f"  [{status}] {name}: {what}: {fmt(value, '.4g')} (limit {limit:g})")
    for name, what, key, bound in LOWER_TARGETS:
        if name not in summaries:
            continue
        value = summaries[name].get(key)
        ok = None if value is None else bool(value >= bound)
        out.append({"model": name, "target": what, "value": value, "bound": bound, "met": ok})
        status = "n/a " if ok is None else "met " if ok else "MISS"
        print(f"  [{status}] {name}: {what}: {fmt(value, '.4g')} (bound {bound:g})")
    return out


def machine() -> dict:
    import scipy
    import threadpoolctl

    with threadpoolctl.threadpool_limits(1):
        blas = [
            {
                k: d.get(k)
                for k in (
                    "user_api",
                    "internal_api",
                    "version",
                    "architecture",
                    "threading_layer",
                    "num_threads",
                )
            }
            for d in threadpoolctl.threadpool_info()
        ]
    versions = {}
    for mod in ("hierreg_formula", "mixedlm", "statsmodels", "formulaic", "pandas", "nlopt"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001
            versions[mod] = None
    try:
        commit = subprocess.run(
            ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "git_commit": commit,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "versions": versions,
        "blas": blas,
        "thread_env": {
            v: os.environ.get(v)
            for v in (
                "OPENBLAS_NUM_THREADS",
                "OMP_NUM_THREADS",
                "MKL_NUM_THREADS",
                "RAYON_NUM_THREADS",
            )
        },
        "loadavg": os.getloadavg(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip InstEval and the 1M model")
    ap.add_argument("--only", default=None, choices=list(MODELS), help="run one model")
    ap.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset of tools")
    ap.add_argument("--timeout", type=float, default=900.0, help="per worker, seconds")
    ap.add_argument(
        "--sm-timeout", type=float, default=600.0, help="per statsmodels worker, seconds"
    )
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--worker", nargs=2, metavar=("MODEL", "TOOL"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    names = [args.only] if args.only else list(MODELS)
    if args.quick:
        names = [n for n in names if n not in ("insteval", "synthetic_1m")]
    tools = [t for t in args.tools.split(",") if t]
    if "hierreg" not in tools:
        tools.insert(0, "hierreg")
    info = machine()
    results, summaries = {}, {}
    for name in names:
        results[name] = {}
        for tool in tools:
            timeout = args.sm_timeout if tool == "statsmodels" else args.timeout
            t0 = time.perf_counter()
            results[name][tool] = run(name, tool, timeout)
            print(f"{name} / {tool}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        summaries[name] = summarize(name, results[name])
    print(
        f"\nREML fits, BLAS/rayon 1 thread; medians ({info['date']}, {info['git_commit']}, "
        f"numpy {info['numpy']}, scipy {info['scipy']}, "
        f"{'/'.join(b['internal_api'] or '?' for b in info['blas'])})\n"
    )
    print_table(results, summaries)
    print("targets:")
    targets = check_targets(summaries)

    # a partial run updates only its models in the JSON file
    old = json.loads(args.out.read_text()) if args.out.exists() else {}
    models = {
        k: v for k, v in old.get("models", {}).items() if isinstance(v, dict) and "tools" in v
    }
    for name in names:
        models[name] = {
            "formula": MODELS[name]["formula"],
            "date": info["date"],
            "git_commit": info["git_commit"],
            "summary": summaries[name],
            "tools": results[name],
        }
    kept = {t["model"] for t in targets}
    all_targets = [t for t in old.get("targets", []) if t.get("model") not in kept] + targets
    out = {
        "machine": info,
        "method": {
            "time": "median wall time of repeated whole fits (formula included) in a fresh "
            "subprocess after a warm-up on 2,000 rows; BLAS/OpenMP/rayon 1 thread",
            "memory": "peak RSS during one full fit minus RSS before it (VmHWM reset by "
            "/proc/self/clear_refs), MB; process_peak_mb: whole process",
            "objective": "REML criterion = -2 restricted log-likelihood (lme4's REMLcrit); "
            "statsmodels: -2 * llf of the reml=True fit",
            "ratio": "hierreg median time / peer median time (< 1: we are faster)",
        },
        "models": models,
        "targets": all_targets,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, default=float) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
