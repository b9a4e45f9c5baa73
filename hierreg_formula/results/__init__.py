"""Results objects: shared base API and the mixed-model results."""

from .base import HierarchicalFitBase
from .lmm import LMMResults

__all__ = ["HierarchicalFitBase", "LMMResults"]
