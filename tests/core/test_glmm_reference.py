"""The GLMM core against lme4 (glmer, Laplace) on the turn-2 references.

grouseticks_pois is compared with ``extras.pirls_1e14_refit`` (lme4's tight fit
with its PIRLS fully converged), bern_slope with the top level (the tight refit).
Tolerances are the issue's: -2 logLik 1e-6 relative, fixed effects 1e-4
relative, theta 1e-4, standard errors (Hessian and R_X versions) 1e-3 relative,
conditional modes 1e-3 of the term's SD.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hierreg_formula.core.glmer import fit_glmm
from hierreg_formula.core.structure import TermArrays
from hierreg_formula.formula import build_design
from tests.conftest import DATA, load_lme4_turn2, require


def design(formula: str, df: pd.DataFrame):
    """``X, y``, the terms sorted by decreasing levels (lme4's order) and their blocks."""
    blocks = build_design(formula, df)
    rand = sorted(blocks.random, key=lambda b: -len(b.levels))
    terms = [TermArrays(b.codes, len(b.levels), b.X) for b in rand]
    return blocks.X, blocks.y, terms, rand


def check_against(est, ref: dict, rand, tol_se: float = 1e-3, se_ref=None) -> None:
    """Objective, deviance residuals, theta, beta, both SEs, modes and conditional SDs.

    ``se_ref``: the reference for ``est.bse`` (default lme4's ``std_error``).
    """
    crit = ref["criteria"]
    assert est.objective == pytest.approx(crit["objective"], rel=1e-6)
    assert est.deviance_residual_sum == pytest.approx(crit["glmm_deviance_residual_sum"], rel=1e-5)
    names = ref["theta"]["names"]
    groups = [b.group for b in rand]
    # lme4's theta names start with the group: put ours in that order
    order = [groups.index(nm.split(".")[0]) for nm in names] if len(groups) > 1 else None
    theta = est.theta if order is None else est.theta[order]
    np.testing.assert_allclose(theta, ref["theta"]["values"], atol=1e-4)
    beta_ref = np.array(ref["fixef"]["estimate"])
    np.testing.assert_allclose(est.beta, beta_ref, rtol=1e-4, atol=1e-4 * np.abs(beta_ref).max())
    se = ref["fixef"]["std_error"] if se_ref is None else se_ref
    np.testing.assert_allclose(est.bse, se, rtol=tol_se)
    se_rx = ref["vcov_fixef"].get("std_error_no_hessian") or ref["fixef"]["std_error"]
    np.testing.assert_allclose(np.sqrt(np.diag(est.cov_beta_rx)), se_rx, rtol=1e-3)
    assert est.cov_method == ("hessian" if est.nagq > 0 else "rx")
    for i, blk in enumerate(rand):
        r = ref["ranef"][blk.group]
        idx = pd.Index(blk.levels.astype(str)).get_indexer(r["levels"])
        assert (idx >= 0).all()
        sd = np.sqrt(np.diag(est.factors[i] @ est.factors[i].T))
        for j, col in enumerate(r["columns"]):
            mode = np.asarray(r["mode"][col])
            assert np.max(np.abs(est.b[i][idx, j] - mode)) <= 1e-3 * sd[j]
            csd = np.asarray(r["cond_sd"][col])
            np.testing.assert_allclose(est.cond_sd[i][idx, j], csd, rtol=1e-3)


@pytest.mark.slow
def test_grouseticks_poisson_laplace() -> None:
    ref = load_lme4_turn2("grouseticks_pois")["extras"]["pirls_1e14_refit"]
    df = pd.read_csv(
        require(DATA.parent.parent / "hierreg_formula" / "datasets" / "data" / "grouseticks.csv"),
        dtype={"INDEX": str, "BROOD": str, "YEAR": str, "LOCATION": str},
    )
    X, y, terms, rand = design(
        "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)", df
    )
    assert [b.group for b in rand] == ["INDEX", "BROOD", "LOCATION"]
    est = fit_glmm(X, y, terms, "poisson")
    assert est.converged
    check_against(est, ref, rand)
    # an observation-level random effect (one level per row) is legitimate
    assert terms[0].nlevels == len(y)


def test_bern_slope_binomial_laplace() -> None:
    ref = load_lme4_turn2("bern_slope")
    df = pd.read_csv(require(DATA / "csv" / "bern_slope.csv"))
    X, y, terms, rand = design("y ~ x + (x | g)", df)
    est = fit_glmm(X, y, terms, "binomial")
    assert est.converged
    check_against(est, ref, rand)
    # the pieces of the Laplace deviance (lme4's devcomp)
    cmp = ref["criteria"]["devcomp_cmp"]
    assert est.logdet_L == pytest.approx(cmp["ldL2"], rel=1e-5)
    assert est.sqr_u == pytest.approx(cmp["ussq"], rel=1e-4)
    assert est.logdet_RX == pytest.approx(cmp["ldRX2"], rel=1e-5)
    # fitted values and linear predictor of the first rows
    fit = ref["fitted_first20"]
    np.testing.assert_allclose(est.mu[:20], fit["fitted"], rtol=1e-4)
    np.testing.assert_allclose(est.eta[:20], fit["linear_predictor"], rtol=1e-4, atol=1e-5)
