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

from ..exceptions import DataError, FormulaError, MissingDataWarning
from .blocks import DesignBlocks, RandomBlock
from .columns import check_grouping_labels, check_not_all_missing, check_unique, normalize_columns
from .grouping import Grouping
from .materialize import binomial_values, materialize, offset_values, response_values
from .parser import ParsedFormula, parse_formula
from .variables import required_columns


def _as_frame(data: pd.DataFrame | Mapping[str, Any]) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    try:
        return pd.DataFrame(data)
    except (ValueError, TypeError) as err:
        raise DataError(f"data must be a pandas DataFrame or a mapping of columns: {err}") from err


def _nan_columns(df: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, dict[str, int]]:
    """Row mask of missing values in ``cols`` and the count per column that has any."""
    # column by column: selecting ``df[cols]`` copies the frame (a millisecond per fit)
    mask = np.zeros(len(df), dtype=bool)
    counts: dict[str, int] = {}
    for c in dict.fromkeys(cols):
        na = df[c].isna()
        na = (na.any(axis=1) if na.ndim == 2 else na).to_numpy()  # duplicated names: a frame
        if na.any():
            counts[c] = int(na.sum())
            mask |= na
    return mask, {c: counts[c] for c in cols if c in counts}


def _offset_rhs(parsed: ParsedFormula) -> list[str]:
    return [f"0 + {o}" for o in parsed.offsets]


