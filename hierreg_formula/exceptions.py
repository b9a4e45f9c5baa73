"""Exceptions and warnings raised by hierreg-formula.

Every error about bad input derives from :class:`HierregError`, itself a
``ValueError``, so ``except ValueError`` keeps working for callers that do not
know this package.

Example
-------
>>> import hierreg_formula as hierreg
>>> try:
...     hierreg.fit("y ~ x + (1 | g", {"y": [1.0], "x": [1.0], "g": ["a"]})
... except hierreg.HierregError as err:
...     print(type(err).__name__)
FormulaError
"""

from __future__ import annotations


class HierregError(ValueError):
    """Base class for every bad-input error of this package."""


class FormulaError(HierregError):
    """The formula cannot be parsed or uses a construct that is not supported."""


class DataError(HierregError):
    """The data does not fit the formula: missing column, NaN, empty frame, bad type."""


class EstimationError(HierregError):
    """The model cannot be estimated from these data (e.g. nothing left to fit)."""


class HierregWarning(UserWarning):
    """Base class for the warnings of this package."""


class MissingDataWarning(HierregWarning):
    """Rows with missing values in the used columns were dropped."""


class SingularFitWarning(HierregWarning):
    """A variance parameter sits on the boundary (lme4's "boundary (singular) fit")."""


class RankDeficiencyWarning(HierregWarning):
    """Fixed-effects columns were dropped because they are linearly dependent."""


class ConvergenceWarning(HierregWarning):
    """The optimiser stopped without meeting its convergence criteria."""
