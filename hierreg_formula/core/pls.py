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
complement of everything else splits into the other ("rest") terms, factored
densely by LAPACK in one ``q x q`` buffer filled from the slots of its sparsity
pattern (:mod:`.fillin`, :mod:`.restdense`), and the ``[X y]`` border: ``V =
L_rr^{-1} S_rx'`` and a ``(p + 1) x (p + 1)`` Cholesky of ``S_xy - V'V``.  The
whole factor is ``[[L11, 0, 0], [N, L_rr, 0], [H', V', L_X]]``.  Nothing here
touches the ``n`` rows.

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

from . import restdense as rd
from .fillin import blockdiag as _blockdiag
from .structure import CrossProducts, split_by_term


def _as_level_blocks(lam: np.ndarray, nlevels: int) -> np.ndarray:
    lam = np.asarray(lam, dtype=float)
    if lam.ndim == 2:
        return np.broadcast_to(lam, (nlevels, *lam.shape))
    return lam


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
    Lrr: ``(q, q)`` Fortran-ordered lower factor of the rest terms' block (``0 x 0``
        with one term); with :func:`factorize`'s ``out`` it is the caller's buffer.
    V: ``(q, p + 1)``: ``Lrr^{-1} S_rx'``, the rows under ``Lrr`` (transposed).
    LX: ``(p + 1, p + 1)`` lower factor of the ``[X y]`` block; ``LX[-1, -1]^2`` is the
        penalized residual sum of squares.
    lam1: term 1's ``Lambda`` block, ``(k1, k1)`` shared or ``(L1, k1, k1)`` per level.
    lam_rest: sparse block-diagonal ``Lambda`` of the rest terms.
    rest_blocks: the rest terms' ``Lambda`` blocks, ``(k, k)`` or ``(L, k, k)`` each.
    M1: (derived) ``(L1, k1, k1)``: ``Lambda_1 L11^{-T}`` per level.
    """

    cp: CrossProducts
    L11: np.ndarray
    H: np.ndarray
    Lrr: np.ndarray
    V: np.ndarray
    LX: np.ndarray
    lam1: np.ndarray
    lam_rest: sp.csr_matrix | None
    rest_blocks: tuple[np.ndarray, ...] = ()

    @functools.cached_property
    def M1(self) -> np.ndarray:
        lamT = np.swapaxes(_as_level_blocks(self.lam1, self.L11.shape[0]), 1, 2)
        return np.swapaxes(tri_solve_blocks(self.L11, lamT), 1, 2)

    @property
    def q_rest(self) -> int:
        return self.cp.q_rest

    @property
    def LS(self) -> np.ndarray:
        """The dense lower factor of the whole Schur complement (rest terms, ``X``, ``y``):
        ``[[Lrr, 0], [V', LX]]``.  A new array when there are rest terms (the core itself
        works on the blocks); ``LX`` with one term."""
        q = self.q_rest
        if q == 0:
            return self.LX
        m = self.LX.shape[0]
        out = np.zeros((q + m, q + m))
        out[:q, :q] = np.tril(self.Lrr)
        out[q:, :q] = self.V.T
        out[q:, q:] = self.LX
        return out

    @property
    def pwrss(self) -> float:
        """Penalized weighted residual sum of squares ``||y - X b - Z Lam u||^2 + ||u||^2``."""
        return float(self.LX[-1, -1] ** 2)

    @property
    def logdet_L(self) -> float:
        """``log |L_Z|^2`` (lme4's ``ldL2``)."""
        d1 = np.diagonal(self.L11, axis1=1, axis2=2)
        dr = np.diagonal(self.Lrr)
        return float(2.0 * (np.log(d1).sum() + np.log(dr).sum()))

    @property
    def logdet_RX(self) -> float:
        """``log |R_X|^2`` (lme4's ``ldRX2``)."""
        return float(2.0 * np.log(np.diagonal(self.LX)[: self.cp.p]).sum())

    @property
    def has_rest(self) -> bool:
        return self.cp.C is not None

    def _solution(self) -> tuple[np.ndarray, np.ndarray]:
        p = self.cp.p
        LXx = self.LX[:p, :p]
        beta = rd.tri_solve(LXx, self.LX[p, :p], trans=True)
        # term 1: L11' u1 = c1 - (G' u_rest + H_X beta), per level
        c = self.H[:, :, -1] - self.H[:, :, :-1] @ beta
        if self.has_rest:
            rhs = self.V[:, p] - self.V[:, :p] @ beta
            ur = rd.tri_solve(self.Lrr, rhs, trans=True)
            # G' u_r = blockdiag(M1') C' Lambda_r u_r, without forming G
            v = np.asarray(self.cp.C.T @ (self.lam_rest @ ur)).reshape(c.shape)
            c = c - np.einsum("lab,la->lb", self.M1, v)
        else:
            ur = np.zeros(0)
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
        p = self.cp.p
        LX = self.LX[:p, :p]
        return LX @ LX.T

    def rest_inverse(self, include_x: bool, overwrite: bool = False) -> RestInverse:
        """The inverse of the PLS matrix without term 1 (rest terms, and ``X`` with
        ``include_x``), as :class:`RestInverse`.

        ``overwrite``: invert in the factor's own ``Lrr`` buffer (no ``q x q`` copy); the
        factor must not be used afterwards.
        """
        p = self.cp.p if include_x else 0
        q = self.q_rest
        Y = np.zeros((q, p))
        if p:
            LXx = self.LX[:p, :p]
            Li = rd.tri_solve(LXx, np.eye(p))
            Phi_inv = Li.T @ Li  # (S_xx - S_xr S^{-1} S_rx)^{-1}
            if q:
                Y = rd.tri_solve(self.Lrr, self.V[:, :p], trans=True)  # S^{-1} S_rx'
        else:
            Phi_inv = np.zeros((0, 0))
        buf = self.Lrr if overwrite else np.array(self.Lrr, order="F")
        rd.invert_in_place(buf)
        return RestInverse(buf, Y, Phi_inv)

    def inverse_diag_blocks(
        self, include_x: bool = False, overwrite: bool = False
    ) -> list[np.ndarray]:
        """Diagonal level blocks of ``A^{-1}``, ``A = Lambda'Z'Z Lambda + I`` (or, with
        ``include_x``, of the ``u`` block of ``M^{-1}``, ``M`` bordered by ``X``).

        One ``(L_i, k_i, k_i)`` array per term.  With the factor ``[[L11, 0], [N, L_S]]``
        the first term's blocks are ``L11_l^{-T} (I + N_l' S^{-1} N_l) L11_l^{-1}``, the
        others the diagonal blocks of ``S^{-1}`` (``S = L_S L_S'``).  These are what the
        conditional covariances and the gradient of the log-determinant need.

        ``overwrite``: invert the rest block in the factor's own buffer (no ``q x q``
        copy); the factor must not be used afterwards.
        """
        cp = self.cp
        L1, k1 = self.L11.shape[:2]
        p = cp.p if include_x else 0
        Linv1 = tri_solve_blocks(self.L11, np.broadcast_to(np.eye(k1), self.L11.shape))
        middle = np.broadcast_to(np.eye(k1), (L1, k1, k1)).copy()
        out: list[np.ndarray] = []
        rest_out: list[np.ndarray] = []
        if self.q_rest or p:
            inv = self.rest_inverse(include_x, overwrite=overwrite)
            Hx = self.H[:, :, : cp.p] if include_x else None  # (L1, k1, p)
            if self.has_rest:
                rb = cp.rest
                off = cp.rest_offsets
                scalar = cp.rest_scalar
                if not scalar:
                    inv.complete()
                # the rest terms' own blocks, before the buffer holds Lambda M^{-1} Lambda'
                for j, t in enumerate(cp.terms[1:]):
                    rest_out.append(inv.diag_blocks(int(off[j]), t.nlevels, t.k))
                # Q = Lambda_r M^{-1}_rr Lambda_r' on the pattern; Y_l = (C' Q C)_ll
                if scalar:
                    lam = self._rest_lambda_vector()
                    pat = rb.pattern
                    Q = inv.slots(rb) * lam[pat.rows] * lam[pat.cols]
                else:
                    rd.apply_blocks(inv.buf, self.rest_blocks, off, transpose=False)
                    Q = rd.flat_view(inv.buf)[rb.flat]
                Yl = rb.level_sums(Q, L1)
                middle += np.swapaxes(self.M1, 1, 2) @ Yl @ self.M1
                if include_x and p:
                    # cross terms: M1_l' (C' Lambda_r M^{-1}_rx)_l Hx_l'
                    Pc = np.asarray(cp.C.T @ np.asarray(self.lam_rest @ inv.rx)).reshape(L1, k1, p)
                    cross = np.swapaxes(self.M1, 1, 2) @ Pc @ np.swapaxes(Hx, 1, 2)
                    middle += cross + np.swapaxes(cross, 1, 2)
            if include_x and p:
                middle += Hx @ inv.xx @ np.swapaxes(Hx, 1, 2)
        out.append(np.swapaxes(Linv1, 1, 2) @ middle @ Linv1)
        return out + rest_out

    def _level_sums(self, Q: np.ndarray) -> np.ndarray:
        """``(C' Q C)`` on the first term's diagonal level blocks for a dense symmetric ``Q``
        (``q x q``); the core itself passes ``Q`` on the pattern's slots."""
        rb = self.cp.rest
        return rb.level_sums(np.asarray(Q)[rb.pattern.rows, rb.pattern.cols], self.L11.shape[0])

    def _rest_lambda_vector(self) -> np.ndarray:
        """The diagonal of ``Lambda_r`` when every rest term is scalar."""
        return np.concatenate([np.asarray(b, dtype=float).reshape(-1) for b in self._rest_full()])

    def _rest_full(self) -> list[np.ndarray]:
        return [
            _as_level_blocks(b, t.nlevels)
            for b, t in zip(self.rest_blocks, self.cp.terms[1:], strict=True)
        ]

    def cond_cov_blocks(self, overwrite: bool = False) -> list[np.ndarray]:
        """Diagonal blocks of ``Lambda (Lambda'Z'Z Lambda + I)^{-1} Lambda'`` per term.

        One ``(L_i, k_i, k_i)`` array per term; multiplied by
        ``sigma^2`` they are lme4's conditional covariances (``condVar``).
        """
        V = self.inverse_diag_blocks(include_x=False, overwrite=overwrite)
        L1 = self.L11.shape[0]
        lam1 = _as_level_blocks(self.lam1, L1)
        out = [lam1 @ V[0] @ np.swapaxes(lam1, 1, 2)]
        if self.has_rest:
            for j, lam in enumerate(self._rest_full()):
                out.append(lam @ V[j + 1] @ np.swapaxes(lam, 1, 2))
        return out


class RestInverse:
    """The inverse of the PLS matrix without term 1, ``M = [[S, S_rx'], [S_rx, S_xx]]``
    (or ``S`` alone), by blocks: ``M^{-1}_rr = S^{-1} + Y Phi^{-1} Y'``,
    ``M^{-1}_rx = -Y Phi^{-1}``, ``M^{-1}_xx = Phi^{-1}``, with ``Y = S^{-1} S_rx'``.

    ``buf`` holds the lower triangle of ``S^{-1}`` (Fortran-ordered ``q x q``) until
    :meth:`complete` makes it the whole symmetric ``M^{-1}_rr``.
    """

    def __init__(self, buf: np.ndarray, Y: np.ndarray, Phi_inv: np.ndarray) -> None:
        self.buf = buf
        self.Y = Y
        self.xx = Phi_inv
        self.YP = Y @ Phi_inv
        self.completed = False

    @property
    def rx(self) -> np.ndarray:
        """``M^{-1}_rx`` (``q x p``)."""
        return -self.YP

    def diagonal(self) -> np.ndarray:
        """The diagonal of ``M^{-1}_rr``."""
        d = np.diagonal(self.buf).copy()
        if not self.completed and self.Y.shape[1]:
            d += np.einsum("ia,ia->i", self.YP, self.Y)
        return d

    def slots(self, rb) -> np.ndarray:
        """``M^{-1}_rr`` on the slots of the rest block ``rb``'s pattern (lower triangle)."""
        vals = rd.flat_view(self.buf)[rb.flat]
        if not self.completed and self.Y.shape[1]:
            pat = rb.pattern
            vals += rd.rowdot(self.YP, self.Y, pat.rows, pat.cols)
        return vals

    def complete(self) -> None:
        """Make ``buf`` the whole symmetric ``M^{-1}_rr`` (in place)."""
        if self.completed:
            return
        rd.symmetrize_lower(self.buf)
        rd.rank_update(self.buf, self.YP, self.Y)
        self.completed = True

    def diag_blocks(self, off: int, nlevels: int, k: int) -> np.ndarray:
        """``(L, k, k)`` diagonal level blocks of ``M^{-1}_rr`` for the term at ``off``."""
        if k == 1:
            return self.diagonal()[off : off + nlevels].reshape(nlevels, 1, 1)
        self.complete()
        idx = off + np.arange(nlevels)[:, None] * k + np.arange(k)
        return self.buf[idx[:, :, None], idx[:, None, :]]


def _fill_in(cp: CrossProducts, W: np.ndarray) -> np.ndarray:
    """Dense symmetric ``C W C'`` (``q x q``; ``W``: ``(L1, k1, k1)``).  For callers that
    want the whole matrix: the core works on the pattern's slots (:meth:`RestBlock.fill`)."""
    rb = cp.rest
    vals = rb.fill(W)
    K = rd.new_buffer(rb.q)
    K.fill(0.0)
    flat = rd.flat_view(K)
    flat[rb.flat] = vals
    off = rb.pattern.offdiag
    flat[rb.flat_t[off]] = vals[off]
    return K


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
    row = rd.tri_solve(L[:-1, :-1], S[:-1, -1])
    L[-1, :-1] = row
    L[-1, -1] = np.sqrt(max(S[-1, -1] - row @ row, 0.0))
    return L


def factorize(
    cp: CrossProducts,
    lambdas: list[np.ndarray],
    xpen: np.ndarray | None = None,
    out: np.ndarray | None = None,
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
    out:
        Optional Fortran-ordered ``(q_rest, q_rest)`` buffer for the rest block's factor
        (reused across evaluations by the optimiser; a factor made in it is valid until
        the buffer is used again).  Default: a new array.
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
    m = S_xy.shape[0]
    if cp.C is None:
        LX = _bordered_cholesky(S_xy)
        return PLSFactor(cp, L11, H, np.zeros((0, 0), order="F"), np.zeros((0, m)), LX, lam1, None)
    f = PLSFactor(cp, L11, H, np.zeros((0, 0)), np.zeros((0, m)), np.zeros((m, m)), lam1, None)
    M1 = f.M1
    q = cp.q_rest
    rb = cp.rest
    pat = rb.pattern
    rest_blocks = tuple(np.asarray(lam, dtype=float) for lam in lambdas[1:])
    W = M1 @ np.swapaxes(M1, 1, 2)  # Lambda_1 A11^{-1} Lambda_1'
    vals = rb.fill(W)
    np.subtract(rb.R_slots, vals, out=vals)  # R - C W C' on the slots
    # C M1 H: the X/y columns of the fill-in
    Srx = cp.RXY - np.asarray(cp.C @ (M1 @ H).reshape(-1, H.shape[2]))
    buf = rd.new_buffer(q) if out is None else out
    flat = rd.flat_view(buf)
    buf.fill(0.0)
    full = [_as_level_blocks(b, t.nlevels) for b, t in zip(rest_blocks, cp.terms[1:], strict=True)]
    if cp.rest_scalar:
        lam = np.concatenate([b.reshape(-1) for b in full])
        vals *= lam[pat.rows]
        vals *= lam[pat.cols]
        vals[pat.diag] += 1.0
        flat[rb.flat] = vals
        Srx *= lam[:, None]
        lam_rest = sp.diags(lam, format="csr")
    else:
        # the whole symmetric R - C W C', then Lambda_r' (.) Lambda_r in place
        flat[rb.flat] = vals
        off = pat.offdiag
        flat[rb.flat_t[off]] = vals[off]
        rd.apply_blocks(buf, rest_blocks, cp.rest_offsets, transpose=True)
        flat[:: q + 1] += 1.0
        lam_rest = sp.block_diag([_blockdiag(b) for b in full], format="csr")
        Srx = np.asarray(lam_rest.T @ Srx)
    rd.factor_in_place(buf)
    V = rd.tri_solve(buf, Srx)  # the factor has a positive diagonal
    LX = _bordered_cholesky(S_xy - V.T @ V)
    return PLSFactor(cp, L11, H, buf, V, LX, lam1, lam_rest, rest_blocks)
