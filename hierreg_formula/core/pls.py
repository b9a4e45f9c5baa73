"""Blocked Cholesky factor of the penalized least-squares (PLS) system.

For a relative covariance factor ``Lambda`` (block-diagonal, one ``k_i x k_i``
block per level of each term) the PLS problem of Bates et al. (2015, eq. 17)

    min_{u, beta} ||y - X beta - Z Lambda u||^2 + ||u||^2

has normal equations with matrix ``[[Lambda'Z'Z Lambda + I, Lambda'Z'X],
[X'Z Lambda, X'X]]``.  We factor that matrix bordered by the ``y`` column
(``A = [Z Lambda, X, y]'[Z Lambda, X, y] + diag(I, 0, 0)``) as ``A = L L'``; the
last diagonal element of ``L`` is then ``sqrt(pwrss)`` and the last row holds the
right-hand side of the back substitution (a device also used by MixedModels.jl).

Blocks: the first term's block is block-diagonal, factored by batched small
Cholesky (``np.linalg.cholesky`` on an ``(L1, k1, k1)`` stack).  The Schur
complement of everything else (other terms, ``X``, ``y``) is dense and is
factored by LAPACK.  Nothing here touches the ``n`` rows.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.structure import TermArrays, cross_products
>>> t = TermArrays(codes=np.array([0, 0, 1, 1]), nlevels=2, Xz=np.ones((4, 1)))
>>> cp = cross_products(np.ones((4, 1)), np.array([1.0, 2.0, 3.0, 6.0]), [t])
>>> f = factorize(cp, [np.array([[0.0]])])   # theta = 0: ordinary least squares
>>> round(float(f.pwrss), 6), f.beta.round(6).tolist()
(14.0, [3.0])
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.linalg import lapack

from .structure import CrossProducts, split_by_term


def _as_level_blocks(lam: np.ndarray, nlevels: int) -> np.ndarray:
    lam = np.asarray(lam, dtype=float)
    if lam.ndim == 2:
        return np.broadcast_to(lam, (nlevels, *lam.shape))
    return lam


def _blockdiag(blocks: np.ndarray) -> sp.csr_matrix:
    """Sparse block-diagonal matrix from an ``(L, k, k)`` stack."""
    L, k, _ = blocks.shape
    return sp.bsr_matrix(
        (np.ascontiguousarray(blocks), np.arange(L), np.arange(L + 1)), shape=(L * k, L * k)
    ).tocsr()


def chol_blocks(A: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of an ``(L, k, k)`` stack (closed form for ``k <= 2``)."""
    k = A.shape[1]
    if k == 1:
        return np.sqrt(A)
    if k == 2:
        out = np.zeros_like(A)
        l11 = np.sqrt(A[:, 0, 0])
        l21 = A[:, 1, 0] / l11
        out[:, 0, 0] = l11
        out[:, 1, 0] = l21
        out[:, 1, 1] = np.sqrt(A[:, 1, 1] - l21 * l21)
        return out
    return np.linalg.cholesky(A)


def tri_solve_blocks(Lb: np.ndarray, B: np.ndarray, trans: bool = False) -> np.ndarray:
    """Solve ``L X = B`` (or ``L' X = B``) per level; ``Lb`` ``(L, k, k)``, ``B`` ``(L, k, m)``."""
    k = Lb.shape[1]
    if k == 1:
        return B / Lb
    if k == 2:
        l11, l21, l22 = Lb[:, 0, 0, None], Lb[:, 1, 0, None], Lb[:, 1, 1, None]
        if trans:
            x1 = B[:, 1, :] / l22
            x0 = (B[:, 0, :] - l21 * x1) / l11
        else:
            x0 = B[:, 0, :] / l11
            x1 = (B[:, 1, :] - l21 * x0) / l22
        return np.stack([x0, x1], axis=1)
    return np.linalg.solve(np.swapaxes(Lb, 1, 2) if trans else Lb, B)


