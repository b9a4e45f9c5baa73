"""Fits beyond one machine's memory: sufficient statistics, out of core and on Dask.

The core needs the data only through cross-products, which are sums over rows;
this package computes them chunk by chunk and adds them.

- :mod:`.stats`: :class:`SufficientStats`, the cross-products of a chunk with its
  level bookkeeping (``a + b`` merges two chunks);
- :mod:`.convert`: the reduced statistics as the core's ``CrossProducts`` (one function);
- :mod:`.moments`: mergeable column moments, and from them the core's
  conditioning and the rank check;
- :mod:`.design`, :mod:`.partition`: the design recipe fixed once, and what each
  pass does to one (pandas) partition;
- :mod:`.estimate`: fits from the reduced statistics;
- :mod:`.dask`: the Dask driver behind ``hierreg.fit(formula, ddf)`` and
  ``hierreg.fit(formula, "data/*.parquet")``; :mod:`.results`, :mod:`.predict`:
  results with lazy Dask Series;
- :mod:`.glmm`, :mod:`.glmm_rows`: GLMMs (``family="binomial"``/``"poisson"``), with
  the partitions' arrays persisted on the workers and one row pass per PIRLS iteration.

Dask is an optional extra (``pip install hierreg-formula[dask]``): nothing here
imports it until a Dask frame or Parquet path is fitted.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.structure import TermArrays
>>> X, y, g = np.ones((4, 1)), np.array([1.0, 2.0, 4.0, 3.0]), np.array([0, 1, 1, 0])
>>> parts = [SufficientStats.from_arrays(X[i:i + 2], y[i:i + 2], [TermArrays(g[i:i + 2], 2,
...          X[i:i + 2])]) for i in (0, 2)]
>>> total = parts[0] + parts[1]
>>> total.n, total.counts[0].tolist()
(4, [2, 2])
"""

from __future__ import annotations

from .detect import is_dask_frame, is_out_of_core, is_parquet_source
from .stats import SufficientStats, sum_stats

__all__ = [
    "SufficientStats",
    "is_dask_frame",
    "is_out_of_core",
    "is_parquet_source",
    "sum_stats",
]
