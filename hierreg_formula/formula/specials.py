"""The special calls of lme4 formulas: ``cbind(s, f)`` responses and ``offset(x)`` terms.

formulaic reads ``offset(np.log(e))`` or ``cbind(s, n - s)`` as one Python
factor.  :func:`call_arguments` recognises such a factor as a call of a given
name and returns its arguments as formulaic expressions (a column name as it
is, Python code in braces), so the parser can take them out of the formula and
the design layer can evaluate them with formulaic like any other expression.
Names in backticks (`` `a b` ``) are kept as formulaic spells them.

Example
-------
>>> from formulaic.parser.types import Factor
>>> call_arguments(Factor("cbind(s, n - s)", eval_method="python"), "cbind")
['s', '{n - s}']
>>> call_arguments(Factor("offset(np.log(`e f`))", eval_method="python"), "offset")
['{np.log(`e f`)}']
>>> call_arguments(Factor("np.log(e)", eval_method="python"), "offset") is None
True
"""

from __future__ import annotations

import ast
import re

from formulaic.parser.types import Factor

from ..exceptions import FormulaError

_BACKTICKED = re.compile(r"`[^`]*`")
_PLACEHOLDER = "__hierreg_quoted_{}__"


def call_arguments(factor: Factor, name: str) -> list[str] | None:
    """The arguments of ``factor`` if it is a call ``name(...)``, else ``None``.

    Parameters
    ----------
    factor:
        A formulaic factor (only Python factors can be calls).
    name:
        The function name, e.g. ``"offset"``.

    Returns
    -------
    list of str or None
        One formulaic expression per positional argument: a plain or
        backticked column name as it is, anything else as ``{python code}``.

    Raises
    ------
    FormulaError
        A call of ``name`` with keyword or ``*`` arguments.
    """
    if factor.eval_method is not Factor.EvalMethod.PYTHON:
        return None
    quoted: dict[str, str] = {}

    def hide(match: re.Match[str]) -> str:
        key = _PLACEHOLDER.format(len(quoted))
        quoted[key] = match.group(0)
        return key

    code = _BACKTICKED.sub(hide, factor.expr)
    try:
        call = ast.parse(code, mode="eval").body
    except SyntaxError:
        return None  # formulaic reports malformed code when it evaluates it
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
        return None
    if call.func.id != name:
        return None
    if call.keywords or any(isinstance(a, ast.Starred) for a in call.args):
        raise FormulaError(
            f"{factor.expr}: {name}() takes plain positional arguments, no keywords or `*`"
        )
    out = []
    for arg in call.args:
        if isinstance(arg, ast.Name):
            out.append(quoted.get(arg.id, arg.id))
            continue
        src = ast.get_source_segment(code, arg) or ""
        for key, text in quoted.items():
            src = src.replace(key, text)
        out.append(f"{{{src}}}")
    return out


def _parse(expr: str) -> ast.expr | None:
    try:
        return ast.parse(_BACKTICKED.sub("_", expr), mode="eval").body
    except SyntaxError:
        return None


def uses_call(factor: Factor, name: str) -> bool:
    """Whether ``factor`` calls ``name(...)`` anywhere (``np.log(offset(x))`` too).

    >>> uses_call(Factor("np.log(cbind(s, f))", eval_method="python"), "cbind")
    True
    """
    if factor.eval_method is not Factor.EvalMethod.PYTHON:
        return False
    tree = _parse(factor.expr)
    return tree is not None and any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name
        for n in ast.walk(tree)
    )