@dataclass(frozen=True)
class PLSFactor:
    """The factor of the bordered PLS matrix at one ``Lambda`` and derived pieces.

    Attributes
    ----------
    L11: ``(L1, k1, k1)`` lower Cholesky blocks of term 1.
    H: ``(L1, k1, p + 1)``: ``L11^{-1} Lambda_1' Z_1'[X y]`` per level.
    LS: dense lower factor of the Schur complement (rest terms, X, y).
    lam1: term 1's ``Lambda`` block, ``(k1, k1)`` shared or ``(L1, k1, k1)`` per level.
    lam_rest: sparse block-diagonal ``Lambda`` of the rest terms.
    M1: (derived) ``(L1, k1, k1)``: ``Lambda_1 L11^{-T}`` per level.
    """

    cp: CrossProducts
    L11: np.ndarray
    H: np.ndarray
    LS: np.ndarray
    lam1: np.ndarray
    lam_rest: sp.csr_matrix | None

    @functools.cached_property
    def M1(self) -> np.ndarray:
        lamT = np.swapaxes(_as_level_blocks(self.lam1, self.L11.shape[0]), 1, 2)
        return np.swapaxes(tri_solve_blocks(self.L11, lamT), 1, 2)

    @property
    def q_rest(self) -> int:
        return self.cp.q_rest

    @property
    def pwrss(self) -> float:
        """Penalized weighted residual sum of squares ``||y - X b - Z Lam u||^2 + ||u||^2``."""
        return float(self.LS[-1, -1] ** 2)

    @property
    def logdet_L(self) -> float:
        """``log |L_Z|^2`` (lme4's ``ldL2``)."""
        d1 = np.diagonal(self.L11, axis1=1, axis2=2)
        dr = np.diag(self.LS)[: self.q_rest]
        return float(2.0 * (np.log(d1).sum() + np.log(dr).sum()))

    @property
    def logdet_RX(self) -> float:
        """``log |R_X|^2`` (lme4's ``ldRX2``)."""
        q = self.q_rest
        return float(2.0 * np.log(np.diag(self.LS)[q : q + self.cp.p]).sum())

    @property
    def has_rest(self) -> bool:
        return self.cp.C is not None

    def _solution(self) -> tuple[np.ndarray, np.ndarray]:
        q, p = self.q_rest, self.cp.p
        Lr = self.LS[:-1, :-1]
        rhs = self.LS[-1, :-1]
        x = sla.solve_triangular(Lr, rhs, lower=True, trans="T", check_finite=False)
        ur, beta = x[:q], x[q : q + p]
        # term 1: L11' u1 = c1 - (G' u_rest + H_X beta), per level
        c = self.H[:, :, -1] - self.H[:, :, :-1] @ beta
        if self.has_rest:
            # G' u_r = blockdiag(M1') C' Lambda_r u_r, without forming G
            v = np.asarray(self.cp.C.T @ (self.lam_rest @ ur)).reshape(c.shape)
            c = c - np.einsum("lab,la->lb", self.M1, v)
        u1 = tri_solve_blocks(self.L11, c[..., None], trans=True)[..., 0]
        return np.concatenate([u1.ravel(), ur]), beta

    @property
    def beta(self) -> np.ndarray:
        return self._solution()[1]

    def solution(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(u, b, beta)``: spherical and scaled random effects (stacked term after term,
        in the order of ``cp.terms``) and ``beta``."""
        u, beta = self._solution()
        q1 = self.L11.shape[0] * self.L11.shape[1]
        u1 = u[:q1].reshape(self.L11.shape[:2])
        lam1 = _as_level_blocks(self.lam1, u1.shape[0])
        b1 = np.einsum("lab,lb->la", lam1, u1).ravel()
        br = self.lam_rest @ u[q1:] if self.lam_rest is not None else np.zeros(0)
        return u, np.concatenate([b1, br]), beta

    def b_by_term(self) -> list[np.ndarray]:
        """The random effects ``b = Lambda u``, one ``(L, k)`` array per term."""
        return split_by_term(self.solution()[1], self.cp.terms)

    def fixed_precision(self) -> np.ndarray:
        """``R_X' R_X`` (so ``cov(beta) = sigma^2 * inv``)."""
        q, p = self.q_rest, self.cp.p
        LX = self.LS[q : q + p, q : q + p]
        return LX @ LX.T

    def inverse_diag_blocks(self, include_x: bool = False) -> list[np.ndarray]:
        """Diagonal level blocks of ``A^{-1}``, ``A = Lambda'Z'Z Lambda + I`` (or, with
        ``include_x``, of the ``u`` block of ``M^{-1}``, ``M`` bordered by ``X``).

        One ``(L_i, k_i, k_i)`` array per term.  With the factor ``[[L11, 0], [N, L_S]]``
        the first term's blocks are ``L11_l^{-T} (I + N_l' S^{-1} N_l) L11_l^{-1}``, the
        others the diagonal blocks of ``S^{-1}`` (``S = L_S L_S'``).  These are what the
        conditional covariances and the gradient of the log-determinant need.
        """
        cp = self.cp
        L1, k1 = self.L11.shape[:2]
        p = cp.p if include_x else 0
        q = self.q_rest
        dim = q + p
        Linv1 = tri_solve_blocks(self.L11, np.broadcast_to(np.eye(k1), self.L11.shape))
        middle = np.broadcast_to(np.eye(k1), (L1, k1, k1)).copy()
        out: list[np.ndarray] = []
        if dim:
            inv, info = lapack.dpotri(np.ascontiguousarray(self.LS[:dim, :dim]), lower=1)
            if info != 0:
                raise np.linalg.LinAlgError(f"dpotri failed ({info})")
            Sinv = np.tril(inv) + np.tril(inv, -1).T  # (L_S L_S')^{-1}
            Hx = self.H[:, :, : cp.p] if include_x else None  # (L1, k1, p)
            if self.has_rest:
                Srr = Sinv[:q, :q]
                # Q = Lambda_r Srr Lambda_r'; Y_l = (C' Q C)_ll (first term's levels)
                Q = np.asarray(self.lam_rest @ np.asarray(self.lam_rest @ Srr).T).T
                Y = self._level_sums(Q)
                middle += np.swapaxes(self.M1, 1, 2) @ Y @ self.M1
                if include_x and p:
                    # cross terms: M1_l' (C' Lambda_r S_rx)_l Hx_l'
                    Pc = np.asarray(cp.C.T @ np.asarray(self.lam_rest @ Sinv[:q, q:])).reshape(
                        L1, k1, p
                    )
                    cross = np.swapaxes(self.M1, 1, 2) @ Pc @ np.swapaxes(Hx, 1, 2)
                    middle += cross + np.swapaxes(cross, 1, 2)
            if include_x and p:
                middle += Hx @ Sinv[q:, q:] @ np.swapaxes(Hx, 1, 2)
        out.append(np.swapaxes(Linv1, 1, 2) @ middle @ Linv1)
        if self.has_rest:
            off = cp.rest_offsets
            for j, t in enumerate(cp.terms[1:]):
                blk = Sinv[off[j] : off[j + 1], off[j] : off[j + 1]]
                idx = np.arange(t.nlevels)[:, None] * t.k + np.arange(t.k)
                out.append(blk[idx[:, :, None], idx[:, None, :]])
        return out

    def _level_sums(self, Q: np.ndarray) -> np.ndarray:
        """``(C' Q C)`` restricted to the first term's diagonal level blocks: ``(L1, k1, k1)``."""
        cp = self.cp
        L1, k1 = self.L11.shape[:2]
        if cp.pairs is not None:
            pi = cp.pairs
            w = pi.val * Q.ravel()[pi.flat]
            k2 = k1 * k1
            Y = np.bincount(pi.widx, weights=w, minlength=L1 * k2)
            Y += np.bincount(pi.mirror_widx, weights=w[pi.strict], minlength=L1 * k2)
            return Y.reshape(L1, k1, k1)
        # too many pairs: column sums of C * (Q C), one (a, b) at a time
        QC = np.asarray(cp.C.T @ Q).T  # (q, q1) = Q C (Q symmetric)
        Cc = cp.C.tocsc()
        Y = np.empty((L1, k1, k1))
        for a in range(k1):  # loops over the few columns of term 1
            for b in range(k1):
                prod = Cc[:, a::k1].multiply(QC[:, b::k1])
                Y[:, a, b] = np.asarray(prod.sum(axis=0)).ravel()
        return Y

    def cond_cov_blocks(self) -> list[np.ndarray]:
        """Diagonal blocks of ``Lambda (Lambda'Z'Z Lambda + I)^{-1} Lambda'`` per term.

        One ``(L_i, k_i, k_i)`` array per term; multiplied by
        ``sigma^2`` they are lme4's conditional covariances (``condVar``).
        """
        V = self.inverse_diag_blocks(include_x=False)
        L1 = self.L11.shape[0]
        lam1 = _as_level_blocks(self.lam1, L1)
        out = [lam1 @ V[0] @ np.swapaxes(lam1, 1, 2)]
        if self.has_rest:
            for j, t in enumerate(self.cp.terms[1:]):
                lam = _rest_block(self.lam_rest, self.cp.rest_offsets[j], t)
                out.append(lam @ V[j + 1] @ np.swapaxes(lam, 1, 2))
        return out


def _rest_block(lam_rest: sp.csr_matrix, off: int, t) -> np.ndarray:
    """The ``(L, k, k)`` per-level blocks of a rest term's ``Lambda`` (block diagonal)."""
    base = off + np.arange(t.nlevels)[:, None, None] * t.k
    rows = (base + np.arange(t.k)[None, :, None] + np.zeros((1, 1, t.k), int)).ravel()
    cols = (base + np.arange(t.k)[None, None, :] + np.zeros((1, t.k, 1), int)).ravel()
    vals = np.asarray(lam_rest[rows, cols]).ravel()
    return vals.reshape(t.nlevels, t.k, t.k)


def _bordered_cholesky(S: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of the matrix bordered by the ``y`` column.

    When ``y`` is reproduced exactly (zero penalized residual), the last pivot is
    zero: factor the leading block and set the last diagonal to ``sqrt(max(., 0))``.
    """
    L, info = lapack.dpotrf(S, lower=1, clean=1)  # direct LAPACK: no wrapper overhead
    if info == 0:
        return L
    if info < 0:  # pragma: no cover - bad argument
        raise np.linalg.LinAlgError(f"dpotrf failed ({info})")
    L = np.zeros_like(S)
    L[:-1, :-1] = sla.cholesky(S[:-1, :-1], lower=True, check_finite=False)
    row = sla.solve_triangular(L[:-1, :-1], S[:-1, -1], lower=True, check_finite=False)
    L[-1, :-1] = row
    L[-1, -1] = np.sqrt(max(S[-1, -1] - row @ row, 0.0))
    return L


def _fill_in(cp: CrossProducts, W: np.ndarray) -> np.ndarray:
    """Dense ``C W C'`` with ``W`` block-diagonal ``(L1, k1, k1)``; lower triangle only
    when the pair index is used (callers symmetrise when they need the upper)."""
    q = cp.q_rest
    if cp.pairs is not None:
        pi = cp.pairs
        K = np.bincount(pi.flat, weights=pi.val * W.ravel()[pi.widx], minlength=q * q)
        return K.reshape(q, q)
    return (cp.C @ _blockdiag(W) @ cp.C.T).toarray()


def factorize(
    cp: CrossProducts, lambdas: list[np.ndarray], xpen: np.ndarray | None = None
) -> PLSFactor:
    """Factor the bordered PLS matrix for the given per-term ``Lambda`` blocks.

    Parameters
    ----------
    cp:
        Cross-products from :func:`~hierreg_formula.core.structure.cross_products`.
    lambdas:
        One array per term, in the order of ``cp.terms``: a ``(k, k)`` factor shared
        by every level (mixed models) or an ``(L, k, k)`` stack, one per level
        (e.g. the per-level ridge scales of the regularized mode).
    xpen:
        Optional ``(p, p)`` matrix added to ``X'X`` (a ridge penalty on ``beta``).
    """
    t1 = cp.terms[0]
    L1, k1 = t1.nlevels, t1.k
    lam1 = np.asarray(lambdas[0], dtype=float)
    if lam1.ndim == 2:  # shared factor: vec(L' D L) = vec(D) (L kron L), one GEMM
        kron = (lam1[:, None, :, None] * lam1[None, :, None, :]).reshape(k1 * k1, k1 * k1)
        A11 = (cp.D1.reshape(L1, k1 * k1) @ kron).reshape(L1, k1, k1)
        LtP = (cp.P1T.reshape(-1, k1) @ lam1).reshape(L1, -1, k1).transpose(0, 2, 1)
    else:
        lamT = np.swapaxes(lam1, 1, 2)
        A11 = lamT @ cp.D1 @ lam1
        LtP = lamT @ cp.P1
    A11[:, np.arange(k1), np.arange(k1)] += 1.0
    L11 = chol_blocks(A11)
    H = tri_solve_blocks(L11, LtP)  # L11^{-1} Lambda_1' Z_1'[X y]
    Hf = H.reshape(-1, H.shape[2])  # (q1, p+1)
    S_xy = cp.XYXY - Hf.T @ Hf
    if xpen is not None:
        p = cp.p
        S_xy[:p, :p] += xpen
    if cp.C is None:
        LS = _bordered_cholesky(S_xy)
        return PLSFactor(cp, L11, H, LS, lam1, None)
    f = PLSFactor(cp, L11, H, np.zeros((0, 0)), lam1, None)
    M1 = f.M1
    q = cp.q_rest
    rest_blocks = [
        _as_level_blocks(lam, t.nlevels) for lam, t in zip(lambdas[1:], cp.terms[1:], strict=True)
    ]
    W = M1 @ np.swapaxes(M1, 1, 2)  # Lambda_1 A11^{-1} Lambda_1'
    K = _fill_in(cp, W)
    # C M1 H: the X/y columns of the fill-in
    CMH = np.asarray(cp.C @ (M1 @ H).reshape(-1, H.shape[2]))
    S = np.empty((q + S_xy.shape[0],) * 2)
    if cp.rest_scalar:
        lam = np.concatenate([b.reshape(-1) for b in rest_blocks])
        Srr = S[:q, :q]
        np.subtract(cp.R, K, out=Srr)
        Srr *= lam[:, None]
        Srr *= lam[None, :]
        Srr[np.diag_indices(q)] += 1.0
        Srx = lam[:, None] * (cp.RXY - CMH)
        lam_rest = sp.diags(lam, format="csr")
    else:
        if cp.pairs is not None:
            K = np.tril(K) + np.tril(K, -1).T
        lam_rest = sp.block_diag([_blockdiag(b) for b in rest_blocks], format="csr")
        LtD = np.asarray(lam_rest.T @ (cp.R - K))  # Lambda_r' (R - K)
        S[:q, :q] = np.asarray(lam_rest.T @ LtD.T).T + np.eye(q)
        Srx = np.asarray(lam_rest.T @ (cp.RXY - CMH))
    S[q:, :q] = Srx.T
    S[q:, q:] = S_xy
    LS = _bordered_cholesky(S)
    return PLSFactor(cp, L11, H, LS, lam1, lam_rest)
