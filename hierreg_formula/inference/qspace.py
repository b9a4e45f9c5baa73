"""Marginal-covariance quantities of an LMM in ``q`` dimensions (no ``n x n`` matrix).

With ``V = I + Z Lambda Lambda' Z'`` (relative to ``sigma^2``) and
``A = Lambda' Z'Z Lambda + I``, the push-through identity ``V^{-1} Z Lambda =
Z Lambda A^{-1}`` gives ``V^{-k} = I - Z Lambda (A^{-1} + ... + A^{-k}) Lambda' Z'``.
So every quantity the small-sample methods need reduces to the cross-products
``S = Z'Z``, ``B = Z'X``, ``c = Z'y`` and one dense ``q x q`` inverse ``A^{-1}``:

- ``W = Z'V^{-1}Z = S - S Lambda A^{-1} Lambda' S``, which is also
  ``Lambda^{-T} (I - A^{-1}) Lambda^{-1}`` when ``Lambda`` is invertible (then it costs
  ``O(q^2 k)``; the general form, used near the boundary, needs two sparse-dense
  products),
- ``U = Z'V^{-1}X``, ``M = X'V^{-1}X`` (= ``R_X'R_X``), ``Z'PZ = W - U M^{-1} U'``
  (``P`` the REML projection), ``Z'Py`` and ``y'Py`` (the penalized RSS),
- for Kenward-Roger also ``Z'V^{-2}X``, ``X'V^{-2}X``, ``X'V^{-3}X``, the diagonal
  blocks of ``Z'V^{-2}Z`` and ``tr(V^{-2}) = n - q + ||A^{-1}||_F^2``.

``A^{-1}`` is assembled blockwise: the term with the most levels has a
block-diagonal ``A_11`` (inverted level by level); only the Schur complement of
the other terms (``q_rest x q_rest``) is factored densely, and the rest are GEMMs
(about ``q_1^2 q_rest + q_rest^3`` flops instead of ``q^3``).

Traces such as ``tr(V^{-1} V_i V^{-1} V_j)`` with ``V_i = Z (I_L (x) d_i) Z'`` become
``tr(D_i W D_j W)``: sums over all pairs of levels of ``k x k`` block products,
computed from the "block Gram" tensor of :func:`block_gram` (one GEMM per pair
of terms).  Memory: three or four dense ``q x q`` arrays; :func:`check_dense_size`
refuses sizes beyond a limit with the estimated cost instead of running for an hour.

The ``q`` columns are in the caller's term order (lme4's, most levels first, as
the boundary hands them over); :attr:`MarginalQuantities.slices` gives each term's
columns.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.structure import TermArrays
>>> from hierreg_formula.inference.arrays import ModelArrays
>>> g = np.repeat(np.arange(4), 3)
>>> arrays = ModelArrays.from_arrays(np.ones((12, 1)), np.arange(12.0), [TermArrays(g, 4, np.ones((12, 1)))])
>>> mq = MarginalQuantities(arrays, np.array([0.5]))
>>> bool(np.allclose(mq.M, arrays.factor(np.array([0.5])).fixed_precision()))
True
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

from .arrays import ModelArrays, level_blocks

#: default largest ``q`` for the dense q-space computations (about 0.5 GB per q x q array)
MAX_DENSE_Q = 8000

#: ``Lambda^{-1}`` is used (fast path) when every ``T_cc^2 S_jj`` is at least this
#: (the cancellation in ``I - A^{-1}`` then costs at most ~1e-10 relative accuracy)
FAST_PATH_MIN = 1e-6


class DenseSizeError(MemoryError):
    """The dense ``q x q`` computations would be too large (message gives the estimate)."""


def dense_cost(q: int, q_rest: int | None = None, n_arrays: int = 4) -> tuple[float, float]:
    """Estimated (GB of memory, GFlop) of the dense q-space computations."""
    qr = q if q_rest is None else q_rest
    q1 = q - qr if q_rest is not None else 0
    gflop = (qr**3 + 2.0 * q1 * q1 * qr + 2.0 * q1 * qr * qr + 4.0 * q * q) / 1e9
    return n_arrays * q * q * 8 / 1e9, gflop


def check_dense_size(
    q: int, what: str, max_q: int | None = None, q_rest: int | None = None
) -> None:
    """Raise :class:`DenseSizeError` when ``q`` exceeds ``max_q`` (default :data:`MAX_DENSE_Q`)."""
    limit = MAX_DENSE_Q if max_q is None else max_q
    if q > limit:
        gb, gflop = dense_cost(q, q_rest)
        raise DenseSizeError(
            f"{what} needs dense {q} x {q} matrices (q = number of random effects): about "
            f"{gb:.1f} GB of memory and {gflop:.0f} GFlop, above the limit q <= {limit}; "
            "pass a larger max_q (or set hierreg_formula.inference.qspace.MAX_DENSE_Q) to "
            "run it anyway"
        )


def symmetric_inverse(A: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix (LAPACK potrf + potri)."""
    Lc, info = lapack.dpotrf(A, lower=1, clean=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"dpotrf failed ({info})")
    inv, info = lapack.dpotri(Lc, lower=1, overwrite_c=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"dpotri failed ({info})")
    # lower triangle valid, upper zero (clean=1): mirror it
    out = inv + inv.T
    out[np.diag_indices_from(out)] *= 0.5
    return out


