"""Refits of a linear mixed model that reuse its structure (no design rebuild).

The bootstrap, the ML refit of a REML model and the fixed-effect profiles change
only the response (or drop one fixed-effects column and move it into the
offset).  :class:`CoreRefitter` builds the core's
:class:`~hierreg_formula.core.lmm.LMMProblem` once (conditioning and
cross-products of ``X`` and the terms, the fill-in pair index), and a refit with
another response only recomputes the cross-products that involve ``y``
(``Z'y``, ``X'y``, ``y'y`` of the conditioned response, :func:`with_response`)
before :meth:`~hierreg_formula.core.lmm.LMMProblem.from_cross_products`.

The terms go to the core in the caller's order (the boundary has put them in
lme4's order), so estimates need no reordering.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.structure import TermArrays
>>> from hierreg_formula.core.lmm import fit_lmm
>>> from hierreg_formula.inference.arrays import ModelArrays
>>> rng = np.random.default_rng(0)
>>> g = np.repeat(np.arange(8), 5)
>>> y = rng.normal(size=8)[g] + rng.normal(size=40)
>>> arr = ModelArrays.from_arrays(np.ones((40, 1)), y, [TermArrays(g, 8, np.ones((40, 1)))])
>>> y2 = y + rng.normal(size=40)
>>> est = CoreRefitter(arr, reml=True).fit(y2)
>>> bool(abs(est.objective - fit_lmm(arr.X, y2, list(arr.terms)).objective) < 1e-8)
True
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

from ..core.lmm import LMMEstimate, LMMProblem
from ..core.structure import CrossProducts, z_matrix
from .arrays import ModelArrays


# ------------------------------------------------------------- cross-products
def with_response(cp: CrossProducts, zy: np.ndarray, xy: np.ndarray, yy: float) -> CrossProducts:
    """Cross-products for another response: ``Z'y`` (``cp.terms``' order), ``X'y``, ``y'y``."""
    q1 = cp.P1.shape[0] * cp.P1.shape[1]
    P1 = cp.P1.copy()
    P1[:, :, -1] = zy[:q1].reshape(P1.shape[:2])
    RXY = cp.RXY.copy()
    if RXY.shape[0]:
        RXY[:, -1] = zy[q1:]
    XYXY = cp.XYXY.copy()
    XYXY[:-1, -1] = XYXY[-1, :-1] = xy
    XYXY[-1, -1] = yy
    return dataclasses.replace(cp, P1=P1, RXY=RXY, XYXY=XYXY)


# ------------------------------------------------------------------ refits
class CoreRefitter:
    """The core's problem for ``(X, terms)`` built once, refitted to other responses.

    Parameters
    ----------
    arrays: the model arrays (working scale: weights folded in).
    reml: the criterion of the refits.
    drop: a fixed-effects column to leave out (its contribution then goes into the
        response, see :meth:`fit_fixed`).
    """

    def __init__(self, arrays: ModelArrays, reml: bool, drop: int | None = None) -> None:
        self.arrays = arrays
        self.reml = reml
        self.drop = drop
        keep = [j for j in range(arrays.p) if j != drop]
        self.X = np.ascontiguousarray(arrays.X[:, keep])
        self.xj = None if drop is None else arrays.X[:, drop]
        terms = list(arrays.terms)
        self.core = LMMProblem(self.X, arrays.y, terms, reml=reml)
        cond = self.core.cond
        Xs, _, ts = cond.apply(self.X, None, terms)
        self._Xs = Xs
        self._Zs = sp.hstack([z_matrix(t) for t in ts], format="csr")
        self._cond = cond

    def products(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """``Z'y``, ``X'y``, ``y'y`` of the conditioned response."""
        ys = (np.asarray(y, dtype=float) - self._cond.y_shift) / self._cond.y_scale
        return np.asarray(self._Zs.T @ ys).ravel(), self._Xs.T @ ys, float(ys @ ys)

    def problem(self, y: np.ndarray) -> LMMProblem:
        cp = with_response(self.core.cp, *self.products(y))
        return LMMProblem.from_cross_products(cp, self._cond, reml=self.reml)

    def fit(self, y: np.ndarray, theta0: np.ndarray | None = None) -> LMMEstimate:
        """Fit to response ``y`` (working scale); ``theta0`` in the caller's order."""
        return self.problem(y).fit(theta0=theta0)

    def fit_fixed(self, value: float, theta0: np.ndarray | None = None) -> LMMEstimate:
        """Fit with the dropped coefficient fixed at ``value`` (its column in the offset)."""
        return self.fit(self.arrays.y - value * self.xj, theta0)


def fit_arrays(arrays: ModelArrays, reml: bool, theta0: np.ndarray | None = None) -> LMMEstimate:
    """Fit the model (terms and estimate in the caller's order)."""
    return LMMProblem(arrays.X, arrays.y, list(arrays.terms), reml=reml).fit(theta0=theta0)


def refit_ml(arrays: ModelArrays, est: LMMEstimate) -> LMMEstimate:
    """The ML fit (started at ``est``'s ``theta``); ``est`` itself if already ML."""
    if not est.reml:
        return est
    return fit_arrays(arrays, reml=False, theta0=est.theta)
