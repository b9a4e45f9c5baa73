"""Results objects: one shared vocabulary (:mod:`.base`) for every estimator."""

from .base import MixedResultsBase
from .lmm import LMMResults
from .regularized import RegularizedResults

__all__ = ["LMMResults", "MixedResultsBase", "RegularizedResults"]
