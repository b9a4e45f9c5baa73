"""Variance components in lme4's ``as.data.frame(VarCorr(m))`` layout.

SDs and correlations come from the rows of the relative covariance factors
(``sd_j = sigma ||T_j||``, ``corr_jk = T_j . T_k / (||T_j|| ||T_k||)``), so a
variance beyond the float range (a covariate on a scale of ``1e-200``) gives an
infinite variance but a finite SD.

Example
-------
>>> import numpy as np, pandas as pd
>>> from hierreg_formula.formula.blocks import RandomBlock
>>> blk = RandomBlock("g", np.zeros(3, int), pd.Index(["a"]), np.ones((3, 1)), ["Intercept"])
>>> varcorr_frame([blk], [np.array([[2.0]])], 0.5)[["group", "variance", "sd"]].values.tolist()
[['g', 1.0, 1.0], ['Residual', 0.25, 0.5]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..formula.blocks import RandomBlock

COLUMNS = ["group", "var1", "var2", "variance", "sd", "corr"]


def _row_norms(T: np.ndarray) -> np.ndarray:
    big = np.max(np.abs(T), axis=1)
    big = np.where(np.isfinite(big) & (big > 0), big, 1.0)
    return big * np.sqrt(np.sum((T / big[:, None]) ** 2, axis=1))


def varcorr_frame(
    random: list[RandomBlock], factors: list[np.ndarray], sigma: float
) -> pd.DataFrame:
    """One row per variance, per covariance and a final ``Residual`` row (lme4's layout)."""
    rows: list[dict[str, Any]] = []
    with np.errstate(over="ignore"):
        for blk, T in zip(random, factors, strict=True):
            norms = _row_norms(T)
            sd = sigma * norms
            unit = T / np.where(norms > 0, norms, 1.0)[:, None]
            corr = unit @ unit.T
            for a, nm in enumerate(blk.names):
                rows.append(
                    dict(
                        group=blk.group,
                        var1=nm,
                        var2=None,
                        variance=sd[a] ** 2,
                        sd=sd[a],
                        corr=np.nan,
                    )
                )
            for a in range(len(blk.names)):
                for c in range(a + 1, len(blk.names)):
                    ok = norms[a] > 0 and norms[c] > 0
                    rows.append(
                        dict(
                            group=blk.group,
                            var1=blk.names[a],
                            var2=blk.names[c],
                            variance=sd[a] * sd[c] * corr[a, c] if ok else 0.0,
                            sd=np.nan,
                            corr=corr[a, c] if ok else np.nan,
                        )
                    )
        rows.append(
            dict(
                group="Residual",
                var1=None,
                var2=None,
                variance=np.float64(sigma) ** 2,
                sd=sigma,
                corr=np.nan,
            )
        )
    return pd.DataFrame(rows, columns=COLUMNS)