def _outcome(parsed: ParsedFormula, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    """The response and, for ``cbind(s, f)``, the trials."""
    if parsed.binomial is not None:
        return binomial_values(parsed.binomial, df)
    return response_values(parsed.response, df), None


def _prepare(df: pd.DataFrame, parsed: ParsedFormula, used: list[str]) -> pd.DataFrame:
    """Used columns in the dtypes formulaic and the core expect (no missing values left)."""
    df = normalize_columns(df, used, parsed.grouping_columns)
    check_grouping_labels(df, parsed.grouping_columns)
    return df


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
        Data columns used by the response (both counts of ``cbind``) and by the
        right-hand side (offsets included).
    offset_specs:
        formulaic ``ModelSpec`` of each ``offset()`` expression.

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
    offset_specs: tuple[Any, ...] = ()

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
            Also build ``y`` (and ``trials`` for a ``cbind`` response).

        Returns
        -------
        DesignBlocks
            Same ``x_names``, block names and levels as at fit time, and the
            ``offset`` when the formula has one (prediction needs it).  Rows with a
            grouping level not seen in fitting get code ``-1``, and the labels are
            listed per grouping factor in ``unseen``.

        Raises
        ------
        DataError
            A used column is absent, duplicated or has missing values (prediction
            never drops rows silently), a categorical column has a category not
            seen in fitting, a grouping column holds labels of another type than
            in fitting (none matching), or a transform gives non-finite values.
        """
        df = _as_frame(data)
        needed = list(self.predictor_vars) + (list(self.response_vars) if response else [])
        needed = list(dict.fromkeys(needed))
        _check_columns(df, needed, self.parsed.formula)
        check_unique(df, needed, self.parsed.formula)
        _, nan_counts = _nan_columns(df, needed)
        if nan_counts:
            counts = ", ".join(f"{c!r}: {k}" for c, k in nan_counts.items())
            raise DataError(
                f"missing values in the new data ({counts} rows); fill or drop those rows first"
            )
        df = _prepare(df, self.parsed, needed)
        X, names, _ = materialize(self.parsed.fixed, df, self.fixed_spec)
        if names != self.x_names:
            raise DataError(
                f"the new data give fixed-effects columns {names}, expected {self.x_names}"
            )
        blocks, unseen = [], {}
        built: dict[str, np.ndarray] = {}
        for rs in self.random:
            if rs.expr not in built:
                built[rs.expr] = materialize(rs.expr, df, rs.spec, f"random {rs.expr!r}")[0]
            codes = rs.grouping.codes(df)
            labels = rs.grouping.unseen_labels(df, codes)
            if labels:
                unseen[rs.grouping.name] = labels
            blocks.append(
                RandomBlock(rs.grouping.name, codes, rs.grouping.levels, built[rs.expr], rs.names)
            )
        offset, _ = offset_values(self.parsed.offsets, df, self.offset_specs)
        y = trials = None
        if response and self.parsed.response:
            y, trials = _outcome(self.parsed, df)
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
            offset=offset,
            trials=trials,
        )


def _check_columns(df: pd.DataFrame, needed: list[str], formula: str) -> None:
    missing = [c for c in dict.fromkeys(needed) if c not in df.columns]
    if missing:
        raise DataError(
            f"column(s) {', '.join(map(repr, missing))} used in {formula!r} not found in the "
            f"data (columns: {', '.join(map(str, df.columns[:20]))}"
            f"{', ...' if len(df.columns) > 20 else ''})"
        )


def _numeric_column(values: pd.Series, name: str) -> np.ndarray:
    """A used non-formula column (weights, offset) as finite floats."""
    if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
        raise DataError(f"the column {name!r} must be numeric, got dtype {values.dtype}")
    out = values.to_numpy(dtype=np.float64)
    if not np.isfinite(out).all():
        raise DataError(f"the column {name!r} has non-finite values (inf)")
    return out


def _single_level(grouping: Grouping, n: int) -> None:
    if grouping.levels.size < 2:
        level = grouping.levels.tolist()[0] if grouping.levels.size else None
        raise DataError(
            f"the grouping factor {grouping.name!r} has a single level ({level!r}) in the "
            f"{n} rows used: a random effect needs at least 2 levels (lme4: 'grouping "
            "factors must have > 1 sampled level'); drop the term or use it as a fixed effect"
        )


def build_design(
    formula: str,
    data: pd.DataFrame | Mapping[str, Any],
    missing: str = "drop",
    require_response: bool = True,
    extra: Sequence[str] = (),
) -> DesignBlocks:
    """Parse ``formula`` and materialize its design blocks on ``data``.

    Parameters
    ----------
    formula:
        lme4-style formula, e.g. ``"y ~ x + (x | g)"``, with optional
        ``offset(expr)`` terms and a binomial response ``cbind(s, f)``.
    data:
        DataFrame (or mapping of columns).
    missing:
        ``"drop"``: drop rows with a missing value (NaN, None, ``pd.NA``) in any
        used column (before formulaic sees them) and warn
        (:class:`MissingDataWarning`) with their count per column; ``"raise"``:
        raise :class:`DataError`.
    require_response:
        Raise :class:`FormulaError` when the formula has no response.
    extra:
        Other numeric columns the model uses (e.g. prior weights named by
        ``weights="w"``): rows missing them are dropped with the others, and their
        values on the used rows are returned in ``blocks.extra``.

    Returns
    -------
    DesignBlocks
        ``y`` (float; a bool response becomes 0/1, ``cbind(s, f)`` the proportion
        ``s / (s + f)`` with ``trials = s + f``), ``X`` (float, C-contiguous),
        ``offset`` (sum of the ``offset()`` terms, or ``None``), one
        :class:`RandomBlock` per expanded random term, the used row labels, and
        ``spec`` (a :class:`DesignSpec`) to rebuild them on new data.

    Raises
    ------
    FormulaError
        Malformed formula, unsupported construct, unknown function, or no
        response when ``require_response``.
    DataError
        Empty data, a used column not in the data or duplicated, a column with
        only missing values, a non-numeric response, bad binomial counts,
        missing values with ``missing="raise"``, no row left after dropping,
        non-finite values (after a transform, in an offset, infinite grouping
        labels), or a grouping factor with a single level.

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
    response_vars = tuple(required_columns(parsed.response_exprs, df.columns, formula))
    _check_columns(df, parsed.grouping_columns, formula)
    rhs = [parsed.fixed, *(t.expr for t in parsed.random), *_offset_rhs(parsed)]
    predictor_set = {*required_columns(rhs, df.columns, formula), *parsed.grouping_columns}
    predictor = tuple(dict.fromkeys(c for c in df.columns if c in predictor_set))
    _check_columns(df, list(extra), formula)
    used = list(
        dict.fromkeys(
            c for c in df.columns if c in predictor_set or c in response_vars or c in set(extra)
        )
    )
    check_unique(df, used, formula)
    bad, nan_counts = _nan_columns(df, used)
    check_not_all_missing(nan_counts, n_all)
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
    df = _prepare(df, parsed, used)
    y, trials = _outcome(parsed, df) if parsed.response else (None, None)
    X, x_names, fixed_spec = materialize(parsed.fixed, df)
    offset, offset_specs = offset_values(parsed.offsets, df)
    extras = {c: _numeric_column(df[c], c) for c in extra}
    blocks, rspecs = [], []
    # a random term with the fixed part's columns (e.g. y ~ x + (x | g)) reuses them
    cache: dict[str, tuple[np.ndarray, list[str], Any]] = {parsed.fixed: (X, x_names, fixed_spec)}
    groupings: dict[tuple[str, ...], tuple[Grouping, np.ndarray]] = {}
    for t in parsed.random:
        if t.expr not in cache:
            cache[t.expr] = materialize(t.expr, df, what=f"random {t.expr!r}")
        Xz, names, spec = cache[t.expr]
        if t.factors not in groupings:
            groupings[t.factors] = Grouping.fit_codes(df, t.factors)
            _single_level(groupings[t.factors][0], len(df))
        grouping, codes = groupings[t.factors]
        blocks.append(RandomBlock(grouping.name, codes, grouping.levels, Xz, names))
        rspecs.append(RandomSpec(t.expr, spec, names, grouping))
    spec = DesignSpec(
        parsed, fixed_spec, list(x_names), rspecs, response_vars, predictor, offset_specs
    )
    return DesignBlocks(
        y=y,
        y_name=parsed.response or "",
        X=X,
        x_names=list(x_names),
        random=blocks,
        index=df.index,
        n_dropped=n_bad,
        spec=spec,
        offset=offset,
        trials=trials,
        extra=extras,
    )
