"""The data columns and functions a formulaic expression uses.

formulaic's ``Factor.required_variables`` gives the data variables of most
factors, but returns nothing for a stateful transform such as ``center(x)`` or
``bs(x, df=3)``.  :func:`expression_names` therefore also reads each Python
factor with formulaic's ``get_required_variables`` in an empty namespace (where
the transform is an ordinary call) and keeps the names that are not formulaic
transforms; the union of both is the set of columns to check for missing
values, and the remaining calls are the functions the expression needs.

Example
-------
>>> expression_names("1 + center(x) + np.log(z) + C(k):w")
(['x', 'z', 'k', 'w'], [])
>>> expression_names("foo(x) + abs(w)")
(['x', 'w'], ['foo'])
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Iterable

import pandas as pd
from formulaic import Formula
from formulaic.parser.types import Factor
from formulaic.transforms import TRANSFORMS
from formulaic.utils.variables import Variable, get_required_variables

from ..exceptions import DataError, FormulaError

_BUILTINS = set(dir(builtins))


def _factor_variables(factor: Factor) -> list[Variable]:
    if factor.eval_method is Factor.EvalMethod.LOOKUP:
        return [Variable(factor.expr, roles=["value"])]
    if factor.eval_method is not Factor.EvalMethod.PYTHON:
        return []
    found = list(factor.required_variables)  # formulaic's own (handles Q("a b"))
    try:  # the transforms as plain calls: sees the arguments of center(x), bs(x)
        found += [v for v in get_required_variables(factor.expr, {}) if v.root not in TRANSFORMS]
    except SyntaxError:  # formulaic reports malformed code when it evaluates it
        pass
    return found


@functools.lru_cache(maxsize=256)
def _expression_names(expr: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    columns, calls = _scan(expr)
    return tuple(columns), tuple(calls)


def expression_names(expr: str) -> tuple[list[str], list[str]]:
    """Names read by a formulaic expression: ``(columns, functions)``.

    Parameters
    ----------
    expr:
        A formulaic (one-sided) expression, e.g. ``"1 + x + np.log(z)"``.

    Returns
    -------
    columns:
        Names used as values, which must be data columns, in order of first
        use; for a method call such as ``x.fillna(0)`` the column ``x``.
    functions:
        Called names that are neither formulaic transforms (``C``, ``center``,
        ``log``, ``np``, ...) nor Python built-ins: unknown unless the data has
        such a column.

    Examples
    --------
    >>> expression_names("x.fillna(0) + Q('a b') + I(x**2) + abs(id)")
    (['x', 'a b', 'id'], [])
    """
    columns, calls = _expression_names(expr)  # depends on the string only: cached
    return list(columns), list(calls)


def _scan(expr: str) -> tuple[list[str], list[str]]:
    columns: dict[str, None] = {}
    calls: dict[str, None] = {}
    for term in Formula(expr):
        for factor in term.factors:
            for var in _factor_variables(factor):
                if Variable.Role.VALUE in var.roles:
                    columns[var.root] = None
                elif var.root in _BUILTINS:
                    continue
                elif "." in var:  # a method of a column: x.fillna(0)
                    columns[var.root] = None
                else:
                    calls[var.root] = None
    return list(columns), [c for c in calls if c not in columns]


def required_columns(exprs: Iterable[str], columns: pd.Index, formula: str) -> list[str]:
    """The data columns used by ``exprs``, in the data's column order.

    Raises
    ------
    DataError
        When a name used as a value is not a column of the data.
    FormulaError
        When a called function is unknown (not a transform, ``np``, a built-in
        or a column).

    Examples
    --------
    >>> required_columns(["y", "1 + np.log(x)"], pd.Index(["x", "y", "z"]), "y ~ np.log(x)")
    ['x', 'y']
    """
    names: dict[str, None] = {}
    calls: dict[str, None] = {}
    for expr in exprs:
        vals, funcs = expression_names(expr)
        names.update(dict.fromkeys(vals))
        calls.update(dict.fromkeys(funcs))
    present = set(columns)
    missing = [c for c in names if c not in present]
    if missing:
        shown = ", ".join(map(str, list(columns)[:20])) + (", ..." if len(columns) > 20 else "")
        raise DataError(
            f"column(s) {', '.join(map(repr, missing))} used in {formula!r} not found in the "
            f"data (columns: {shown})"
        )
    unknown = [c for c in calls if c not in present]
    if unknown:
        raise FormulaError(
            f"unknown function(s) {', '.join(map(repr, unknown))} in {formula!r}: formulas can "
            "call formulaic's transforms (C, center, scale, bs, log, ...), numpy as `np` and "
            "Python built-ins"
        )
    return [c for c in columns if c in names]
