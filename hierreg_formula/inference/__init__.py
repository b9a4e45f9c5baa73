"""Small-sample inference for linear mixed models: pure functions on arrays.

- :mod:`.problem`: the model arrays (:class:`LMMProblem`), weights/offset folded in.
- :mod:`.qspace`: marginal-covariance quantities in ``q`` dimensions (no ``n x n``).
- :mod:`.varpar`: covariance of ``(theta, sigma)`` and the Jacobian of ``cov(beta)``.
- :mod:`.satterthwaite`, :mod:`.kenward_roger`: df, adjusted covariance, t and F tests.
"""

from .kenward_roger import KRAdjustment, kr_adjustment, kr_df, kr_f, kr_t
from .problem import LMMProblem
from .qspace import DenseSizeError, MarginalQuantities
from .satterthwaite import (
    FTestResult,
    TTestResult,
    satterthwaite_df,
    satterthwaite_f,
    satterthwaite_t,
)
from .varpar import VarParCovariance, varpar_covariance

__all__ = [
    "DenseSizeError",
    "FTestResult",
    "KRAdjustment",
    "LMMProblem",
    "MarginalQuantities",
    "TTestResult",
    "VarParCovariance",
    "kr_adjustment",
    "kr_df",
    "kr_f",
    "kr_t",
    "satterthwaite_df",
    "satterthwaite_f",
    "satterthwaite_t",
    "varpar_covariance",
]
