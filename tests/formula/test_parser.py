"""lme4 syntax parsed by the formulaic extension into fixed part + random terms."""

from __future__ import annotations

import pytest

from hierreg_formula.formula import parse_formula


def terms(formula):
    return [
        (t.expr, t.group, t.factors, t.intercept, t.correlated)
        for t in parse_formula(formula).random
    ]


def test_slope_means_intercept_and_slope():
    pf = parse_formula("y ~ x1 + x2 + (x1 | school)")
    assert pf.response == "y"
    assert pf.fixed == "1 + x1 + x2"
    assert terms("y ~ x1 + x2 + (x1 | school)") == [("1 + x1", "school", ("school",), True, True)]


@pytest.mark.parametrize(
    "formula", ["y ~ x + (0 + x | g)", "y ~ x + (x - 1 | g)", "y ~ x + (-1 + x | g)"]
)
def test_dropping_the_random_intercept(formula):
    assert terms(formula) == [("0 + x", "g", ("g",), False, True)]


def test_intercept_only_term():
    assert terms("y ~ (1 | g)") == [("1", "g", ("g",), True, True)]


def test_double_bar_gives_one_term_per_column():
    assert terms("y ~ x + (x || g)") == [
        ("1", "g", ("g",), True, False),
        ("0 + x", "g", ("g",), False, False),
    ]
    assert terms("y ~ (0 + x + z || g)") == [
        ("0 + x", "g", ("g",), False, False),
        ("0 + z", "g", ("g",), False, False),
    ]


def test_crossed_nested_and_interaction_groupings():
    assert [t[1] for t in terms("y ~ (1 | a) + (1 | b)")] == ["a", "b"]
    assert terms("y ~ (1 | a/b)") == [
        ("1", "a", ("a",), True, True),
        ("1", "a:b", ("a", "b"), True, True),
    ]
    assert terms("y ~ (1 | a:b)") == [("1", "a:b", ("a", "b"), True, True)]


def test_several_slopes_and_formulaic_operators_inside():
    assert terms("y ~ (x1 + x2 | g)")[0][0] == "1 + x1 + x2"
    assert terms("y ~ (x1 * x2 | g)")[0][0] == "1 + x1 + x2 + x1:x2"
    assert terms("y ~ (np.log(x) | g)")[0][0] == "1 + np.log(x)"
    assert terms("y ~ (C(k) | g)")[0][0] == "1 + C(k)"


def test_fixed_part_keeps_formulaic_semantics():
    assert parse_formula("y ~ 0 + x + (1 | g)").fixed == "0 + x"
    assert parse_formula("y ~ x - 1 + (1 | g)").fixed == "0 + x"
    assert parse_formula("y ~ x1 * x2 + (1 | g)").fixed == "1 + x1 + x2 + x1:x2"
    assert parse_formula("y ~ C(k) + np.log(x) + (1 | g)").fixed == "1 + C(k) + np.log(x)"
    assert parse_formula("np.log(y) ~ x + (1 | g)").response == "np.log(y)"
    assert parse_formula("y ~ x").random == ()


def test_crossed_terms_keep_formula_order_and_slopes():
    assert terms("y ~ x + (x | b) + (1 | a)") == [
        ("1 + x", "b", ("b",), True, True),
        ("1", "a", ("a",), True, True),
    ]


def test_double_bar_with_interaction_and_nested_grouping():
    assert terms("y ~ (x1 * x2 || a/b)") == [
        (expr, group, factors, expr == "1", False)
        for group, factors in (("a", ("a",)), ("a:b", ("a", "b")))
        for expr in ("1", "0 + x1", "0 + x2", "0 + x1:x2")
    ]


def test_quoted_names_and_python_expressions_round_trip():
    pf = parse_formula("`resp y` ~ `a b` + {x + 1} + (`a b` | `my g`)")
    assert pf.response == "`resp y`"
    assert pf.fixed == "1 + `a b` + {x + 1}"
    assert terms("y ~ (`a b` | `my g`)") == [("1 + `a b`", "my g", ("my g",), True, True)]


def test_pieces_are_formulaic_formulas_again():
    from formulaic import Formula

    def factors(rhs):
        return [[(f.expr, f.eval_method) for f in t.factors] for t in Formula(rhs)]

    pf = parse_formula("y ~ C(k) * x + {x + 1} + (np.log(z) + `a b` || g)")
    assert factors(pf.fixed) == factors("C(k) * x + {x + 1}")
    assert [factors(t.expr) for t in pf.random] == [
        factors("1"),
        factors("0 + np.log(z)"),
        factors("0 + `a b`"),
    ]


def test_parsed_formula_helpers():
    pf = parse_formula("y ~ x + (x || g) + (1 | g:h)")
    assert pf.groups == ["g", "g:h"]
    assert pf.grouping_columns == ["g", "h"]
    assert pf.fixed_formula == "y ~ 1 + x"
