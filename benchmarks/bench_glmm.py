"""Benchmark: GLMM (Laplace) fits of hierreg-formula vs mixedlm 1.3.0's glmer and R's lme4 glmer.

Models (``--only NAME`` runs some; ``--quick`` skips ``bern_1m``):

- ``cbpp``          ``prop ~ period + (1 | herd)``, binomial, trials as weights    56 rows
- ``grouseticks``   ``TICKS ~ YEAR + cHEIGHT + (1|BROOD) + (1|INDEX) + (1|LOCATION)``, Poisson  403 rows
- ``bern_slope``    ``y ~ x + (x | g)``, Bernoulli, 3,072 rows, 150 groups (``bern_slope.csv``)
- ``bern_100k``     ``y ~ x + (x | g)``, Bernoulli, 100,000 rows, 2,000 groups (correlated slope)
- ``bern_1m``       ``y ~ x + (1 | g)``, Bernoulli, 1,000,000 rows, 10,000 groups

Tools: ``hierreg`` (``build_design`` + ``core.fit_glmm``, formula included; the
default standard errors from the Hessian, as lme4's), ``hierreg_rx`` (the same
with ``cov="rx"``: no Hessian), ``hierreg_fit`` (the whole user-facing
``hierreg.fit(formula, df, family=..., weights=...)``), ``mixedlm``
(``mixedlm.glmer(formula, df, family, weights)``, default control) and ``lme4``
(R's ``glmer(formula, data, family, weights)`` with default controls in ``Rscript``,
``r/fit_lme4.R``; skipped cleanly without R or lme4).  ``statsmodels_vb`` (timing only, on
``bern_slope``): statsmodels' ``BinomialBayesMixedGLM.fit_vb()`` with independent intercept
and slope variance components, the closest thing statsmodels has; it is a variational Bayes
approximation of a different model (no correlation), so its objective is not compared and it
does not enter the targets.  On the larger rows its formula path would build dense
indicator matrices (100k x 2,000 per component), so it is not run there.

Method (as ``bench_lmm.py``, shared machinery in ``bench_common.py``): every (model, tool)
pair runs in a fresh subprocess in its own process group with every BLAS / OpenMP / rayon
pool pinned to one thread; a warm-up fit on the first 2,000 rows, one measured fit
(objective, peak RSS above the baseline via ``/proc/self/clear_refs``), then ``repeats - 1``
more timed fits: the median wall time is reported, with the median CPU time of the process
beside it (the machine is shared: under load the CPU time is the better measure of the work).
``--timeout`` and ``--mem-limit`` kill a worker's whole process group.  Objectives are
``-2 log L`` with lme4's constants (binomial log-choose, Poisson ``log y!``): ours is
``est.objective`` (``-2 * llf`` through the API), mixedlm's ``-2 * logLik().value``, lme4's
``-2 * logLik(m)``.  Every tool's objective is compared with ours (1e-6 relative, else a
DISAGREEMENT is printed; ours must be at least as low to 1e-8 relative).

Run ``python benchmarks/bench_glmm.py`` (about 15 min; results in
``benchmarks/results/glmm.json``, a partial run updates only its models).
"""

from __future__ import annotations

import os
import sys

from bench_common import PINNED  # no numpy import: safe before the pinning

for _v in PINNED:
    os.environ[_v] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common as bc  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "glmm.json"
SHARED_DATA = Path(os.environ.get("HIERREG_SHARED_DATA", "/work/shared/data"))
SEED = 20261130
WARMUP_ROWS = 2000
SAME_MODEL_RTOL = 1e-6
OURS_LOWER_RTOL = 1e-8
BIG_ROWS = 10_000

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
    "bern_slope": {
        "formula": "y ~ x + (x | g)",
        "family": "binomial",
        "weights": None,
        "repeats": 5,
    },
    "bern_100k": {
        "formula": "y ~ x + (x | g)",
        "family": "binomial",
        "weights": None,
        "repeats": 3,
    },
    "bern_1m": {"formula": "y ~ x + (1 | g)", "family": "binomial", "weights": None, "repeats": 2},
}
TOOLS = ("hierreg", "hierreg_rx", "hierreg_fit", "mixedlm", "lme4", "statsmodels_vb")
VB_MODELS = ("bern_slope",)  # statsmodels_vb: timing only (a different, variational model)
PEERS = ("mixedlm", "lme4")


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
    if name == "bern_slope":
        # not a packaged dataset: the shared reference data (lme4-turn2's bern_slope.csv)
        d = pd.read_csv(SHARED_DATA / "bern_slope.csv")
        return d.assign(y=d["y"].astype(float), g=pd.Categorical(d["g"]))[["y", "x", "g"]]
    if name == "bern_100k":
        return simulate(100_000, 2_000, slope=True)
    if name == "bern_1m":
        return simulate(1_000_000, 10_000, slope=False)
    raise SystemExit(f"unknown model {name!r}")


