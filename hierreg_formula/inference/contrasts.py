"""Contrast matrices of type I and type III ANOVA tables for the fixed-effects terms.

Each formula term (a factor with several columns is one term) gets a matrix
``L`` whose rows span the hypothesis tested for it, in terms of the model's
coefficients, following lmerTest (Kuznetsova et al. 2017, sec. 4):

- **Type I** (sequential): with ``X'X = L D L'`` (``L`` unit lower triangular,
  Doolittle), the contrast of a term is the rows of ``L'`` of its columns (each
  term adjusted for the terms before it).  Entries below ``1e-6`` in absolute
  value are set to zero, as lmerTest's ``doolittle()`` does.
- **Type III** (SAS's, Goodnight 1976): with the over-parameterized design
  ``rdX = [1, full dummy coding of each term]`` and ``L0 = (X^+ rdX)'`` (each
  over-parameterized effect written in the model's coefficients), the columns of
  ``L0`` belonging to a term that is *contained* in other terms are replaced by
  their residuals from a least-squares fit on the columns of the containing terms
  (higher-order terms first); the rows of ``L0`` of the over-parameterized effects
  that are model coefficients then form ``L``, and a term's contrast is the
  transpose of its columns.  ``F1`` is contained in ``F2`` when every variable of
  ``F1`` is in ``F2``, ``F2`` has more variables, and both involve the same
  numeric (continuous) variables.  This needs treatment (dummy) coding of the
  factors, so that every model column is one of the over-parameterized columns.

The numeric functions take arrays and :class:`FixedTerm` descriptions;
:func:`fixed_terms_from_spec` and :func:`full_dummy_blocks` build those from
formulaic's ``ModelSpec`` of the fixed part and the fitting data.

Example
-------
>>> import numpy as np
>>> X = np.column_stack([np.ones(4), [0, 1, 1, 1.0], [0, 0, 1, 1.0]])
>>> terms = [FixedTerm("a", (1,), ("a",), ()), FixedTerm("b", (2,), ("b",), ())]
>>> type1_contrasts(X, terms)["a"].round(4).tolist()  # a, not adjusted for b
[[0.0, 1.0, 0.6667]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: lmerTest's doolittle() zeroes entries below this (absolute)
DOOLITTLE_EPS = 1e-6
#: entries of a type-III contrast below this times its largest entry are set to zero
ZAP_RELATIVE = 1e-7


@dataclass(frozen=True)
class FixedTerm:
    """One term of the fixed part.

    Attributes
    ----------
    name: the term's label, e.g. ``"recipe:temp"``.
    columns: indices of its columns in ``X``.
    variables: the variables (formulaic factors) it involves.
    numeric: those of them that are numeric (continuous) variables.
    """

    name: str
    columns: tuple[int, ...]
    variables: tuple[str, ...]
    numeric: tuple[str, ...]

    @property
    def order(self) -> int:
        return len(self.variables)


def containing_terms(terms: Sequence[FixedTerm]) -> dict[str, list[str]]:
    """For each term, the terms that contain it (SAS/lmerTest definition)."""
    out: dict[str, list[str]] = {}
    for t1 in terms:
        v1, n1 = set(t1.variables), set(t1.numeric)
        out[t1.name] = [
            t2.name
            for t2 in terms
            if t2.name != t1.name
            and v1 <= set(t2.variables)
            and len(set(t2.variables) - v1) > 0
            and n1 == set(t2.numeric)
        ]
    return out


def type1_contrasts(X: np.ndarray, terms: Sequence[FixedTerm]) -> dict[str, np.ndarray]:
    """Sequential (type I) contrasts: rows of the unit upper Doolittle factor of ``X'X``."""
    X = np.asarray(X, dtype=float)
    p = X.shape[1]
    if p == 1:
        Lt = np.ones((1, 1))
    else:
        R = np.linalg.cholesky(X.T @ X).T  # upper, X'X = R'R
        Lt = R / np.diag(R)[:, None]  # = L' of X'X = L D L'
        Lt[np.abs(Lt) < DOOLITTLE_EPS] = 0.0
    return {t.name: Lt[list(t.columns)] for t in terms}


def _zap(A: np.ndarray) -> np.ndarray:
    scale = np.max(np.abs(A)) if A.size else 0.0
    A = A.copy()
    A[np.abs(A) < ZAP_RELATIVE * max(scale, np.finfo(float).tiny)] = 0.0
    return A


