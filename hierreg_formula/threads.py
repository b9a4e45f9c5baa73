"""BLAS threads inside a fit.

The core's dense work is many small or medium factorizations (batched ``k x k``
Cholesky, a Schur complement of a few hundred to a few thousand columns) where
extra BLAS threads mostly add synchronisation, and on a loaded machine they
oversubscribe the cores: InstEval took 7-20 s with OpenBLAS's default threads
against 4.4-5 s with one (2-core machine).  Fits therefore run with the BLAS
limited to one thread, through threadpoolctl (the library scikit-learn uses for
the same purpose); the limit is lifted when the fit returns.  Set
``HIERREG_BLAS_THREADS`` to another number (or ``0`` for no limit) to change it.

Example
-------
>>> with blas_threads_limited():
...     pass
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from typing import Any


@functools.lru_cache(maxsize=1)
def _controller() -> Any:
    """One ThreadpoolController per process (introspecting the libraries is the slow part)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return None
    return ThreadpoolController()


def _limit() -> int | None:
    raw = os.environ.get("HIERREG_BLAS_THREADS", "1").strip()
    try:
        n = int(raw)
    except ValueError:
        return 1
    return None if n <= 0 else n


@contextlib.contextmanager
def blas_threads_limited() -> Iterator[None]:
    """Run the block with the BLAS limited to ``HIERREG_BLAS_THREADS`` (default 1) threads."""
    limit = _limit()
    ctl = _controller() if limit is not None else None
    if ctl is None:
        yield
        return
    with ctl.limit(limits=limit, user_api="blas"):
        yield
