"""Formulas that used to be misread (issue 8, formula side): intercept removal in the
fixed part, repeated random terms, the response in a random term, grouping sides
that are not factors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg
from hierreg_formula.formula import build_design, parse_formula


def terms(formula):
    return [(t.expr, t.group, t.factors) for t in parse_formula(formula).random]


# ---------------------------------------------------------------- 1. no fixed intercept
@pytest.mark.parametrize(
    "formula", ["y ~ -1 + x + (1|g)", "y ~ 0 + x + (1|g)", "y ~ x - 1 + (1|g)", "y~-1+x+(1|g)"]
)
def test_fixed_intercept_removed(formula):
    pf = parse_formula(formula)
    assert (pf.response, pf.fixed) == ("y", "0 + x")
    assert terms(formula) == [("1", "g", ("g",))]


def test_fixed_intercept_removed_with_random_slope():
    pf = parse_formula("y ~ x - 1 + (x|g)")
    assert pf.fixed == "0 + x"
    assert terms("y ~ x - 1 + (x|g)") == [("1 + x", "g", ("g",))]
    assert parse_formula("~ -1 + x").fixed == "0 + x"  # one-sided too


@pytest.mark.parametrize("lhs", ["x - 1", "-1 + x", "0 + x"])
def test_random_intercept_removed(lhs):
    pf = parse_formula(f"y ~ 1 + ({lhs} | g)")
    assert pf.fixed == "1"
    assert terms(f"y ~ 1 + ({lhs} | g)") == [("0 + x", "g", ("g",))]


def test_no_fixed_intercept_design():
    df = pd.DataFrame({"y": [1.0, 2.0, 4.0, 3.0], "x": [1.0, 2.0, 3.0, 5.0], "g": list("abab")})
    b = build_design("y ~ -1 + x + (1|g)", df)
    assert b.x_names == ["x"]
    np.testing.assert_array_equal(b.X, df[["x"]].to_numpy())


# ---------------------------------------------------------------- 2. repeated random terms
@pytest.mark.parametrize(
    "formula,what",
    [
        (
            "y ~ (1|g) + (1|g)",
            r"random intercept of grouping factor `g` appears twice, in "
            r"\(1 \| g\) and \(1 \| g\)",
        ),
        (
            "y ~ (x||g) + (1|g)",
            r"random intercept of grouping factor `g` appears twice, in "
            r"\(1 \+ x \|\| g\) and \(1 \| g\)",
        ),
        ("y ~ (1|g/h) + (1|g)", r"random intercept of grouping factor `g` appears twice"),
        (
            "y ~ (x|g) + (0 + x|g)",
            r"random slope `x` of grouping factor `g` appears twice, in "
            r"\(1 \+ x \| g\) and \(0 \+ x \| g\)",
        ),
        ("y ~ (1|a:b) + (1|b:a)", r"random intercept of grouping factor `a:b` appears twice"),
        ("y ~ (x|g) + (z|g)", r"random intercept of grouping factor `g`"),
        ("y ~ (x:z|g) + (0 + z:x|g)", r"random slope `z:x` of grouping factor `g`"),
        ("y ~ (1|g*h) + (1|h)", r"random intercept of grouping factor `h`"),
    ],
)
def test_repeated_random_term(formula, what):
    with pytest.raises(hierreg.FormulaError, match=what):
        parse_formula(formula)


def test_disjoint_terms_on_one_factor_stay_legal():
    assert terms("y ~ (1|g) + (0 + x|g)") == [("1", "g", ("g",)), ("0 + x", "g", ("g",))]
    # lme4's (x || g) written out by hand is the same expansion
    assert terms("y ~ (1|g) + (0 + x|g)") == terms("y ~ (x||g)")
    # the same factor written b:a in a later term takes the first spelling
    assert terms("y ~ (1|a:b) + (0 + x|b:a)") == [
        ("1", "a:b", ("a", "b")),
        ("0 + x", "a:b", ("a", "b")),
    ]
    # different factors may share columns
    assert [t[1] for t in terms("y ~ (x|g) + (x|h) + (1|g:h)")] == ["g", "h", "g:h"]


def test_terms_sharing_a_factor_spelled_differently_share_one_grouping():
    df = pd.DataFrame(
        {"y": np.arange(8.0), "x": np.arange(8.0) ** 2, "a": list("uuvvuuvv"), "b": [1, 2] * 4}
    )
    b = build_design("y ~ x + (1|a:b) + (0 + x|b:a)", df)
    assert [r.group for r in b.random] == ["a:b", "a:b"]
    np.testing.assert_array_equal(b.random[0].codes, b.random[1].codes)
    assert list(b.random[1].levels) == ["u:1", "u:2", "v:1", "v:2"]


# ---------------------------------------------------------------- 3. response in a random term
@pytest.mark.parametrize(
    "formula,label",
    [
        ("y ~ x + (y | g)", r"\(1 \+ y \| g\)"),
        ("y ~ x + (1 | y)", r"\(1 \| y\)"),
        ("np.log(y) ~ x + (0 + np.log(y) | g)", r"\(0 \+ np.log\(y\) \| g\)"),
        ("y ~ x + (1 | g:y)", r"\(1 \| g:y\)"),
        ("cbind(s, f) ~ x + (1 | f)", r"\(1 \| f\)"),
    ],
)
def test_response_in_random_term(formula, label):
    with pytest.raises(
        hierreg.FormulaError, match=f"response column '.*' is used in the random term {label}"
    ):
        parse_formula(formula)


# ---------------------------------------------------------------- 4. grouping expressions
@pytest.mark.parametrize(
    "formula,what",
    [
        ("y ~ (1 | g - h)", r"`-` on the grouping side of a random term \(`g - h`"),
        ("y ~ (1 | 0)", r"`-` on the grouping side of a random term \(`-1`"),
        ("y ~ (1 | -1 + g)", r"`-` on the grouping side"),
        ("y ~ (1 | (g - h))", r"`-` on the grouping side"),
        ("y ~ (1 | 1)", r"no grouping variable after `\|`"),
        ("y ~ (1 | g + 1)", r"a constant `1` is not a grouping factor"),
        ("y ~ (1 | log(g))", r"grouping factor 'log\(g\)' in \(1 \| log\(g\)\) must be a column"),
        ("y ~ (1 | g:log(h))", r"grouping factor 'log\(h\)'"),
        ("y ~ (1 | C(g))", r"grouping factor 'C\(g\)'"),
    ],
)
def test_grouping_side_not_a_factor(formula, what):
    with pytest.raises(hierreg.FormulaError, match=what) as info:
        parse_formula(formula)
    if "no grouping" not in what:
        assert "a column `g`, an interaction `a:b`, a nesting `a/b`" in str(info.value)


def test_grouping_products_and_sums_expand_as_in_lme4():
    # lme4 >= 1.1-36 (formula code in reformulas) expands (1 | f*g) into crossed terms
    assert terms("y ~ (1 | g*h)") == [
        ("1", "g", ("g",)),
        ("1", "h", ("h",)),
        ("1", "g:h", ("g", "h")),
    ]
    assert terms("y ~ (1 | g + h)") == [("1", "g", ("g",)), ("1", "h", ("h",))]
    assert terms("y ~ (1 | (g))") == [("1", "g", ("g",))]


# ---------------------------------------------------------------- sides and the string check
@pytest.mark.parametrize("formula", ["y ~ ", "y ~", " ~ "])
def test_empty_right_hand_side(formula):
    with pytest.raises(hierreg.FormulaError, match="nothing right of '~'"):
        parse_formula(formula)


def test_empty_left_hand_side_is_a_one_sided_formula():
    assert parse_formula("~ x + (1 | g)").response is None
    df = pd.DataFrame({"y": [1.0, 2.0], "x": [1.0, 2.0], "g": ["a", "b"]})
    with pytest.raises(hierreg.FormulaError, match="has no response"):
        build_design("~ x + (1 | g)", df)


@pytest.mark.parametrize("bad", [None, 3, b"y ~ x", "", "   "])
def test_formula_must_be_a_string(bad):
    with pytest.raises(hierreg.FormulaError, match="must be a non-empty string"):
        parse_formula(bad)
