"""The design recipe of an out-of-core fit, fixed once before the passes over the data.

In memory, :func:`~hierreg_formula.formula.build_design` learns everything from the
whole frame: the levels of every categorical column (formulaic's encoder state),
the levels of every grouping factor, the rows to drop.  Out of core the same
recipe (:class:`~hierreg_formula.formula.DesignSpec`) is assembled from pieces:

- :func:`column_plan` checks the formula against the columns (same errors as
  ``build_design``) and lists the used columns;
- a few rows give formulaic's model spec; a categorical column of the
  expressions whose levels are not known from its dtype has them discovered over
  all partitions and the spec is rebuilt on a frame holding every level
  (:func:`level_frame`), so the dummy columns are those of the full data;
- the grouping levels come from the distinct combinations of the grouping
  columns over all partitions (:func:`final_spec`), built by
  :class:`~hierreg_formula.formula.Grouping` exactly as on the full data.

Every partition then materializes its blocks with ``spec.rebuild``.

Example
-------
>>> import pandas as pd
>>> plan = column_plan("y ~ x + (1 | g)", pd.Index(["g", "x", "y", "z"]))
>>> plan.used, plan.groupings
(('g', 'x', 'y'), (('g',),))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from formulaic.parser.types import Factor

from ..exceptions import DataError, FormulaError
from ..formula import DesignSpec, Grouping, ParsedFormula, parse_formula
from ..formula.columns import check_unique
from ..formula.variables import expression_names, required_columns


@dataclass(frozen=True)
class ColumnPlan:
    """The columns a formula uses.

    Attributes
    ----------
    parsed:
        The parsed formula.
    used:
        Every data column the formula reads, in the data's column order (the ones
        whose missing values drop a row).
    response_vars:
        The columns of the response.
    groupings:
        The distinct grouping factors (tuples of columns), in formula order.
    """

    parsed: ParsedFormula
    used: tuple[str, ...]
    response_vars: tuple[str, ...]
    groupings: tuple[tuple[str, ...], ...]


def column_plan(formula: str, columns: pd.Index, require_response: bool = True) -> ColumnPlan:
    """Check ``formula`` against ``columns`` as :func:`~hierreg_formula.formula.build_design`
    does (same errors) and list the columns it uses."""
    parsed = parse_formula(formula)
    if require_response and not parsed.response:
        raise FormulaError(f"the formula {formula!r} has no response (nothing left of '~')")
    if parsed.offsets:
        raise FormulaError(
            f"offset() terms ({', '.join(parsed.offsets)}) are not available out of core yet"
        )
    columns = pd.Index(columns)
    response_vars = tuple(required_columns(parsed.response_exprs, columns, formula))
    missing = [c for c in dict.fromkeys(parsed.grouping_columns) if c not in columns]
    if missing:
        raise DataError(
            f"column(s) {', '.join(map(repr, missing))} used in {formula!r} not found in the "
            f"data (columns: {', '.join(map(str, columns[:20]))}"
            f"{', ...' if len(columns) > 20 else ''})"
        )
    rhs = [parsed.fixed, *(t.expr for t in parsed.random)]
    predictor = {*required_columns(rhs, columns, formula), *parsed.grouping_columns}
    used = tuple(dict.fromkeys(c for c in columns if c in predictor or c in response_vars))
    check_unique(pd.DataFrame(columns=columns), used, formula)
    groupings = tuple(dict.fromkeys(t.factors for t in parsed.random))
    return ColumnPlan(parsed, used, response_vars, groupings)


# ------------------------------------------------------------------- dtypes
def dtype_kind(dtype: Any) -> str:
    """``"bool"``, ``"number"``, ``"text"``, ``"category"`` or the dtype's name."""
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        return "text"
    return str(dtype)


def common_dtypes(seen: Mapping[str, set]) -> dict[str, Any]:
    """One dtype per column from the dtypes seen in the partitions.

    Numbers widen as pandas' ``concat`` does (``int64`` and ``float64`` give
    ``float64``); columns of one kind of text become ``str``; anything else that
    differs between partitions (numbers in one, text in another; categoricals with
    different categories) is a :class:`~hierreg_formula.DataError`.
    """
    out: dict[str, Any] = {}
    for col, dts in seen.items():
        dts = list(dts)
        if len(dts) == 1:
            out[col] = dts[0]
            continue
        kinds = {dtype_kind(d) for d in dts}
        if kinds == {"number"}:
            out[col] = np.result_type(*dts)
        elif kinds == {"text"}:
            out[col] = "str"
        else:
            shown = ", ".join(sorted({str(d) for d in dts}))
            raise DataError(
                f"column {col!r} has different types in different partitions ({shown}); "
                "in memory pandas would combine them into one object column, which is "
                "almost always a data error: give the column one type in every partition "
                "(e.g. ddf[col].astype(...))"
            )
    return out


