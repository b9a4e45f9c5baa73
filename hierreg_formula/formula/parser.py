"""lme4-style formulas -> response, fixed part, random terms, offsets.

:func:`parse_formula` reads a formula with the formulaic extension of
:mod:`.syntax` and splits the right-hand side into the fixed part and the random
terms, expanding ``(a || g)`` into one term per column and a grouping ``a/b``
into ``a`` and ``a:b`` (formulaic's own ``/`` operator does this; a grouping
``a + b`` likewise gives one term per grouping, ``(x | a) + (x | b)``, and
``a*b`` gives ``a``, ``b`` and ``a:b``, as lme4 >= 1.1-36 does through the
reformulas package).  The pieces are formulaic source that parses to the same
factors.  ``offset(expr)`` terms leave the fixed part for
:attr:`ParsedFormula.offsets`, and a binomial response ``cbind(successes,
failures)`` is split into :attr:`ParsedFormula.binomial` (:mod:`.specials`).

A random term that repeats another one's column on the same grouping factor
(``(1 | g) + (1 | g)``, ``(x || g) + (1 | g)``; ``a:b`` is ``b:a``), or that uses
the response, is a FormulaError; terms with disjoint columns on one factor stay
legal (``(1 | g) + (0 + x | g)`` is ``(x || g)``).

Example
-------
>>> pf = parse_formula("y ~ x + (x | g) + (1 | a/b)")
>>> pf.fixed
'1 + x'
>>> [(t.expr, t.group) for t in pf.random]
[('1 + x', 'g'), ('1', 'a'), ('1', 'a:b')]
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from formulaic.errors import FormulaicError, FormulaParsingError, FormulaSyntaxError
from formulaic.parser.types import Factor, OrderedSet, Term

from ..exceptions import FormulaError
from .specials import call_arguments, uses_call
from .syntax import (
    GROUPING_FORMS,
    LmeFormulaParser,
    RandomTermNode,
    has_intercept,
    is_random,
    term_to_str,
    terms_to_str,
)
from .variables import expression_names

__all__ = ["LmeFormulaParser", "ParsedFormula", "RandomTerm", "parse_formula"]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class RandomTerm:
    """One random-effects term after expansion.

    Attributes
    ----------
    expr:
        formulaic right-hand side of the term's columns (``"1 + x"``, ``"0 + x"``).
    group:
        Name of the grouping factor (``"g"`` or ``"a:b"``; a factor written
        ``b:a`` in a later term gets the spelling of its first appearance).
    factors:
        The grouping columns (``("g",)`` or ``("a", "b")``).
    intercept:
        Whether the term has a random intercept.
    correlated:
        ``False`` when the term came from ``||``.

    Examples
    --------
    >>> parse_formula("y ~ (x | a:b)").random[0]
    RandomTerm(expr='1 + x', group='a:b', factors=('a', 'b'), intercept=True, correlated=True)
    """

    expr: str
    group: str
    factors: tuple[str, ...]
    intercept: bool
    correlated: bool = True


@dataclass(frozen=True)
class ParsedFormula:
    """A parsed lme4-style formula: response, fixed part, random terms, offsets.

    Attributes
    ----------
    formula:
        The formula as given.
    response:
        formulaic expression of the left-hand side (``"y"``, ``"np.log(y)"``,
        ``"cbind(s, f)"``), or ``None`` for a one-sided formula.
    fixed:
        formulaic right-hand side of the fixed part, normalised by formulaic and
        always starting with ``"1"`` or ``"0"`` (``"y ~ x - 1"`` gives ``"0 + x"``),
        without the ``offset()`` terms.
    random:
        The random terms after expanding ``||`` and ``a/b``, in formula order (a
        tuple: parses are cached and shared).
    offsets:
        formulaic expressions of the arguments of the ``offset()`` terms of the
        fixed part (``"y ~ x + offset(np.log(e))"`` gives ``("{np.log(e)}",)``);
        they add up, each with coefficient 1, as in R.
    binomial:
        For a response ``cbind(successes, failures)``, the formulaic expressions
        of the two counts; ``None`` otherwise.

    Examples
    --------
    >>> pf = parse_formula("log(y) ~ x1 * x2 + (1 | g)")
    >>> pf.response, pf.fixed, pf.groups
    ('log(y)', '1 + x1 + x2 + x1:x2', ['g'])
    >>> pf = parse_formula("cbind(s, n - s) ~ x + offset(np.log(e)) + (1 | g)")
    >>> pf.binomial, pf.fixed, pf.offsets
    (('s', '{n - s}'), '1 + x', ('{np.log(e)}',))
    """

    formula: str
    response: str | None
    fixed: str
    random: tuple[RandomTerm, ...]
    offsets: tuple[str, ...] = ()
    binomial: tuple[str, str] | None = None

    @property
    def fixed_formula(self) -> str:
        """The fixed-effects formula in formulaic syntax (without the offsets)."""
        return f"{self.response} ~ {self.fixed}" if self.response else self.fixed

    @property
    def groups(self) -> list[str]:
        """Grouping factor names, without repetition, in formula order."""
        return list(dict.fromkeys(t.group for t in self.random))

    @property
    def grouping_columns(self) -> list[str]:
        """Data columns used as grouping factors, without repetition."""
        return list(dict.fromkeys(c for t in self.random for c in t.factors))

    @property
    def response_exprs(self) -> list[str]:
        """The formulaic expressions the response is computed from (both counts of
        ``cbind``), empty for a one-sided formula."""
        if self.binomial is not None:
            return list(self.binomial)
        return [self.response] if self.response else []


def _has_call(term: Term, name: str) -> bool:
    """Whether a term calls ``name`` anywhere (``offset`` / ``cbind``)."""
    return any(uses_call(f, name) for f in term.factors)


def _groupings(node: RandomTermNode) -> list[Term]:
    """The grouping terms after ``|``: column lookups or their interactions."""
    groups = []
    for g in node.rhs:
        if str(g) == "1":
            raise FormulaError(
                f"random term {node.label} has no grouping variable after `|` (a constant "
                f"`1` is not a grouping factor); {GROUPING_FORMS}"
            )
        for f in g.factors:
            if f.eval_method is not Factor.EvalMethod.LOOKUP:
                raise FormulaError(
                    f"grouping factor {f.expr!r} in {node.label} must be a column name, "
                    f"not an expression; {GROUPING_FORMS} (make a column for "
                    f"{f.expr!r} first)"
                )
        groups.append(g)
    if not groups:
        raise FormulaError(f"random term {node.label} has no grouping variable after `|`")
    return groups


def _expand(node: RandomTermNode) -> list[tuple[RandomTerm, list[tuple[frozenset[str], str]]]]:
    """The expanded terms of a random term, each with its column keys and names."""
    if any(is_random(t) for t in (*node.lhs, *node.rhs)):
        raise FormulaError(f"random terms cannot be nested: {node.label}")
    if not node.lhs:
        raise FormulaError(f"random term {node.label} has no columns")
    for t in node.lhs:
        for name in ("offset", "cbind"):
            if _has_call(t, name):
                raise FormulaError(
                    f"{name}() cannot be used inside a random term ({node.label}); "
                    + (
                        "put offset(...) in the fixed part"
                        if name == "offset"
                        else "cbind(successes, failures) is a response"
                    )
                )
    columns = [
        (frozenset({"1"}) if str(t) == "1" else frozenset(f.expr for f in t.factors), str(t))
        for t in node.lhs
    ]
    out = []
    for g in _groupings(node):
        factors = tuple(f.expr for f in g.factors)
        name = ":".join(factors)
        if node.correlated:
            term = RandomTerm(terms_to_str(node.lhs), name, factors, has_intercept(node.lhs))
            out.append((term, columns))
        else:  # lme4's ||: one term per column
            for t, col in zip(node.lhs, columns, strict=True):
                if str(t) == "1":
                    out.append((RandomTerm("1", name, factors, True, False), [col]))
            for t, col in zip(node.lhs, columns, strict=True):
                if str(t) != "1":
                    expr = f"0 + {term_to_str(t)}"
                    out.append((RandomTerm(expr, name, factors, False, False), [col]))
    return out


def _columns(expr: str) -> list[str]:
    """The data columns an expression reads (none if formulaic cannot read it: the
    design layer reports that with the data at hand)."""
    try:
        return expression_names(expr)[0]
    except (FormulaicError, SyntaxError, ValueError):
        return []


def _random_terms(nodes: list[RandomTermNode], response: list[str], formula: str):
    """Expand the random terms; a FormulaError for a column repeated on one grouping
    factor, or for the response used in a random term.

    Grouping factors are compared as sets of columns (``a:b`` is ``b:a``); a later
    spelling takes the name of the first.
    """
    response_cols = {c for expr in response for c in _columns(expr)}
    names: dict[frozenset[str], tuple[str, tuple[str, ...]]] = {}
    seen: dict[tuple[frozenset[str], frozenset[str]], str] = {}
    out = []
    for node in nodes:
        for term, columns in _expand(node):
            used = set(term.factors) & response_cols
            used |= set(_columns(term.expr)) & response_cols
            if used:
                raise FormulaError(
                    f"the response column {sorted(used)[0]!r} is used in the random term "
                    f"{node.label} of {formula!r}"
                )
            key = frozenset(term.factors)
            group, factors = names.setdefault(key, (term.group, term.factors))
            for col, shown in columns:
                if (key, col) in seen:
                    what = "intercept" if shown == "1" else f"slope `{shown}`"
                    raise FormulaError(
                        f"the random {what} of grouping factor `{group}` appears twice, in "
                        f"{seen[key, col]} and {node.label}: remove one of them (terms on the "
                        "same factor must have disjoint columns, e.g. (1 | g) + (0 + x | g))"
                    )
                seen[key, col] = node.label
            out.append(RandomTerm(term.expr, group, factors, term.intercept, term.correlated))
    return tuple(out)


def _response(lhs_terms: OrderedSet[Term], formula: str):
    """The response expression and, for ``cbind(s, f)``, its two count expressions."""
    if any(is_random(t) for t in lhs_terms):
        raise FormulaError(f"random terms belong on the right of '~' in {formula!r}")
    if any(_has_call(t, "offset") for t in lhs_terms):
        raise FormulaError(f"offset() belongs on the right of '~' in {formula!r}")
    response = " + ".join(term_to_str(t) for t in lhs_terms) or None
    binomial = None
    if any(_has_call(t, "cbind") for t in lhs_terms):
        terms = list(lhs_terms)
        args = None
        if len(terms) == 1 and len(terms[0].factors) == 1:
            args = call_arguments(terms[0].factors[0], "cbind")
        if args is None:
            raise FormulaError(
                f"cbind() must be the whole response, as in 'cbind(successes, failures) ~ x', "
                f"in {formula!r}"
            )
        if len(args) != 2:
            raise FormulaError(
                f"the binomial response {response} needs two columns, cbind(successes, "
                f"failures), got {len(args)}, in {formula!r}"
            )
        binomial = (args[0], args[1])
    return response, binomial


def _fixed_and_offsets(terms: list[Term], formula: str) -> tuple[str, tuple[str, ...]]:
    kept, offsets = [], []
    for t in terms:
        if _has_call(t, "cbind"):
            raise FormulaError(
                f"cbind() is only supported as a binomial response on the left of '~' in "
                f"{formula!r}"
            )
        if not _has_call(t, "offset"):
            kept.append(t)
            continue
        if len(t.factors) > 1:
            raise FormulaError(
                f"an offset cannot be part of an interaction ({term_to_str(t)}) in {formula!r}"
            )
        args = call_arguments(t.factors[0], "offset")
        if args is None:
            raise FormulaError(
                f"offset() must be a term of its own, not inside {t.factors[0].expr!r}; write "
                f"offset(np.log(e)) rather than np.log(offset(e)), in {formula!r}"
            )
        if len(args) != 1:
            raise FormulaError(f"offset() takes one expression, got {t.factors[0].expr!r}")
        offsets.append(args[0])
    return terms_to_str(OrderedSet(kept)), tuple(offsets)


def parse_formula(formula: str) -> ParsedFormula:
    """Parse an lme4-style formula into its response, fixed part and random terms.

    Parses are cached (they depend on the string only).

    Raises
    ------
    FormulaError
        For a malformed formula (the message shows where), ``|`` outside
        parentheses, a random term without a grouping variable, a grouping side
        that is not a column or an interaction of columns, a random-effects column
        repeated on one grouping factor, the response inside a random term, or an
        ``offset()`` / ``cbind()`` out of place.

    Examples
    --------
    >>> parse_formula("y ~ x + (x | g)").random[0].group
    'g'
    >>> parse_formula("y ~ 0 + x + (x || g)").random[1].expr
    '0 + x'
    """
    if not isinstance(formula, str) or not formula.strip():
        raise FormulaError(f"the formula must be a non-empty string, got {formula!r}")
    return _parse_cached(formula)


@functools.lru_cache(maxsize=256)
def _parse_cached(formula: str) -> ParsedFormula:
    return _parse_formula(formula)


def _parse_formula(formula: str) -> ParsedFormula:
    try:
        structured = LmeFormulaParser().get_terms(formula)
    except FormulaError as err:
        raise FormulaError(f"{err} (in formula {formula!r})") from err
    except (FormulaSyntaxError, FormulaParsingError) as err:
        where = _ANSI.sub("", str(err))
        raise FormulaError(f"malformed formula {formula!r}: {where}") from err
    if hasattr(structured, "lhs"):
        lhs_terms, rhs_terms = structured.lhs, structured.rhs
    else:
        lhs_terms, rhs_terms = None, structured.root
    if not isinstance(rhs_terms, (list, tuple, OrderedSet)) or (
        lhs_terms is not None and not isinstance(lhs_terms, (list, tuple, OrderedSet))
    ):
        raise FormulaError(f"unsupported formula structure in {formula!r}")
    response, binomial = _response(lhs_terms, formula) if lhs_terms is not None else (None, None)
    fixed_terms = [t for t in rhs_terms if not isinstance(t, RandomTermNode)]
    if any(is_random(t) for t in fixed_terms):
        raise FormulaError(f"a random term is used inside an interaction in {formula!r}")
    fixed, offsets = _fixed_and_offsets(fixed_terms, formula)
    nodes = [t for t in rhs_terms if isinstance(t, RandomTermNode)]
    response_exprs = list(binomial) if binomial else ([response] if response else [])
    random = _random_terms(nodes, response_exprs, formula)
    return ParsedFormula(formula, response, fixed, random, offsets, binomial)