def type3_contrasts(
    X: np.ndarray,
    terms: Sequence[FixedTerm],
    dummy_blocks: Sequence[np.ndarray],
    intercept: bool = True,
    atol: float = 1e-10,
) -> dict[str, np.ndarray]:
    """Type III contrasts (lmerTest's, for treatment-coded factors).

    Parameters
    ----------
    X: the full-rank ``n x p`` fixed-effects matrix.
    terms: its terms (not the intercept), with their columns.
    dummy_blocks: per term, its full dummy coding (every level or level
        combination, times the numeric variables): the term's block of ``rdX``.
    intercept: whether ``X`` has an intercept column (not in any term).
    atol: tolerance to identify a model column with an over-parameterized one.
    """
    X = np.asarray(X, dtype=float)
    n, p = X.shape
    if p <= 1 or len(terms) <= 1:
        return type1_contrasts(X, terms)
    blocks = [np.asarray(b, dtype=float).reshape(n, -1) for b in dummy_blocks]
    rd_cols = ([np.ones((n, 1))] if intercept else []) + blocks
    rdX = np.hstack(rd_cols)
    starts = np.cumsum([0] + [b.shape[1] for b in rd_cols])
    # which rdX column is each model column (within its own term's block)
    row_of = np.full(p, -1)
    term_cols = {c for t in terms for c in t.columns}
    if intercept:
        icol = [j for j in range(p) if j not in term_cols]
        if len(icol) != 1:
            raise ValueError("could not identify the intercept column of X")
        row_of[icol[0]] = 0
    for i, t in enumerate(terms):
        blk = rdX[:, starts[i + intercept] : starts[i + intercept + 1]]
        scale = np.maximum(np.abs(blk).max(axis=0), 1.0)
        for j in t.columns:
            diff = np.abs(blk - X[:, [j]]).max(axis=0) / scale
            hit = np.flatnonzero(diff <= atol)
            if hit.size != 1:
                raise ValueError(
                    f"type III contrasts need treatment (dummy) coding: column {j} of term "
                    f"{t.name!r} is not one of the term's full dummy columns"
                )
            row_of[j] = starts[i + intercept] + hit[0]
    L0 = _zap(np.linalg.lstsq(X, rdX, rcond=None)[0].T)  # (P, p): rdX = X L0'
    contained = containing_terms(terms)
    by_name = {t.name: t for t in terms}
    # higher-order terms first (stable among equal orders)
    for t in sorted(terms, key=lambda t: -t.order):
        cont = contained[t.name]
        if not cont:
            continue
        cols = list(t.columns)
        ccols = [c for nm in cont for c in by_name[nm].columns]
        Xc = L0[:, ccols]
        coef = np.linalg.lstsq(Xc, L0[:, cols], rcond=None)[0]
        L0[:, cols] = _zap(L0[:, cols] - Xc @ coef)
    L = L0[row_of]  # (p, p): rows = model coefficients
    out = {}
    for t in terms:
        Lt = L[:, list(t.columns)].T
        out[t.name] = Lt[np.abs(Lt).sum(axis=1) > 1e-8]
    return out


# ------------------------------------------------------------ from formulaic
def fixed_terms_from_spec(spec: Any, x_names: Sequence[str]) -> tuple[list[FixedTerm], bool]:
    """The fixed terms of formulaic's ``ModelSpec`` mapped to the columns ``x_names``.

    Returns the terms (intercept excluded) and whether there is an intercept.
    Columns dropped as linearly dependent are left out of their term.
    """
    pos = {nm: i for i, nm in enumerate(x_names)}
    kinds = {}
    for var, (kind, _) in spec.encoder_state.items():
        kinds[str(var)] = str(getattr(kind, "value", kind))
    terms: list[FixedTerm] = []
    intercept = False
    for st in spec.structure:
        name = str(st.term)
        cols = tuple(pos[c] for c in st.columns if c in pos)
        if name == "1":
            intercept = bool(cols)
            continue
        variables = tuple(str(f) for f in st.term.factors)
        numeric = tuple(v for v in variables if kinds.get(v) == "numerical")
        if cols:
            terms.append(FixedTerm(name, cols, variables, numeric))
    return terms, intercept


def full_dummy_blocks(terms: Sequence[FixedTerm], data: Any) -> list[np.ndarray]:
    """Each term's full dummy coding on ``data`` (formulaic's ``0 + term``)."""
    from formulaic import model_matrix

    return [
        np.asarray(model_matrix(f"0 + {t.name}", data, na_action="ignore"), dtype=float)
        for t in terms
    ]
