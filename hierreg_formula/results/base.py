"""Pieces shared by every fitted model: coefficients, random effects, prediction.

The mixed-model results (:class:`~hierreg_formula.results.lmm.LMMResults`) and
the regularized-mode results build on :class:`HierarchicalFitBase`, which only
needs the design blocks, the fixed coefficients and the per-level deviations.

Example
-------
>>> import hierreg_formula as hierreg
>>> res = hierreg.fit("Yield ~ 1 + (1 | Batch)", hierreg.load_dataset("Dyestuff"))
>>> res.random_effects["Batch"].shape
(6, 1)
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..formula.blocks import DesignBlocks


def group_blocks(blocks: DesignBlocks) -> dict[str, list[int]]:
    """Grouping factor name -> indices of its random blocks (``||`` gives several)."""
    out: dict[str, list[int]] = {}
    for i, blk in enumerate(blocks.random):
        out.setdefault(blk.group, []).append(i)
    return out


def random_contribution(blocks: DesignBlocks, b: list[np.ndarray]) -> np.ndarray:
    """``Z b`` row by row; rows with an unseen level (code -1) contribute 0."""
    out = np.zeros(blocks.nobs)
    for blk, bt in zip(blocks.random, b, strict=True):
        codes = blk.codes
        seen = codes >= 0
        rows = bt[np.where(seen, codes, 0)]  # (n, k)
        out += np.where(seen, np.einsum("nk,nk->n", blk.X, rows), 0.0)
    return out


class HierarchicalFitBase:
    """Common results API (statsmodels names) for every estimator of the package.

    Parameters
    ----------
    formula:
        The model formula.
    blocks:
        Design blocks used for fitting (``X`` already reduced to the kept columns).
    beta:
        Fixed coefficients ``(p,)``, matching ``blocks.x_names``.
    b:
        Per random block, the ``(L, k)`` deviations of every level.
    method:
        Estimation method label (``"REML"``, ``"ML"``, ``"regularized"``).
    """

    def __init__(
        self,
        *,
        formula: str,
        blocks: DesignBlocks,
        beta: np.ndarray,
        b: list[np.ndarray],
        method: str,
        data: Any = None,
    ) -> None:
        self._data = data
        self._formula = formula
        self._blocks = blocks
        self._beta = np.asarray(beta, dtype=float)
        self._b = [np.asarray(x, dtype=float) for x in b]
        self._method = method
        self._groups = group_blocks(blocks)

    # ------------------------------------------------------------------ basics
    @property
    def formula(self) -> str:
        return self._formula

    @property
    def method(self) -> str:
        return self._method

    @property
    def model_data(self) -> pd.DataFrame | None:
        """The rows of the fitting data that were used (``None`` if not kept)."""
        if self._data is None:
            return None
        df = self._data if isinstance(self._data, pd.DataFrame) else pd.DataFrame(self._data)
        return df.loc[self._blocks.index]

    @property
    def model_blocks(self) -> DesignBlocks:
        """The design blocks the model was fitted on."""
        return self._blocks

    @property
    def nobs(self) -> int:
        return self._blocks.nobs

    @property
    def endog_name(self) -> str:
        return self._blocks.y_name

    @property
    def exog_names(self) -> list[str]:
        return list(self._blocks.x_names)

    @property
    def params(self) -> pd.Series:
        """Fixed-effects coefficients (statsmodels' ``fe_params``)."""
        return pd.Series(self._beta, index=self.exog_names, name="coef")

    @property
    def fe_params(self) -> pd.Series:
        return self.params

    @property
    def group_names(self) -> list[str]:
        return list(self._groups)

    @property
    def ngroups(self) -> dict[str, int]:
        """Number of levels of each grouping factor."""
        return {g: self._blocks.random[idx[0]].nlevels for g, idx in self._groups.items()}

    def _group_frame(self, values: list[np.ndarray], group: str) -> pd.DataFrame:
        idx = self._groups[group]
        blks = [self._blocks.random[i] for i in idx]
        names: list[str] = []
        for blk in blks:
            for nm in blk.names:
                names.append(nm if nm not in names else f"{nm}.{len(names)}")
        data = np.column_stack([values[i] for i in idx])
        frame = pd.DataFrame(data, index=pd.Index(blks[0].levels, name=group), columns=names)
        return frame

    @property
    def random_effects(self) -> dict[str, pd.DataFrame]:
        """Per grouping factor, the deviations of every level (levels as index)."""
        return {g: self._group_frame(self._b, g) for g in self._groups}

    def coef(self) -> dict[str, pd.DataFrame]:
        """Per grouping factor, fixed + random coefficients of every level (lme4's ``coef``)."""
        out = {}
        fe = self.params
        for g, re in self.random_effects.items():
            frame = pd.DataFrame(
                np.broadcast_to(fe.values, (len(re), len(fe))).copy(),
                index=re.index,
                columns=fe.index,
            )
            for col in re.columns:
                if col in frame.columns:
                    frame[col] = frame[col] + re[col]
                else:
                    frame[col] = re[col]
            out[g] = frame
        return out

    @functools.cached_property
    def _fitted(self) -> np.ndarray:
        return self._blocks.X @ self._beta + random_contribution(self._blocks, self._b)

    @property
    def fittedvalues(self) -> pd.Series:
        """Fitted values including the random effects."""
        return pd.Series(self._fitted, index=self._blocks.index, name="fitted")

    @property
    def resid(self) -> pd.Series:
        """Response minus fitted values."""
        return pd.Series(self._blocks.y - self._fitted, index=self._blocks.index, name="resid")

    # ------------------------------------------------------------- prediction
    def _linear_predictor(
        self, newdata: pd.DataFrame | Mapping[str, Any] | None, include_random: bool
    ) -> tuple[np.ndarray, pd.Index]:
        if newdata is None:
            blocks = self._blocks
        else:
            blocks = self._blocks.spec.rebuild(newdata, response=False)
        X = blocks.X
        if list(blocks.x_names) != self.exog_names:  # columns dropped as linearly dependent
            pos = {nm: i for i, nm in enumerate(blocks.x_names)}
            X = X[:, [pos[nm] for nm in self.exog_names]]
        eta = X @ self._beta
        if include_random:
            eta = eta + random_contribution(blocks, self._b)
        return eta, blocks.index

    def predict(
        self,
        newdata: pd.DataFrame | Mapping[str, Any] | None = None,
        include_random: bool = True,
    ) -> pd.Series:
        """Predictions on ``newdata`` (default: the fitting data).

        With ``include_random=True`` each row gets the deviations of its levels;
        a level not seen in fitting contributes zero (population-level
        prediction, lme4's ``allow.new.levels = TRUE``).  With
        ``include_random=False`` only the fixed part is used (lme4's
        ``re.form = NA``).
        """
        eta, index = self._linear_predictor(newdata, include_random)
        return pd.Series(eta, index=index, name="predicted")

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__}: {self._formula!r}, method={self._method}, nobs={self.nobs}>"
        )
