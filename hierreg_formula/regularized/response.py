"""Two-label responses for ``family="binomial"``: 0/1 codes and the labels.

Any two labels work (0/1, -1/+1, bools, strings, categories).  The labels are
sorted (``False < True``, ``0 < 1``, ``"no" < "yes"``; mixed types by their
string forms) and the second is the positive one, whose probability is modelled.

Example
-------
>>> import pandas as pd
>>> y, labels = binary_response(pd.Series(["yes", "no", "yes"]), "buy")
>>> y.tolist(), labels
([1.0, 0.0, 1.0], ('no', 'yes'))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import DataError


def binary_response(values: Any, name: str = "y") -> tuple[np.ndarray, tuple[Any, Any]]:
    """0/1 codes of a two-label response (NaN stays NaN) and its (negative, positive) labels."""
    values = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values))
    if pd.api.types.is_bool_dtype(values) and not values.isna().any():
        return values.to_numpy(dtype=float), (False, True)
    labels = pd.unique(values.dropna())
    if len(labels) != 2:
        raise DataError(
            f"family='binomial' needs a response with exactly two labels; {name!r} has "
            f"{len(labels)}: {list(labels)[:5]}"
        )
    try:
        labels = sorted(labels)
    except TypeError:
        labels = sorted(labels, key=str)
    y = (values == labels[1]).to_numpy(dtype=float)
    y[values.isna().to_numpy()] = np.nan
    return y, (labels[0], labels[1])