def _lam_left(
    Tmats: list[np.ndarray], slices: list[slice], ks: list[int], M: np.ndarray, trans: bool
) -> np.ndarray:
    """``Lambda M`` (or ``Lambda' M``) for dense ``M`` (columns in the terms' order)."""
    if all(k == 1 for k in ks):  # diagonal Lambda
        d = np.concatenate(
            [np.full(sl.stop - sl.start, T[0, 0]) for T, sl in zip(Tmats, slices, strict=True)]
        )
        return d.reshape(-1, *([1] * (M.ndim - 1))) * M
    out = np.empty(M.shape)
    for T, sl, k in zip(Tmats, slices, ks, strict=True):
        Tm = T.T if trans else T
        if k == 1:
            out[sl] = M[sl] * Tm[0, 0]
        else:
            blk = M[sl].reshape(-1, k, *M.shape[1:])
            out[sl] = np.einsum("xy,ly...->lx...", Tm, blk).reshape(M[sl].shape)
    return out


def _lam_sandwich(
    Tmats: list[np.ndarray],
    slices: list[slice],
    ks: list[int],
    M: np.ndarray,
    trans: bool,
    overwrite: bool = False,
) -> np.ndarray:
    """``Lambda M Lambda'`` (or ``Lambda' M Lambda``) for a dense ``q x q`` ``M``."""
    if all(k == 1 for k in ks):
        d = np.concatenate(
            [np.full(sl.stop - sl.start, T[0, 0]) for T, sl in zip(Tmats, slices, strict=True)]
        )
        out = M if overwrite else M.copy()
        out *= d[:, None]
        out *= d[None, :]
        return out
    left = _lam_left(Tmats, slices, ks, M, trans)
    return np.ascontiguousarray(_lam_left(Tmats, slices, ks, left.T, trans).T)


