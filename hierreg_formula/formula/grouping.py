"""Grouping factors: observed levels, sorted, and integer codes (vectorised).

Level labels keep the column's values: strings for string/object columns and
for categoricals of strings (e.g. sleepstudy's ``Subject``: ``'308'``), numbers
for numeric columns, ``False``/``True`` for bools, timestamps for dates; an object
column mixing types keeps its values in pandas' order (their string forms where
pandas cannot sort them).  New data are matched to these levels by
:func:`~hierreg_formula.formula.labels.match_labels` (``308`` finds ``'308'``).  A grouping ``a:b`` has
``"<a>:<b>"`` string labels of the observed combinations, ordered by the level
order of ``a``, then of ``b``.

Example
-------
>>> import pandas as pd
>>> g = Grouping.fit(pd.DataFrame({"a": ["x", "y", "x"], "b": [2, 1, 1]}), ("a", "b"))
>>> list(g.levels), g.codes(pd.DataFrame({"a": ["y", "x", "z"], "b": [1, 2, 1]})).tolist()
(['x:1', 'x:2', 'y:1'], [2, 1, -1])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import DataError
from .labels import match_labels


def column_levels(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes and sorted observed levels of one grouping column.

    Categoricals keep their category order (unused categories dropped); other
    columns are sorted (numbers numerically, strings lexically, False < True).
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        raw = values.cat.codes.to_numpy().astype(np.int64)
        ncat = len(values.cat.categories)
        seen = np.bincount(raw[raw >= 0], minlength=ncat) > 0
        if seen.all():  # every category observed: the codes are already right
            return raw, pd.Index(values.cat.categories)
        observed = np.flatnonzero(seen)
        codes = np.searchsorted(observed, raw)
        return codes.astype(np.int64), pd.Index(values.cat.categories[observed])
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:  # mixed types: sort their string forms
        codes, uniques = pd.factorize(values.astype(str), sort=True)
    return codes.astype(np.int64), pd.Index(uniques)


@dataclass(frozen=True)
class Grouping:
    """The levels of a grouping factor (one column, or the combinations of several)."""

    name: str
    factors: tuple[str, ...]
    factor_levels: tuple[pd.Index, ...]
    keys: np.ndarray  # sorted mixed-radix keys of the observed combinations
    levels: pd.Index

    @classmethod
    def fit(cls, data: pd.DataFrame, factors: tuple[str, ...]) -> Grouping:
        return cls.fit_codes(data, factors)[0]

    @classmethod
    def fit_codes(cls, data: pd.DataFrame, factors: tuple[str, ...]) -> tuple[Grouping, np.ndarray]:
        """The grouping and the codes of the rows it was fitted on."""
        per = [column_levels(data[f]) for f in factors]
        if len(factors) == 1:
            codes, levels = per[0]
            keys = np.arange(len(levels), dtype=np.int64)
            return cls(factors[0], tuple(factors), (levels,), keys, levels), codes
        key = _combine([c for c, _ in per], [len(lv) for _, lv in per])
        keys, codes = np.unique(key, return_inverse=True)
        parts = _split(keys, [len(lv) for _, lv in per])
        strs = [pd.Series(per[j][1][parts[j]].astype(str)) for j in range(len(factors))]
        labels = pd.Index(strs[0].str.cat(strs[1:], sep=":"))
        grouping = cls(":".join(factors), tuple(factors), tuple(lv for _, lv in per), keys, labels)
        return grouping, codes.astype(np.int64).ravel()

    def codes(self, data: pd.DataFrame) -> np.ndarray:
        """Level codes of the rows of ``data``; -1 for a level not seen in fitting (or a
        missing label).

        Labels are matched as :func:`~hierreg_formula.formula.labels.match_labels`
        does (``308`` finds the level ``'308'``); a column whose labels are all of
        another type than the fitted levels raises a DataError.
        """
        per = [
            match_labels(lv, data[f], f)
            for f, lv in zip(self.factors, self.factor_levels, strict=True)
        ]
        if len(per) == 1:  # one column: its keys are 0..L-1, the position is the code
            return per[0]
        key = _combine(per, [len(lv) for lv in self.factor_levels])
        pos = np.searchsorted(self.keys, key)
        pos = np.minimum(pos, len(self.keys) - 1)
        found = (key >= 0) & (self.keys[pos] == key)
        return np.where(found, pos, -1).astype(np.int64)

    def unseen_labels(self, data: pd.DataFrame, codes: np.ndarray) -> list[Any]:
        """Labels of the rows whose level was not seen in fitting, in order of appearance.

        The values as they are in ``data`` for one grouping column, ``"<a>:<b>"``
        strings for a grouping ``a:b``.
        """
        bad = codes < 0
        if not bad.any():
            return []
        if len(self.factors) == 1:
            return pd.unique(data[self.factors[0]].to_numpy()[bad]).tolist()
        sub = data.loc[bad, list(self.factors)].astype(str)
        return list(dict.fromkeys(sub.agg(":".join, axis=1).tolist()))


def _combine(codes: list[np.ndarray], sizes: list[int]) -> np.ndarray:
    """Mixed-radix int64 key of several code columns (-1 where any code is -1)."""
    if np.prod([float(s) for s in sizes]) >= 2.0**62:
        raise DataError(
            f"too many possible level combinations ({' x '.join(map(str, sizes))}) for one "
            "interaction grouping factor"
        )
    key = np.zeros(len(codes[0]), dtype=np.int64)
    bad = np.zeros(len(codes[0]), dtype=bool)
    for c, size in zip(codes, sizes, strict=True):
        key = key * size + np.maximum(c, 0)
        bad |= c < 0
    return np.where(bad, -1, key)


def _split(keys: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    parts = []
    rem = keys.copy()
    for size in reversed(sizes):
        rem, r = np.divmod(rem, size)
        parts.append(r)
    return parts[::-1]
