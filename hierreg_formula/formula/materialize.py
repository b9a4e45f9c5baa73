"""formulaic evaluation of right-hand sides, responses and offsets, with finite checks.

Every expression of a formula is evaluated by formulaic: a right-hand side gives
model columns (and a ``ModelSpec`` to rebuild them on new data), a response or a
count of ``cbind(s, f)`` gives one column, an ``offset(expr)`` gives one numeric
column added to the linear predictor.  Non-finite results (an infinite value in
the data, ``np.log`` of 0) are a DataError naming the column.

Example
-------
>>> import pandas as pd
>>> df = pd.DataFrame({"y": [1.0, 2.0], "e": [1.0, 4.0], "s": [1, 2], "f": [3, 0]})
>>> offset_values(("{np.log(e)}",), df)[0].round(3).tolist()
[0.0, 1.386]
>>> [v.tolist() for v in binomial_values(("s", "f"), df)]
[[0.25, 1.0], [4.0, 2.0]]
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula, model_matrix
from formulaic.errors import DataMismatchWarning, FormulaicError

from ..exceptions import DataError


def check_finite(values: np.ndarray, names: list[str], index: pd.Index, what: str) -> None:
    """Raise a DataError naming the columns with NaN/inf (e.g. ``np.log`` of 0)."""
    finite = np.isfinite(values)
    if finite.all():
        return
    finite = finite.reshape(len(index), -1)
    cols = [nm for nm, ok in zip(names, finite.all(axis=0), strict=True) if not ok]
    bad_rows = ~finite.all(axis=1)
    first = ", ".join(map(repr, index[bad_rows][:5].tolist()))
    raise DataError(
        f"non-finite values (NaN or inf) in {what} column(s) {', '.join(map(repr, cols))} in "
        f"{int(bad_rows.sum())} row(s) (index {first}{', ...' if bad_rows.sum() > 5 else ''}): "
        "an infinite value in the data, or a transform undefined there such as the log of "
        "a non-positive number; remove those rows first"
    )


@functools.lru_cache(maxsize=256)
def _parsed_rhs(rhs: str) -> Formula:
    """formulaic's parse of a right-hand side, once per string (a parsed formula is
    immutable; materializing from it skips a millisecond of parsing per fit)."""
    return Formula(rhs)


def materialize(
    rhs: str, data: pd.DataFrame, spec: Any = None, what: str = "fixed-effects"
) -> tuple[np.ndarray, list[str], Any]:
    """Columns of a formulaic right-hand side (fast path for an intercept only).

    formulaic keeps every row (``na_action="ignore"``; NaN rows were dropped
    before), and on new data a category not seen in fitting is an error rather
    than formulaic's silent all-zero encoding.
    """
    if rhs == "1":
        return np.ones((len(data), 1)), ["Intercept"], None
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataMismatchWarning)
        try:
            if spec is not None:
                mm = spec.get_model_matrix(data)
            else:
                mm = model_matrix(_parsed_rhs(rhs), data, context={}, na_action="ignore")
        except DataMismatchWarning as err:
            raise DataError(
                f"the new data have categories not seen in fitting in the {what} columns "
                f"{rhs!r}; formulaic: {err}"
            ) from err
        except FormulaicError as err:
            raise DataError(f"cannot build the {what} columns {rhs!r}: {err}") from err
    names = [str(c) for c in mm.columns]
    try:
        X = np.ascontiguousarray(np.asarray(mm, dtype=np.float64))
    except (ValueError, TypeError) as err:
        raise DataError(
            f"the {what} columns {names} are not numeric after formulaic's encoding (dtypes "
            f"{', '.join(map(str, getattr(mm, 'dtypes', [])))}): {err}"
        ) from err
    check_finite(X, names, data.index, what)
    return X, names, mm.model_spec


def shown(expr: str) -> str:
    """An expression as the user wrote it: ``{np.log(e)}`` -> ``np.log(e)``, ```a b``` -> ``a b``.

    >>> shown("{n - s}"), shown("`a b`"), shown("y")
    ('n - s', 'a b', 'y')
    """
    if len(expr) > 1 and (expr[0], expr[-1]) in (("{", "}"), ("`", "`")):
        return expr[1:-1]
    return expr


def response_values(expr: str, df: pd.DataFrame, what: str = "response") -> np.ndarray:
    """One column as float (bool -> 0/1); a DataError if it is not numeric."""
    name = shown(expr) if expr.startswith("`") else expr
    if name in df.columns:
        col = df[name]
        if not (pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col)):
            raise DataError(
                f"the {what} {name!r} is not numeric (dtype {col.dtype}); a two-label "
                "response is supported by the regularized mode with family='binomial'"
            )
        y = col.to_numpy(dtype=np.float64)
    else:
        try:
            mm = model_matrix(f"{expr} ~ 1", df, context={}, na_action="ignore").lhs
        except FormulaicError as err:
            raise DataError(f"cannot evaluate the {what} {shown(expr)!r}: {err}") from err
        if mm.shape[1] != 1:
            raise DataError(
                f"the {what} {shown(expr)!r} is not numeric (it expands to {mm.shape[1]} columns)"
            )
        y = np.asarray(mm, dtype=np.float64).ravel()
    check_finite(y, [shown(expr)], df.index, what)
    return y


def _check_counts(values: np.ndarray, expr: str, index: pd.Index) -> None:
    for bad, problem in (
        (values < 0, "negative"),
        (np.abs(values - np.round(values)) > 1e-3, "non-integer"),
    ):
        if bad.any():
            rows = ", ".join(map(repr, index[bad][:5].tolist()))
            raise DataError(
                f"the binomial count {shown(expr)!r} has {problem} values in {int(bad.sum())} "
                f"row(s) (index {rows}{', ...' if bad.sum() > 5 else ''}, e.g. "
                f"{values[bad][0]:g}): cbind(successes, failures) takes counts"
            )


def binomial_values(exprs: tuple[str, str], df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The proportion ``s / (s + f)`` and the trials ``s + f`` of ``cbind(s, f)``.

    Rows with no trial (``s + f == 0``) are kept with proportion 0 and trials 0,
    as R's ``binomial()$initialize`` does for glm and glmer: their prior weight is
    0, so they add nothing to the likelihood.

    Raises
    ------
    DataError
        A count that is not numeric, not finite, negative or not a whole number
        (R only warns about the last).
    """
    counts = []
    for expr, role in zip(exprs, ("successes", "failures"), strict=True):
        v = response_values(expr, df, what=f"binomial {role} count")
        _check_counts(v, expr, df.index)
        counts.append(v)
    successes, failures = counts
    trials = successes + failures
    proportion = np.divide(successes, trials, out=np.zeros_like(trials), where=trials > 0)
    return proportion, trials


def offset_values(
    exprs: tuple[str, ...], df: pd.DataFrame, specs: tuple[Any, ...] | None = None
) -> tuple[np.ndarray | None, tuple[Any, ...]]:
    """The sum of the ``offset()`` expressions (``None`` without any) and their specs.

    Each expression is evaluated by formulaic as a one-column right-hand side
    (stateful transforms keep their fitted state on new data through ``specs``)
    and must give one numeric column.
    """
    if not exprs:
        return None, ()
    total = np.zeros(len(df))
    out = []
    for i, expr in enumerate(exprs):
        what = f"offset({shown(expr)})"
        X, names, spec = materialize(f"0 + {expr}", df, specs[i] if specs else None, what=what)
        if names != [shown(expr)]:
            raise DataError(
                f"{what} must be one numeric column, but formulaic encodes it as the "
                f"columns {names} (a categorical or string column?)"
            )
        total += X[:, 0]
        out.append(spec)
    return total, tuple(out)
