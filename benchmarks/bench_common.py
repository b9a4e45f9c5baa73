"""Worker machinery shared by the benchmark scripts: memory probes, subprocess runs, R's lme4.

Imported by ``bench_lmm.py`` and ``bench_glmm.py`` *after* they pin the BLAS / OpenMP /
rayon pools to one thread (nothing here imports numpy at module level).

- :func:`measure_fit` runs one call with its extra peak resident memory (``VmHWM`` after
  resetting it through ``/proc/self/clear_refs`` minus ``VmRSS`` before, Linux).
- :func:`run_worker` runs a worker command in its own process group with a wall-time limit and
  a resident-memory limit over the whole group (an R child included); on either limit the
  whole group is killed and a ``{"skipped": ...}`` record says why.
- :func:`lme4_status` / :func:`run_lme4` fit a model with R's lme4 in ``Rscript``
  (``r/fit_lme4.R``): the data frame goes over as one raw little-endian binary file per column
  (float64, or int32 codes with the level labels for categorical columns), so R sees
  exactly the same numbers and the same level order as the Python tools.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIT_LME4_R = HERE / "r" / "fit_lme4.R"
PINNED = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "RAYON_NUM_THREADS",
)


# ---------------------------------------------------------------------------- memory


def status_kb(field: str) -> int | None:
    """A ``/proc/self/status`` field in kB (``VmRSS``, ``VmHWM``), or None off Linux."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (``VmHWM``); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def measure_fit(call) -> tuple[object, dict]:
    """Run ``call()`` once; return its value and wall / CPU time and extra peak RSS (MB)."""
    gc.collect()
    reset = reset_peak() and status_kb("VmHWM") is not None
    base_kb = status_kb("VmRSS") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0, c0 = time.perf_counter(), time.process_time()
    value = call()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak_kb = status_kb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value, {
        "first_fit_s": wall,
        "first_fit_cpu_s": cpu,
        "peak_mb": max(peak_kb - base_kb, 0) / 1024.0,
        "process_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "baseline_mb": base_kb / 1024.0 if reset else None,
        "mem_method": "VmHWM-VmRSS after clear_refs" if reset else "ru_maxrss growth",
    }


# ---------------------------------------------------------------------------- subprocesses


