"""Likelihood-ratio test and ML refit against lme4's ``anova(m0, m1)`` (sleepstudy)."""

from __future__ import annotations

import numpy as np

from hierreg_formula.inference.lrt import compare_models, loglik, npar
from hierreg_formula.inference.refit import refit_ml
from tests.inference.refs import build, fit, load_ref, rel


def test_anova_m0_m1_matches_lme4():
    ref = load_ref("sleep_inference")["inference"]["anova_lrt"]
    tight = ref["tight_ml_anova"]
    ests = []
    for formula in (ref["m0_formula"], ref["m1_formula"]):
        _, prob, _ = build(formula, "sleepstudy")
        reml = fit(prob)
        ml = refit_ml(prob, reml)
        assert not ml.reml
        ests.append((prob, ml))
    tab = compare_models(
        ["m0", "m1"], [loglik(p, e) for p, e in ests], [npar(e) for _, e in ests], 180
    )
    assert tab.names == ["m0", "m1"]
    assert tab.npar.tolist() == tight["npar"]
    for col, key in [
        ("aic", "AIC"),
        ("bic", "BIC"),
        ("loglik", "logLik"),
        ("deviance", "deviance"),
    ]:
        assert rel(getattr(tab, col), tight[key]) < 1e-9, col
    assert abs(tab.chisq[1] - tight["Chisq"][1]) / tight["Chisq"][1] < 1e-6
    assert tab.df[1] == 2
    assert abs(tab.p_value[1] - tight["Pr(>Chisq)"][1]) < 1e-12
    assert np.isnan(tab.chisq[0])
