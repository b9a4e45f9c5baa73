"""lme4 random-effects syntax as an extension of formulaic's parser.

Formulaic's default parser uses ``|`` to split a formula into parts and rejects
it inside parentheses.  :class:`LmeFormulaParser` keeps formulaic's tokenizer,
AST builder and every other operator, and changes four things:

- ``|`` and ``||`` inside parentheses are operators of low precedence whose
  result is a :class:`RandomTermNode` (a formulaic ``Term`` carrying the terms of
  both sides), so ``x + (1 + x | g)`` is an ordinary sum of terms;
- ``|`` outside parentheses raises a :class:`~hierreg_formula.FormulaError`;
- the implicit intercept is inserted after ``~`` and at the start of every
  parenthesised random term (``(x | g)`` means ``(1 + x | g)``), and no longer
  after every ``|``;
- ``.`` (all other columns) raises a FormulaError (it needs the data).

:func:`parse_formula` then splits the right-hand side into the fixed part and
the random terms, expanding ``(a || g)`` into one term per column and a grouping
``a/b`` into ``a`` and ``a:b`` (formulaic's own ``/`` operator does this; a
grouping ``a + b`` likewise gives one term per grouping, ``(x | a) + (x | b)``).
The pieces are rendered back to formulaic source that parses to the same factors
(names needing it in backticks, Python code in braces).

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
from dataclasses import dataclass, field
from typing import Any

from formulaic.errors import FormulaParsingError, FormulaSyntaxError
from formulaic.parser import DefaultFormulaParser, DefaultOperatorResolver
from formulaic.parser.algos.sanitize_tokens import sanitize_tokens
from formulaic.parser.algos.tokenize import tokenize
from formulaic.parser.types import Factor, Operator, OrderedSet, Term, Token
from formulaic.parser.utils import insert_tokens_after, merge_operator_tokens, replace_tokens

from ..exceptions import FormulaError

_BARS = ("|", "||")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _RandomFactor(Factor):
    """The single factor of a :class:`RandomTermNode` (only a label, never evaluated)."""

    __slots__ = ()


class RandomTermNode(Term):
    """A parenthesised random term ``(lhs | rhs)`` inside formulaic's term algebra."""

    def __init__(self, lhs: OrderedSet[Term], rhs: OrderedSet[Term], correlated: bool):
        self.lhs = lhs
        self.rhs = rhs
        self.correlated = correlated
        bar = "|" if correlated else "||"
        label = f"({_terms_to_str(lhs)} {bar} {' + '.join(map(_term_to_str, rhs))})"
        super().__init__([_RandomFactor(label, eval_method="lookup")])

    def __mul__(self, other: Any) -> Term:
        raise FormulaError(
            f"a random-effects term {self.factors[0].expr} cannot be multiplied or "
            "interacted with other terms"
        )

    __rmul__ = __mul__


def _innermost_context(context: list[Any]) -> Any:
    for item in reversed(context):
        if not isinstance(item, Operator):
            return item
    return None


def _inside_parentheses(context: list[Any]) -> bool:
    ctx = _innermost_context(context)
    return ctx is not None and ctx == "("


def _top_level_bar(lhs: OrderedSet[Term], rhs: OrderedSet[Term]) -> OrderedSet[Term]:
    raise FormulaError(
        "`|` at the top level of a formula: random-effects terms must be enclosed in "
        "parentheses, e.g. 'y ~ x + (x | g)'"
    )


def _no_dot(context: Any = None) -> OrderedSet[Term]:
    raise FormulaError(
        "the `.` shorthand (all other columns) is not supported; name the columns explicitly"
    )


class LmeOperatorResolver(DefaultOperatorResolver):
    """formulaic's operators, with lme4's ``|`` and ``||`` for random terms."""

    @property
    def operators(self) -> list[Operator]:
        ops = [op for op in super().operators if op.symbol not in ("|", ".")]
        ops.append(Operator(".", arity=0, precedence=1000, fixity="postfix", to_terms=_no_dot))
        for symbol, correlated in (("|", True), ("||", False)):
            random_term = lambda lhs, rhs, c=correlated: OrderedSet(  # noqa: E731
                [RandomTermNode(lhs, rhs, c)]
            )
            # inside parentheses: a random term; at the top level: an explicit error
            for to_terms, inside in ((random_term, True), (_top_level_bar, False)):
                ops.append(
                    Operator(
                        symbol,
                        arity=2,
                        precedence=-50,
                        associativity=None,
                        to_terms=to_terms,
                        accepts_context=lambda ctx, want=inside: _inside_parentheses(ctx) == want,
                    )
                )
        return ops