def _group_rss_mb(pgid: int) -> float:
    """Resident memory (MB) of every process in process group ``pgid`` (``/proc`` scan)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) != pgid:  # fields[2] is pgrp
                continue
            total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")  # rss in pages
        except (OSError, ValueError, IndexError):
            continue
    return total / 2**20


def run_worker(
    cmd: list[str], timeout: float, mem_limit_gb: float | None = None, env: dict | None = None
) -> dict:
    """Run a worker that prints one JSON line last; its record, or ``{"skipped": why}``.

    The worker starts a new session (its own process group, R children included); when the
    wall time exceeds ``timeout`` or the group's resident memory exceeds ``mem_limit_gb``,
    the whole group is killed.  ``wall_s`` (whole worker: data, warm-up, fits),
    ``children_cpu_s`` (CPU time of the worker and the children it waited for, e.g.
    ``Rscript``) and the 1-minute load averages before and after are added to the record.
    """
    load0 = os.getloadavg()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    why, peak_group = None, 0.0
    with tempfile.TemporaryFile("w+") as out_f, tempfile.TemporaryFile("w+") as err_f:
        # drain the pipes in the background so a chatty worker cannot block

        def pump(src, dst):
            for line in src:
                dst.write(line)

        threads = [
            threading.Thread(target=pump, args=(proc.stdout, out_f), daemon=True),
            threading.Thread(target=pump, args=(proc.stderr, err_f), daemon=True),
        ]
        for th in threads:
            th.start()
        while proc.poll() is None:
            elapsed = time.perf_counter() - t0
            rss = _group_rss_mb(proc.pid)
            peak_group = max(peak_group, rss)
            if elapsed > timeout:
                why = f"timed out after {timeout:.0f} s"
            elif mem_limit_gb is not None and rss > mem_limit_gb * 1024:
                why = (
                    f"killed after {elapsed:.0f} s: resident memory {rss / 1024:.1f} GB above "
                    f"the --mem-limit of {mem_limit_gb:g} GB"
                )
            if why:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
                break
            time.sleep(0.25)
        for th in threads:
            th.join(timeout=5)
        out_f.seek(0)
        err_f.seek(0)
        stdout, stderr = out_f.read(), err_f.read()
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    extra = {
        "wall_s": wall,
        "children_cpu_s": (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime),
        "group_peak_rss_mb_sampled": peak_group,
        "loadavg_parent": [load0[0], os.getloadavg()[0]],
    }
    if why:
        return {"skipped": why, "timed_out": why.startswith("timed out"), **extra}
    if proc.returncode != 0:
        lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        return {"skipped": f"failed: {last}", "failed": True, "stderr_tail": lines[-15:], **extra}
    record = json.loads(stdout.strip().splitlines()[-1])
    record.update(extra)
    return record


# ---------------------------------------------------------------------------- R / lme4

_LME4_STATUS: dict[str, str | None] = {}


def lme4_status() -> str | None:
    """None when ``Rscript`` with lme4 and jsonlite is usable, else the reason to skip."""
    if "status" in _LME4_STATUS:
        return _LME4_STATUS["status"]
    rscript = shutil.which("Rscript")
    if rscript is None:
        status = "R not installed (no Rscript on PATH)"
    else:
        probe = (
            "ok <- sapply(c('lme4', 'jsonlite'), requireNamespace, quietly = TRUE); "
            "if (!all(ok)) { cat(names(ok)[!ok]); quit(status = 3) }"
        )
        try:
            r = subprocess.run([rscript, "-e", probe], capture_output=True, text=True, timeout=120)
            status = None if r.returncode == 0 else f"R package(s) not installed: {r.stdout}"
        except (OSError, subprocess.TimeoutExpired) as err:
            status = f"Rscript does not run: {err}"
    _LME4_STATUS["status"] = status
    return status


def write_columns(df, folder: Path) -> list[dict]:
    """Each column of ``df`` as a raw little-endian file in ``folder``; the column specs.

    Categorical columns become int32 codes (-1 = missing) with their labels in category
    order (R rebuilds the factor with those levels, so contrasts and baselines match);
    everything else float64 (bools and integers converted).
    """
    import numpy as np
    import pandas as pd

    specs = []
    for i, name in enumerate(df.columns):
        col = df[name]
        path = folder / f"col{i}.bin"
        if isinstance(col.dtype, pd.CategoricalDtype):
            codes = col.cat.codes.to_numpy().astype("<i4")
            codes.tofile(path)
            labels = [str(c) for c in col.cat.categories]
            specs.append({"name": name, "kind": "factor", "path": str(path), "levels": labels})
        elif col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
            cat = pd.Categorical(col.astype(str))
            cat.codes.astype("<i4").tofile(path)
            labels = [str(c) for c in cat.categories]
            specs.append({"name": name, "kind": "factor", "path": str(path), "levels": labels})
        else:
            col.to_numpy(dtype=np.float64).astype("<f8").tofile(path)
            specs.append({"name": name, "kind": "double", "path": str(path)})
    return specs


def run_lme4(
    df,
    formula: str,
    *,
    repeats: int,
    reml: bool = True,
    family: str | None = None,
    weights: str | None = None,
    calc_derivs: bool = True,
    warmup_rows: int = 2000,
) -> dict:
    """Fit ``formula`` with lme4 in ``Rscript`` (``lmer``, or ``glmer`` when ``family``).

    Same protocol as the Python workers: a warm-up on the first ``warmup_rows`` rows, one
    measured fit (objective, extra peak RSS), then ``repeats`` timed fits; medians of
    elapsed and CPU time.  Objective: ``REMLcrit(m)`` (``deviance(m)`` with ML), for GLMMs
    ``-2 * logLik(m)`` (Laplace, lme4's constants).  Raises RuntimeError when R fails.
    """
    why = lme4_status()
    if why:
        raise RuntimeError(why)
    base = os.environ.get("BENCH_TMPDIR") or None
    with tempfile.TemporaryDirectory(prefix="lme4-", dir=base) as tmp:
        folder = Path(tmp)
        spec = {
            "n_rows": len(df),
            "columns": write_columns(df, folder),
            "formula": formula,
            "REML": reml,
            "family": family,
            "weights": weights,
            "repeats": repeats,
            "calc_derivs": calc_derivs,
            "warmup_rows": warmup_rows,
        }
        spec_path = folder / "spec.json"
        spec_path.write_text(json.dumps(spec))
        r = subprocess.run(
            ["Rscript", "--vanilla", str(FIT_LME4_R), str(spec_path)],
            capture_output=True,
            text=True,
        )
    if r.returncode != 0:
        tail = [ln for ln in r.stderr.strip().splitlines() if ln.strip()][-5:]
        raise RuntimeError("Rscript failed: " + " | ".join(tail))
    return json.loads(r.stdout.strip().splitlines()[-1])
