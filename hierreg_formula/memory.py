"""Memory the numeric core will need, and what the machine has available.

The only large allocation of a linear mixed model fit is the rest block's dense
factor (:mod:`hierreg_formula.core.restdense`): one ``q x q`` array of doubles for
the random effects of every grouping factor but the first (largest) one, reused by
every evaluation, the gradient and the conditional variances.  :func:`check_fit_memory`
compares that (plus the per-row set-up) with ``MemAvailable`` from ``/proc/meminfo``
before anything is allocated, and raises a clear error when it cannot fit; where the
available memory is unknown the check is skipped.

Example
-------
>>> round(fit_bytes(q_rest=20_000, n=500_000, ncols=4) / 1e9, 2)
3.3
>>> check_fit_memory(20_000, 500_000, 4, available=2 * 10**9)
Traceback (most recent call last):
...
hierreg_formula.memory.FitMemoryError: this model needs about 3.30 GB of memory and 2.00 GB are available: the random effects of every grouping factor but the largest (20,000 columns) are factored as one dense 20,000 x 20,000 matrix (3.20 GB); free memory, fit on a machine with more, or reduce the levels of the crossed grouping factors
"""

from __future__ import annotations

from .exceptions import EstimationError

#: fixed allowance for the interpreter's working set during a fit (bytes)
BASE_BYTES = 32 * 2**20


class FitMemoryError(EstimationError, MemoryError):
    """The model's dense random-effects block would not fit in the available memory."""


def available_memory() -> int | None:
    """Bytes of memory available for new allocations (``MemAvailable``), or ``None``
    when the system does not say (the checks are then skipped)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    try:  # pragma: no cover - not Linux
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover
        return None


def fit_bytes(q_rest: int, n: int, ncols: int) -> int:
    """Predicted peak extra memory of a fit: the ``q_rest x q_rest`` factor (8 bytes an
    entry) and a few ``n``-long arrays per design column during the set-up."""
    return int(8 * q_rest * q_rest + 8 * 4 * n * max(ncols, 1) + BASE_BYTES)


def check_fit_memory(q_rest: int, n: int, ncols: int, available: int | None = None) -> int:
    """Raise :class:`FitMemoryError` when :func:`fit_bytes` exceeds the available memory;
    returns the prediction (bytes)."""
    need = fit_bytes(q_rest, n, ncols)
    avail = available_memory() if available is None else available
    if avail is not None and need > avail:
        raise FitMemoryError(
            f"this model needs about {need / 1e9:.2f} GB of memory and {avail / 1e9:.2f} GB "
            f"are available: the random effects of every grouping factor but the largest "
            f"({q_rest:,} columns) are factored as one dense {q_rest:,} x {q_rest:,} matrix "
            f"({8 * q_rest * q_rest / 1e9:.2f} GB); free memory, fit on a machine with more, "
            "or reduce the levels of the crossed grouping factors"
        )
    return need
