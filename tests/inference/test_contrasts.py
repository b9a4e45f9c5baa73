"""Type I / III contrasts: structural checks and invariances (no R reference needed).

With every cell of a two-factor design present, SAS/lmerTest's type III hypothesis
for a main effect is equality of its equally weighted marginal means, which is what
the main-effect columns test under sum-to-zero coding: the F statistic (and the
Kenward-Roger df, which do not depend on the contrast's row basis) must agree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg
from hierreg_formula.formula import build_design
from hierreg_formula.inference.arrays import ModelArrays
from hierreg_formula.inference.contrasts import (
    containing_terms,
    fixed_terms_from_spec,
    full_dummy_blocks,
    type1_contrasts,
    type3_contrasts,
)
from hierreg_formula.inference.kenward_roger import kr_adjustment, kr_f
from hierreg_formula.inference.refit import fit_arrays
from hierreg_formula.inference.satterthwaite import satterthwaite_f
from hierreg_formula.inference.varpar import varpar_covariance
from hierreg_formula.models.prepare import prepare


def unbalanced_cake() -> pd.DataFrame:
    df = hierreg.load_dataset("cake")
    keep = np.ones(len(df), bool)
    keep[[3, 17, 40, 41, 99, 150, 151, 152, 200, 260]] = False  # unbalanced, all cells present
    return df[keep].reset_index(drop=True)


def problem(formula: str, df: pd.DataFrame):
    pm = prepare(build_design(formula, df))
    blocks, prob = pm.blocks, ModelArrays.from_prepared(pm)
    est = fit_arrays(prob, reml=True)
    return blocks, prob, est


@pytest.mark.parametrize("term", ["recipe", "temperature"])
def test_type3_main_effect_equals_sum_coded_test(term):
    df = unbalanced_cake()
    rand = " + (1 | recipe:replicate)"
    b1, p1, e1 = problem("angle ~ recipe * temperature" + rand, df)
    terms, icpt = fixed_terms_from_spec(b1.spec.fixed_spec, b1.x_names)
    L = type3_contrasts(b1.X, terms, full_dummy_blocks(terms, df.loc[b1.index]), icpt)[term]
    b2, p2, e2 = problem("angle ~ C(recipe, contr.sum) * C(temperature, contr.sum)" + rand, df)
    # same model (REML criteria differ by the constant log|det| of the reparameterization)
    np.testing.assert_allclose(e1.theta, e2.theta, rtol=1e-5)
    terms2, _ = fixed_terms_from_spec(b2.spec.fixed_spec, b2.x_names)
    t2 = next(t for t in terms2 if t.variables == (f"C({term}, contr.sum)",))
    L2 = np.eye(p2.p)[list(t2.columns)]
    s1 = satterthwaite_f(varpar_covariance(p1, e1.theta, e1.sigma, True), L)
    s2 = satterthwaite_f(varpar_covariance(p2, e2.theta, e2.sigma, True), L2)
    assert s1.num_df == s2.num_df == L.shape[0]
    np.testing.assert_allclose(s1.f_value, s2.f_value, rtol=1e-6)
    k1 = kr_f(kr_adjustment(p1, e1.theta, e1.sigma), L)
    k2 = kr_f(kr_adjustment(p2, e2.theta, e2.sigma), L2)
    np.testing.assert_allclose([k1.f_value, k1.den_df], [k2.f_value, k2.den_df], rtol=1e-6)


def test_type3_rejects_other_codings():
    df = unbalanced_cake()
    b, _, _ = problem("angle ~ C(recipe, contr.sum) * temp + (1 | recipe:replicate)", df)
    terms, icpt = fixed_terms_from_spec(b.spec.fixed_spec, b.x_names)
    with pytest.raises(ValueError, match="treatment"):
        type3_contrasts(b.X, terms, full_dummy_blocks(terms, df.loc[b.index]), icpt)


def test_containment_follows_the_sas_rule():
    df = unbalanced_cake()
    df["z"] = np.random.default_rng(0).normal(size=len(df))
    b = build_design("angle ~ recipe * replicate * z + (1 | recipe:replicate)", df)
    terms, _ = fixed_terms_from_spec(b.spec.fixed_spec, b.x_names)
    c = containing_terms(terms)
    assert c["recipe"] == ["recipe:replicate"]  # same (no) numeric variables
    assert c["z"] == ["recipe:z", "replicate:z", "recipe:replicate:z"]
    assert c["recipe:z"] == ["recipe:replicate:z"]
    assert c["recipe:replicate:z"] == []


def test_type1_contrasts_are_sequential():
    """The last term's type I test is its marginal (type III-like) test; rows are unit upper."""
    df = unbalanced_cake()
    b, prob, est = problem("angle ~ recipe + temp + (1 | recipe:replicate)", df)
    terms, _ = fixed_terms_from_spec(b.spec.fixed_spec, b.x_names)
    L1 = type1_contrasts(b.X, terms)
    np.testing.assert_allclose(L1["temp"], [[0, 0, 0, 1.0]])
    full = np.vstack([np.eye(1, prob.p), L1["recipe"], L1["temp"]])
    np.testing.assert_allclose(np.diag(full), 1.0)
    np.testing.assert_allclose(np.tril(full, -1), 0.0)
