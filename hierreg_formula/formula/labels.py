"""Matching the grouping labels of new data to the levels seen in fitting.

A fitted grouping factor keeps its levels with their type (``308`` or
``'308'``, ``3.0``, a date).  New data may carry the same labels with another
type: the model was fitted on sleepstudy's string subjects and is asked about
``Subject=308``, or fitted on integer codes and given floats.  A label matches a
level when they are equal (numbers compare numerically, so ``3`` is ``3.0``), or,
when the two sides hold different kinds of labels, when their text is the same
after a lossless conversion (``308`` and ``'308'``; a float is written without
``.0`` when it is whole, so ``308.0`` matches ``'308'`` too, but ``'03'`` does not
match ``3``).  A text shared by two fitted levels (``1`` and ``'1'`` in a mixed
column) is ambiguous and never matched that way.

Labels of the right kind that were not seen are ordinary unseen levels (code
``-1``).  When no new label matches and the kinds differ, the new column has the
wrong type, and :func:`match_labels` raises a DataError naming the column and
both dtypes instead of predicting every row at the population level.

Example
-------
>>> levels = pd.Index(["307", "308"])
>>> match_labels(levels, pd.Series([308, 999, 307.0]), "Subject").tolist()
[1, -1, 0]
>>> label_kind(pd.Series([1.5, 2.0])), label_kind(pd.Index(["a", "b"]))
('number', 'string')
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import DataError

_INFERRED = {
    "string": "string",
    "integer": "number",
    "floating": "number",
    "mixed-integer-float": "number",
    "decimal": "number",
    "boolean": "bool",
    "datetime64": "datetime",
    "datetime": "datetime",
    "date": "date",
    "timedelta64": "timedelta",
    "timedelta": "timedelta",
    "empty": "empty",
}


def label_kind(values: pd.Series | pd.Index) -> str:
    """The kind of labels a column holds: ``"number"``, ``"string"``, ``"bool"``,
    ``"datetime"`` (with its time zone), ``"timedelta"``, ``"date"``, ``"empty"``
    (only missing values) or ``"mixed"``.  A categorical has the kind of its
    categories.

    >>> label_kind(pd.Series(pd.Categorical([3, 1]))), label_kind(pd.Series(["a", 1]))
    ('number', 'mixed')
    """
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return label_kind(dtype.categories)
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return f"datetime ({dtype.tz})"
    if pd.api.types.is_datetime64_dtype(dtype):
        return "datetime"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "timedelta"
    return _INFERRED.get(pd.api.types.infer_dtype(values, skipna=True), "mixed")


def _text(value: object) -> str:
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _texts(values: pd.Series | pd.Index) -> pd.Index:
    """The labels as text, whole floats without ``.0`` (vectorised for numeric columns)."""
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        whole = np.isfinite(arr) & (np.abs(arr) < 2.0**53) & (arr == np.round(arr))
        ints = np.where(whole, arr, 0).astype(np.int64).astype(str)
        return pd.Index(np.where(whole, ints, arr.astype(str)), dtype=object)
    if arr.dtype.kind in "iub":
        return pd.Index(arr.astype(str), dtype=object)
    return pd.Index([_text(v) for v in arr], dtype=object)


def _plain(values: pd.Series) -> pd.Index:
    if isinstance(values.dtype, pd.CategoricalDtype):
        return pd.Index(values.astype(object))
    return pd.Index(values)


def match_labels(levels: pd.Index, values: pd.Series, column: str) -> np.ndarray:
    """Positions of ``values`` in the fitted ``levels`` (``-1``: unseen or missing).

    Parameters
    ----------
    levels:
        The levels of one grouping column seen in fitting.
    values:
        The column of the new data.
    column:
        Its name, for the error message.

    Raises
    ------
    DataError
        No non-missing label matches and the new labels are of another kind than
        the levels (a column of another type).
    """
    new = _plain(values)
    pos = np.asarray(levels.get_indexer(new), dtype=np.int64)
    missing = np.asarray(pd.isna(new))
    todo = (pos < 0) & ~missing
    if not todo.any():
        return pos
    fitted_kind, new_kind = label_kind(levels), label_kind(values)
    if fitted_kind != new_kind or "mixed" in (fitted_kind, new_kind):
        texts = _texts(levels)
        unique = ~texts.duplicated(keep=False)
        lookup = pd.Index(texts[unique])
        alt = lookup.get_indexer(_texts(new[todo]))
        where = np.flatnonzero(unique)
        pos[todo] = np.where(alt >= 0, where[np.maximum(alt, 0)], -1)
    if fitted_kind != new_kind and not (pos >= 0).any():
        first = new[~missing][0]
        first = first.item() if isinstance(first, np.generic) else first
        shown = ", ".join(map(repr, levels[:3].tolist())) + (", ..." if len(levels) > 3 else "")
        raise DataError(
            f"grouping column {column!r}: none of the new labels matches a level seen in "
            f"fitting, and they are of another type: dtype {values.dtype} ({new_kind} labels, "
            f"e.g. {first!r}) in the new data, dtype {levels.dtype} ({fitted_kind} levels: "
            f"{shown}) in fitting; convert the column to the fitted type"
        )
    return pos
