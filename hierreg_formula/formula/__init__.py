"""Formula layer: lme4-style formulas on formulaic -> design blocks."""

from .blocks import DesignBlocks, RandomBlock
from .design import DesignSpec, build_design
from .grouping import Grouping
from .parser import LmeFormulaParser, ParsedFormula, RandomTerm, parse_formula

__all__ = [
    "DesignBlocks",
    "DesignSpec",
    "Grouping",
    "build_design",
    "LmeFormulaParser",
    "ParsedFormula",
    "RandomBlock",
    "RandomTerm",
    "parse_formula",
]
