"""The profiled deviance and its gradient with every random effect in one dense block.

For a model with several terms but few random effects in all (``q = sum L_i k_i`` up to
a few hundred: Penicillin, Pastes, three vector terms on crossed factors) the blocked
sparse factor of :mod:`~.pls` spends its time in Python and scipy.sparse overhead, not
in arithmetic.  :class:`DenseDeviance` keeps ``Z'Z`` (``q x q``), ``Z'[X y]`` and
``[X y]'[X y]`` as dense arrays and evaluates, for ``Lambda(theta)``,

- ``A = Lambda'Z'Z Lambda + I = L L'`` and ``log|A|``,
- ``S = [X y]'[X y] - H'H`` with ``H = L^{-1} Lambda'Z'[X y]``, whose Cholesky factor gives
  ``log|R_X|^2`` and the penalized residual sum of squares (Bates et al. 2015, eqs. 34
  and 41),

in a handful of LAPACK calls.  The gradient follows from three derivatives, with
``E_j = d Lambda / d theta_j`` (a 1 at each level's ``(r, c)`` position of the term),
``K = Z'Z Lambda``, ``G = A^{-1} Lambda'Z'X`` and ``S_x`` the fixed-effects block of ``S``:

- ``d log|A| = 2 sum_E (K A^{-1})_ab``;
- ``d log|S_x| = -2 sum_E ((Z'X - K G) S_x^{-1} G')_ab`` (REML);
- ``d pwrss = -2 sum_E (Z'r)_a u_b`` (the envelope theorem: ``beta`` and ``u`` minimise
  the penalized sum of squares), ``Z'r = Z'[X y] [-beta; 1] - K u``;

where ``sum_E`` runs over the positions ``(a, b)`` of ``E_j``.  Only the entries at those
positions are formed (row-wise dot products), never another ``q x q`` product.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.structure import TermArrays, cross_products
>>> from hierreg_formula.core.pls import factorize
>>> from hierreg_formula.core.lmm import profiled_deviance
>>> from hierreg_formula.core.theta import ThetaMap
>>> rng = np.random.default_rng(0)
>>> a, b = rng.integers(0, 6, 80), rng.integers(0, 4, 80)
>>> X = np.ones((80, 1)); y = rng.normal(size=6)[a] + rng.normal(size=80)
>>> cp = cross_products(X, y, [TermArrays(a, 6, X), TermArrays(b, 4, X)])
>>> tmap = ThetaMap([1, 1]); th = np.array([0.7, 0.4])
>>> ref = profiled_deviance(factorize(cp, tmap.factors(th)), True)
>>> bool(abs(DenseDeviance(cp, tmap, True)(th) - ref) < 1e-10 * abs(ref))
True
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

from .single_lmm import FixedBlockDeviance, bordered_cholesky_parts
from .structure import CrossProducts
from .theta import ThetaMap

#: models with at most this many random effects in all use the dense evaluation, and
#: up to ``DENSE_MAX_Q_VECTOR`` when a term has several columns.  Measured (fits of two
#: crossed terms, 600-5,000 rows): scalar terms, dense 0.65x the blocked factor's time at
#: q = 80-120, even at 180, 3.7x slower at 300; with vector terms 2.2-6x faster up to
#: q = 280 (the blocked path's vector gradient has a large per-term overhead), slower
#: beyond about 400 unless most random effects are in the rest block
DENSE_MAX_Q = 150
DENSE_MAX_Q_VECTOR = 300


def use_dense(cp: CrossProducts) -> bool:
    """Whether :class:`DenseDeviance` is the faster evaluation for these terms."""
    q = sum(t.q for t in cp.terms)
    if len(cp.terms) < 2:
        return False
    return q <= DENSE_MAX_Q or (q <= DENSE_MAX_Q_VECTOR and any(t.k > 1 for t in cp.terms))


def dense_cross_products(cp: CrossProducts) -> tuple[np.ndarray, np.ndarray]:
    """``(Z'Z, Z'[X y])`` as dense arrays, the terms in ``cp``'s order (level-major)."""
    t1 = cp.terms[0]
    q1 = t1.q
    qr = cp.q_rest
    q = q1 + qr
    ZtZ = np.zeros((q, q))
    k1 = t1.k
    idx = np.arange(q1).reshape(t1.nlevels, k1)
    ZtZ[idx[:, :, None], idx[:, None, :]] = cp.D1
    ZtXY = np.empty((q, cp.p + 1))
    ZtXY[:q1] = cp.P1.reshape(q1, cp.p + 1)
    if qr:
        C = cp.C.toarray() if sp.issparse(cp.C) else np.asarray(cp.C)
        R = cp.R.toarray() if sp.issparse(cp.R) else np.asarray(cp.R)
        ZtZ[q1:, :q1] = C
        ZtZ[:q1, q1:] = C.T
        ZtZ[q1:, q1:] = R
        ZtXY[q1:] = cp.RXY
    return ZtZ, ZtXY


