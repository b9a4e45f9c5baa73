"""Is this data out of core?  (No import of Dask: safe to call from anywhere.)

>>> is_dask_frame([1, 2]), is_parquet_source("data/*.parquet"), is_parquet_source("a.csv")
(False, True, False)
"""

from __future__ import annotations

import os
from typing import Any


def is_dask_frame(obj: Any) -> bool:
    """A Dask DataFrame (or Series), recognised without importing Dask."""
    mod = type(obj).__module__ or ""
    return (mod == "dask" or mod.startswith("dask.")) and hasattr(obj, "npartitions")


def is_parquet_source(obj: Any) -> bool:
    """A path, glob or directory of Parquet files (``str`` or ``os.PathLike``)."""
    if isinstance(obj, os.PathLike):
        obj = os.fspath(obj)
    if not isinstance(obj, str):
        return False
    low = obj.lower().rstrip("/")
    if low.endswith((".parquet", ".parq", ".pq")) or ".parquet" in low.rsplit("/", 1)[-1]:
        return True
    return os.path.isdir(obj) and any(
        f.lower().endswith((".parquet", ".parq", ".pq")) for f in os.listdir(obj)
    )


def is_out_of_core(data: Any) -> bool:
    """Data that :func:`hierreg_formula.fit` fits through :mod:`hierreg_formula.scale`."""
    return is_dask_frame(data) or is_parquet_source(data)
