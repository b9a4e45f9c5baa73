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
    assert parse_formula("y ~ x").random == []
