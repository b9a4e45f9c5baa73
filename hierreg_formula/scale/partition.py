"""What each pass does to one partition (plain pandas in, mergeable summaries out).

Pass 0 (only with categorical columns of unknown levels): their distinct values.
Pass 1: missing values, dtypes, the moments of ``X``, ``y`` and every term's
columns (:class:`~hierreg_formula.scale.moments.ColumnMoments`) and the distinct
combinations of every grouping factor.  An extra pass computes the ``R`` factor
of the normalised ``X`` when the rank check needs it.  Pass 2: the
:class:`~hierreg_formula.scale.stats.SufficientStats` of the conditioned arrays.

Each summary adds with ``+``, so any reduction order gives the same result (up to
the rounding of the sums).  Nothing here imports Dask: the functions run on any
pandas frame, which is also how the tests call them.

Example
-------
>>> import numpy as np, pandas as pd
>>> from hierreg_formula.formula import build_design
>>> df = pd.DataFrame({"y": [1.0, 2.0, np.nan, 4.0], "x": [0.0, 1.0, 2.0, 3.0],
...                    "g": ["a", "b", "a", "b"]})
>>> spec = build_design("y ~ x + (1 | g)", df.dropna()).spec
>>> one = pass_one(df, PassOnePlan.make(("g", "x", "y"), spec, df.dropna()))
>>> one.n_all, one.n_bad, one.nan_counts, one.x.n
(4, 1, {'y': 1}, 3)
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ..core.conditioning import Conditioning
from ..core.structure import TermArrays
from ..exceptions import DataError
from ..formula import DesignSpec
from .design import columns_only, dtype_kind, missing_rows, normalize_frame
from .moments import ColumnMoments, RankNormalization, stack_r
from .stats import SufficientStats


def _add_counts(a: Mapping[Any, Any], b: Mapping[Any, Any]) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


def _add_sets(a: Mapping[str, set], b: Mapping[str, set]) -> dict[str, set]:
    out = {k: set(v) for k, v in a.items()}
    for k, v in b.items():
        out.setdefault(k, set()).update(v)
    return out


def _distinct(a: pd.DataFrame | None, b: pd.DataFrame | None) -> pd.DataFrame | None:
    if a is None:
        return b
    if b is None:
        return a
    return pd.concat([a, b], ignore_index=True).drop_duplicates(ignore_index=True)


def _no_offset(blocks: Any) -> None:
    if getattr(blocks, "offset", None) is not None:
        raise DataError("an offset is not supported by the out-of-core fit yet")


def _dropped(part: pd.DataFrame, used: tuple[str, ...], dtypes: Mapping[str, Any] | None):
    df = normalize_frame(part, used, dtypes)
    bad, counts = missing_rows(df)
    n_bad = int(bad.sum())
    return (df.loc[~bad] if n_bad else df), len(df), n_bad, counts


# -------------------------------------------------------------------- pass 0
@dataclass(frozen=True)
class LevelValues:
    """Distinct values of some columns (rows with a missing used value excluded)."""

    values: dict[str, pd.Series] = field(default_factory=dict)

    def __add__(self, other: LevelValues) -> LevelValues:
        out = dict(self.values)
        for col, v in other.values.items():
            out[col] = (
                v
                if col not in out
                else pd.concat([out[col], v], ignore_index=True).drop_duplicates(ignore_index=True)
            )
        return LevelValues(out)


def pass_zero(part: pd.DataFrame, used: tuple[str, ...], columns: tuple[str, ...]) -> LevelValues:
    """The distinct values of ``columns`` in the rows without missing values."""
    df, _, _, _ = _dropped(part, used, None)
    return LevelValues({c: df[c].drop_duplicates().reset_index(drop=True) for c in columns})


# -------------------------------------------------------------------- pass 1
@dataclass(frozen=True)
class PassOnePlan:
    """What pass 1 needs: the used columns, the recipe and the kind of each column
    (``"number"``, ``"text"``, ... as :func:`~.design.dtype_kind`) it was built on."""

    used: tuple[str, ...]
    spec: DesignSpec
    kinds: dict[str, str] = field(default_factory=dict)
    shifts: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def make(cls, used: tuple[str, ...], spec: DesignSpec, sample: pd.DataFrame) -> PassOnePlan:
        """The plan with the recipe's groupings stubbed (pass 1 needs no levels), the
        column kinds of ``sample`` and, as the moments' shifts, the first row of its
        design (``"X"``, ``"y"`` and each random expression)."""
        stub = columns_only(spec)
        blocks = stub.rebuild(sample.iloc[:1], response=True)
        shifts = {"X": blocks.X[0], "y": blocks.y[:1]}
        for rs, blk in zip(stub.random, blocks.random, strict=True):
            shifts.setdefault(rs.expr, blk.X[0])
        kinds = {c: dtype_kind(sample[c].dtype) for c in used}
        return cls(used, stub, kinds, shifts)


@dataclass(frozen=True, eq=False)
class PassOne:
    """Pass-1 summary of some partitions (see the module docstring).

    ``x``, ``y`` and ``z`` (per random expression) are ``None`` until a partition with
    rows after dropping missing values has been seen.  ``binary``: every response
    value is 0 or 1.  ``combos``: distinct combinations of each grouping factor.
    ``kinds_conflict``: a partition had a column of another kind than the recipe's
    (numbers against text...), so its moments were not computed.
    """

    n_all: int = 0
    n_bad: int = 0
    nan_counts: dict[str, int] = field(default_factory=dict)
    dtypes: dict[str, set] = field(default_factory=dict)
    x: ColumnMoments | None = None
    y: ColumnMoments | None = None
    z: dict[str, ColumnMoments] = field(default_factory=dict)
    binary: bool = True
    combos: dict[tuple[str, ...], pd.DataFrame] = field(default_factory=dict)
    kinds_conflict: bool = False
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Rows left after dropping missing values."""
        return self.n_all - self.n_bad

    def __add__(self, other: PassOne) -> PassOne:
        def add(a, b):
            return b if a is None else (a if b is None else a + b)

        z = dict(self.z)
        for k, v in other.z.items():
            z[k] = add(z.get(k), v)
        combos = dict(self.combos)
        for k, v in other.combos.items():
            combos[k] = _distinct(combos.get(k), v)
        return PassOne(
            n_all=self.n_all + other.n_all,
            n_bad=self.n_bad + other.n_bad,
            nan_counts=_add_counts(self.nan_counts, other.nan_counts),
            dtypes=_add_sets(self.dtypes, other.dtypes),
            x=add(self.x, other.x),
            y=add(self.y, other.y),
            z=z,
            binary=self.binary and other.binary,
            combos=combos,
            kinds_conflict=self.kinds_conflict or other.kinds_conflict,
            seconds=_add_counts(self.seconds, other.seconds),
        )


