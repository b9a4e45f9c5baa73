"""lme4 random-effects syntax as an extension of formulaic's parser.

Formulaic's default parser uses ``|`` to split a formula into parts and rejects
it inside parentheses.  :class:`LmeFormulaParser` keeps formulaic's tokenizer,
AST builder and every other operator, and changes these things:

- ``|`` and ``||`` inside parentheses are operators of low precedence whose
  result is a :class:`RandomTermNode` (a formulaic ``Term`` carrying the terms of
  both sides), so ``x + (1 + x | g)`` is an ordinary sum of terms; no two of
  them compare equal, so a repeated ``(1 | g) + (1 | g)`` survives formulaic's
  term sets and :func:`~hierreg_formula.formula.parse_formula` can report it;
- ``|`` outside parentheses raises a :class:`~hierreg_formula.FormulaError`;
- the implicit intercept is inserted after ``~`` (also when ``~`` is merged with
  a following operator, ``"y ~ -1 + x"``) and at the start of every
  parenthesised random term (``(x | g)`` means ``(1 + x | g)``), and no longer
  after every ``|``; nothing right of ``~`` is an error;
- ``.`` (all other columns) raises a FormulaError (it needs the data);
- ``-`` (and so ``0`` or ``-1``) on the grouping side of a random term raises a
  FormulaError instead of silently removing terms (``(1 | g - h)``).

:func:`term_to_str` and :func:`terms_to_str` render terms back to formulaic
source that parses to the same factors (names needing it in backticks, Python
code in braces).

Example
-------
>>> terms = LmeFormulaParser().get_terms("y ~ x + (x || g) + (1 | a/b)")
>>> [str(t) for t in terms.rhs]
['1', 'x', '(1 + x || g)', '(1 | a + a:b)']
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from formulaic.errors import FormulaSyntaxError
from formulaic.parser import DefaultFormulaParser, DefaultOperatorResolver
from formulaic.parser.algos.sanitize_tokens import sanitize_tokens
from formulaic.parser.algos.tokenize import tokenize
from formulaic.parser.types import Factor, Operator, OrderedSet, Term, Token
from formulaic.parser.utils import insert_tokens_after, merge_operator_tokens, replace_tokens

from ..exceptions import FormulaError

_BARS = ("|", "||")

GROUPING_FORMS = (
    "a grouping factor is a column `g`, an interaction `a:b`, a nesting `a/b` (= `a + a:b`), "
    "or a sum of these (`a + b`, `a*b` = `a + b + a:b`)"
)


class _RandomFactor(Factor):
    """The single factor of a :class:`RandomTermNode` (only a label, never evaluated).

    Its ``expr`` is the label plus a serial number, so that no two random terms
    are equal: formulaic's term sets would merge a repeated ``(1 | g) + (1 | g)``
    (or reject it as a rescaled term) before :func:`parse_formula` can report it.
    """

    __slots__ = ()

    @property
    def label(self) -> str:
        return self.expr.rsplit(_SERIAL, 1)[0]

    def __repr__(self) -> str:
        return self.label


_SERIAL = "\x00#"
_serials = itertools.count()


class RandomTermNode(Term):
    """A parenthesised random term ``(lhs | rhs)`` inside formulaic's term algebra."""

    def __init__(self, lhs: OrderedSet[Term], rhs: OrderedSet[Term], correlated: bool):
        self.lhs = lhs
        self.rhs = rhs
        self.correlated = correlated
        bar = "|" if correlated else "||"
        label = f"({terms_to_str(lhs)} {bar} {' + '.join(map(term_to_str, rhs))})"
        expr = f"{label}{_SERIAL}{next(_serials)}"
        super().__init__([_RandomFactor(expr, eval_method="lookup")])

    @property
    def label(self) -> str:
        return self.factors[0].label

    def __mul__(self, other: Any) -> Term:
        raise FormulaError(
            f"a random-effects term {self.label} cannot be multiplied or "
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


def _grouping_side(context: list[Any]) -> bool:
    """Whether an operator is on the right of a ``|`` (a bar stays stacked until its ``)``)."""
    return any(isinstance(c, Operator) and c.symbol in _BARS for c in context)


def _top_level_bar(lhs: OrderedSet[Term], rhs: OrderedSet[Term]) -> OrderedSet[Term]:
    raise FormulaError(
        "`|` at the top level of a formula: random-effects terms must be enclosed in "
        "parentheses, e.g. 'y ~ x + (x | g)'"
    )


def _no_dot(context: Any = None) -> OrderedSet[Term]:
    raise FormulaError(
        "the `.` shorthand (all other columns) is not supported; name the columns explicitly"
    )


def _grouping_minus(*sides: OrderedSet[Term]) -> OrderedSet[Term]:
    shown = " - ".join(" + ".join(map(term_to_str, s)) for s in sides)
    raise FormulaError(
        f"`-` on the grouping side of a random term (`{'-' if len(sides) == 1 else ''}{shown}`;"
        f" `0` is `-1`) would silently drop grouping terms; {GROUPING_FORMS}"
    )


class LmeOperatorResolver(DefaultOperatorResolver):
    """formulaic's operators, with lme4's ``|`` and ``||`` for random terms."""

    @property
    def operators(self) -> list[Operator]:
        # the grouping-side `-` first: among operators of equal precedence and arity
        # formulaic tries them in list order
        ops = [
            Operator(
                "-",
                arity=arity,
                precedence=100,
                associativity="left" if arity == 2 else "right",
                fixity="infix" if arity == 2 else "prefix",
                to_terms=_grouping_minus,
                accepts_context=_grouping_side,
            )
            for arity in (2, 1)
        ]
        ops += [op for op in super().operators if op.symbol not in ("|", ".")]
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


def _check_sides(tokens: list[Token]) -> None:
    """A FormulaError for nothing right of ``~`` (``"y ~ "``): R rejects it too."""
    depth = 0
    for i, tok in enumerate(tokens):
        if tok.kind is Token.Kind.CONTEXT:
            depth += 1 if tok.token in ("(", "[") else -1
        elif depth == 0 and tok.kind is Token.Kind.OPERATOR and "~" in tok.token:
            if i == len(tokens) - 1 and tok.token.endswith("~"):
                raise FormulaError("nothing right of '~': write '~ 1' for an intercept only")
            return


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
        _check_sides(tokens)
        tokens = list(replace_tokens(tokens, "0", [minus, one], kind=Token.Kind.VALUE))
        if any(t.kind is Token.Kind.OPERATOR and "~" in t.token for t in tokens):
            # unanchored like formulaic's own: `~` may be merged with a following
            # operator into one token, as in "y ~ -1 + x"
            tokens = list(
                insert_tokens_after(
                    tokens,
                    "~",
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


def has_intercept(terms: OrderedSet[Term]) -> bool:
    return any(str(t) == "1" for t in terms)


def _factor_to_str(factor: Factor) -> str:
    """Formula source for one factor that formulaic parses back to the same factor.

    A name that is not a single formulaic name token is put in backticks
    (the column ``a b`` becomes ```a b```), a Python expression that is not a
    single Python token in braces (``{x + 1}``).
    """
    if isinstance(factor, _RandomFactor):
        return factor.label
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


def term_to_str(term: Term) -> str:
    return ":".join(_factor_to_str(f) for f in term.factors)


def terms_to_str(terms: OrderedSet[Term]) -> str:
    """A formulaic right-hand side for a term set (``"0"`` when it is empty)."""
    body = [term_to_str(t) for t in terms if str(t) != "1"]
    head = "1" if has_intercept(terms) else "0"
    return " + ".join([head, *body])


def is_random(term: Term) -> bool:
    """Whether a term is, or contains (after ``:`` with it), a random term."""
    return isinstance(term, RandomTermNode) or any(
        isinstance(f, _RandomFactor) for f in term.factors
    )
