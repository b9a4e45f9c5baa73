"""Per-row values given beside the formula: prior ``weights=`` and ``offset=``.

Each may be a column name of the data or an array with one value per row of the
data.  An array is attached to a shallow copy of the frame under a reserved
name, so that rows the formula drops for missing values drop it too and the
values reach the model aligned with the rows used (``DesignBlocks.extra``).

Example
-------
>>> import pandas as pd
>>> df = pd.DataFrame({"y": [1.0, 2.0], "w": [1.0, 2.0]})
>>> data, names = attach_row_values(df, {"weights": "w", "offset": [0.5, 0.5]})
>>> names, data["(offset)"].tolist()
({'weights': 'w', 'offset': '(offset)'}, [0.5, 0.5])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import DataError


def attach_row_values(
    data: pd.DataFrame | Mapping[str, Any], values: Mapping[str, Any]
) -> tuple[pd.DataFrame | Mapping[str, Any], dict[str, str]]:
    """``data`` (copied only when an array must be attached) and, for every given
    value (``None`` skipped), the column that holds it."""
    names: dict[str, str] = {}
    attach: dict[str, np.ndarray] = {}
    n = len(data) if isinstance(data, pd.DataFrame) else len(pd.DataFrame(data))
    for role, value in values.items():
        if value is None:
            continue
        if isinstance(value, str):
            names[role] = value
            continue
        arr = np.asarray(value)
        if arr.ndim != 1 or len(arr) != n:
            raise DataError(
                f"{role}= must be a column name or one value per row of the data "
                f"({n} rows), got an array of shape {arr.shape}"
            )
        col = f"({role})"
        attach[col] = arr
        names[role] = col
    if attach:
        df = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
        data = df.assign(**attach)
    return data, names