def pass_one(part: pd.DataFrame, plan: PassOnePlan) -> PassOne:
    """Pass 1 on one partition."""
    t0 = time.perf_counter()
    df, n_all, n_bad, counts = _dropped(part, plan.used, None)
    base = dict(n_all=n_all, n_bad=n_bad, nan_counts=counts)
    if len(df) == 0:  # no dtype either: an all-missing column may have any
        return PassOne(**base)
    spec = plan.spec
    base["dtypes"] = {c: {df[c].dtype} for c in plan.used}
    if any(dtype_kind(df[c].dtype) != k for c, k in plan.kinds.items()):
        return PassOne(**base, kinds_conflict=True)
    combos = {
        factors: df[list(factors)].drop_duplicates(ignore_index=True)
        for factors in dict.fromkeys(tuple(rs.grouping.factors) for rs in spec.random)
    }
    t1 = time.perf_counter()
    blocks = spec.rebuild(df, response=True)
    _no_offset(blocks)
    t2 = time.perf_counter()
    y = blocks.y
    sh = plan.shifts
    z = {}
    for rs, blk in zip(spec.random, blocks.random, strict=True):
        if rs.expr not in z:
            z[rs.expr] = ColumnMoments.of(blk.X, shift=sh.get(rs.expr))
    one = PassOne(
        **base,
        x=ColumnMoments.of(blocks.X, shift=sh.get("X")),
        y=ColumnMoments.of(y, shift=sh.get("y")),
        z=z,
        binary=bool(np.isin(y, (0.0, 1.0)).all()),
        combos=combos,
    )
    t3 = time.perf_counter()
    return replace(one, seconds={"prepare": t1 - t0, "design": t2 - t1, "reduce": t3 - t2})


