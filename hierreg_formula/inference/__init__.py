"""Small-sample inference for linear mixed models: pure functions on arrays.

- :mod:`.arrays`: the model arrays (:class:`ModelArrays`), weights/offset folded in.
- :mod:`.qspace`: marginal-covariance quantities in ``q`` dimensions (no ``n x n``).
- :mod:`.varpar`: covariance of ``(theta, sigma)`` and the Jacobian of ``cov(beta)``.
- :mod:`.satterthwaite`, :mod:`.kenward_roger`: df, adjusted covariance, t and F tests.
- :mod:`.contrasts`, :mod:`.ftests`: type I / III contrasts per term, ANOVA tables.
- :mod:`.lrt`: likelihood-ratio tests between nested models (lme4's ``anova(m0, m1)``).
- :mod:`.profile`: likelihood profiles and profile confidence intervals.
- :mod:`.bootstrap`: parametric bootstrap (simulate and refit on the same structure).
- :mod:`.prediction`, :mod:`.r2`: SE / intervals of ``x' beta``; ICC and Nakagawa R^2.
- :mod:`.names`: lme4's order and names of the variance parameters.
- :mod:`.refit`: refits on modified cross-products (no design rebuild).
"""

from .arrays import ModelArrays
from .bootstrap import BootstrapResult, parametric_bootstrap, simulate_responses
from .contrasts import (
    FixedTerm,
    fixed_terms_from_spec,
    full_dummy_blocks,
    type1_contrasts,
    type3_contrasts,
)
from .ftests import anova_frame, anova_tests
from .kenward_roger import KRAdjustment, kr_adjustment, kr_df, kr_f, kr_for_estimate, kr_t
from .lrt import LRTResult, ModelComparison, compare_models, lrt
from .names import VarParNames, lme4_term_order, varpar_names
from .prediction import PredictionResult, fixed_prediction
from .profile import ConfIntResult, ParameterProfile, Profiler, profile_confint, profile_grid
from .qspace import DenseSizeError, MarginalQuantities
from .r2 import VarianceDecomposition, nakagawa_r2
from .refit import CoreRefitter, fit_arrays, refit_ml
from .satterthwaite import (
    FTestResult,
    TTestResult,
    satterthwaite_df,
    satterthwaite_f,
    satterthwaite_t,
)
from .varpar import VarParCovariance, varpar_covariance, varpar_for_estimate

__all__ = [
    "BootstrapResult",
    "ConfIntResult",
    "DenseSizeError",
    "FTestResult",
    "FixedTerm",
    "KRAdjustment",
    "ModelArrays",
    "LRTResult",
    "MarginalQuantities",
    "ModelComparison",
    "ParameterProfile",
    "PredictionResult",
    "Profiler",
    "TTestResult",
    "VarParCovariance",
    "VarParNames",
    "VarianceDecomposition",
    "anova_frame",
    "anova_tests",
    "compare_models",
    "fit_arrays",
    "CoreRefitter",
    "fixed_prediction",
    "fixed_terms_from_spec",
    "full_dummy_blocks",
    "kr_adjustment",
    "kr_df",
    "kr_f",
    "kr_for_estimate",
    "kr_t",
    "lme4_term_order",
    "lrt",
    "nakagawa_r2",
    "parametric_bootstrap",
    "profile_confint",
    "profile_grid",
    "refit_ml",
    "satterthwaite_df",
    "satterthwaite_f",
    "satterthwaite_t",
    "simulate_responses",
    "type1_contrasts",
    "type3_contrasts",
    "varpar_covariance",
    "varpar_for_estimate",
    "varpar_names",
]