def strings_as_str(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with pandas' ``string`` columns (``pd.NA`` for missing, Dask's default for
    text) as ``str``, the text dtype formulaic encodes as categorical."""
    casts = {
        c: "str" for c, dt in df.dtypes.items() if isinstance(dt, pd.StringDtype) and dt != "str"
    }
    return df.astype(casts) if casts else df


def normalize_frame(
    part: pd.DataFrame, used: Sequence[str], dtypes: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """The used columns of a partition, with pandas' ``string`` columns as ``str`` (what
    formulaic treats as categorical) and, when given, the common dtypes."""
    df = part[list(used)]
    casts = {}
    for c in used:
        dt = df[c].dtype
        if isinstance(dt, pd.StringDtype) and dt != "str":
            casts[c] = "str"
        elif dtypes is not None and c in dtypes and dt != dtypes[c]:
            casts[c] = dtypes[c]
    return df.astype(casts) if casts else df


def missing_rows(df: pd.DataFrame) -> tuple[np.ndarray, dict[str, int]]:
    """Row mask of missing values and the count per column that has any."""
    na = df.isna()
    counts = na.sum(axis=0)
    return na.any(axis=1).to_numpy(), {c: int(counts[c]) for c in df.columns if counts[c]}


# ---------------------------------------------------------- formulaic specs
def _formulaic_specs(spec: DesignSpec) -> list[tuple[str, Any]]:
    out = [(spec.parsed.fixed, spec.fixed_spec)]
    out += [(rs.expr, rs.spec) for rs in spec.random]
    return [(expr, s) for expr, s in out if s is not None]


def check_stateless(spec: DesignSpec) -> None:
    """Raise for stateful transforms (``center(x)``, ``scale(x)``, ``bs(x)``, ...): their
    state is learned from all rows, which an out-of-core fit cannot do in formulaic."""
    for expr, s in _formulaic_specs(spec):
        if s.transform_state:
            names = ", ".join(map(repr, s.transform_state))
            raise FormulaError(
                f"{names} in {expr!r} learns its state (a mean, knots, ...) from the data; "
                "out of core that needs a pass formulaic cannot make: compute the column "
                "before the fit (e.g. ddf.assign(xc=ddf.x - ddf.x.mean()))"
            )


def categorical_columns(spec: DesignSpec, dtypes: Mapping[str, Any]) -> list[str]:
    """Data columns of categorical factors of the expressions whose levels must be
    discovered (all but categoricals with known categories)."""
    cols: dict[str, None] = {}
    for expr, s in _formulaic_specs(spec):
        for factor, (kind, _) in s.encoder_state.items():
            if kind is not Factor.Kind.CATEGORICAL:
                continue
            names = [c for c in expression_names(factor)[0] if c in dtypes]
            if len(names) != 1:
                raise FormulaError(
                    f"the categorical factor {factor!r} of {expr!r} is built from "
                    f"{len(names)} columns; out of core a categorical factor must come from "
                    "one column (compute it as a column first)"
                )
            if not isinstance(dtypes[names[0]], pd.CategoricalDtype):
                cols[names[0]] = None
    return list(cols)


def level_frame(sample: pd.DataFrame, values: Mapping[str, pd.Series]) -> pd.DataFrame:
    """``sample``'s columns with every value of ``values[col]`` present in its column
    (cycled to a common length; the other columns repeat the sample's rows)."""
    n = max([len(sample), *(len(v) for v in values.values())])
    frame = sample.iloc[np.arange(n) % len(sample)].reset_index(drop=True)
    for col, vals in values.items():
        vals = pd.Series(vals).reset_index(drop=True)
        frame[col] = vals.iloc[np.arange(n) % len(vals)].to_numpy()
        frame[col] = frame[col].astype(vals.dtype)
    return frame


class StubGrouping(Grouping):
    """A grouping that codes every row 0 (for passes that need only the columns)."""

    def codes(self, data: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(data), dtype=np.int64)

    def unseen_labels(self, data: pd.DataFrame, codes: np.ndarray) -> list[Any]:
        return []


def columns_only(spec: DesignSpec) -> DesignSpec:
    """The recipe with its groupings stubbed: rebuilds ``X``, ``y`` and the term columns
    without looking up levels."""
    random = [
        replace(
            rs,
            grouping=StubGrouping(
                rs.grouping.name,
                rs.grouping.factors,
                rs.grouping.factor_levels,
                rs.grouping.keys,
                rs.grouping.levels,
            ),
        )
        for rs in spec.random
    ]
    return replace(spec, random=random)


def groupings_from_combos(combos: Mapping[tuple[str, ...], pd.DataFrame]) -> dict:
    """One :class:`~hierreg_formula.formula.Grouping` per grouping factor from the distinct
    combinations of its columns (the same levels as from all rows)."""
    return {
        factors: Grouping.fit(frame.reset_index(drop=True), factors)
        for factors, frame in combos.items()
    }


def check_levels(groupings: Mapping[tuple[str, ...], Grouping], n: int) -> None:
    """A grouping factor needs at least 2 levels (the in-memory check, same message)."""
    for grouping in groupings.values():
        if grouping.levels.size < 2:
            level = grouping.levels.tolist()[0] if grouping.levels.size else None
            raise DataError(
                f"the grouping factor {grouping.name!r} has a single level ({level!r}) in the "
                f"{n} rows used: a random effect needs at least 2 levels (lme4: 'grouping "
                "factors must have > 1 sampled level'); drop the term or use it as a fixed effect"
            )


def final_spec(spec: DesignSpec, groupings: Mapping[tuple[str, ...], Grouping]) -> DesignSpec:
    """The recipe with the groupings of all rows."""
    random = [replace(rs, grouping=groupings[tuple(rs.grouping.factors)]) for rs in spec.random]
    return replace(spec, random=random)
