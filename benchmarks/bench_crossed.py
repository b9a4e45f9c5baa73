"""Benchmark: crossed random intercepts ``y ~ 1 + x + (1 | a) + (1 | b)`` (issue 11).

Synthetic data: ``n`` rows, ``La`` levels of ``a`` and ``Lb`` levels of ``b`` drawn
independently (every level used; ``y = 1 + 0.5 x + u_a + u_b + e``, SDs 0.6 / 0.4 / 1),
or ``--layout clustered`` (50 clusters; a row's ``b`` level comes from its ``a`` level's
cluster except with probability ``--leak``).  A random crossing is the worst case for a
sparse factorization (the factor of ``b``'s block is dense whatever the ordering), so
the package factors that block densely in one ``Lb x Lb`` buffer.

Each (tool, phase) runs in a fresh subprocess with every BLAS / OpenMP / rayon pool
pinned to one thread; memory is the extra peak RSS of the phase (``VmHWM`` after a
reset through ``/proc/self/clear_refs``, minus ``VmRSS`` before it).  Tools:

- ``hierreg``: the core (``LMMProblem`` + ``fit``) on arrays; ``--phases setup,eval,grad``
  also time the cross-products, one deviance and one deviance + gradient;
- ``hierreg_formula``: ``hierreg.fit`` from the formula on a DataFrame;
- ``mixedlm``: ``mixedlm.lmer`` (benchmark only), default control;
- ``statsmodels``: ``statsmodels`` ``MixedLM`` (REML) with the crossed factors as variance
  components of one group (``vc_formula``).  Its formula interface builds the dense
  ``n x (La + Lb)`` design of the variance components, so it is run only when that
  design fits in the available memory; otherwise the result records why not.  Its
  objective is compared on our REML criterion: ours at its ``theta =
  sqrt(vcomp / scale)`` (the same function, so the constants agree).

Example::

    python benchmarks/bench_crossed.py --n 500000 --La 100000 --Lb 5000 \
        --tools hierreg,mixedlm --phases setup,eval,grad,fit
"""

from __future__ import annotations

import os
import sys

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

THETA = np.array([0.6, 0.4])  # data's units: where "eval" and "grad" are timed


def simulate(n, La, Lb, seed=20261124, layout="random", nclust=50, leak=0.02):
    """Level codes ``a``, ``b``, the fixed-effects matrix and the response."""
    rng = np.random.default_rng(seed)
    a = np.concatenate([np.arange(La), rng.integers(0, La, n - La)])
    if layout == "random":
        b = np.concatenate([np.arange(Lb), rng.integers(0, Lb, n - Lb)])
    else:
        per = Lb // nclust
        inside = a % nclust + nclust * rng.integers(0, per, n)
        b = np.where(rng.random(n) < leak, rng.integers(0, Lb, n), inside)
        b[:Lb] = np.arange(Lb)
    perm = rng.permutation(n)
    a, b = a[perm], b[perm]
    x = rng.normal(size=n)
    y = 1.0 + 0.5 * x + rng.normal(scale=0.6, size=La)[a] + rng.normal(scale=0.4, size=Lb)[b]
    y += rng.normal(size=n)
    return a, b, np.column_stack([np.ones(n), x]), y


