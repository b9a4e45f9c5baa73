"""Predictions on a Dask DataFrame: one lazy series, partition by partition.

:class:`LinearPredictor` holds what a prediction needs (the design recipe, the
fixed coefficients and the effects of every level) and maps one pandas
partition to its predictions exactly as the in-memory ``predict`` does: the
columns are rebuilt with ``spec.rebuild``, a level not seen in fitting
contributes zero, a missing value or a category of a fixed-effects column not
seen in fitting is a :class:`~hierreg_formula.DataError` (raised when the series
is computed).  On the fitting data (``fittedvalues``, ``resid``) the rows with
missing values are dropped first, as in fitting.

Example
-------
>>> import numpy as np, pandas as pd
>>> from hierreg_formula.formula import build_design
>>> df = pd.DataFrame({"y": [1.0, 2.0, 3.0, 5.0], "x": [0.0, 1.0, 0.0, 1.0], "g": list("abab")})
>>> spec = build_design("y ~ x + (1 | g)", df).spec
>>> pred = LinearPredictor(spec, ["Intercept", "x"], np.array([1.0, 2.0]),
...                        [np.array([[10.0], [20.0]])])
>>> pred(df).tolist()
[11.0, 23.0, 11.0, 23.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core.structure import TermArrays, random_part
from ..formula import DesignSpec
from .design import missing_rows, normalize_frame, strings_as_str


@dataclass(frozen=True)
class LinearPredictor:
    """Partition -> predictions (or residuals) of a fitted model.

    Attributes
    ----------
    spec:
        The design recipe of the fit.
    x_names:
        The fixed-effects columns of ``beta`` (after dropping dependent ones).
    beta:
        Fixed coefficients.
    b:
        Per random block, the ``(L, k)`` effects; ``None`` for the fixed part only.
    used, dtypes:
        On the fitting data: the used columns (rows with a missing value in them are
        dropped first) and their common dtypes; ``None`` on new data.
    residuals:
        Return ``y - prediction`` (needs the response columns).
    """

    spec: DesignSpec
    x_names: Sequence[str]
    beta: np.ndarray
    b: Sequence[np.ndarray] | None
    used: tuple[str, ...] | None = None
    dtypes: Mapping[str, Any] | None = None
    residuals: bool = False

    @property
    def name(self) -> str:
        return "resid" if self.residuals else ("fitted" if self.used else "predicted")

    def __call__(self, part: pd.DataFrame) -> pd.Series:
        if self.used is not None:
            df = normalize_frame(part, self.used, self.dtypes)
            bad, _ = missing_rows(df)
            df = df.loc[~bad] if bad.any() else df
        else:
            df = strings_as_str(part)
        blocks = self.spec.rebuild(df, response=self.residuals)
        X = blocks.X
        if list(blocks.x_names) != list(self.x_names):
            pos = {nm: i for i, nm in enumerate(blocks.x_names)}
            X = X[:, [pos[nm] for nm in self.x_names]]
        eta = X @ self.beta
        if self.b is not None:
            terms = [TermArrays(blk.codes, blk.nlevels, blk.X) for blk in blocks.random]
            eta = eta + random_part(terms, self.b)
        offset = getattr(blocks, "offset", None)
        if offset is not None:
            eta = eta + offset
        values = blocks.y - eta if self.residuals else eta
        return pd.Series(values, index=blocks.index, name=self.name)


def predict_frame(ddf: Any, predictor: LinearPredictor) -> Any:
    """The predictions on a Dask DataFrame as a lazy Dask Series (float, same index)."""
    meta = pd.Series(np.zeros(0), name=predictor.name, index=ddf._meta.index[:0])
    return ddf.map_partitions(predictor, meta=meta)


@dataclass(frozen=True)
class GLMMPredictor(LinearPredictor):
    """Partition -> GLMM predictions: the linear predictor plus the offset column, on
    the response scale (``type="response"``) or the link scale (``"link"``); with
    ``residuals`` the response residuals ``y - mu``.

    Attributes
    ----------
    link:
        The family's link (``linkinv`` gives the means).
    offset_column:
        The fit's ``offset=`` column (``None``: none).
    type:
        ``"response"`` or ``"link"``.
    """

    link: Any = None
    offset_column: str | None = None
    type: str = "response"

    def __call__(self, part: pd.DataFrame) -> pd.Series:
        if self.used is not None:
            df = normalize_frame(part, self.used, self.dtypes)
            bad, _ = missing_rows(df)
            df = df.loc[~bad] if bad.any() else df
        else:
            df = strings_as_str(part)
        base = LinearPredictor(self.spec, self.x_names, self.beta, self.b)
        eta = base(df).to_numpy()  # df has no missing values: nothing more is dropped
        if self.offset_column is not None:
            eta = eta + df[self.offset_column].to_numpy(dtype=float)
        values = eta if self.type == "link" and not self.residuals else self.link.linkinv(eta)
        if self.residuals:
            values = self.spec.rebuild(df, response=True).y - values
        return pd.Series(values, index=df.index, name=self.name)
