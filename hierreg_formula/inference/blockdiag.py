"""The q-space quantities of a model with ONE random term: block-diagonal, any size.

With a single term (``(x | g)``, any number of levels ``L``), ``A = Lambda'Z'Z Lambda + I``
is block diagonal (one ``k x k`` block per level), so ``A^{-1}``, ``W = Z'V^{-1}Z``
and ``Z'V^{-2}Z`` are too, and ``Z'PZ = W - U M^{-1} U'`` is block-diagonal minus a
rank-``p`` term.  :class:`BlockLowRank` holds such a matrix; the traces
``tr(D_i G D_j G)`` expand into level-wise ``k x k`` products and ``p x p`` ones:

    tr(D_i G D_j G) = sum_l tr(d_i B_l d_j B_l) - tr(C F'D_i B D_j F) - tr(C F'D_j B D_i F)
                      + tr(F'D_i F C F'D_j F C)        (G = blockdiag(B) - F C F')

so Satterthwaite and Kenward-Roger cost ``O(L k^2 p^2)``: no ``q x q`` array, no size
limit.  The class has the interface of :class:`~.qspace.MarginalQuantities` that
:mod:`.varpar` and :mod:`.kenward_roger` use; :func:`marginal_quantities` picks it
for one-term models.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.structure import TermArrays
>>> from hierreg_formula.inference.arrays import ModelArrays
>>> from hierreg_formula.inference.qspace import MarginalQuantities
>>> rng = np.random.default_rng(0)
>>> g = rng.integers(0, 6, 40)
>>> arrays = ModelArrays.from_arrays(np.ones((40, 1)), rng.normal(size=40), [TermArrays(g, 6, np.ones((40, 1)))])
>>> bd, dense = BlockDiagonalQuantities(arrays, np.array([0.7])), MarginalQuantities(arrays, np.array([0.7]))
>>> bool(np.allclose(bd.ZPZ.toarray(), dense.ZPZ))
True
"""

from __future__ import annotations

import functools

import numpy as np

from .arrays import ModelArrays
from .qspace import MarginalQuantities


class BlockLowRank:
    """``G = blockdiag(B_1..B_L) - F C F'`` (``B`` ``(L, k, k)``, ``F`` ``(Lk, r)``, ``C`` ``(r, r)``)."""

    def __init__(self, B: np.ndarray, F: np.ndarray | None = None, C: np.ndarray | None = None):
        self.B = B
        self.F = F
        self.C = C

    @property
    def shape(self) -> tuple[int, int]:
        q = self.B.shape[0] * self.B.shape[1]
        return q, q

    def __matmul__(self, V: np.ndarray) -> np.ndarray:
        L, k, _ = self.B.shape
        Vb = V.reshape(L, k, -1)
        out = np.einsum("lab,lbm->lam", self.B, Vb).reshape(V.shape)
        if self.F is not None:
            out = out - self.F @ (self.C @ (self.F.T @ V))
        return out

    def toarray(self) -> np.ndarray:
        L, k, _ = self.B.shape
        out = np.zeros(self.shape)
        idx = np.arange(L)[:, None] * k + np.arange(k)
        out[idx[:, :, None], idx[:, None, :]] = self.B
        if self.F is not None:
            out -= self.F @ self.C @ self.F.T
        return out

    def diag_block_sum(self) -> np.ndarray:
        s = self.B.sum(axis=0)
        if self.F is not None:
            L, k, _ = self.B.shape
            Fl = self.F.reshape(L, k, -1)
            s = s - np.einsum("lxa,ab,lyb->xy", Fl, self.C, Fl)
        return s

    def pair_traces(self, mats: list[np.ndarray]) -> np.ndarray:
        """``tr(D_i G D_j G)`` for ``D_i = I_L (x) d_i``."""
        d = np.stack(mats)  # (m, k, k)
        B = self.B
        # sum_l tr(d_i B_l d_j B_l) through the Gram of the blocks (B symmetric)
        L, k, _ = B.shape
        Bm = B.reshape(L, k * k)
        gam = (Bm.T @ Bm).reshape(k, k, k, k)  # [u, v, x, y] = sum_l B_l[u,v] B_l[x,y]
        out = np.einsum("ixu,uvxy,jvy->ij", d, gam, d)
        if self.F is None:
            return out
        Fl = self.F.reshape(L, k, -1)
        DF = np.einsum("ixy,lya->ilxa", d, Fl)  # d_i F_l
        BDF = np.einsum("lxy,ilya->ilxa", B, DF)  # B_l d_i F_l
        X = np.einsum("ilxa,jlxb->ijab", DF, BDF)  # F'D_i B D_j F
        Y = np.einsum("lxa,ilxb->iab", Fl, DF)  # F'D_i F
        C = self.C
        mid = np.einsum("ab,ijba->ij", C, X)
        YC = Y @ C
        last = np.einsum("iab,jba->ij", YC, YC)
        return out - mid - mid.T + last


