"""lme4 random-effects syntax as an extension of formulaic's parser.

Formulaic's default parser uses ``|`` to split a formula into parts and rejects
it inside parentheses.  :class:`LmeFormulaParser` keeps formulaic's tokenizer,
AST builder and every other operator, and changes three things:

- ``|`` and ``||`` inside parentheses are operators of low precedence whose
  result is a :class:`RandomTermNode` (a formulaic ``Term`` carrying the terms of
  both sides), so ``x + (1 + x | g)`` is an ordinary sum of terms;
- ``|`` outside parentheses raises a :class:`~hierreg_formula.FormulaError`;
- the implicit intercept is inserted after ``~`` and at the start of every
  parenthesised random term (``(x | g)`` means ``(1 + x | g)``), and no longer
  after every ``|``.

:func:`parse_formula` then splits the right-hand side into the fixed part and
the random terms, expanding ``(a || g)`` into one term per column and a grouping
``a/b`` into ``a`` and ``a:b`` (formulaic's own ``/`` operator does this).

Example
-------
>>> pf = parse_formula("y ~ x + (x | g) + (1 | a/b)")
>>> pf.fixed
'1 + x'
>>> [(t.expr, t.group) for t in pf.random]
[('1 + x', 'g'), ('1', 'a'), ('1', 'a:b')]
"""

from __future__ import annotations

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


class RandomTermNode(Term):
    """A parenthesised random term ``(lhs | rhs)`` inside formulaic's term algebra."""

    def __init__(self, lhs: OrderedSet[Term], rhs: OrderedSet[Term], correlated: bool):
        self.lhs = lhs
        self.rhs = rhs
        self.correlated = correlated
        bar = "|" if correlated else "||"
        label = f"({_terms_to_str(lhs)} {bar} {' + '.join(map(str, rhs))})"
        super().__init__([Factor(label, eval_method="lookup")])

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


class LmeOperatorResolver(DefaultOperatorResolver):
    """formulaic's operators, with lme4's ``|`` and ``||`` for random terms."""

    @property
    def operators(self) -> list[Operator]:
        ops = [op for op in super().operators if op.symbol != "|"]
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
    """formulaic's default parser with lme4's random-effects terms."""

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


def _terms_to_str(terms: OrderedSet[Term]) -> str:
    """A formulaic right-hand side for a term set (``"0"`` when it is empty)."""
    body = [str(t) for t in terms if str(t) != "1"]
    head = "1" if _has_intercept(terms) else "0"
    return " + ".join([head, *body])


@dataclass(frozen=True)
class RandomTerm:
    """One random-effects term after expansion.

    Attributes
    ----------
    expr: formulaic right-hand side of the term's columns (``"1 + x"``, ``"0 + x"``).
    group: name of the grouping factor (``"g"`` or ``"a:b"``).
    factors: the grouping columns (``("g",)`` or ``("a", "b")``).
    intercept: whether the term has a random intercept.
    correlated: ``False`` when the term came from ``||``.
    """

    expr: str
    group: str
    factors: tuple[str, ...]
    intercept: bool
    correlated: bool = True


@dataclass(frozen=True)
class ParsedFormula:
    """A parsed lme4-style formula: response, fixed part, random terms."""

    formula: str
    response: str | None
    fixed: str
    random: list[RandomTerm]

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
        return list(dict.fromkeys(c for t in self.random for c in t.factors))


def _expand(node: RandomTermNode) -> list[RandomTerm]:
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
                    out.append(RandomTerm(f"0 + {t}", name, factors, False, False))
    return out


def parse_formula(formula: str) -> ParsedFormula:
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
        if any(isinstance(t, RandomTermNode) for t in lhs_terms):
            raise FormulaError(f"random terms belong on the right of '~' in {formula!r}")
        response = " + ".join(str(t) for t in lhs_terms) or None
    fixed_terms = OrderedSet(t for t in rhs_terms if not isinstance(t, RandomTermNode))
    for t in fixed_terms:
        if any("|" in f.expr and f.expr.startswith("(") for f in t.factors):
            raise FormulaError(f"a random term is used inside an interaction in {formula!r}")
    random = [r for t in rhs_terms if isinstance(t, RandomTermNode) for r in _expand(t)]
    return ParsedFormula(formula, response, _terms_to_str(fixed_terms), random)