# ------------------------------------------------------------ rank pass
@dataclass(frozen=True)
class RankPlan:
    """The rank check's extra pass: the ``R`` factor of the normalised ``X``."""

    used: tuple[str, ...]
    dtypes: dict[str, Any]
    spec: DesignSpec  # with stubbed groupings (:func:`~.design.columns_only`)
    norm: RankNormalization


@dataclass(frozen=True, eq=False)
class RFactor:
    """The triangular factor of the stacked rows seen so far (``None``: no rows)."""

    R: np.ndarray | None = None

    def __add__(self, other: RFactor) -> RFactor:
        return RFactor(stack_r(self.R, other.R))


def pass_rank(part: pd.DataFrame, plan: RankPlan) -> RFactor:
    """``R`` of the normalised ``X`` of one partition."""
    df, _, _, _ = _dropped(part, plan.used, plan.dtypes)
    if len(df) == 0:
        return RFactor()
    X = plan.spec.rebuild(df, response=False).X
    return RFactor(np.linalg.qr(plan.norm.apply(X), mode="r"))


# -------------------------------------------------------------------- pass 2
@dataclass(frozen=True)
class PassTwoPlan:
    """What pass 2 needs to turn a partition into sufficient statistics.

    Attributes
    ----------
    used, dtypes:
        Used columns and their common dtypes.
    spec:
        The final recipe (all levels, terms in lme4's order).
    keep:
        Kept fixed-effects columns (``None``: all).
    shared:
        Per term, whether its columns are the fixed-effects matrix itself.
    cond:
        The conditioning (``None``: statistics of the raw arrays).
    """

    used: tuple[str, ...]
    dtypes: dict[str, Any]
    spec: DesignSpec
    keep: np.ndarray | None
    shared: tuple[bool, ...]
    cond: Conditioning | None


def partition_arrays(
    part: pd.DataFrame, plan: PassTwoPlan
) -> tuple[np.ndarray, np.ndarray, list[TermArrays]] | None:
    """``X``, ``y`` and the terms of one partition as the in-memory fit builds them
    (``None`` for a partition without rows)."""
    df, _, _, _ = _dropped(part, plan.used, plan.dtypes)
    if len(df) == 0:
        return None
    blocks = plan.spec.rebuild(df, response=True)
    _no_offset(blocks)
    X = blocks.X if plan.keep is None else np.ascontiguousarray(blocks.X[:, plan.keep])
    terms = []
    for blk, shared in zip(blocks.random, plan.shared, strict=True):
        if len(blk.codes) and blk.codes.min() < 0:  # pragma: no cover - levels from pass 1
            raise DataError(
                f"a level of {blk.group!r} was not seen in the first pass (did the data "
                "change between the passes?)"
            )
        terms.append(TermArrays(blk.codes, blk.nlevels, X if shared else blk.X))
    return X, blocks.y, terms


@dataclass(frozen=True, eq=False)
class Timed:
    """A mergeable summary with the seconds spent per stage (summed over partitions)."""

    value: Any
    seconds: dict[str, float] = field(default_factory=dict)

    def __add__(self, other: Timed) -> Timed:
        return Timed(self.value + other.value, _add_counts(self.seconds, other.seconds))


def pass_two(part: pd.DataFrame, plan: PassTwoPlan) -> Timed:
    """The sufficient statistics of one partition (with the seconds per stage)."""
    t0 = time.perf_counter()
    arrays = partition_arrays(part, plan)
    t1 = time.perf_counter()
    if arrays is None:
        p = len(plan.spec.x_names) if plan.keep is None else len(plan.keep)
        stats = SufficientStats.empty(p, [len(rs.names) for rs in plan.spec.random])
    else:
        X, y, terms = arrays
        if plan.cond is not None:
            X, y, terms = plan.cond.apply(X, y, terms)
        stats = SufficientStats.from_arrays(X, y, terms)
    return Timed(stats, {"design": t1 - t0, "reduce": time.perf_counter() - t1})
