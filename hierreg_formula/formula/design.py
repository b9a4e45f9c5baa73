"""Formula + DataFrame -> :class:`DesignBlocks`, and the recipe to rebuild them.

The fixed part and every random term's columns are materialized by formulaic
(so ``C()``, ``*``, ``:``, ``np.log`` and categorical encodings behave exactly as
in formulaic), and formulaic's ``ModelSpec`` of each is kept in a
:class:`DesignSpec` to rebuild identical columns on new data.  Grouping codes
come from :class:`~hierreg_formula.formula.grouping.Grouping` (vectorised, one
pass per grouping column; the random columns are built once, not per level).

Example
-------
>>> import pandas as pd
>>> df = pd.DataFrame({"y": [1.0, 2.0, 3.0, 5.0], "x": [0.0, 1.0, 0.0, 1.0],
...                    "g": ["b", "a", "b", "a"]})
>>> blocks = build_design("y ~ x + (x | g)", df)
>>> blocks.x_names, blocks.random[0].names, list(blocks.random[0].levels)
(['Intercept', 'x'], ['Intercept', 'x'], ['a', 'b'])
>>> blocks.random[0].codes.tolist()
[1, 0, 1, 0]
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from formulaic import model_matrix
from formulaic.errors import DataMismatchWarning, FormulaicError

from ..exceptions import DataError, FormulaError, MissingDataWarning
from .blocks import DesignBlocks, RandomBlock
from .grouping import Grouping
from .parser import ParsedFormula, parse_formula
from .variables import required_columns


def _as_frame(data: pd.DataFrame | Mapping[str, Any]) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    try:
        return pd.DataFrame(data)
    except (ValueError, TypeError) as err:
        raise DataError(f"data must be a pandas DataFrame or a mapping of columns: {err}") from err


def _check_finite(values: np.ndarray, names: list[str], index: pd.Index, what: str) -> None:
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


def _materialize(
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
                mm = model_matrix(rhs, data, context={}, na_action="ignore")
        except DataMismatchWarning as err:
            raise DataError(
                f"the new data have categories not seen in fitting in the {what} columns "
                f"{rhs!r}; formulaic: {err}"
            ) from err
        except FormulaicError as err:
            raise DataError(f"cannot build the {what} columns {rhs!r}: {err}") from err
    X = np.ascontiguousarray(np.asarray(mm, dtype=np.float64))
    names = [str(c) for c in mm.columns]
    _check_finite(X, names, data.index, what)
    return X, names, mm.model_spec


def _response(expr: str, df: pd.DataFrame) -> np.ndarray:
    """The response as float (bool -> 0/1); a DataError if it is not numeric."""
    if expr in df.columns:
        col = df[expr]
        if not (pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col)):
            raise DataError(
                f"the response {expr!r} is not numeric (dtype {col.dtype}); a two-label "
                "response is supported by the regularized mode with family='binomial'"
            )
        y = col.to_numpy(dtype=np.float64)
    else:
        try:
            mm = model_matrix(f"{expr} ~ 1", df, context={}, na_action="ignore").lhs
        except FormulaicError as err:
            raise DataError(f"cannot evaluate the response {expr!r}: {err}") from err
        if mm.shape[1] != 1:
            raise DataError(
                f"the response {expr!r} is not numeric (it expands to {mm.shape[1]} columns)"
            )
        y = np.asarray(mm, dtype=np.float64).ravel()
    _check_finite(y, [expr], df.index, "response")
    return y


def _nan_columns(df: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, dict[str, int]]:
    """Row mask of missing values in ``cols`` and the count per column that has any."""
    na = df[cols].isna()
    counts = na.sum(axis=0)
    return na.any(axis=1).to_numpy(), {c: int(counts[c]) for c in cols if counts[c]}


@dataclass(frozen=True)
class RandomSpec:
    """How to rebuild one random block: its formulaic spec and grouping levels."""

    expr: str
    spec: Any
    names: list[str]
    grouping: Grouping


@dataclass(frozen=True)
class DesignSpec:
    """The recipe to rebuild a model's design blocks on new data (picklable).

    Attributes
    ----------
    parsed:
        The parsed formula.
    fixed_spec:
        formulaic ``ModelSpec`` of the fixed part (``None`` for an intercept only).
    x_names:
        Fixed-effects column names at fit time.
    random:
        One :class:`RandomSpec` per random block (formulaic spec, names, levels).
    response_vars, predictor_vars:
        Data columns used by the response and by the right-hand side.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "k": ["u", "v", "u", "v"],
    ...                    "g": ["a", "a", "b", "b"]})
    >>> spec = build_design("y ~ k + (1 | g)", df).spec
    >>> new = spec.rebuild(pd.DataFrame({"k": ["v"], "g": ["c"]}))
    >>> new.X.tolist(), new.random[0].codes.tolist(), new.unseen
    ([[1.0, 1.0]], [-1], {'g': ['c']})
    """

    parsed: ParsedFormula
    fixed_spec: Any
    x_names: list[str]
    random: list[RandomSpec]
    response_vars: tuple[str, ...]
    predictor_vars: tuple[str, ...]

    def reordered(self, order: Sequence[int]) -> DesignSpec:
        """The same recipe with the random blocks (and the parsed random terms) in ``order``:
        ``new.random[i]`` is ``self.random[order[i]]``."""
        parsed = replace(self.parsed, random=tuple(self.parsed.random[i] for i in order))
        return replace(self, parsed=parsed, random=[self.random[i] for i in order])

    def rebuild(
        self, data: pd.DataFrame | Mapping[str, Any], response: bool = False
    ) -> DesignBlocks:
        """Blocks for new data with the fitted columns and levels.

        Parameters
        ----------
        data:
            New data (DataFrame or mapping of columns) with the predictor columns
            (and the response columns when ``response=True``).
        response:
            Also build ``y``.

        Returns
        -------
        DesignBlocks
            Same ``x_names``, block names and levels as at fit time.  Rows with a
            grouping level not seen in fitting get code ``-1``, and the labels
            are listed per grouping factor in ``unseen``.

        Raises
        ------
        DataError
            A used column is absent or has missing values (prediction never
            drops rows silently), a categorical column has a category not seen
            in fitting, or a transform gives non-finite values.
        """
        df = _as_frame(data)
        needed = list(self.predictor_vars) + (list(self.response_vars) if response else [])
        _check_columns(df, needed, self.parsed.formula)
        _, nan_counts = _nan_columns(df, list(dict.fromkeys(needed)))
        if nan_counts:
            counts = ", ".join(f"{c!r}: {k}" for c, k in nan_counts.items())
            raise DataError(
                f"missing values in the new data ({counts} rows); fill or drop those rows first"
            )
        X, names, _ = _materialize(self.parsed.fixed, df, self.fixed_spec)
        if names != self.x_names:
            raise DataError(
                f"the new data give fixed-effects columns {names}, expected {self.x_names}"
            )
        blocks, unseen = [], {}
        built: dict[str, np.ndarray] = {}
        for rs in self.random:
            if rs.expr not in built:
                built[rs.expr] = _materialize(rs.expr, df, rs.spec, f"random {rs.expr!r}")[0]
            codes = rs.grouping.codes(df)
            labels = rs.grouping.unseen_labels(df, codes)
            if labels:
                unseen[rs.grouping.name] = labels
            blocks.append(
                RandomBlock(rs.grouping.name, codes, rs.grouping.levels, built[rs.expr], rs.names)
            )
        y = _response(self.parsed.response, df) if response and self.parsed.response else None
        return DesignBlocks(
            y=y,
            y_name=self.parsed.response or "",
            X=X,
            x_names=list(names),
            random=blocks,
            index=df.index,
            n_dropped=0,
            unseen=unseen,
            spec=self,
        )


def _check_columns(df: pd.DataFrame, needed: list[str], formula: str) -> None:
    missing = [c for c in dict.fromkeys(needed) if c not in df.columns]
    if missing:
        raise DataError(
            f"column(s) {', '.join(map(repr, missing))} used in {formula!r} not found in the "
            f"data (columns: {', '.join(map(str, df.columns[:20]))}"
            f"{', ...' if len(df.columns) > 20 else ''})"
        )


def build_design(
    formula: str,
    data: pd.DataFrame | Mapping[str, Any],
    missing: str = "drop",
    require_response: bool = True,
) -> DesignBlocks:
    """Parse ``formula`` and materialize its design blocks on ``data``.

    Parameters
    ----------
    formula:
        lme4-style formula, e.g. ``"y ~ x + (x | g)"``.
    data:
        DataFrame (or mapping of columns).
    missing:
        ``"drop"``: drop rows with a missing value in any used column (before
        formulaic sees them) and warn (:class:`MissingDataWarning`) with their
        count per column; ``"raise"``: raise :class:`DataError`.
    require_response:
        Raise :class:`FormulaError` when the formula has no response.

    Returns
    -------
    DesignBlocks
        ``y`` (float; a bool response becomes 0/1), ``X`` (float, C-contiguous),
        one :class:`RandomBlock` per expanded random term, the used row labels,
        and ``spec`` (a :class:`DesignSpec`) to rebuild them on new data.

    Raises
    ------
    FormulaError
        Malformed formula, unsupported construct, unknown function, or no
        response when ``require_response``.
    DataError
        Empty data, a used column not in the data, a non-numeric response,
        missing values with ``missing="raise"``, no row left after dropping, or
        non-finite values after a transform.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1.0, 2.0, 4.0], "x": [1.0, 2.0, 3.0], "g": [2, 1, 2]})
    >>> b = build_design("y ~ 0 + x + (1 | g)", df)
    >>> b.x_names, list(b.random[0].levels), b.random[0].codes.tolist()
    (['x'], [1, 2], [1, 0, 1])
    """
    if missing not in ("drop", "raise"):
        raise DataError(f"missing must be 'drop' or 'raise', got {missing!r}")
    parsed = parse_formula(formula)
    if require_response and not parsed.response:
        raise FormulaError(f"the formula {formula!r} has no response (nothing left of '~')")
    df = _as_frame(data)
    n_all = len(df)
    if n_all == 0:
        raise DataError("the data frame is empty")
    response_vars = (
        tuple(required_columns([parsed.response], df.columns, formula)) if parsed.response else ()
    )
    _check_columns(df, parsed.grouping_columns, formula)
    rhs = [parsed.fixed, *(t.expr for t in parsed.random)]
    predictor_set = {*required_columns(rhs, df.columns, formula), *parsed.grouping_columns}
    predictor = tuple(c for c in df.columns if c in predictor_set)
    used = [c for c in df.columns if c in predictor_set or c in response_vars]
    bad, nan_counts = _nan_columns(df, used)
    n_bad = int(bad.sum())
    if n_bad:
        counts = ", ".join(f"{c!r}: {k}" for c, k in nan_counts.items())
        if missing == "raise":
            raise DataError(f"{n_bad} of {n_all} rows have missing values ({counts})")
        warnings.warn(
            f"dropped {n_bad} of {n_all} rows with missing values ({counts})",
            MissingDataWarning,
            stacklevel=2,
        )
        df = df.loc[~bad]
        if len(df) == 0:
            raise DataError("no rows left after dropping rows with missing values")
    y = _response(parsed.response, df) if parsed.response else None
    X, x_names, fixed_spec = _materialize(parsed.fixed, df)
    blocks, rspecs = [], []
    # a random term with the fixed part's columns (e.g. y ~ x + (x | g)) reuses them
    cache: dict[str, tuple[np.ndarray, list[str], Any]] = {parsed.fixed: (X, x_names, fixed_spec)}
    groupings: dict[tuple[str, ...], tuple[Grouping, np.ndarray]] = {}
    for t in parsed.random:
        if t.expr not in cache:
            cache[t.expr] = _materialize(t.expr, df, what=f"random {t.expr!r}")
        Xz, names, spec = cache[t.expr]
        if t.factors not in groupings:
            groupings[t.factors] = Grouping.fit_codes(df, t.factors)
        grouping, codes = groupings[t.factors]
        blocks.append(RandomBlock(grouping.name, codes, grouping.levels, Xz, names))
        rspecs.append(RandomSpec(t.expr, spec, names, grouping))
    spec = DesignSpec(parsed, fixed_spec, list(x_names), rspecs, response_vars, predictor)
    return DesignBlocks(
        y=y,
        y_name=parsed.response or "",
        X=X,
        x_names=list(x_names),
        random=blocks,
        index=df.index,
        n_dropped=n_bad,
        spec=spec,
    )
