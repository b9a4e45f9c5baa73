"""The arrays of a linear mixed model, shared by every inference routine.

:class:`ModelArrays` holds ``X``, ``y`` and the random-effects terms (in the
caller's order, which is also the order of ``theta``) on the *working scale*:
prior weights ``w`` and an offset are folded in once (rows multiplied by
``sqrt(w)``, ``y`` minus the offset), so that every formula downstream is the
unweighted one, ``y ~ N(X beta, sigma^2 (I + Z Lambda Lambda' Z'))``.

It caches what does not depend on ``theta``: the sparse ``Z`` (caller's term
order), ``Z'Z``, ``Z'X``, ``Z'y`` and the core's cross-products.  The terms go to
the core in the caller's order: the boundary (:func:`~hierreg_formula.models.prepare.prepare`)
has already put them in lme4's order (most levels first, so the core's first,
block-diagonal term is the largest), and nothing here permutes them.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.structure import TermArrays
>>> from hierreg_formula.core.lmm import fit_lmm
>>> g = np.repeat(np.arange(3), 4)
>>> y = np.array([1.0, 2, 3, 2, 5, 6, 4, 5, 2, 1, 3, 2])
>>> arrays = ModelArrays.from_arrays(np.ones((12, 1)), y, [TermArrays(g, 3, np.ones((12, 1)))])
>>> arrays.n, arrays.p, arrays.q, arrays.ntheta
(12, 1, 3, 1)
>>> est = fit_lmm(arrays.X, arrays.y, list(arrays.terms))
>>> bool(abs(arrays.deviance(est.theta, reml=True) - est.objective) < 1e-9)
True
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..core.lmm import profiled_deviance
from ..core.pls import PLSFactor, factorize
from ..core.structure import CrossProducts, TermArrays, cross_products, z_matrix
from ..core.theta import ThetaMap


def level_blocks(T: np.ndarray, nlevels: int) -> sp.csr_matrix:
    """``I_L (x) T``: the sparse block-diagonal relative factor of one term."""
    return sp.kron(sp.identity(nlevels, format="csr"), sp.csr_matrix(T), format="csr")


@dataclass(frozen=True, eq=False)
class ModelArrays:
    """``X``, ``y`` and the terms on the working scale (weights and offset folded in).

    Build it with :meth:`from_arrays`.  ``terms`` are in the caller's order: the
    order of ``theta`` and of :attr:`~hierreg_formula.core.lmm.LMMEstimate.factors`.
    """

    X: np.ndarray
    y: np.ndarray
    terms: tuple[TermArrays, ...]
    log_weights_sum: float = 0.0

    # ------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        X: np.ndarray,
        y: np.ndarray,
        terms: Sequence[TermArrays],
        weights: np.ndarray | None = None,
        offset: np.ndarray | None = None,
    ) -> ModelArrays:
        """Fold prior weights (``Var(e_i) = sigma^2 / w_i``) and an offset into the arrays."""
        X = np.ascontiguousarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        if offset is not None:
            y = y - np.asarray(offset, dtype=float)
        terms = tuple(terms)
        lw = 0.0
        if weights is not None:
            w = np.asarray(weights, dtype=float)
            if np.any(w <= 0):
                raise ValueError("prior weights must be positive")
            sw = np.sqrt(w)
            X = X * sw[:, None]
            y = y * sw
            terms = tuple(dataclasses.replace(t, Xz=t.Xz * sw[:, None]) for t in terms)
            lw = float(np.log(w).sum())
        return cls(X=X, y=np.ascontiguousarray(y), terms=terms, log_weights_sum=lw)

    @classmethod
    def from_prepared(cls, pm: Any) -> ModelArrays:
        """From :func:`~hierreg_formula.models.prepare.prepare`'s ``PreparedModel`` (any object
        with ``X``, ``y``, ``terms``, ``weights``, ``offset``; this layer does not import it)."""
        return cls.from_arrays(pm.X, pm.y, pm.terms, weights=pm.weights, offset=pm.offset)

    def with_response(self, y: np.ndarray) -> ModelArrays:
        """The same design with another (working-scale) response."""
        return ModelArrays(self.X, np.asarray(y, dtype=float), self.terms, self.log_weights_sum)

    # ------------------------------------------------------------------ sizes
    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def p(self) -> int:
        return self.X.shape[1]

    @property
    def ks(self) -> list[int]:
        return [t.k for t in self.terms]

    @property
    def nlevels(self) -> list[int]:
        return [t.nlevels for t in self.terms]

    @property
    def q(self) -> int:
        return int(sum(t.q for t in self.terms))

    @functools.cached_property
    def tmap(self) -> ThetaMap:
        return ThetaMap(self.ks)

    @property
    def ntheta(self) -> int:
        return self.tmap.size

    @functools.cached_property
    def offsets(self) -> np.ndarray:
        """Start of each term's columns in ``Z`` (caller's order), and ``q`` at the end."""
        return np.concatenate([[0], np.cumsum([t.q for t in self.terms])]).astype(np.int64)

    @functools.cached_property
    def theta_slices(self) -> list[slice]:
        """The positions of each term's entries in ``theta``."""
        out, start = [], 0
        for k in self.ks:
            m = k * (k + 1) // 2
            out.append(slice(start, start + m))
            start += m
        return out

    # ------------------------------------------------ theta-free cached pieces
    @functools.cached_property
    def Z(self) -> sp.csr_matrix:
        """Sparse ``n x q`` random-effects design, terms in the caller's order."""
        return sp.hstack([z_matrix(t) for t in self.terms], format="csr")

    @functools.cached_property
    def ZtZ(self) -> sp.csr_matrix:
        ZT = self.Z.T.tocsr()
        S = (ZT @ self.Z).tocsr()
        S.sum_duplicates()
        return S

    @functools.cached_property
    def ZtX(self) -> np.ndarray:
        return np.asarray(self.Z.T @ self.X)

    @functools.cached_property
    def Zty(self) -> np.ndarray:
        return np.asarray(self.Z.T @ self.y).ravel()

    @functools.cached_property
    def XtX(self) -> np.ndarray:
        return self.X.T @ self.X

    @functools.cached_property
    def Xty(self) -> np.ndarray:
        return self.X.T @ self.y

    @functools.cached_property
    def yty(self) -> float:
        return float(self.y @ self.y)

    # the response residualised on X by least squares: P y = P r, so the marginal
    # quantities use r (no cancellation when y has a large mean) and add gamma back to beta
    @functools.cached_property
    def ols(self) -> np.ndarray:
        """Least-squares coefficients ``gamma`` of ``y`` on ``X``."""
        return np.linalg.lstsq(self.X, self.y, rcond=None)[0]

    @functools.cached_property
    def resid(self) -> np.ndarray:
        return self.y - self.X @ self.ols

    @functools.cached_property
    def Ztr(self) -> np.ndarray:
        return np.asarray(self.Z.T @ self.resid).ravel()

    @functools.cached_property
    def Xtr(self) -> np.ndarray:
        return self.X.T @ self.resid

    @functools.cached_property
    def rtr(self) -> float:
        return float(self.resid @ self.resid)

    @functools.cached_property
    def cp(self) -> CrossProducts:
        """The core's cross-products of the terms (computed once)."""
        return cross_products(self.X, self.y, list(self.terms))

    # ------------------------------------------------------------ theta maps
    def factors(self, theta: np.ndarray) -> list[np.ndarray]:
        """Relative covariance factors ``T_i`` per term (caller's order)."""
        return self.tmap.factors(np.asarray(theta, dtype=float))

    def lambda_matrix(self, theta: np.ndarray) -> sp.csr_matrix:
        """Sparse block-diagonal ``Lambda`` (caller's order, level-major columns)."""
        return sp.block_diag(
            [
                level_blocks(T, t.nlevels)
                for T, t in zip(self.factors(theta), self.terms, strict=True)
            ],
            format="csr",
        )

    # ---------------------------------------------------- factor and deviance
    def factor(self, theta: np.ndarray, cp: CrossProducts | None = None) -> PLSFactor:
        """The core's PLS factor at ``theta`` (optionally on other cross-products)."""
        return factorize(self.cp if cp is None else cp, self.factors(theta))

    def deviance(self, theta: np.ndarray, reml: bool, cp: CrossProducts | None = None) -> float:
        """The (RE)ML profiled deviance (without the constant ``-sum(log w)``)."""
        return float(profiled_deviance(self.factor(theta, cp), reml))