@dataclass
class LmeFormulaParser(DefaultFormulaParser):
    """formulaic's default parser with lme4's random-effects terms.

    Examples
    --------
    >>> terms = LmeFormulaParser().get_terms("y ~ x + (x || g)")
    >>> [str(t) for t in terms.rhs]
    ['1', 'x', '(1 + x || g)']
    """

    operator_resolver: LmeOperatorResolver = field(default_factory=LmeOperatorResolver)

    def get_tokens_from_formula(self, formula: str, *, context: Any) -> list[Token]:
        one = Token("1", kind=Token.Kind.VALUE)
        plus = Token("+", kind=Token.Kind.OPERATOR)
        minus = Token("-", kind=Token.Kind.OPERATOR)
        tokens = list(sanitize_tokens(tokenize(formula)))
        tokens = list(replace_tokens(tokens, "0", [minus, one], kind=Token.Kind.VALUE))
        if any(t.token == "~" for t in tokens):
            tokens = list(
                insert_tokens_after(
                    tokens,
                    "^~$",
                    [one],
                    kind=Token.Kind.OPERATOR,
                    join_operator="+",
                    no_join_for_operators={"+", "-"},
                )
            )
        elif tokens:
            tokens = [one, plus, *tokens]
        # an intercept at the start of every parenthesis that holds a `|` or `||`
        opens: list[int] = []
        random_opens: set[int] = set()
        for i, tok in enumerate(tokens):
            if tok.kind is Token.Kind.CONTEXT and tok.token == "(":
                opens.append(i)
            elif tok.kind is Token.Kind.CONTEXT and tok.token in (")", "]"):
                if opens:
                    opens.pop()
            elif tok.kind is Token.Kind.OPERATOR and tok.token in _BARS and opens:
                random_opens.add(opens[-1])
        out: list[Token] = []
        for i, tok in enumerate(tokens):
            out.append(tok)
            if i in random_opens:
                out.extend(
                    [Token("1", kind=Token.Kind.VALUE), Token("+", kind=Token.Kind.OPERATOR)]
                )
        return list(merge_operator_tokens(out, symbols={"+", "-"}))


def _has_intercept(terms: OrderedSet[Term]) -> bool:
    return any(str(t) == "1" for t in terms)


def _factor_to_str(factor: Factor) -> str:
    """Formula source for one factor that formulaic parses back to the same factor.

    A name that is not a single formulaic name token is put in backticks
    (the column ``a b`` becomes ```a b```), a Python expression that is not a
    single Python token in braces (``{x + 1}``).
    """
    if isinstance(factor, _RandomFactor):
        return factor.expr
    if factor.eval_method is Factor.EvalMethod.LITERAL:
        return factor.expr
    lookup = factor.eval_method is Factor.EvalMethod.LOOKUP
    kind = Token.Kind.NAME if lookup else Token.Kind.PYTHON
    try:
        toks = list(tokenize(factor.expr))
    except FormulaSyntaxError:
        toks = []
    if len(toks) == 1 and toks[0].kind is kind and toks[0].token == factor.expr:
        return factor.expr
    return f"`{factor.expr}`" if lookup else f"{{{factor.expr}}}"


def _term_to_str(term: Term) -> str:
    return ":".join(_factor_to_str(f) for f in term.factors)


def _terms_to_str(terms: OrderedSet[Term]) -> str:
    """A formulaic right-hand side for a term set (``"0"`` when it is empty)."""
    body = [_term_to_str(t) for t in terms if str(t) != "1"]
    head = "1" if _has_intercept(terms) else "0"
    return " + ".join([head, *body])