def _kb(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def _meminfo(field):
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return -1


class Phase:
    def __enter__(self):
        gc.collect()
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        self.base = _kb("VmRSS")
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.out = {
            "wall_s": time.perf_counter() - self.t0,
            "cpu_s": time.process_time() - self.c0,
            "peak_mb": max(_kb("VmHWM") - self.base, 0) / 1024.0,
        }


def worker(args) -> dict:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    a, b, X, y = simulate(args.n, args.La, args.Lb, layout=args.layout, leak=args.leak)
    n = len(y)
    res: dict = {"load_start": os.getloadavg()[0]}
    phases = args.phases.split(",")
    if args.tool == "hierreg":
        from hierreg_formula.core.lmm import LMMProblem
        from hierreg_formula.core.structure import TermArrays

        ones = np.ones((n, 1))
        terms = [TermArrays(a, args.La, ones), TermArrays(b, args.Lb, ones)]
        with Phase() as ph:
            prob = LMMProblem(X, y, terms)
            rb = prob.cp.rest  # the pattern and the pair index
        res["setup"] = dict(ph.out, nnz=rb.pattern.nnz, pairs=rb.pairs.size if rb.pairs else None)
        th = prob.to_conditioned(THETA)
        if "eval" in phases:
            with Phase() as ph:
                v = prob.fun(th)
            res["eval"] = dict(ph.out, value=v)
        if "grad" in phases:
            with Phase() as ph:
                v, g = prob.fun.value_and_gradient(th)
            res["grad"] = dict(ph.out, value=v, grad=g.tolist())
        prob.fun.release()
        if "fit" in phases:
            prob.fun.nfev = 0
            with Phase() as ph:
                est = prob.fit()
            res["fit"] = dict(
                ph.out,
                objective=est.objective,
                theta=est.theta.tolist(),
                nfev=est.nfev,
                message=est.message,
            )
    elif args.tool == "hierreg_formula":
        import pandas as pd

        import hierreg_formula as hierreg

        df = pd.DataFrame({"y": y, "x": X[:, 1], "a": a, "b": b})
        df["a"] = pd.Categorical(df["a"])
        df["b"] = pd.Categorical(df["b"])
        with Phase() as ph:
            r = hierreg.fit("y ~ 1 + x + (1 | a) + (1 | b)", df, method="reml")
        res["fit"] = dict(ph.out, objective=r.reml_criterion, nfev=r.estimate.nfev)
    elif args.tool == "statsmodels":
        import pandas as pd
        import statsmodels.api as sm

        design = 8.0 * n * (args.La + args.Lb)  # the dense variance-component design
        avail = _meminfo("MemAvailable")
        if 3 * design > avail:
            res["fit"] = {
                "infeasible": (
                    f"statsmodels MixedLM builds the dense {n:,} x {args.La + args.Lb:,} "
                    f"variance-component design ({design / 1e9:.0f} GB, several copies); "
                    f"{avail / 1e9:.0f} GB available"
                )
            }
        else:
            df = pd.DataFrame({"y": y, "x": X[:, 1], "a": a, "b": b, "g": np.ones(n)})
            with Phase() as ph:
                md = sm.MixedLM.from_formula(
                    "y ~ 1 + x",
                    groups="g",
                    re_formula="0",
                    vc_formula={"a": "0 + C(a)", "b": "0 + C(b)"},
                    data=df,
                )
                r = md.fit(reml=True)
            th_sm = np.sqrt(np.asarray(r.vcomp) / r.scale)
            from hierreg_formula.core.lmm import LMMProblem
            from hierreg_formula.core.structure import TermArrays

            ones = np.ones((n, 1))
            prob = LMMProblem(X, y, [TermArrays(a, args.La, ones), TermArrays(b, args.Lb, ones)])
            res["fit"] = dict(
                ph.out,
                theta=th_sm.tolist(),
                objective=float(prob.deviance(th_sm)),  # our REML criterion at its estimate
                converged=bool(r.converged),
            )
    elif args.tool == "mixedlm":
        import mixedlm
        import pandas as pd

        df = pd.DataFrame({"y": y, "x": X[:, 1], "a": a.astype(str), "b": b.astype(str)})
        with Phase() as ph:
            m = mixedlm.lmer("y ~ 1 + x + (1 | a) + (1 | b)", df, REML=True)
        res["fit"] = dict(ph.out, objective=float(m.REMLcrit()))
    res["load_end"] = os.getloadavg()[0]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500_000)
    ap.add_argument("--La", type=int, default=100_000)
    ap.add_argument("--Lb", type=int, default=5_000)
    ap.add_argument("--layout", default="random", choices=["random", "clustered"])
    ap.add_argument("--leak", type=float, default=0.02)
    ap.add_argument("--tools", default="hierreg,mixedlm")
    ap.add_argument("--phases", default="setup,eval,grad,fit")
    ap.add_argument("--timeout", type=float, default=3600.0)
    ap.add_argument("--tool", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.tool:
        print(json.dumps(worker(args)))
        return
    out = {}
    for tool in args.tools.split(","):
        cmd = [sys.executable, __file__, "--tool", tool] + [
            f"--{k}={getattr(args, k)}" for k in ("n", "La", "Lb", "layout", "leak", "phases")
        ]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
            out[tool] = (
                json.loads(p.stdout.strip().splitlines()[-1])
                if p.returncode == 0
                else {"failed": p.stderr.strip().splitlines()[-1:]}
            )
        except subprocess.TimeoutExpired:
            out[tool] = {"failed": f"timeout {args.timeout:.0f} s"}
        print(tool, json.dumps(out[tool]), flush=True)


if __name__ == "__main__":
    main()
