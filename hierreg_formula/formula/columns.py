"""Checks and dtype normalisation of the data columns a formula uses.

Before formulaic sees them, the used columns are

- unique: a DataFrame with two columns of one name is ambiguous (DataError);
- not entirely missing (DataError naming the column: dropping its rows would
  leave nothing, or on a grouping column nothing to group by);
- normalised, after missing rows were dropped: pandas' nullable ``Int64`` /
  ``Float64`` / ``boolean`` columns become numpy ``int64`` / ``float64`` / ``bool``
  (``pd.NA`` was a missing value), ``string[pd.NA]`` columns become object
  columns (formulaic would pass their text on as numbers), object columns holding only numbers (or only
  booleans) become numeric (formulaic would otherwise encode them as
  categories), and narrower floats (``float32``) of predictor and response
  columns become ``float64`` so the design is the float64 design of the
  converted values (a ``center()`` mean included);
- on grouping columns, infinite labels are a DataError.

Example
-------
>>> import pandas as pd
>>> df = pd.DataFrame({"x": pd.array([1, 2], dtype="Int64"), "o": pd.Series([1.5, 2], dtype=object)})
>>> normalize_columns(df, ["x", "o"], grouping=[]).dtypes.astype(str).tolist()
['int64', 'float64']
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..exceptions import DataError


def check_unique(df: pd.DataFrame, used: Iterable[str], formula: str) -> None:
    """A DataError for a used column name that the DataFrame holds twice."""
    dup = df.columns[df.columns.duplicated()]
    bad = [c for c in dict.fromkeys(used) if c in set(dup)]
    if bad:
        raise DataError(
            f"the data have several columns named {', '.join(map(repr, bad))}, used in "
            f"{formula!r}: rename or drop the duplicates"
        )


def check_not_all_missing(counts: dict[str, int], nrows: int) -> None:
    """A DataError naming the used columns that hold only missing values.

    ``counts`` is the number of missing values per column (columns without any
    may be left out).
    """
    empty = [c for c, k in counts.items() if k == nrows]
    if empty:
        raise DataError(
            f"column(s) {', '.join(map(repr, empty))} have only missing values ({nrows} rows)"
        )


def _numeric_object(col: pd.Series) -> pd.Series | None:
    inferred = pd.api.types.infer_dtype(col, skipna=True)
    if inferred in ("integer", "floating", "mixed-integer-float"):
        return pd.to_numeric(col)
    if inferred == "boolean":
        return col.astype(bool)
    return None


def normalize_columns(df: pd.DataFrame, used: list[str], grouping: list[str]) -> pd.DataFrame:
    """The frame with the used columns in the dtypes formulaic and the core expect.

    ``df`` must have no missing value left in ``used``; columns that need no
    change are not copied.
    """
    changed: dict[str, pd.Series] = {}
    grouping_set = set(grouping)
    for c in used:
        col = df[c]
        dtype = col.dtype
        new = None
        if isinstance(dtype, pd.StringDtype):
            if dtype.na_value is pd.NA:  # formulaic reads only the NaN-flavoured strings
                new = col.astype(object)
        elif isinstance(dtype, pd.api.extensions.ExtensionDtype) and not isinstance(
            dtype, (pd.CategoricalDtype, pd.DatetimeTZDtype)
        ):
            if pd.api.types.is_bool_dtype(dtype):
                new = col.astype(bool)
            elif pd.api.types.is_integer_dtype(dtype):
                new = col.astype(np.int64)
            elif pd.api.types.is_float_dtype(dtype):
                new = col.astype(np.float64)
        elif pd.api.types.is_object_dtype(dtype):
            new = _numeric_object(col)
        if c not in grouping_set:
            target = new if new is not None else col
            if target.dtype.kind == "f" and target.dtype.itemsize < 8:
                new = target.astype(np.float64)
        if new is not None:
            changed[c] = new
    if not changed:
        return df
    out = df.copy(deep=False)
    for c, values in changed.items():
        out[c] = values
    return out


def check_grouping_labels(df: pd.DataFrame, grouping: list[str]) -> None:
    """A DataError for an infinite label in a numeric grouping column."""
    for c in grouping:
        col = df[c]
        if col.dtype.kind == "f" and not np.isfinite(col.to_numpy()).all():
            bad = ~np.isfinite(col.to_numpy())
            raise DataError(
                f"the grouping column {c!r} has infinite labels in {int(bad.sum())} row(s) "
                f"(index {', '.join(map(repr, df.index[bad][:5].tolist()))})"
            )
