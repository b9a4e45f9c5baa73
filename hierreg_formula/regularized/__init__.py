"""The regularized mode: hierreg's penalized group deviations on the mixed-model core.

See :mod:`hierreg_formula.regularized.fit` for the connection with REML; the
scikit-learn estimators are in :mod:`hierreg_formula.estimators`.
"""

from ..results.regularized import RegularizedResults
from .fit import fit_regularized, fit_regularized_blocks

__all__ = ["RegularizedResults", "fit_regularized", "fit_regularized_blocks"]
