"""Binomial responses: 0/1 codes of two labels, and the design with them.

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

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import DataError
from ..formula.blocks import DesignBlocks


def binary_response(values: Any, name: str = "y") -> tuple[np.ndarray, tuple[Any, Any]]:
    """0/1 codes of a two-label response (NaN stays NaN) and its (negative, positive) labels."""
    values = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values))
    if pd.api.types.is_bool_dtype(values) and not values.isna().any():
        return values.to_numpy(dtype=float), (False, True)
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = [c for c in values.cat.categories if (values == c).any()]
        if len(cats) == 2:  # the category order (lme4: the first level is the failure)
            y = (values == cats[1]).to_numpy(dtype=float)
            y[values.isna().to_numpy()] = np.nan
            return y, (cats[0], cats[1])
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


def binomial_design(
    formula: str,
    data: Any,
    missing: str = "drop",
    extra: Sequence[str] = (),
    proportions: bool = False,
) -> tuple[DesignBlocks, tuple[Any, Any]]:
    """Design blocks for a binomial response, and its ``(negative, positive)`` labels.

    A response column of two labels of any type (strings, a two-level factor, bools)
    becomes 0/1 (the larger label in sort order is the success; for a categorical,
    its second category).  A numeric response is kept as it is when ``proportions``
    (GLMMs: proportions with the trials as weights, or ``cbind(s, f)``); otherwise it
    must give exactly two labels.  An expression (``I(y > 0)``) must give 0/1.
    """
    from ..formula import build_design, parse_formula

    response = parse_formula(formula).response
    df = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    if response in df.columns:
        col = df[response]
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        if proportions and numeric:
            return build_design(formula, df, missing=missing, extra=extra), (0, 1)
        y01, labels = binary_response(col, response)
        blocks = build_design(formula, df.assign(**{response: y01}), missing=missing, extra=extra)
        return blocks, labels
    blocks = build_design(formula, df, missing=missing, extra=extra)  # e.g. I(y > 0), cbind()
    if blocks.trials is not None:
        return blocks, (0, 1)
    y01, labels = binary_response(pd.Series(blocks.y), response)
    if set(labels) != {0.0, 1.0} and not proportions:
        raise DataError(
            f"family='binomial': the response expression {response!r} must give 0/1 or "
            f"booleans, got the labels {labels}"
        )
    return blocks, (0, 1)