class BlockDiagonalQuantities:
    """:class:`~.qspace.MarginalQuantities` for a single random term, in ``O(L k^2 p^2)``."""

    def __init__(self, problem: ModelArrays, theta: np.ndarray) -> None:
        if len(problem.terms) != 1:
            raise ValueError("BlockDiagonalQuantities needs exactly one random term")
        self.problem = problem
        self.theta = np.asarray(theta, dtype=float)
        t = problem.terms[0]
        self.L, self.k = t.nlevels, t.k
        self.slices = [slice(0, t.q)]
        self.perm = np.arange(t.q)
        self.fast = False
        cp = problem.cp
        p = problem.p
        self.T = problem.factors(self.theta)[0]
        self.D = cp.D1  # (L, k, k) = Z_l'Z_l
        self.B3 = cp.P1[:, :, :p]  # (L, k, p) = Z_l'X
        self.c3 = problem.Ztr.reshape(self.L, self.k)  # Z_l'r, r = y - X gamma
        T = self.T
        A = np.einsum("yx,lyz,zw->lxw", T, self.D, T)
        A[:, np.arange(self.k), np.arange(self.k)] += 1.0
        self.Ainv = np.linalg.inv(A)  # (L, k, k)
        self.LtB = np.einsum("yx,lyp->lxp", T, self.B3)  # T' B_l
        self.Ltc = np.einsum("yx,ly->lx", T, self.c3)
        self.hB = self.Ainv @ self.LtB  # (L, k, p)
        self.hc = np.einsum("lxy,ly->lx", self.Ainv, self.Ltc)
        self.DT = self.D @ T  # D_l T

    # -------------------------------------------------------------- vectors
    def per_term(self, v: np.ndarray) -> list[np.ndarray]:
        return [v.reshape(self.L, self.k, *v.shape[1:])]

    @functools.cached_property
    def U(self) -> np.ndarray:
        return (self.B3 - self.DT @ self.hB).reshape(-1, self.problem.p)

    @functools.cached_property
    def M(self) -> np.ndarray:
        M = self.problem.XtX - np.einsum("lxp,lxq->pq", self.LtB, self.hB)
        return 0.5 * (M + M.T)

    @functools.cached_property
    def Minv(self) -> np.ndarray:
        return np.linalg.inv(self.M)

    @functools.cached_property
    def Xvy(self) -> np.ndarray:
        return self.problem.Xtr - np.einsum("lxp,lx->p", self.LtB, self.hc)

    @functools.cached_property
    def beta_r(self) -> np.ndarray:
        return self.Minv @ self.Xvy

    @functools.cached_property
    def beta(self) -> np.ndarray:
        return self.beta_r + self.problem.ols

    @functools.cached_property
    def ZPy(self) -> np.ndarray:
        zvy = self.c3 - np.einsum("lxy,ly->lx", self.DT, self.hc)
        return zvy.ravel() - self.U @ self.beta_r

    @functools.cached_property
    def pwrss(self) -> float:
        yvy = self.problem.rtr - float(np.sum(self.Ltc * self.hc))
        return float(yvy - self.Xvy @ self.beta_r)

    # ------------------------------------------------------------- matrices
    @functools.cached_property
    def W(self) -> BlockLowRank:
        """``Z'V^{-1}Z``: blocks ``D_l - D_l T A_l^{-1} T' D_l``."""
        Wb = self.D - self.DT @ self.Ainv @ np.swapaxes(self.DT, 1, 2)
        return BlockLowRank(0.5 * (Wb + np.swapaxes(Wb, 1, 2)))

    @functools.cached_property
    def ZPZ(self) -> BlockLowRank:
        return BlockLowRank(self.W.B, self.U, self.Minv)

    @functools.cached_property
    def ZV2X(self) -> np.ndarray:
        return self.U - (self.DT @ (self.Ainv @ self.hB)).reshape(-1, self.problem.p)

    @functools.cached_property
    def XV2X(self) -> np.ndarray:
        return self.M - np.einsum("lxp,lxq->pq", self.hB, self.hB)

    @functools.cached_property
    def XV3X(self) -> np.ndarray:
        return self.XV2X - np.einsum("lxp,lxy,lyq->pq", self.hB, self.Ainv, self.hB)

    @functools.cached_property
    def trace_V2(self) -> float:
        return float(self.problem.n - self.problem.q + np.sum(self.Ainv * self.Ainv))

    def ZV2Z_diag_sums(self) -> list[np.ndarray]:
        """``sum_l`` of the blocks of ``Z'V^{-2}Z = W - T'T``, ``T_l = A_l^{-1} T' D_l``."""
        Tl = self.Ainv @ np.swapaxes(self.DT, 1, 2)
        return [self.W.B.sum(axis=0) - np.einsum("lyx,lyz->xz", Tl, Tl)]

    # ------------------------------------------------------ trace interface
    def diag_block_sums(self, G: BlockLowRank) -> list[np.ndarray]:
        return [G.diag_block_sum()]

    def pair_traces(self, G: BlockLowRank, mats: list[list[np.ndarray]]) -> np.ndarray:
        return G.pair_traces(mats[0])


def marginal_quantities(
    problem: ModelArrays, theta: np.ndarray, max_q: int | None = None
) -> MarginalQuantities | BlockDiagonalQuantities:
    """The block-diagonal quantities for one random term, else the dense q-space ones."""
    if len(problem.terms) == 1:
        return BlockDiagonalQuantities(problem, theta)
    return MarginalQuantities(problem, theta, max_q=max_q)
