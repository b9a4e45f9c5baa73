"""Automatic penalties: cross-validation and the REML variance ratio."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg
from tests.regularized.sim import TRUE_W, simulate

F = "y ~ x + (x | g)"


def _dev_rmse(res, dev):
    """RMSE of the estimated per-level coefficients (w + v) against the true ones."""
    est = res.random_effects["g"].to_numpy() + res.params.to_numpy()
    return float(np.sqrt(np.mean((est - (dev + TRUE_W)) ** 2)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cv_and_reml_recover_true_deviations_better_than_pooled_and_unpooled(seed):
    # 40 groups of about 10 rows: the regime where partial pooling matters
    df, dev = simulate(seed, G=40, n=400)
    fit = {a: hierreg.fit(F, df, method="regularized", alpha=a) for a in ("cv", "reml", 1e-9, 1e12)}
    err = {a: _dev_rmse(r, dev) for a, r in fit.items()}
    pooled, unpooled = err[1e12], err[1e-9]
    assert np.abs(fit[1e12].random_effects["g"].to_numpy()).max() < 1e-6  # really pooled
    assert err["cv"] < min(pooled, unpooled)
    assert err["reml"] < min(pooled, unpooled)


def test_cv_curve_and_choice():
    df, _ = simulate(4, G=40, n=400)
    res = hierreg.fit(F, df, method="regularized", alpha="cv")
    cvr = res.cv_results_
    assert list(cvr.columns) == ["alpha", "mean_mse", "sd_mse"] and len(cvr) == 25
    assert np.all(np.diff(cvr["alpha"]) > 0) and cvr["mean_mse"].notna().all()
    assert res.alpha == pytest.approx(cvr["alpha"][cvr["mean_mse"].idxmin()])
    # the refit on all rows at the chosen alpha is the plain fit at that alpha
    again = hierreg.fit(F, df, method="regularized", alpha=res.alpha)
    np.testing.assert_allclose(res.params, again.params, rtol=1e-12)
    # the curve is U-shaped here: both ends are worse than the chosen value
    assert cvr["mean_mse"].iloc[0] > cvr["mean_mse"].min() < cvr["mean_mse"].iloc[-1]


def test_cv_held_out_error_equals_refitting_each_fold_by_hand():
    from hierreg_formula.regularized.cv import group_folds

    df, _ = simulate(5, G=15, n=300)
    grid = np.array([1e-3, 1e-1])
    res = hierreg.fit(F, df, method="regularized", alpha="cv", alphas=grid, cv=3, random_state=7)
    codes = pd.factorize(df["g"], sort=True)[0]
    folds = group_folds(codes, 3, seed=7)
    for i, a in enumerate(grid):
        mses = []
        for f in range(3):
            tr, te = df[folds != f], df[folds == f]
            fit = hierreg.fit(F, tr, method="regularized", alpha=a)
            mses.append(np.mean((te["y"] - fit.predict(te)) ** 2))
        assert res.cv_results_["mean_mse"].iloc[i] == pytest.approx(np.mean(mses), rel=1e-9)
        assert res.cv_results_["sd_mse"].iloc[i] == pytest.approx(np.std(mses, ddof=1), rel=1e-6)


def test_cv_binomial_uses_log_loss():
    df, _ = simulate(6, G=10, n=400)
    df["win"] = np.where(df["y"] > 1, "yes", "no")
    res = hierreg.fit(
        "win ~ x + (x | g)",
        df,
        method="regularized",
        alpha="cv",
        family="binomial",
        cv=3,
        alphas=np.logspace(-3, 1, 5),
    )
    assert list(res.cv_results_.columns) == ["alpha", "mean_log_loss", "sd_log_loss"]
    assert res.alpha in set(res.cv_results_["alpha"])


@pytest.mark.parametrize(
    "formula", ["y ~ x + (x | g)", "y ~ x + (x || g)", "y ~ x + (1 | g) + (0 + x | h)"]
)
def test_reml_alpha_gives_the_mixed_model_conditional_modes(formula):
    df, _ = simulate(3)
    df["h"] = np.where(df["x"] > 0.3, "up", "down")
    reg = hierreg.fit(formula, df, method="regularized", alpha="reml")
    lmm = hierreg.fit(formula, df)
    np.testing.assert_allclose(reg.params.to_numpy(), lmm.params.to_numpy(), rtol=1e-10)
    for g in lmm.random_effects:
        np.testing.assert_allclose(
            reg.random_effects[g].to_numpy(), lmm.random_effects[g].to_numpy(), atol=1e-10
        )
    np.testing.assert_allclose(reg.theta, lmm.theta.to_numpy())
    assert reg.alpha_request == "reml" and np.isnan(reg.alpha) and np.isnan(reg.objective)


def test_reml_equals_ridge_for_a_scalar_term_without_weights():
    # (1 | g), weight_by_nobs=False: alpha = sigma^2 / (n sigma_b^2) is the mixed model
    df, _ = simulate(8, G=20, n=400)
    f = "y ~ x + (1 | g)"
    lmm = hierreg.fit(f, df)
    ratio = float(lmm.theta.iloc[0]) ** 2  # sigma_b^2 / sigma^2
    alpha = 1.0 / (len(df) * ratio)
    reg = hierreg.fit(f, df, method="regularized", alpha=alpha, weight_by_nobs=False)
    np.testing.assert_allclose(
        reg.random_effects["g"].to_numpy(), lmm.random_effects["g"].to_numpy(), atol=1e-10
    )


def test_bad_alpha_options():
    df, _ = simulate(9, G=5, n=100)
    for kw in (
        {"alpha": "aic"},
        {"alpha": -1.0},
        {"alpha": 0.0},
        {"alpha": "cv", "loss": "norm"},
        {"alpha": "reml", "family": "binomial"},
        {"alpha": "cv", "cv": 1},
        {"alpha": "cv", "alphas": [0.1, -1.0]},
        {"alpha": 0.1, "loss": "huber"},
        {"alpha": 0.1, "family": "poisson"},
    ):
        with pytest.raises(hierreg.HierregError):
            hierreg.fit(
                F, df.assign(y=df.y > 1) if kw.get("family") else df, method="regularized", **kw
            )
