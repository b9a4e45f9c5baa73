"""Design blocks: what the formula layer hands to the numeric core.

A formula such as ``y ~ x + (x | g) + (1 | h)`` on a DataFrame materializes into
one :class:`DesignBlocks`: the response, the dense fixed-effects matrix, and one
:class:`RandomBlock` per random-effects term (``(x || g)`` gives one block per
column, ``(1 | a/b)`` gives the blocks ``a`` and ``a:b``).  Nothing here is
pandas-dependent except the labels; the numeric core only reads the arrays.

Example
-------
>>> import numpy as np, pandas as pd
>>> blk = RandomBlock(group="g", codes=np.array([0, 1, 0]), levels=pd.Index(["a", "b"]),
...                   X=np.ones((3, 1)), names=["Intercept"])
>>> blk.nlevels, blk.ncols
(2, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class RandomBlock:
    """One random-effects term ``(expr | group)``.

    Attributes
    ----------
    group:
        Name of the grouping factor, e.g. ``"Subject"`` or ``"a:b"``.
    codes:
        ``(n,)`` int64 array: row ``i`` belongs to level ``levels[codes[i]]``.
        On new data, rows whose level was not seen in fitting get ``-1``.
    levels:
        Level labels (the sorted observed values; for ``a:b`` the labels are
        ``"<a>:<b>"`` strings of the observed combinations).
    X:
        ``(n, k)`` float array: the term's per-row model columns (the
        ``expr`` of ``(expr | group)``); the random-effects design of level
        ``j`` is ``X`` masked to the rows with ``codes == j``.
    names:
        The ``k`` column names of ``X`` (formulaic's naming, ``"Intercept"``).
    """

    group: str
    codes: np.ndarray
    levels: pd.Index
    X: np.ndarray
    names: list[str]

    @property
    def nlevels(self) -> int:
        return len(self.levels)

    @property
    def ncols(self) -> int:
        return self.X.shape[1]

    @property
    def label(self) -> str:
        """lme4-like label of the term, e.g. ``"(1 + Days | Subject)"``."""
        return f"({' + '.join(self.names)} | {self.group})"


@dataclass(frozen=True)
class DesignBlocks:
    """Everything the numeric core needs, plus the recipe to rebuild it.

    Attributes
    ----------
    y:
        ``(n,)`` float response, or ``None`` when built on new data without it.
        For a binomial response ``cbind(s, f)`` it is the proportion
        ``s / (s + f)`` (0 where ``s + f == 0``).
    y_name:
        Name of the response.
    X:
        ``(n, p)`` float fixed-effects matrix.
    x_names:
        Its ``p`` column names.
    random:
        The random-effects blocks, in formula order.
    index:
        Index labels of the data rows that were used (after dropping NaN rows).
    n_dropped:
        Number of rows dropped for missing values.
    unseen:
        On new data: per grouping factor, the labels not seen when fitting.
    spec:
        Recipe (:class:`~hierreg_formula.formula.DesignSpec`) to rebuild the
        same blocks on new data.
    offset:
        ``(n,)`` float: the sum of the formula's ``offset(expr)`` terms, added to
        the linear predictor with coefficient 1 (R's ``model.offset``); ``None``
        when the formula has none.  Rebuilt on new data (prediction needs it).
    trials:
        ``(n,)`` float: the binomial trials ``s + f`` of a ``cbind(s, f)``
        response (the prior weights of the proportions ``y``), ``None`` for any
        other response or when ``y`` is not built.  Rows with ``0`` trials are
        kept, as R does: they carry weight 0.
    extra:
        Other used columns (``build_design(..., extra=[...])``, e.g. prior
        weights), as floats on the used rows.
    """

    y: np.ndarray | None
    y_name: str
    X: np.ndarray
    x_names: list[str]
    random: list[RandomBlock]
    index: pd.Index
    n_dropped: int = 0
    unseen: dict[str, list[Any]] = field(default_factory=dict)
    spec: Any = None
    offset: np.ndarray | None = None
    trials: np.ndarray | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def nobs(self) -> int:
        return self.X.shape[0]


def group_blocks(blocks: DesignBlocks) -> dict[str, list[int]]:
    """Grouping factor name -> indices of its random blocks (``||`` gives several).

    >>> blk = RandomBlock("g", np.array([0, 1]), pd.Index(["a", "b"]), np.ones((2, 1)), ["x"])
    >>> d = DesignBlocks(None, "", np.ones((2, 1)), ["Intercept"], [blk, blk], pd.RangeIndex(2))
    >>> group_blocks(d)
    {'g': [0, 1]}
    """
    out: dict[str, list[int]] = {}
    for i, blk in enumerate(blocks.random):
        out.setdefault(blk.group, []).append(i)
    return out
