"""Simulated data for the out-of-core tests (small: every test runs in well under a second)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def frame(n: int = 1200, seed: int = 0, G: int = 40, H: int = 9) -> pd.DataFrame:
    """``y`` with a random intercept and slope by ``g``, a crossed ``h``, nested ``a/b``,
    a categorical ``k`` and a numeric ``x`` (text columns as ``str``)."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, G, n)
    h = rng.integers(0, H, n)
    a = rng.integers(0, 6, n)
    b = rng.integers(0, 4, n)
    x = rng.normal(size=n)
    k = rng.choice(np.array(["u", "v", "w"]), n)
    y = (
        1.0
        + 0.5 * x
        + (k == "v") * 0.3
        + rng.normal(size=G)[g]
        + 0.7 * rng.normal(size=G)[g] * x
        + 0.8 * rng.normal(size=H)[h]
        + 0.6 * rng.normal(size=(6, 4))[a, b]
        + rng.normal(size=n)
    )
    return pd.DataFrame(
        {
            "y": y,
            "x": x,
            "k": pd.Series(k, dtype="str"),
            "g": pd.Series([f"g{i:02d}" for i in g], dtype="str"),
            "h": h,
            "a": a,
            "b": b,
        }
    )


def to_dask(df: pd.DataFrame, npartitions: int = 5):
    """A Dask DataFrame of ``df`` (Dask's defaults: text becomes pandas' ``string``)."""
    import dask.dataframe as dd

    return dd.from_pandas(df, npartitions=npartitions, sort=False)
