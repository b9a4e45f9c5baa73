"""Side by side with statsmodels MixedLM (differences within its convergence)."""

from __future__ import annotations

import numpy as np
import pytest

import hierreg_formula as hierreg
from hierreg_formula.compare.mixedlm import NotExpressibleError, translate


@pytest.mark.parametrize(
    "data,formula,tol_vc",
    [
        ("sleepstudy", "Reaction ~ Days + (Days | Subject)", 1e-4),
        ("Dyestuff", "Yield ~ 1 + (1 | Batch)", 1e-3),
        ("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", 1e-3),
        ("Pastes", "strength ~ 1 + (1 | batch/cask)", 1e-3),
        ("sleepstudy", "Reaction ~ Days + (Days || Subject)", 1e-3),
    ],
)
def test_agrees_with_statsmodels(data, formula, tol_vc):
    cmp = hierreg.compare_mixedlm(formula, hierreg.load_dataset(data))
    fe = cmp.fixed_effects
    np.testing.assert_allclose(fe["hierreg"], fe["mixedlm"], rtol=1e-6)
    se = cmp.std_errors
    np.testing.assert_allclose(se["hierreg"], se["mixedlm"], rtol=1e-3)
    vc = cmp.variance_components
    assert vc["mixedlm"].notna().all()
    np.testing.assert_allclose(vc["hierreg"], vc["mixedlm"], rtol=tol_vc)
    info = cmp.fit_info
    assert info.loc["log-likelihood", "hierreg"] == pytest.approx(
        info.loc["log-likelihood", "mixedlm"], rel=1e-6
    )
    assert bool(info.loc["converged", "hierreg"])
    for t in cmp.random_effects.values():
        ours = t.xs("hierreg", axis=1, level=1).to_numpy()
        theirs = t.xs("mixedlm", axis=1, level=1).to_numpy()
        scale = np.abs(ours).max()
        np.testing.assert_allclose(ours, theirs, atol=2e-3 * scale)
    text = str(cmp)
    assert "Fixed effects" in text and "Variance components" in text


def test_translation():
    df = hierreg.load_dataset("Penicillin")
    res = hierreg.fit("diameter ~ 1 + (1 | plate) + (1 | sample)", df)
    spec = translate(res)
    assert spec["vc_formula"] == {"plate": "0 + C(plate)", "sample": "0 + C(sample)"}
    res = hierreg.fit("Reaction ~ Days + (Days | Subject)", hierreg.load_dataset("sleepstudy"))
    assert translate(res)["re_formula"] == "1 + Days"


def test_inexpressible_formula_names_the_part():
    rng = np.random.default_rng(0)
    import pandas as pd

    df = pd.DataFrame(
        {
            "y": rng.normal(size=120),
            "x": rng.normal(size=120),
            "a": rng.integers(0, 6, 120),
            "b": rng.integers(0, 5, 120),
        }
    )
    res = hierreg.fit("y ~ x + (x | a) + (1 | b)", df)
    with pytest.raises(NotExpressibleError, match=r"\(1 \+ x \| a\)") as info:
        res.compare_mixedlm()
    assert isinstance(info.value, hierreg.HierregError)