def fit_once(tool: str, name: str, df: pd.DataFrame) -> dict:
    spec = MODELS[name]
    w = None if spec["weights"] is None else df[spec["weights"]].to_numpy(float)
    if tool == "hierreg_fit":
        import hierreg_formula as hierreg

        kw = {} if w is None else {"weights": spec["weights"]}
        res = hierreg.fit(spec["formula"], df, family=spec["family"], **kw)
        est = res.estimate
        return {
            "objective": -2.0 * float(res.llf),
            "nfev": int(est.nfev),
            "converged": bool(est.converged),
        }
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
    if tool == "statsmodels_vb":
        from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

        vc = {"g": "0 + C(g)", "g_x": "0 + C(g):x"}
        model = BinomialBayesMixedGLM.from_formula("y ~ x", vc, df)
        res = model.fit_vb()
        return {"vb_fe_mean": np.asarray(res.fe_mean, float).tolist()}
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


def worker(name: str, tool: str) -> dict:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    load0 = os.getloadavg()[0]
    df = load(name)
    spec = MODELS[name]
    if tool == "lme4":
        # the columns the model uses; lme4 sees the same numbers and level order
        keep = [c for c in df.columns if c in _formula_columns(name)]
        out = bc.run_lme4(
            df[keep],
            spec["formula"],
            repeats=spec["repeats"] - 1,
            family=spec["family"],
            weights=spec["weights"],
            warmup_rows=WARMUP_ROWS,
        )
        if spec["repeats"] > 1:  # the measured fit counts as one timed fit, as below
            # (R's medians cover only the later fits: recompute them with the first)
            times = [out["first_fit_s"], *out["times_s"]]
            cpus = [out["first_fit_cpu_s"], *out.get("cpu_s", [])]
            out.update(median_s=float(np.median(times)), times_s=times)
            if len(cpus) == len(times):
                out["median_cpu_s"] = float(np.median(cpus))
        out["loadavg_1m"] = load0
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit_once(tool, name, df.head(WARMUP_ROWS).reset_index(drop=True))
        except Exception:  # noqa: BLE001 - a subset can be degenerate
            pass
        out, meas = bc.measure_fit(lambda: fit_once(tool, name, df))
        times, cpus = [meas["first_fit_s"]], [meas["first_fit_cpu_s"]]
        for _ in range(spec["repeats"] - 1):
            gc.collect()
            t0, c0 = time.perf_counter(), time.process_time()
            fit_once(tool, name, df)
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
    out.update(
        median_s=float(np.median(times)),
        median_cpu_s=float(np.median(cpus)),
        times_s=times,
        peak_mb=meas["peak_mb"],
        process_peak_mb=meas["process_peak_mb"],
        n_rows=len(df),
        loadavg_1m=os.getloadavg()[0],
    )
    return out


def _formula_columns(name: str) -> set[str]:
    spec = MODELS[name]
    text = spec["formula"]
    for ch in "~+|()*:/":
        text = text.replace(ch, " ")
    cols = set(text.split())
    if spec["weights"]:
        cols.add(spec["weights"])
    return cols


