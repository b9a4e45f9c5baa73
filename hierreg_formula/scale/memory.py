"""How large the reduced statistics get, and a clear error before they cannot fit.

The statistics do not grow with the number of rows, only with the levels:

- the first (largest) term: a ``k1 x k1`` block and a ``k1 x (p + 1)`` block per
  level, ``8 L1 k1 (k1 + p + 1)`` bytes (100,000 levels of ``(x | g)`` with
  ``p = 4``: 11 MB);
- the other terms (crossed or nested factors): ``Z_rest'[X y]``,
  ``8 q_rest (p + 1)`` bytes, with ``q_rest = sum L_j k_j``; ``Z_rest'Z_rest``,
  which the core factors as a dense ``q_rest x q_rest`` matrix (``8 q_rest^2``
  bytes: 800 MB at 10,000 columns); and the fill-in ``Z_rest'Z_1``, one entry per
  pair of levels that share a row (at most ``min(n, L1 L_j)`` pairs per crossed
  term, 12 bytes each), plus the core's pair index for it (24 bytes per pair of
  fill-in entries of one level, at most 40 million pairs).

:func:`statistics_bytes` adds these up (with room for the copies made while
merging and factoring) and :func:`check_memory` raises
:class:`StatisticsMemoryError` before the pass that would build them when they
exceed the client's available memory.

Example
-------
>>> est = statistics_bytes(n=10**8, p=4, ks=[2], nlevels=[100_000])
>>> round(est / 1e6)
22
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core.fillin import MAX_PAIRS
from ..exceptions import EstimationError

#: the statistics may use at most this fraction of the available memory
MEMORY_FRACTION = 0.5


class StatisticsMemoryError(EstimationError, MemoryError):
    """The reduced statistics (or the core's dense part) would not fit in memory."""


def available_memory() -> int | None:
    """Bytes of memory available to this process (``None`` when unknown)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover - psutil comes with distributed
        pass
    try:  # pragma: no cover - Linux without psutil
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover
        pass
    return None  # pragma: no cover


def statistics_bytes(n: int, p: int, ks: Sequence[int], nlevels: Sequence[int]) -> int:
    """An upper estimate of the client's memory for the statistics and the core's
    factorization (see the module docstring)."""
    k1, L1 = int(ks[0]), int(nlevels[0])
    first = 8 * L1 * k1 * (k1 + p + 1)
    q_rest = sum(int(L) * int(k) for L, k in zip(nlevels[1:], ks[1:], strict=True))
    rest = 8 * q_rest * (p + 1) + 8 * q_rest * q_rest
    fill = 0
    for L, k in zip(nlevels[1:], ks[1:], strict=True):
        fill += 12 * min(int(n), L1 * int(L)) * k1 * int(k)
    pairs = 24 * MAX_PAIRS if q_rest else 0
    dense = 8 * (q_rest + p + 1) ** 2
    # merging holds two copies of the statistics; the factorization a few dense blocks
    return int(2 * (first + rest + fill) + min(pairs, 6 * fill) + 3 * dense)


def check_memory(
    n: int,
    p: int,
    ks: Sequence[int],
    nlevels: Sequence[int],
    available: int | None = None,
) -> int:
    """Raise :class:`StatisticsMemoryError` when the statistics would not fit; returns
    the estimate (bytes)."""
    need = statistics_bytes(n, p, ks, nlevels)
    avail = available_memory() if available is None else available
    if avail is not None and need > MEMORY_FRACTION * avail:
        q_rest = sum(int(L) * int(k) for L, k in zip(nlevels[1:], ks[1:], strict=True))
        raise StatisticsMemoryError(
            f"the reduced statistics of this model need about {need / 1e9:.2f} GB on the "
            f"client, more than {MEMORY_FRACTION:.0%} of the {avail / 1e9:.2f} GB available: "
            f"they grow with the levels, not the rows ({nlevels[0]} levels of the largest "
            f"factor with {ks[0]} column(s); {q_rest} columns of the other factors, whose "
            "cross-products are dense); use fewer levels (or fewer random slopes), or fit "
            "on a client with more memory"
        )
    return need
