"""Formula layer: lme4-style formulas on formulaic -> design blocks.

- :func:`parse_formula` splits ``"y ~ x + (x | g)"`` into the response, the
  formulaic fixed part and the expanded random terms (:mod:`.parser`);
- :func:`build_design` materializes them on a DataFrame into
  :class:`DesignBlocks` (:mod:`.design`, grouping codes from :mod:`.grouping`,
  used columns from :mod:`.variables`);
- ``blocks.spec.rebuild(new_data)`` (:class:`DesignSpec`) rebuilds the same
  columns and levels on new data.

Example
-------
>>> import hierreg_formula as hierreg
>>> blocks = build_design("Reaction ~ Days + (Days | Subject)", hierreg.load_dataset("sleepstudy"))
>>> blocks.x_names, [(b.group, b.names, b.nlevels) for b in blocks.random]
(['Intercept', 'Days'], [('Subject', ['Intercept', 'Days'], 18)])
"""

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