def run(name: str, tool: str, timeout: float, mem_limit_gb: float | None) -> dict:
    if tool == "statsmodels_vb" and name not in VB_MODELS:
        return {"skipped": f"not measured (only on {', '.join(VB_MODELS)})"}
    if tool == "lme4" and bc.lme4_status():
        return {"skipped": bc.lme4_status()}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, tool]
    tmp = tempfile.mkdtemp(prefix="bench-glmm-")
    try:
        return bc.run_worker(cmd, timeout, mem_limit_gb, env={**os.environ, "BENCH_TMPDIR": tmp})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def summarize(r: dict) -> dict:
    ours = r.get("hierreg", {})
    s: dict = {"n_rows": next((m["n_rows"] for m in r.values() if m.get("n_rows")), None)}
    ok = "median_s" in ours
    for tool in TOOLS[1:]:
        m = r.get(tool, {})
        s[f"ratio_{tool}"] = ours["median_s"] / m["median_s"] if ok and "median_s" in m else None
        if ok and m.get("timed_out"):
            s[f"ratio_{tool}_below"] = ours["median_s"] / m["wall_s"]
    obj = ours.get("objective")
    rel, bad, lowest = {}, [], True
    for tool in TOOLS[1:]:
        o = r.get(tool, {}).get("objective")
        if o is None or obj is None:
            continue
        d = (o - obj) / abs(obj)
        rel[tool] = d
        if abs(d) > SAME_MODEL_RTOL:
            bad.append(f"{tool} {o:.10g} vs hierreg {obj:.10g} ({d:+.2e} relative)")
        if tool in PEERS and obj > o + OURS_LOWER_RTOL * abs(o):
            lowest = False
    s.update(
        objective=obj,
        objective_rel_to_ours=rel,
        objective_disagreements=bad,
        ours_lowest_objective=lowest if rel else None,
    )
    return s


def targets(name: str, s: dict) -> list[dict]:
    """Issue 11's targets applied to the GLMM rows (issue 9): ratios and the objective."""
    big = (s.get("n_rows") or 0) >= BIG_ROWS
    lim = 1.0 if big else 1.5
    out = []
    for what, peer, limit in (
        (f"ours/mixedlm <= {lim:g}", "mixedlm", lim),
        ("no slower than lme4", "lme4", 1.0),
    ):
        v = s.get(f"ratio_{peer}") or s.get(f"ratio_{peer}_below")
        out.append(
            {
                "model": name,
                "target": what,
                "value": v,
                "limit": limit,
                "met": None if v is None else bool(v <= limit),
            }
        )
    out.append(
        {
            "model": name,
            "target": "objective at least as low as every peer's (1e-8 relative)",
            "met": s["ours_lowest_objective"],
        }
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", nargs=2, metavar=("MODEL", "TOOL"))
    ap.add_argument("--only", action="append", choices=list(MODELS))
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--mem-limit", type=float, default=12.0, help="GB per worker (0: none)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker), default=float))
        return
    names = args.only or [m for m in MODELS if not (args.quick and m == "bern_1m")]
    old = json.loads(args.out.read_text()) if args.out.exists() else {}
    models = old.get("models", {}) if "models" in old else {}
    tools = [t for t in args.tools.split(",") if t]
    if "hierreg" not in tools:
        tools.insert(0, "hierreg")
    load_start = os.getloadavg()
    all_targets = [t for t in old.get("targets", []) if t.get("model") not in names]
    for name in names:
        entry = models.setdefault(name, {"tools": {}})
        entry["formula"] = MODELS[name]["formula"]
        entry["family"] = MODELS[name]["family"]
        res = entry["tools"]
        for tool in tools:
            r = run(name, tool, args.timeout, args.mem_limit or None)
            res[tool] = r
            t, obj = r.get("median_s"), r.get("objective")
            print(
                f"{name:12s} {tool:14s} "
                + (
                    f"{t:8.3f} s (cpu {r['median_cpu_s']:.3f} s)  obj {obj or float('nan'):.8f}  "
                    f"peak {r['peak_mb']:.0f} MB  load {r['loadavg_1m']:.1f}"
                    if t
                    else r["skipped"]
                ),
                flush=True,
            )
        s = summarize(res)
        entry["summary"] = s
        entry["date"] = time.strftime("%Y-%m-%d %H:%M:%S %z")
        for d in s["objective_disagreements"]:
            print(f"!!! OBJECTIVE DISAGREEMENT {name}: {d}", flush=True)
        for t in targets(name, s):
            status = "n/a " if t["met"] is None else "met " if t["met"] else "MISS"
            v = t.get("value")
            print(f"  [{status}] {name}: {t['target']}" + (f": {v:.3f}" if v else ""))
            all_targets.append(t)
        out = {
            "machine": {
                "loadavg_start": load_start,
                "loadavg_now": os.getloadavg(),
                "lme4": bc.lme4_status() or "available",
                "cpus": os.cpu_count(),
            },
            "method": "median wall time (and CPU time) of whole fits in a fresh subprocess, "
            "BLAS 1 thread; objective -2 log L (Laplace) with lme4's constants; "
            "objective_rel_to_ours = (peer - ours) / |ours|",
            "models": models,
            "targets": all_targets,
        }
        args.out.parent.mkdir(exist_ok=True)
        args.out.write_text(json.dumps(out, indent=1, default=float) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