class DenseDeviance(FixedBlockDeviance):
    """``theta -> d(theta)`` (and its gradient) through one dense ``q x q`` factor.

    ``theta`` is the conditioned parameter vector of :class:`~.theta.ThetaMap`.
    """

    def __init__(self, cp: CrossProducts, tmap: ThetaMap, reml: bool) -> None:
        self._init_fixed(cp, reml)
        self.ZtZ, self.ZtXY = dense_cross_products(cp)
        self.q = self.ZtZ.shape[0]
        # the positions of each theta entry in Lambda: (row, col) at every level of its term
        offs = np.concatenate([[0], np.cumsum([t.q for t in cp.terms])]).astype(np.int64)
        rows, cols = [], []
        for i, r, c in tmap.layout():
            t = cp.terms[i]
            base = offs[i] + np.arange(t.nlevels, dtype=np.int64) * t.k
            rows.append(base + r)
            cols.append(base + c)
        self._allr = np.concatenate(rows)
        self._allc = np.concatenate(cols)
        self._which = np.repeat(np.arange(tmap.size), [len(r) for r in rows])
        self._size = tmap.size
        self._tmap = tmap
        self._blocks = [(int(offs[i]), t.nlevels, t.k) for i, t in enumerate(cp.terms)]
        self._diag = np.arange(self.q)

    def _right(self, M: np.ndarray, factors: list[np.ndarray]) -> np.ndarray:
        """``M Lambda`` (block diagonal ``Lambda``: per term, each level's ``k`` columns
        times ``T``)."""
        out = np.empty(M.shape)
        r = M.shape[0]
        for (o, L, k), T in zip(self._blocks, factors, strict=True):
            w = L * k
            out[:, o : o + w] = (M[:, o : o + w].reshape(r * L, k) @ T).reshape(r, w)
        return out

    def _left_t(self, M: np.ndarray, factors: list[np.ndarray]) -> np.ndarray:
        """``Lambda' M`` (per term, each level's ``k`` rows times ``T'``)."""
        out = np.empty(M.shape)
        c = M.shape[1]
        for (o, L, k), T in zip(self._blocks, factors, strict=True):
            w = L * k
            out[o : o + w] = np.matmul(T.T, M[o : o + w].reshape(L, k, c)).reshape(w, c)
        return out

    def _factor(self, theta: np.ndarray):
        factors = self._tmap.factors(np.asarray(theta, dtype=float))
        K = self._right(self.ZtZ, factors)  # Z'Z Lambda
        A = self._left_t(K, factors)
        A[self._diag, self._diag] += 1.0
        L, info = lapack.dpotrf(A, lower=1, clean=1)
        if info != 0:  # pragma: no cover - A = Lambda'Z'Z Lambda + I is positive definite
            raise np.linalg.LinAlgError(
                f"the random-effects block is not positive definite ({info})"
            )
        ldA = 2.0 * float(np.log(np.diagonal(L)).sum())
        B = self._left_t(self.ZtXY, factors)
        H, _ = lapack.dtrtrs(L, B, lower=1)
        S = self.XYXY - H.T @ H
        return K, L, B, H, S, ldA

    def __call__(self, theta: np.ndarray) -> float:
        *_, S, ldA = self._factor(theta)
        return self._deviance(ldA, *bordered_cholesky_parts(S, self.p))

    def value_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        p = self.p
        K, L, B, H, S, ldA = self._factor(theta)
        ldRX, pwrss, c, Sx = self._solve_fixed(S)
        dev = self._deviance(ldA, ldRX, pwrss)
        # u = A^{-1} Lambda'Z'[X y] c = L^{-T} H c
        u, _ = lapack.dtrtrs(L, H @ c, lower=1, trans=1)
        Ainv, _ = lapack.dpotri(L, lower=1)  # the lower triangle (L's upper one is 0)
        Ainv += Ainv.T
        Ainv[self._diag, self._diag] *= 0.5
        a, b = self._allr, self._allc
        # d log|A|: 2 (K A^{-1})_ab
        terms = 2.0 * np.einsum("ij,ij->i", K[a], Ainv[b])
        if self.reml and p:
            G = Ainv @ B[:, :p]  # A^{-1} Lambda'Z'X
            M = (self.ZtXY[:, :p] - K @ G) @ Sx
            terms -= 2.0 * np.einsum("ij,ij->i", M[a], G[b])
        ztr = self.ZtXY @ c - K @ u
        terms -= (2.0 * self._mult / pwrss) * (ztr[a] * u[b])
        return dev, np.bincount(self._which, weights=terms, minlength=self._size)
