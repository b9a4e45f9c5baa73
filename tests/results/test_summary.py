"""The text summaries: one rule width, no table stretched past it, lme4's numbers in it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hierreg_formula as hierreg

REF = Path(__file__).resolve().parents[1] / "data" / "reference"


def _lines(smry) -> list[str]:
    text = str(smry)
    assert text == smry.as_text()
    return text.splitlines()


def _rule_width(lines: list[str]) -> int:
    rules = {len(line) for line in lines if line and set(line) <= {"=", "-"}}
    assert len(rules) == 1, rules
    return rules.pop()


@pytest.fixture(scope="module")
def sleep():
    return hierreg.fit("Reaction ~ Days + (Days | Subject)", hierreg.load_dataset("sleepstudy"))


def test_lmm_summary_layout_and_values(sleep):
    lines = _lines(sleep.summary())
    width = _rule_width(lines)
    assert all(len(line) <= width for line in lines)
    assert width < 90  # the two-column variance table is not stretched
    ref = json.loads((REF / "lme4" / "sleep_slope.json").read_text())
    text = "\n".join(lines)
    # lme4's estimates, standard errors and t values at the printed precision
    fx = ref["fixef"]
    for key in ("estimate", "std_error", "t_value"):
        for value in fx[key]:
            assert f"{value:.3f}" in text
    assert f"{ref['sigma']:.4f}" in text
    assert "Satterthwaite" in lines[-1]
    assert len(sleep.summary().tables) == 3  # statsmodels' Summary API is kept


def test_glmm_summary_layout():
    cb = hierreg.load_dataset("cbpp")
    g = hierreg.fit(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)", cb, family="binomial"
    )
    lines = _lines(g.summary())
    width = _rule_width(lines)
    assert all(len(line) <= width for line in lines)
    assert width < 110
    row = next(line for line in lines if line.startswith("Intercept"))
    assert "-1.399" in row and "0.232" in row  # lme4: -1.3983, 0.2312


def test_regularized_summary_layout(sleep):
    r = hierreg.fit(
        "Reaction ~ Days + (Days | Subject)",
        hierreg.load_dataset("sleepstudy"),
        method="regularized",
        alpha=1.0,
    )
    lines = _lines(r.summary())
    width = _rule_width(lines)
    assert all(len(line) <= width for line in lines)
