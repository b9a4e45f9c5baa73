"""Bad input to the GLMM core: each a clear error (or warning) at the core level."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import statsmodels.api as sm

from hierreg_formula.core.families import get_family
from hierreg_formula.core.glmer import fit_glmm
from hierreg_formula.core.structure import TermArrays
from hierreg_formula.exceptions import (
    DataError,
    EstimationError,
    SeparationWarning,
)

N, G = 200, 10


@pytest.fixture
def model():
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(G), N // G)
    x = rng.normal(size=N)
    X = np.column_stack([np.ones(N), x])
    eta = -0.2 + 0.6 * x + rng.normal(scale=0.7, size=G)[g]
    y01 = (rng.uniform(size=N) < 1 / (1 + np.exp(-eta))).astype(float)
    counts = rng.poisson(np.exp(eta)).astype(float)
    term = TermArrays(g, G, np.ones((N, 1)))
    return X, y01, counts, term


def test_binomial_response_outside_unit_interval(model) -> None:
    X, y, _, t = model
    y = y.copy()
    y[3] = 2.0
    with pytest.raises(DataError, match=r"binomial response must be in \[0, 1\]"):
        fit_glmm(X, y, [t], "binomial")


def test_binomial_non_integer_trials_and_successes(model) -> None:
    X, y, _, t = model
    trials = np.full(N, 4.0)
    trials[0] = 4.5
    with pytest.raises(DataError, match="numbers of trials"):
        fit_glmm(X, y, [t], "binomial", weights=trials)
    prop = np.full(N, 0.3)  # 0.3 * 4 = 1.2 successes
    with pytest.raises(DataError, match="numbers of successes"):
        fit_glmm(X, prop, [t], "binomial", weights=np.full(N, 4.0))
    with pytest.raises(DataError, match="needs the numbers of trials"):
        fit_glmm(X, prop, [t], "binomial")


def test_poisson_negative_or_fractional_counts(model) -> None:
    X, _, counts, t = model
    bad = counts.copy()
    bad[1] = -1.0
    with pytest.raises(DataError, match="non-negative"):
        fit_glmm(X, bad, [t], "poisson")
    bad = counts.copy()
    bad[1] = 1.5
    with pytest.raises(DataError, match="whole counts"):
        fit_glmm(X, bad, [t], "poisson")
    with pytest.raises(DataError, match="whole counts"):
        fit_glmm(X, bad, [t], "negative_binomial")


@pytest.mark.parametrize("value, what", [(0.0, "no successes"), (1.0, "no failures")])
def test_constant_binomial_response(model, value, what) -> None:
    X, _, _, t = model
    with pytest.raises(DataError, match=what):
        fit_glmm(X, np.full(N, value), [t], "binomial")


def test_all_zero_counts(model) -> None:
    X, _, _, t = model
    with pytest.raises(DataError, match="0 in every row"):
        fit_glmm(X, np.zeros(N), [t], "poisson")


def test_complete_separation_warns(model) -> None:
    X, _, _, t = model
    y = (X[:, 1] > 0).astype(float)  # x separates the outcomes
    with pytest.warns(SeparationWarning, match="complete separation"):
        fit_glmm(X, y, [t], "binomial", cov="rx")


def test_nagq_needs_a_single_scalar_term(model) -> None:
    X, y, _, t = model
    slope = TermArrays(t.codes, G, X)
    with pytest.raises(EstimationError, match="single scalar random-effects term"):
        fit_glmm(X, y, [slope], "binomial", nagq=5)
    other = TermArrays(np.arange(N) % 7, 7, np.ones((N, 1)))
    with pytest.raises(EstimationError, match="single scalar"):
        fit_glmm(X, y, [t, other], "binomial", nagq=3)
    with pytest.raises(ValueError, match="at most 25"):
        fit_glmm(X, y, [t], "binomial", nagq=40)
    with pytest.raises(ValueError, match="non-negative integer"):
        fit_glmm(X, y, [t], "binomial", nagq=1.5)


def test_gaussian_identity_goes_to_the_lmm(model) -> None:
    X, y, _, t = model
    with pytest.raises(EstimationError, match="fit_lmm"):
        fit_glmm(X, y, [t], "gaussian")


def test_unknown_families() -> None:
    with pytest.raises(ValueError, match="unknown family"):
        get_family("tweedie")
    with pytest.raises(ValueError, match="not supported"):
        get_family(sm.families.Tweedie())
    with pytest.raises(TypeError):
        get_family(3)


def test_shapes_weights_offset(model) -> None:
    X, y, _, t = model
    with pytest.raises(DataError, match="weights has"):
        fit_glmm(X, y, [t], "binomial", weights=np.ones(3))
    with pytest.raises(DataError, match="offset has"):
        fit_glmm(X, y, [t], "binomial", offset=np.ones(3))
    with pytest.raises(DataError, match="positive"):
        fit_glmm(X, y, [t], "binomial", weights=np.r_[0.0, np.ones(N - 1)])
    with pytest.raises(DataError, match="non-finite"):
        fit_glmm(X, np.r_[np.nan, y[1:]], [t], "binomial")


def test_observation_level_random_effect_is_fine(model) -> None:
    """One level per row (an overdispersion term) fits without complaint."""
    X, _, counts, t = model
    obs = TermArrays(np.arange(N), N, np.ones((N, 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = fit_glmm(X, counts, [obs, t], "poisson")
    assert est.converged
    assert est.b[0].shape == (N, 1)


def test_pirls_failure_is_an_error_with_advice(model, monkeypatch) -> None:
    X, y, _, t = model
    import hierreg_formula.core.glmm as glmm_mod  # fit_stages looks pirls_joint up here

    def failing(*args, **kwargs):
        from hierreg_formula.core import pirls

        kwargs["maxit"] = 1
        kwargs["tol"] = 0.0
        return pirls.pirls_joint(*args, **kwargs)

    monkeypatch.setattr(glmm_mod, "pirls_joint", failing)
    with pytest.raises(EstimationError, match="did not converge.*separation"):
        fit_glmm(X, y, [t], "binomial")
