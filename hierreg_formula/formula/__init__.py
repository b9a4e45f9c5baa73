"""Formula layer: lme4-style formulas on formulaic -> design blocks.

- :func:`parse_formula` splits ``"y ~ x + (x | g)"`` into the response, the
  formulaic fixed part, the expanded random terms, the ``offset()`` terms and
  the counts of a ``cbind(s, f)`` response (:mod:`.parser`, on the formulaic
  extension of :mod:`.syntax` and the special calls of :mod:`.specials`);
- :func:`build_design` materializes them on a DataFrame into
  :class:`DesignBlocks` (:mod:`.design`: used columns from :mod:`.variables`,
  checked and normalised by :mod:`.columns`, evaluated by formulaic in
  :mod:`.materialize`, grouping codes from :mod:`.grouping`);
- ``blocks.spec.rebuild(new_data)`` (:class:`DesignSpec`) rebuilds the same
  columns, offsets and levels on new data (labels matched across types by
  :mod:`.labels`).

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
