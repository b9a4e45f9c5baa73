"""Linear mixed models by REML/ML from a formula.

Example
-------
>>> import hierreg_formula as hierreg
>>> res = fit_lmm_formula("Reaction ~ Days + (1 | Subject)", hierreg.load_dataset("sleepstudy"))
>>> res.method
'REML'
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..core.lmm import fit_lmm
from ..core.structure import TermArrays
from ..exceptions import ConvergenceWarning, SingularFitWarning
from ..formula import build_design
from ..formula.blocks import DesignBlocks
from ..results.lmm import LMMResults
from .checks import check_estimable, drop_dependent_columns


def term_arrays(blocks: DesignBlocks) -> list[TermArrays]:
    """The numeric core's view of the random blocks."""
    return [
        TermArrays(
            codes=np.ascontiguousarray(blk.codes, dtype=np.int64),
            nlevels=blk.nlevels,
            Xz=np.ascontiguousarray(blk.X, dtype=float),
        )
        for blk in blocks.random
    ]


def fit_lmm_blocks(
    formula: str, blocks: DesignBlocks, reml: bool = True, data: Any = None, **core_kwargs: Any
) -> LMMResults:
    """Fit a linear mixed model on already-built design blocks."""
    blocks, dropped = drop_dependent_columns(blocks)
    check_estimable(blocks)
    est = fit_lmm(blocks.X, blocks.y, term_arrays(blocks), reml=reml, **core_kwargs)
    if not est.converged:
        warnings.warn(
            f"the optimiser did not converge ({est.message}); estimates may be inaccurate",
            ConvergenceWarning,
            stacklevel=3,
        )
    if est.is_singular:
        names = ", ".join(blocks.random[i].label for i in est.singular_terms)
        warnings.warn(
            f"boundary (singular) fit: a variance component of {names} is estimated as (near) "
            "zero, or a correlation as +-1; simplify the random-effects structure",
            SingularFitWarning,
            stacklevel=3,
        )
    return LMMResults(
        formula=formula, blocks=blocks, estimate=est, dropped_columns=dropped, data=data
    )


def fit_lmm_formula(
    formula: str,
    data: pd.DataFrame | Mapping[str, Any],
    reml: bool = True,
    missing: str = "drop",
    **core_kwargs: Any,
) -> LMMResults:
    """Build the design blocks from ``formula`` and ``data`` and fit by REML or ML."""
    blocks = build_design(formula, data, missing=missing)
    return fit_lmm_blocks(formula, blocks, reml=reml, data=data, **core_kwargs)