@dataclass(frozen=True)
class RandomTerm:
    """One random-effects term after expansion.

    Attributes
    ----------
    expr:
        formulaic right-hand side of the term's columns (``"1 + x"``, ``"0 + x"``).
    group:
        Name of the grouping factor (``"g"`` or ``"a:b"``).
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
    """A parsed lme4-style formula: response, fixed part, random terms.

    Attributes
    ----------
    formula:
        The formula as given.
    response:
        formulaic expression of the left-hand side (``"y"``, ``"np.log(y)"``), or
        ``None`` for a one-sided formula.
    fixed:
        formulaic right-hand side of the fixed part, normalised by formulaic and
        always starting with ``"1"`` or ``"0"`` (``"y ~ x - 1"`` gives ``"0 + x"``).
    random:
        The random terms after expanding ``||`` and ``a/b``, in formula order (a
        tuple: parses are cached and shared).

    Examples
    --------
    >>> pf = parse_formula("log(y) ~ x1 * x2 + (1 | g)")
    >>> pf.response, pf.fixed, pf.groups
    ('log(y)', '1 + x1 + x2 + x1:x2', ['g'])
    """

    formula: str
    response: str | None
    fixed: str
    random: tuple[RandomTerm, ...]

    @property
    def fixed_formula(self) -> str:
        """The fixed-effects formula in formulaic syntax."""
        return f"{self.response} ~ {self.fixed}" if self.response else self.fixed

    @property
    def groups(self) -> list[str]:
        """Grouping factor names, without repetition, in formula order."""
        return list(dict.fromkeys(t.group for t in self.random))

    @property
    def grouping_columns(self) -> list[str]:
        """Data columns used as grouping factors, without repetition."""
        return list(dict.fromkeys(c for t in self.random for c in t.factors))


def _is_random(term: Term) -> bool:
    """Whether a term is, or contains (after ``:`` with it), a random term."""
    return isinstance(term, RandomTermNode) or any(
        isinstance(f, _RandomFactor) for f in term.factors
    )


def _expand(node: RandomTermNode) -> list[RandomTerm]:
    if any(_is_random(t) for t in (*node.lhs, *node.rhs)):
        raise FormulaError(f"random terms cannot be nested: {node.factors[0].expr}")
    if not node.lhs:
        raise FormulaError(f"random term {node.factors[0].expr} has no columns")
    groups = []
    for g in node.rhs:
        if str(g) == "1":
            continue
        for f in g.factors:
            if f.eval_method is not Factor.EvalMethod.LOOKUP:
                raise FormulaError(
                    f"grouping factor {f.expr!r} in {node.factors[0].expr} must be a column "
                    "name (or an interaction a:b of column names)"
                )
        groups.append(g)
    if not groups:
        raise FormulaError(f"random term {node.factors[0].expr} has no grouping variable after `|`")
    out = []
    for g in groups:
        factors = tuple(f.expr for f in g.factors)
        name = ":".join(factors)
        if node.correlated:
            out.append(
                RandomTerm(_terms_to_str(node.lhs), name, factors, _has_intercept(node.lhs), True)
            )
        else:  # lme4's ||: one term per column
            if _has_intercept(node.lhs):
                out.append(RandomTerm("1", name, factors, True, False))
            for t in node.lhs:
                if str(t) != "1":
                    out.append(RandomTerm(f"0 + {_term_to_str(t)}", name, factors, False, False))
    return out


def parse_formula(formula: str) -> ParsedFormula:
    """Parse an lme4-style formula (cached: a parse depends on the string only); see
    :func:`_parse_formula`.

    >>> parse_formula("y ~ x + (x | g)").random[0].group
    'g'
    """
    if not isinstance(formula, str) or not formula.strip():
        raise FormulaError(f"the formula must be a non-empty string, got {formula!r}")
    return _parse_cached(formula)


@functools.lru_cache(maxsize=256)
def _parse_cached(formula: str) -> ParsedFormula:
    return _parse_formula(formula)


def _parse_formula(formula: str) -> ParsedFormula:
    """Parse an lme4-style formula into its response, fixed part and random terms.

    Raises
    ------
    FormulaError
        For a malformed formula (the message shows where), ``|`` outside
        parentheses, or a random term without a grouping variable.

    >>> parse_formula("y ~ 0 + x + (x || g)").random[1].expr
    '0 + x'
    """
    if not isinstance(formula, str) or not formula.strip():
        raise FormulaError(f"the formula must be a non-empty string, got {formula!r}")
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
    response = None
    if lhs_terms is not None:
        if any(_is_random(t) for t in lhs_terms):
            raise FormulaError(f"random terms belong on the right of '~' in {formula!r}")
        response = " + ".join(_term_to_str(t) for t in lhs_terms) or None
    fixed_terms = OrderedSet(t for t in rhs_terms if not isinstance(t, RandomTermNode))
    if any(_is_random(t) for t in fixed_terms):
        raise FormulaError(f"a random term is used inside an interaction in {formula!r}")
    random = [r for t in rhs_terms if isinstance(t, RandomTermNode) for r in _expand(t)]
    return ParsedFormula(formula, response, _terms_to_str(fixed_terms), tuple(random))
