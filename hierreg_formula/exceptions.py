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

import os
import sys
import warnings

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def warn(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` attributed to the first caller outside this package."""
    level = 2  # stacklevel 1 is this function, 2 its caller
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)


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


class ResponseWarning(HierregWarning):
    """The response looks like it needs another model (e.g. 0/1 values in a Gaussian fit)."""


class SeparationWarning(HierregWarning):
    """Fitted probabilities are numerically 0 or 1 (complete separation in a binomial model)."""
