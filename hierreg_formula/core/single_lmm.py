"""The profiled deviance of a linear mixed model with one random-effects term, fused.

With a single term (``k`` columns, ``L`` levels) the PLS matrix is block diagonal in
the random effects: ``A_l = T'D_l T + I`` per level, and the ``[X y]`` block is
``S = [X y]'[X y] - sum_l H_l'H_l`` with ``H_l = L_l^{-1} T' P_l`` (``L_l`` the
Cholesky factor of ``A_l``, ``P_l = Z_l'[X y]``).  Then (Bates et al. 2015, eqs. 34
and 41) ``log|L_Z|^2 = sum_l log det A_l``, ``S = R R'`` gives ``log|R_X|^2`` from the
first ``p`` pivots of ``R`` and the penalized residual sum of squares as the square
of the last one.

:class:`SingleTermDeviance` evaluates this with a few whole-array operations per
``theta`` and nothing that does not depend on ``theta`` recomputed: for ``k <= 2`` the
blocks of ``T'D_l T`` are one ``(L, 3) x (3, 3)`` product of the precomputed entries
of ``D_l``, their Cholesky factors closed-form, and ``sum_l H_l'H_l`` one product
into a reused buffer.  It gives the same values as :func:`~.pls.factorize` and
:func:`~.lmm.profiled_deviance` (to rounding) at a fraction of the cost, which
matters for small models whose whole fit is a hundred such evaluations.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.structure import TermArrays, cross_products
>>> from hierreg_formula.core.pls import factorize
>>> from hierreg_formula.core.lmm import profiled_deviance
>>> rng = np.random.default_rng(0)
>>> g = rng.integers(0, 8, 60); x = rng.normal(size=60)
>>> X = np.column_stack([np.ones(60), x]); y = x + rng.normal(size=8)[g] + rng.normal(size=60)
>>> cp = cross_products(X, y, [TermArrays(g, 8, X)])
>>> th = np.array([0.8, 0.3, 0.5])  # T = [[0.8, 0], [0.3, 0.5]]
>>> T = np.array([[0.8, 0.0], [0.3, 0.5]])
>>> ref = profiled_deviance(factorize(cp, [T]), True)
>>> bool(abs(SingleTermDeviance(cp, True)(th) - ref) < 1e-10 * abs(ref))
True
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import lapack

from . import restdense as rd
from .pls import chol_blocks, tri_solve_blocks
from .structure import CrossProducts

LOG2PI = math.log(2.0 * math.pi)


def bordered_cholesky_parts(S: np.ndarray, p: int) -> tuple[float, float]:
    """``(log|R_X|^2, pwrss)`` from the Cholesky factor of the bordered ``[X y]`` block
    (an exactly reproduced ``y``: the last pivot is 0)."""
    L, info = lapack.dpotrf(S, lower=1, clean=0)
    if info > 0 and info == S.shape[0]:  # zero last pivot: y reproduced exactly
        L, info2 = lapack.dpotrf(S[:-1, :-1], lower=1, clean=0)
        if info2 != 0:
            raise np.linalg.LinAlgError("the fixed-effects block is not positive definite")
        d = np.diagonal(L)
        return 2.0 * float(np.log(d[:p]).sum()), 0.0
    if info != 0:
        raise np.linalg.LinAlgError(f"the fixed-effects block is not positive definite ({info})")
    d = np.diagonal(L)
    return 2.0 * float(np.log(d[:p]).sum()), float(d[p] * d[p])


class FixedBlockDeviance:
    """What the fused evaluations share: the profiled (RE)ML deviance from
    ``(log|L|^2, log|R_X|^2, pwrss)`` and the factor of the bordered ``[X y]`` block."""

    def _init_fixed(self, cp: CrossProducts, reml: bool) -> None:
        self.n, self.p = cp.n, cp.p
        self.reml = reml
        self.XYXY = np.ascontiguousarray(cp.XYXY)
        mult = (self.n - self.p) if reml else self.n
        self._mult = float(mult)
        self._const = mult * (1.0 + LOG2PI - math.log(mult))

    def _deviance(self, ldL: float, ldRX: float, pwrss: float) -> float:
        if not pwrss > 0.0:  # y reproduced exactly (the optimiser backs away)
            return -math.inf
        if self.reml:
            return ldL + ldRX + self._const + self._mult * math.log(pwrss)
        return ldL + self._const + self._mult * math.log(pwrss)

    def _solve_fixed(self, S: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray]:
        """``(log|R_X|^2, pwrss, c, Sx)`` from the bordered block ``S``: ``c = [-beta; 1]``
        and ``Sx`` the inverse of the fixed-effects part of the Schur complement (REML)."""
        p = self.p
        LX, info = lapack.dpotrf(S, lower=1, clean=1)
        if info != 0:  # exact fits: no gradient, back away
            raise np.linalg.LinAlgError(
                f"the fixed-effects block is not positive definite ({info})"
            )
        d = np.diagonal(LX)
        LXx = LX[:p, :p]
        beta = rd.tri_solve(LXx, LX[p, :p], trans=True) if p else np.zeros(0)
        Sx = np.zeros((0, 0))
        if self.reml and p:
            Li = rd.tri_solve(LXx, np.eye(p))
            Sx = Li.T @ Li
        return 2.0 * float(np.log(d[:p]).sum()), float(d[p] * d[p]), np.append(-beta, 1.0), Sx


class SingleTermDeviance(FixedBlockDeviance):
    """``theta -> d(theta)`` for a model whose only random-effects term is ``cp.terms[0]``.

    ``theta`` is the conditioned parameter vector of that term (lower triangle of ``T``,
    column-major, as :class:`~.theta.ThetaMap`).  :meth:`parts` returns
    ``(log|L_Z|^2, log|R_X|^2, pwrss)``.
    """

    def __init__(self, cp: CrossProducts, reml: bool) -> None:
        if len(cp.terms) != 1:
            raise ValueError("SingleTermDeviance needs a model with one random-effects term")
        t = cp.terms[0]
        self.k, self.L = t.k, t.nlevels
        self._init_fixed(cp, reml)
        m = self.p + 1
        if self.k == 1:
            self.d = np.ascontiguousarray(cp.D1[:, 0, 0])
            self.P = np.ascontiguousarray(cp.P1[:, 0, :])
            self._a = np.empty(self.L)
            self._wP = np.empty((self.L, m))
            self._Pt = np.ascontiguousarray(self.P.T)  # (m, L) for the gradient
        elif self.k == 2:
            D = cp.D1
            # rows: the entries (0,0), (1,0), (1,1) of D_l; T'D_l T is linear in them
            self.Dm = np.ascontiguousarray(np.column_stack([D[:, 0, 0], D[:, 1, 0], D[:, 1, 1]]))
            self.P0 = np.ascontiguousarray(cp.P1[:, 0, :])
            self.P1 = np.ascontiguousarray(cp.P1[:, 1, :])
            self._H = np.empty((2 * self.L, m))  # [H_0; H_1] stacked: one product
            self._coef = np.zeros((3, 3))
            # (m, L) and (3, L) layouts for the gradient: levels along the contiguous axis
            self._Dt = np.ascontiguousarray(self.Dm.T)
            self._Dfull = np.ascontiguousarray(D.transpose(1, 2, 0))  # (2, 2, L)
            self._Pst = np.ascontiguousarray(cp.P1.transpose(1, 2, 0))  # (2, m, L)
        self.D1, self.P1full = cp.D1, cp.P1
        self._eye = np.eye(self.k)
        self._rows, self._cols = np.triu_indices(self.k)[::-1]  # theta's (row, col) of T

    def _factor(self, theta: np.ndarray) -> np.ndarray:
        T = np.zeros((self.k, self.k))
        T[self._rows, self._cols] = theta
        return T

    def parts(self, theta: np.ndarray) -> tuple[float, float, float]:
        """``(log|L_Z|^2, log|R_X|^2, pwrss)`` at ``theta``."""
        k = self.k
        if k == 1:
            t = float(theta[0])
            t2 = t * t
            a = self._a
            np.multiply(self.d, t2, out=a)
            a += 1.0
            ldL = float(np.log(a).sum())
            np.divide(t2, a, out=a)  # weights t^2 / a_l
            wP = np.multiply(self.P, a[:, None], out=self._wP)
            S = self.XYXY - self.P.T @ wP
        elif k == 2:
            t00, t10, t11 = float(theta[0]), float(theta[1]), float(theta[2])
            A = self.Dm @ self._a_coefficients(t00, t10, t11)
            a00 = A[:, 0]
            a00 += 1.0
            a10 = A[:, 1]
            a11 = A[:, 2]
            a11 += 1.0
            det = a00 * a11
            det -= a10 * a10
            ldL = float(np.log(det).sum())
            l11 = np.sqrt(a00)
            l21 = a10 / l11
            l22 = np.sqrt(det) / l11
            L = self.L
            H = self._H
            H0, H1 = H[:L], H[L:]
            # H_0 = (t00 P_0 + t10 P_1) / l11, H_1 = (t11 P_1 - l21 H_0) / l22
            np.multiply(self.P0, t00, out=H0)
            H0 += t10 * self.P1
            H0 /= l11[:, None]
            np.multiply(self.P1, t11, out=H1)
            H1 -= l21[:, None] * H0
            H1 /= l22[:, None]
            S = self.XYXY - H.T @ H
        else:
            T = self._factor(theta)
            A = T.T @ self.D1 @ T
            A[:, np.arange(k), np.arange(k)] += 1.0
            Lb = chol_blocks(A)
            ldL = 2.0 * float(np.log(np.diagonal(Lb, axis1=1, axis2=2)).sum())
            H = tri_solve_blocks(Lb, T.T @ self.P1full).reshape(-1, self.p + 1)
            S = self.XYXY - H.T @ H
        ldRX, pwrss = bordered_cholesky_parts(S, self.p)
        return ldL, ldRX, pwrss

    def __call__(self, theta: np.ndarray) -> float:
        return self._deviance(*self.parts(theta))

    def _a_coefficients(self, t00: float, t10: float, t11: float) -> np.ndarray:
        """Two columns: ``(3, 3)`` whose columns give ``a00 - 1``, ``a10``, ``a11 - 1`` of
        ``A_l = T'D_l T + I`` as combinations of the entries ``(0,0), (1,0), (1,1)`` of
        ``D_l`` (``T'D_l T`` is linear in them)."""
        c = self._coef
        c[0, 0], c[1, 0], c[2, 0] = t00 * t00, 2.0 * t00 * t10, t10 * t10
        c[1, 1], c[2, 1] = t11 * t00, t11 * t10
        c[2, 2] = t11 * t11
        return c

    def _value_and_gradient_k1(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """One scalar term: every per-level quantity is a number, so the levels are
        vectors and the derivation of :meth:`value_and_gradient` is elementwise (arrays
        ``(m, L)``: the levels along the contiguous axis)."""
        p = self.p
        t = float(theta[0])
        d, Pt = self.d, self._Pt  # (L,), (m, L)
        a = d * (t * t)
        a += 1.0
        ldL = float(np.log(a).sum())
        W = Pt * t  # T'P_l
        U = W / a  # A_l^{-1} T'P_l
        S = self.XYXY - W @ U.T
        ldRX, pwrss, c, Sx = self._solve_fixed(S)
        dev = self._deviance(ldL, ldRX, pwrss)
        u = c @ U
        V = 1.0 / a
        F = 0.0
        if self.reml and p:
            Q = Sx @ U[:p]
            V = V + np.einsum("pl,pl->l", Q, U[:p])
            F -= float(np.einsum("pl,pl->", Q, Pt[:p]))
        F += t * float(V @ d)
        ztr = c @ Pt - d * (t * u)
        G = 2.0 * F - (2.0 * self._mult / pwrss) * float(ztr @ u)
        return dev, np.array([G])

    def _value_and_gradient_k2(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """One term with two columns: the ``2 x 2`` blocks as stacked arrays of their entries
        over the levels (closed-form inverse; each step one call over all levels), the
        derivation of :meth:`value_and_gradient`."""
        p = self.p
        t00, t10, t11 = float(theta[0]), float(theta[1]), float(theta[2])
        T = np.array([[t00, 0.0], [t10, t11]])
        Dt, Dfull, Pst = self._Dt, self._Dfull, self._Pst  # (3, L), (2, 2, L), (2, m, L)
        # E = T'D_l as (2, 2, L); A_l = E T + I from the entries of D_l (one product)
        E = np.einsum("ba,bcl->acl", T, Dfull)
        a00, a01, a11 = self._a_coefficients(t00, t10, t11).T @ Dt
        a00 += 1.0
        a11 += 1.0
        det = a00 * a11 - a01 * a01
        ldL = float(np.log(det).sum())
        Ai = np.array([[a11, -a01], [-a01, a00]])
        Ai /= det  # (2, 2, L): A_l^{-1}
        W = np.einsum("ba,bml->aml", T, Pst)  # T'P_l
        U = np.einsum("abl,bml->aml", Ai, W)  # A_l^{-1} T'P_l
        S = self.XYXY - np.einsum("aml,anl->mn", W, U)
        ldRX, pwrss, c, Sx = self._solve_fixed(S)
        dev = self._deviance(ldL, ldRX, pwrss)
        u = np.einsum("m,aml->al", c, U)  # (2, L)
        V = Ai
        F = np.zeros((2, 2))
        if self.reml and p:
            Ux = U[:, :p, :]
            Q = np.einsum("pq,aql->apl", Sx, Ux)
            V = Ai + np.einsum("apl,bpl->abl", Q, Ux)
            F -= np.einsum("apl,bpl->ab", Q, Pst[:, :p, :])
        F += np.einsum("abl,bcl->ac", V, E)
        # Z_l'r = P_l c - D_l T u_l
        z = np.einsum("m,aml->al", c, Pst) - np.einsum("abl,bl->al", Dfull, T @ u)
        G = 2.0 * F.T - (2.0 * self._mult / pwrss) * (z @ u.T)
        return dev, np.array([G[0, 0], G[1, 0], G[1, 1]])

    def value_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """The deviance and its gradient in ``theta`` (the derivation of
        :func:`~.gradient.vector_gradient` for one term, batched over the levels in a few
        products, with nothing recomputed that does not depend on ``theta``; one and two
        columns elementwise over the levels)."""
        if self.k == 1:
            return self._value_and_gradient_k1(theta)
        if self.k == 2:
            return self._value_and_gradient_k2(theta)
        p, m = self.p, self.p + 1
        T = self._factor(theta)
        D, P = self.D1, self.P1full
        TtD = np.matmul(T.T, D)  # (L, k, k): T'D_l
        A = np.matmul(TtD, T)
        A += self._eye
        Lc = chol_blocks(A)
        ldL = 2.0 * float(np.log(np.diagonal(Lc, axis1=1, axis2=2)).sum())
        Linv = tri_solve_blocks(Lc, np.broadcast_to(self._eye, A.shape))
        Ai = np.matmul(np.swapaxes(Linv, 1, 2), Linv)  # A_l^{-1}
        TtP = np.matmul(T.T, P)  # (L, k, m): T'P_l
        AiTtP = np.matmul(Ai, TtP)
        S = self.XYXY - TtP.reshape(-1, m).T @ AiTtP.reshape(-1, m)
        ldRX, pwrss, c, Sx = self._solve_fixed(S)
        dev = self._deviance(ldL, ldRX, pwrss)
        u = AiTtP @ c  # (L, k): A_l^{-1} T'(Z_l'y - Z_l'X beta)
        # d log|M|: sum_l (A_l^{-1} + W_l) T'D_l - A_l^{-1} B_l' S_X^{-1} P_l'
        V = Ai
        F = np.zeros((self.k, self.k))
        if self.reml and p:
            AiBt = AiTtP[:, :, :p]
            Q = AiBt @ Sx  # (L, k, p)
            V = Ai + np.matmul(Q, np.swapaxes(AiBt, 1, 2))
            F -= np.einsum("lkp,ljp->kj", Q, P[:, :, :p])
        F += np.einsum("lab,lbc->ac", V, TtD)
        # d pwrss: -2 sum_l (Z_l'r) u_l', Z_l'r = Z_l'y - Z_l'X beta - D_l T u_l
        Ztr = P @ c - np.einsum("lab,lb->la", np.matmul(D, T), u)
        G = 2.0 * F.T - (2.0 * self._mult / pwrss) * (Ztr.T @ u)
        return dev, G[self._rows, self._cols]
