"""Formula + DataFrame -> :class:`DesignBlocks`, and the recipe to rebuild them.

The fixed part and every random term's columns are materialized by formulaic
(so ``C()``, ``*``, ``:``, ``np.log`` and categorical encodings behave exactly as
in formulaic), and formulaic's ``ModelSpec`` of each is kept in a
:class:`DesignSpec` to rebuild identical columns on new data.  Grouping codes
come from :class:`~hierreg_formula.formula.grouping.Grouping`.

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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula, model_matrix
from formulaic.errors import FormulaicError

from ..exceptions import DataError, FormulaError, MissingDataWarning
from .blocks import DesignBlocks, RandomBlock
from .grouping import Grouping
from .parser import ParsedFormula, parse_formula


def _as_frame(data: pd.DataFrame | Mapping[str, Any]) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    try:
        return pd.DataFrame(data)
    except (ValueError, TypeError) as err:
        raise DataError(f"data must be a pandas DataFrame or a mapping of columns: {err}") from err


def _variables(rhs: str) -> set[str]:
    try:
        return set(Formula(rhs).required_variables)
    except FormulaicError as err:  # pragma: no cover - parse_formula already checked
        raise FormulaError(str(err)) from err


def _materialize(
    rhs: str, data: pd.DataFrame, spec: Any = None
) -> tuple[np.ndarray, list[str], Any]:
    """Columns of a formulaic right-hand side (fast path for an intercept only)."""
    if rhs == "1":
        return np.ones((len(data), 1)), ["Intercept"], None
    try:
        mm = spec.get_model_matrix(data) if spec is not None else model_matrix(rhs, data)
    except FormulaicError as err:
        raise DataError(f"cannot build the columns of {rhs!r}: {err}") from err
    X = np.ascontiguousarray(np.asarray(mm, dtype=float))
    return X, [str(c) for c in mm.columns], mm.model_spec


@dataclass(frozen=True)
class RandomSpec:
    """How to rebuild one random block: its formulaic spec and grouping levels."""

    expr: str
    spec: Any
    names: list[str]
    grouping: Grouping


@dataclass(frozen=True)
class DesignSpec:
    """The recipe to rebuild a model's design blocks on new data (picklable)."""

    parsed: ParsedFormula
    fixed_spec: Any
    x_names: list[str]
    random: list[RandomSpec]
    response_vars: tuple[str, ...]
    predictor_vars: tuple[str, ...]

    def rebuild(
        self, data: pd.DataFrame | Mapping[str, Any], response: bool = False
    ) -> DesignBlocks:
        """Blocks for new data with the fitted columns and levels.

        Rows with a level not seen in fitting get code ``-1`` and are listed in
        ``DesignBlocks.unseen``.  Missing values raise :class:`DataError`
        (prediction never drops rows silently).
        """
        df = _as_frame(data)
        needed = list(self.predictor_vars) + (list(self.response_vars) if response else [])
        _check_columns(df, needed, self.parsed.formula)
        nan_cols = [c for c in needed if df[c].isna().any()]
        if nan_cols:
            raise DataError(
                f"missing values in column(s) {', '.join(map(repr, nan_cols))} of the new data; "
                "fill or drop those rows first"
            )
        X, names, _ = _materialize(self.parsed.fixed, df, self.fixed_spec)
        if names != self.x_names:
            raise DataError(
                f"the new data give fixed-effects columns {names}, expected {self.x_names}"
            )
        blocks, unseen = [], {}
        for rs in self.random:
            Xz, _, _ = _materialize(rs.expr, df, rs.spec)
            codes = rs.grouping.codes(df)
            labels = rs.grouping.unseen_labels(df, codes)
            if labels:
                unseen[rs.grouping.name] = labels
            blocks.append(RandomBlock(rs.grouping.name, codes, rs.grouping.levels, Xz, rs.names))
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


def _response(expr: str, df: pd.DataFrame) -> np.ndarray:
    if expr in df.columns:
        col = df[expr]
        if pd.api.types.is_bool_dtype(col):
            return col.to_numpy(dtype=float)
        if not pd.api.types.is_numeric_dtype(col):
            raise DataError(
                f"the response {expr!r} is not numeric (dtype {col.dtype}); a two-label "
                "response is supported by the regularized mode with family='binomial'"
            )
        return col.to_numpy(dtype=float)
    try:
        mm = model_matrix(f"{expr} ~ 1", df).lhs
    except FormulaicError as err:
        raise DataError(f"cannot evaluate the response {expr!r}: {err}") from err
    if mm.shape[1] != 1:
        raise DataError(
            f"the response {expr!r} is not numeric (it expands to {mm.shape[1]} columns)"
        )
    return np.asarray(mm, dtype=float).ravel()


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
        ``"drop"``: drop rows with a missing value in any used column and warn
        (:class:`MissingDataWarning`) with their count; ``"raise"``: raise
        :class:`DataError`.
    require_response:
        Raise :class:`FormulaError` when the formula has no response.
    """
    if missing not in ("drop", "raise"):
        raise DataError(f"missing must be 'drop' or 'raise', got {missing!r}")
    parsed = parse_formula(formula)
    if require_response and not parsed.response:
        raise FormulaError(f"the formula {formula!r} has no response (nothing left of '~')")
    df = _as_frame(data)
    response_vars = tuple(sorted(_variables(parsed.response))) if parsed.response else ()
    predictor_vars = set(_variables(parsed.fixed))
    for t in parsed.random:
        predictor_vars |= _variables(t.expr) | set(t.factors)
    predictor = tuple(sorted(predictor_vars))
    used = list(dict.fromkeys([*response_vars, *predictor]))
    _check_columns(df, used, formula)
    used = [c for c in df.columns if c in set(used)]  # the data's column order
    n_all = len(df)
    if n_all == 0:
        raise DataError("the data frame is empty")
    na = df[used].isna()
    bad = na.any(axis=1).to_numpy()
    n_bad = int(bad.sum())
    if n_bad:
        cols = [c for c in used if na[c].any()]
        counts = ", ".join(f"{c!r}: {int(na[c].sum())}" for c in cols)
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
    for t in parsed.random:
        if t.expr not in cache:
            cache[t.expr] = _materialize(t.expr, df)
        Xz, names, spec = cache[t.expr]
        grouping, codes = Grouping.fit_codes(df, t.factors)
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
