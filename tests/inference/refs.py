"""Reference material for the inference tests and helpers to build the models.

Turn-2 references are read from the shared read-only folder
(``shared/reference/lme4-turn2``); turn-3 ones are copied into ``tests/data/reference/lme4-turn3``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import hierreg_formula as hierreg
from hierreg_formula.core.lmm import fit_lmm
from hierreg_formula.formula import build_design
from hierreg_formula.inference.arrays import ModelArrays
from hierreg_formula.models.prepare import prepare
from tests.conftest import SHARED

TURN2 = SHARED / "reference" / "lme4-turn2"
TURN3 = Path(__file__).resolve().parents[1] / "data" / "reference" / "lme4-turn3"


def load_ref(name: str) -> dict:
    for folder in (TURN3, TURN2):
        path = folder / f"{name}.json"
        if path.exists():
            return json.loads(path.read_text())
    pytest.skip(f"reference {name}.json not available")


def build(formula: str, dataset: str):
    """(design blocks in lme4's term order, ModelArrays, data) of a formula on a dataset."""
    df = hierreg.load_dataset(dataset)
    pm = prepare(build_design(formula, df))
    return pm.blocks, ModelArrays.from_prepared(pm), df


def fit(prob: ModelArrays, reml: bool = True):
    return fit_lmm(prob.X, prob.y, list(prob.terms), reml=reml)


def rel(a, b) -> float:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def theta_from_lme4(prob: ModelArrays, theta_ref) -> np.ndarray:
    """lme4's theta (terms in its order, :func:`lme4_term_order`) in the problem's term order."""
    from hierreg_formula.inference.names import lme4_term_order

    theta_ref = np.asarray(theta_ref, dtype=float)
    out = np.empty(prob.ntheta)
    start = 0
    for a in lme4_term_order(prob.nlevels):
        sl = prob.theta_slices[a]
        m = sl.stop - sl.start
        out[sl] = theta_ref[start : start + m]
        start += m
    return out