class MarginalQuantities:
    """Dense q-space quantities at ``theta``.

    ``theta`` and the ``q`` columns are in the problem's (caller's) term order, term
    ``a`` occupying :attr:`slices` ``[a]``.
    """

    def __init__(self, problem: ModelArrays, theta: np.ndarray, max_q: int | None = None) -> None:
        self.problem = problem
        self.theta = np.asarray(theta, dtype=float)
        terms = list(problem.terms)
        check_dense_size(
            problem.q, "the dense marginal-covariance computation", max_q, problem.q - terms[0].q
        )
        off = problem.offsets
        self.slices: list[slice] = [slice(int(off[i]), int(off[i + 1])) for i in range(len(terms))]
        self._ks = [t.k for t in terms]
        self._T = problem.factors(self.theta)
        self.S = problem.ZtZ.tocsr()
        self.B = problem.ZtX
        self.c = problem.Ztr  # Z'r, r = y - X gamma (see ModelArrays.ols)
        self.Lam = sp.block_diag(
            [level_blocks(T, t.nlevels) for T, t in zip(self._T, terms, strict=True)],
            format="csr",
        )
        A = _lam_sandwich(self._T, self.slices, self._ks, self.S.toarray(), True, True)
        A[np.diag_indices_from(A)] += 1.0
        self.Ainv = self._block_inverse(A, terms)
        del A
        # fast path: Lambda well invertible
        sdiag = self.S.diagonal()
        tdiag = np.concatenate(
            [np.tile(np.diag(T), t.nlevels) for T, t in zip(self._T, terms, strict=True)]
        )
        self.fast = bool(np.all(tdiag * tdiag * sdiag >= FAST_PATH_MIN))

    def _block_inverse(self, A: np.ndarray, terms: list) -> np.ndarray:
        t1 = terms[0]
        q1 = t1.q
        if len(terms) == 1 or q1 == A.shape[0]:
            # block diagonal: invert level by level
            k1 = t1.k
            idx = np.arange(t1.nlevels)[:, None] * k1 + np.arange(k1)
            blocks = np.linalg.inv(A[idx[:, :, None], idx[:, None, :]])
            out = np.zeros_like(A)
            out[idx[:, :, None], idx[:, None, :]] = blocks
            return out
        L1, k1 = t1.nlevels, t1.k
        idx = np.arange(L1)[:, None] * k1 + np.arange(k1)
        A11i = np.linalg.inv(A[idx[:, :, None], idx[:, None, :]])  # (L1, k1, k1)
        A1r = A[:q1, q1:]
        qr = A1r.shape[1]
        N = (A11i @ A1r.reshape(L1, k1, qr)).reshape(q1, qr)  # A11^{-1} A1r
        Sc = A[q1:, q1:] - A1r.T @ N
        Sci = symmetric_inverse(0.5 * (Sc + Sc.T))
        NS = N @ Sci
        out = np.empty_like(A)
        out[:q1, :q1] = NS @ N.T
        out[idx[:, :, None], idx[:, None, :]] += A11i
        out[:q1, q1:] = -NS
        out[q1:, :q1] = -NS.T
        out[q1:, q1:] = Sci
        return out

    # ---------------------------------------------------------------- basics
    def lam(self, M: np.ndarray, trans: bool = False) -> np.ndarray:
        """``Lambda M`` or ``Lambda' M``."""
        return _lam_left(self._T, self.slices, self._ks, M, trans)

    def lam_inv(self, M: np.ndarray, trans: bool = False) -> np.ndarray:
        """``Lambda^{-1} M`` or ``Lambda^{-T} M`` (fast path only)."""
        inv = [np.linalg.inv(T) for T in self._T]
        return _lam_left(inv, self.slices, self._ks, M, trans)

    def lam_inv_sandwich(self, M: np.ndarray, overwrite: bool = False) -> np.ndarray:
        """``Lambda^{-T} M Lambda^{-1}`` (fast path only)."""
        inv = [np.linalg.inv(T) for T in self._T]
        return _lam_sandwich(inv, self.slices, self._ks, M, True, overwrite)

    @functools.cached_property
    def LtB(self) -> np.ndarray:
        return self.lam(self.B, trans=True)

    @functools.cached_property
    def Ltc(self) -> np.ndarray:
        return self.lam(self.c, trans=True)

    @functools.cached_property
    def hB(self) -> np.ndarray:
        """``A^{-1} Lambda' B`` (q x p)."""
        return self.Ainv @ self.LtB

    @functools.cached_property
    def hc(self) -> np.ndarray:
        return self.Ainv @ self.Ltc

    def S_lam(self, v: np.ndarray) -> np.ndarray:
        """``S Lambda v`` for a (q,) or (q, r) array."""
        return np.asarray(self.S @ self.lam(v))

    @functools.cached_property
    def U(self) -> np.ndarray:
        """``Z'V^{-1}X = B - S Lambda A^{-1} Lambda' B`` (q x p)."""
        return self.B - self.S_lam(self.hB)

    @functools.cached_property
    def M(self) -> np.ndarray:
        """``X'V^{-1}X`` (p x p), ``cov(beta) = sigma^2 M^{-1}``."""
        M = self.problem.XtX - self.LtB.T @ self.hB
        return 0.5 * (M + M.T)

    @functools.cached_property
    def Minv(self) -> np.ndarray:
        return np.linalg.inv(self.M)

    @functools.cached_property
    def Xvy(self) -> np.ndarray:
        return self.problem.Xtr - self.LtB.T @ self.hc

    @functools.cached_property
    def beta_r(self) -> np.ndarray:
        """GLS coefficients of the residualised response ``r``."""
        return self.Minv @ self.Xvy

    @functools.cached_property
    def beta(self) -> np.ndarray:
        """GLS estimate ``M^{-1} X'V^{-1}y`` at ``theta``."""
        return self.beta_r + self.problem.ols

    @functools.cached_property
    def ZPy(self) -> np.ndarray:
        """``Z'P y = Z'V^{-1}(y - X beta)``."""
        Zvy = self.c - self.S_lam(self.hc)
        return Zvy - self.U @ self.beta_r

    @functools.cached_property
    def pwrss(self) -> float:
        """``y'Py`` (= the penalized weighted residual sum of squares)."""
        yvy = self.problem.rtr - float(self.Ltc @ self.hc)
        return float(yvy - self.Xvy @ self.beta_r)

    # --------------------------------------------------------- q x q matrices
    @functools.cached_property
    def W(self) -> np.ndarray:
        """``Z'V^{-1}Z`` (dense q x q)."""
        if self.fast:
            W = -self.Ainv
            W[np.diag_indices_from(W)] += 1.0
            return self.lam_inv_sandwich(W, overwrite=True)
        K = _lam_sandwich(self._T, self.slices, self._ks, self.Ainv, False)
        SK = np.asarray(self.S @ K)
        return self.S.toarray() - np.asarray(self.S @ SK.T)

    @functools.cached_property
    def ZPZ(self) -> np.ndarray:
        """``Z'PZ = W - U M^{-1} U'`` (the REML counterpart of ``W``)."""
        G = self.W.copy()
        G -= (self.U @ self.Minv) @ self.U.T
        return G

    # ------------------------------------------------- higher powers of V^{-1}
    @functools.cached_property
    def ZV2X(self) -> np.ndarray:
        """``Z'V^{-2}X = U - S Lambda A^{-1} (A^{-1} Lambda' B)``."""
        return self.U - self.S_lam(self.Ainv @ self.hB)

    @functools.cached_property
    def XV2X(self) -> np.ndarray:
        return self.M - self.hB.T @ self.hB

    @functools.cached_property
    def XV3X(self) -> np.ndarray:
        return self.XV2X - self.hB.T @ (self.Ainv @ self.hB)

    @functools.cached_property
    def trace_V2(self) -> float:
        """``tr(V^{-2}) = n - q + ||A^{-1}||_F^2``."""
        return float(self.problem.n - self.problem.q + np.sum(self.Ainv * self.Ainv))

    def ZV2Z_diag_sums(self) -> list[np.ndarray]:
        """Per (caller's) term, the sum over levels of the diagonal blocks of ``Z'V^{-2}Z``.

        ``Z'V^{-2}Z = W - T'T`` with ``T = A^{-1} Lambda' S`` (``= (I - A^{-1}) Lambda^{-1}``
        on the fast path).
        """
        Wd = self.diag_block_sums(self.W)
        if self.fast:
            T = -self.Ainv
            T[np.diag_indices_from(T)] += 1.0
            T = self.lam_inv(T.T, trans=True).T
        else:
            T = np.asarray(self.S @ self.lam(self.Ainv)).T  # A^{-1} Lambda' S
        out = []
        for a, t in enumerate(self.problem.terms):
            Ta = T[:, self.slices[a]].reshape(-1, t.nlevels, t.k)
            out.append(Wd[a] - np.einsum("ilx,ily->xy", Ta, Ta))
        return out

    # --------------------------------------------------------- block helpers
    def per_term(self, v: np.ndarray) -> list[np.ndarray]:
        """A q-vector (or q x r array) split per term as ``(L, k, ...)``."""
        return [
            v[self.slices[a]].reshape(t.nlevels, t.k, *v.shape[1:])
            for a, t in enumerate(self.problem.terms)
        ]

    def diag_block_sums(self, G: np.ndarray) -> list[np.ndarray]:
        """Per term ``a``: ``sum_l G[l, l]`` over its ``k_a x k_a`` diagonal blocks."""
        out = []
        for a, t in enumerate(self.problem.terms):
            idx = self.slices[a].start + np.arange(t.nlevels)[:, None] * t.k + np.arange(t.k)
            out.append(G[idx[:, :, None], idx[:, None, :]].sum(axis=0))
        return out

    def block_gram(self, G: np.ndarray, a: int, b: int) -> np.ndarray:
        """``Gamma[x', y', x, y] = sum_{l in a, m in b} G_lm[x', y'] G_lm[x, y]``."""
        ta, tb = self.problem.terms[a], self.problem.terms[b]
        blk = G[self.slices[a], self.slices[b]]
        if ta.k == 1 and tb.k == 1:
            return np.array(np.sum(blk * blk)).reshape(1, 1, 1, 1)
        blk = blk.reshape(ta.nlevels, ta.k, tb.nlevels, tb.k)
        Gm = np.ascontiguousarray(blk.transpose(1, 3, 0, 2)).reshape(ta.k * tb.k, -1)
        return (Gm @ Gm.T).reshape(ta.k, tb.k, ta.k, tb.k)

    def pair_traces(self, G: np.ndarray, mats: list[list[np.ndarray]]) -> np.ndarray:
        """``tr(D_i G D_j G)`` for all parameters, ``D_i = I_L (x) d_i`` on one term each.

        ``mats[a]`` lists the ``k_a x k_a`` matrices ``d_i`` of (caller's) term ``a``'s
        parameters; the result is ordered term by term.
        """
        m = len(self.problem.terms)
        sizes = [len(x) for x in mats]
        starts = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        out = np.zeros((starts[-1], starts[-1]))
        for a in range(m):
            for b in range(a, m):
                if not sizes[a] or not sizes[b]:
                    continue
                gam = self.block_gram(G, a, b)
                da = np.stack(mats[a])  # (na, ka, ka)
                db = np.stack(mats[b])
                # tr(d_i G_lm d_j G_lm') summed = sum d_i[x, u] Gamma[u, v, x, y] d_j[v, y]
                val = np.einsum("ixu,uvxy,jvy->ij", da, gam, db, optimize=True)
                out[starts[a] : starts[a + 1], starts[b] : starts[b + 1]] = val
                out[starts[b] : starts[b + 1], starts[a] : starts[a + 1]] = val.T
        return out
