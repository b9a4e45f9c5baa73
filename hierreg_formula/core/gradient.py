"""Analytic gradient of the profiled deviance when every term is scalar.

For scalar terms (``(1 | g)``, ``(0 + x | g)``) ``Lambda = diag(lambda)`` with
``lambda_j = theta_k`` on the columns of term ``k``.  Write
``M = [[A, Lambda Z'X], [X'Z Lambda, X'X]]`` with ``A = Lambda Z'Z Lambda + I``, so that
``log|A| + log|R_X|^2 = log|M|``.  Two identities give the gradient cheaply:

- ``d log|M| / d theta_k = (2 / theta_k) (q_k - tr_k(M^{-1}))``, because
  ``E_k Z'Z Lambda = (A - I) E_k / theta_k`` on the columns of term ``k``
  (``tr_k`` sums the diagonal over those columns; ML uses ``A`` instead of ``M``);
- ``d pwrss / d theta_k = -2 ||u_k||^2 / theta_k`` (envelope theorem and the PLS
  normal equations ``Lambda Z' r = u``).

``tr_k`` of the rest terms comes from the inverse of the Schur complement's factor
(:meth:`~hierreg_formula.core.pls.PLSFactor.rest_inverse`); for the block-diagonal
first term, ``tr_1(M^{-1}) = sum_l 1/a_l + tr(S^{-1} B A_11^{-2} B')``, where
``B A_11^{-2} B'`` is one more fill-in with other weights, non-zero only on the rest
block's sparsity pattern (so only those entries of ``S^{-1}`` are read).  So a gradient costs about one deviance evaluation, instead of ``2 m``
for central differences.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.structure import TermArrays, cross_products
>>> from hierreg_formula.core.pls import factorize
>>> rng = np.random.default_rng(1)
>>> t = TermArrays(rng.integers(0, 5, 40), 5, np.ones((40, 1)))
>>> cp = cross_products(np.ones((40, 1)), rng.normal(size=40), [t])
>>> g = scalar_gradient(factorize(cp, [np.array([[0.7]])]), np.array([0.7]), reml=True)
>>> g.shape
(1,)
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from . import restdense as rd
from .pls import PLSFactor, tri_solve_blocks
from .structure import split_by_term


def scalar_gradient(
    f: PLSFactor, theta: np.ndarray, reml: bool, overwrite: bool = False
) -> np.ndarray:
    """Gradient of the (RE)ML profiled deviance at ``theta`` (one value per scalar term).

    ``overwrite``: the inverse of the rest block is formed in the factor's own buffer
    (no ``q x q`` copy); ``f`` must not be used afterwards.
    """
    cp = f.cp
    n, p = cp.n, cp.p
    q = cp.q_rest
    m = len(cp.terms)
    th = np.asarray(theta, dtype=float)
    u, _, _ = f.solution()
    sizes = np.array([t.q for t in cp.terms])
    offs = np.concatenate([[0], np.cumsum(sizes)])
    usq = np.array([u[offs[k] : offs[k + 1]] @ u[offs[k] : offs[k + 1]] for k in range(m)])
    pwrss = f.pwrss

    tr = np.empty(m)
    # first term: sum 1/a_l + tr(M^{-1} K2), K2 = B A11^{-2} B' (one more fill-in)
    th1 = th[0]
    a = (th1 * th1) * cp.D1[:, 0, 0] + 1.0
    w2 = (th1 * th1) / (a * a)
    tr1 = (1.0 / a).sum()
    xdim = p if reml else 0
    if q or xdim:
        # inverse of the Schur complement: of M's (rest + X) for REML, A's (rest) for ML
        inv = f.rest_inverse(include_x=reml, overwrite=overwrite)
        if q:
            dS = inv.diagonal()
            roff = cp.rest_offsets
            for j in range(1, m):  # rest terms: diagonal of the inverse over their columns
                tr[j] = dS[roff[j - 1] : roff[j]].sum()
            rb = cp.rest
            pat = rb.pattern
            lam = np.concatenate([np.full(t.q, th[j + 1]) for j, t in enumerate(cp.terms[1:])])
            K2 = rb.fill(w2[:, None, None])  # lower triangle on the pattern's slots
            K2 *= lam[pat.rows]
            K2 *= lam[pat.cols]
            Ms = inv.slots(rb)
            tr1 += 2.0 * (Ms @ K2) - Ms[pat.diag] @ K2[pat.diag]
            if reml and p:
                # rest x X block: lambda_r C diag(w2) Z1'X
                K2rx = lam[:, None] * np.asarray(cp.C @ (cp.P1[:, 0, :p] * w2[:, None]))
                tr1 += 2.0 * np.sum(inv.rx * K2rx)
        if xdim:
            PXr = cp.P1[:, 0, :p]
            tr1 += np.sum(inv.xx * (PXr.T @ (PXr * w2[:, None])))
    tr[0] = tr1
    mult = (n - p) if reml else n
    with np.errstate(divide="ignore", invalid="ignore"):
        g = (2.0 / th) * (sizes - tr) - 2.0 * mult * usq / (th * pwrss)
    g[th <= 0] = 0.0
    return g


def residual_crossproducts(f: PLSFactor, b: list[np.ndarray], beta: np.ndarray) -> list[np.ndarray]:
    """``Z_i' r`` per term as ``(L_i, k_i)`` arrays, ``r = y - X beta - Z b`` (cross-products only).

    ``Z'Z b`` splits into the first term's block-diagonal part ``D1``, the crossed part
    ``C`` (rest x first) and the rest's ``R``.
    """
    cp = f.cp
    p = cp.p
    t1 = cp.terms[0]
    b1 = b[0]
    out1 = cp.P1[:, :, p] - cp.P1[:, :, :p] @ beta - np.einsum("lab,lb->la", cp.D1, b1)
    outs = [out1]
    if cp.C is not None:
        br = np.concatenate([x.ravel() for x in b[1:]])
        out1 -= np.asarray(cp.C.T @ br).reshape(t1.nlevels, t1.k)
        rr = cp.RXY[:, p] - cp.RXY[:, :p] @ beta - cp.C @ b1.ravel() - cp.R @ br
        off = cp.rest_offsets
        for j, t in enumerate(cp.terms[1:]):
            outs.append(rr[off[j] : off[j + 1]].reshape(t.nlevels, t.k))
    return outs


def _padded_rows(M: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of each row of ``M``, padded to the longest row."""
    M = sp.csr_matrix(M)
    counts = np.diff(M.indptr)
    width = int(counts.max()) if len(counts) else 0
    idx = np.zeros((M.shape[0], max(width, 1)), dtype=np.int64)
    val = np.zeros((M.shape[0], max(width, 1)))
    pos = np.arange(M.nnz) - np.repeat(M.indptr[:-1], counts)
    rows = np.repeat(np.arange(M.shape[0]), counts)
    idx[rows, pos] = M.indices
    val[rows, pos] = M.data
    return idx, val


def _gather_rows(flat: np.ndarray, q: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``B[rows, cols]`` of the Fortran-ordered ``q x q`` buffer seen as ``flat``."""
    return flat[np.asarray(cols, np.int64) * q + rows]


def vector_gradient(f: PLSFactor, factors: list[np.ndarray], reml: bool) -> np.ndarray:
    """Gradient of the (RE)ML profiled deviance for any terms, valid on the boundary.

    With ``Gt = [Z Lambda, X]`` and ``M = Gt'Gt + diag(I, 0)`` (``A`` for ML),
    ``d log|M| = 2 tr(W dLambda)`` with ``W = (M^{-1} Gt'Z)`` restricted to the ``u``
    rows; only ``W``'s diagonal level blocks enter (``dLambda`` is block diagonal), so
    ``d log|M| / dT_rc = 2 sum_l (W_ll)_{cr}`` for term ``i``.  Through the blocked
    factor ``[[L11, 0], [N, L_S]]`` and ``S^{-1} = (L_S L_S')^{-1}`` (rest terms, ``X``):

    - first term, level ``l``: ``W_ll = V_l T'D_l - A_l^{-1} T' J_l`` with
      ``A_l = T'D_l T + I``, ``J_l = K_l' S^{-1} K_l``, ``K_l = [Lambda_r'C_l; X'Z_l]`` and
      ``V_l = A_l^{-1} + A_l^{-1} T' J_l T A_l^{-1}`` (the level's block of ``M^{-1}``);
    - rest terms: the diagonal level blocks of ``S^{-1}_{r.} [Lambda_r'(R - C W C');
      (Z_r'X - C W Z_1'X)']`` (``W = Lambda_1 A_11^{-1} Lambda_1'``, the fill-in's weights).

    No ``T^{-1}`` appears, so a singular ``T`` (a variance on its bound) is fine.  By the
    envelope theorem ``d pwrss / dT_rc = -2 sum_l (Z_i'r)_{l r} u_{l c}`` with ``Z'r``
    from the cross-products.

    The inverse of the rest block is formed in the factor's own buffer (the lean dense
    path: no other ``q x q`` array), so ``f`` must not be used afterwards; everything the
    rest terms need is read on the slots of the block's sparsity pattern (``O(nnz k)``).
    """
    cp = f.cp
    n = cp.n
    p = cp.p if reml else 0
    q = cp.q_rest
    t1 = cp.terms[0]
    L1, k1 = t1.nlevels, t1.k
    T1 = np.asarray(factors[0], dtype=float)
    # the solution reads the factor: before the buffer becomes the inverse
    u, b, beta = f.solution()
    u_terms = split_by_term(u, cp.terms)
    ztr = residual_crossproducts(f, split_by_term(b, cp.terms), beta)
    pwrss = f.pwrss
    eye = np.broadcast_to(np.eye(k1), f.L11.shape)
    Linv = tri_solve_blocks(f.L11, eye)
    Ainv = np.swapaxes(Linv, 1, 2) @ Linv  # A_l^{-1}
    M1 = f.M1 if q else None
    J = np.zeros((L1, k1, k1))
    S_W_rest: list[np.ndarray] = []
    if q or p:
        inv = f.rest_inverse(include_x=reml, overwrite=True)
        P1X = cp.P1[:, :, :p]  # (L1, k1, p): Z_1'X per level
        if q:
            rb = cp.rest
            pat = rb.pattern
            inv.complete()  # buf: the whole symmetric M^{-1}_rr
            flat = rd.flat_view(inv.buf)
            rx = inv.rx
            # buf <- M^{-1}_rr Lambda_r' (columns only)
            rd.apply_blocks(inv.buf, f.rest_blocks, cp.rest_offsets, transpose=False, right=True)
            lidx, lval = _padded_rows(f.lam_rest)
            # Q = Lambda_r M^{-1}_rr Lambda_r' on the pattern's slots: J_l = (C'QC)_ll
            Qs = np.zeros(pat.nnz)
            for e in range(lidx.shape[1]):  # the few columns of a Lambda row
                Qs += lval[pat.rows, e] * _gather_rows(flat, q, lidx[pat.rows, e], pat.cols)
            J += rb.level_sums(Qs, L1)
            if p:
                Pc = np.asarray(cp.C.T @ np.asarray(f.lam_rest @ rx)).reshape(L1, k1, p)
                cross = Pc @ np.swapaxes(P1X, 1, 2)
                J += cross + np.swapaxes(cross, 1, 2)
            # rest terms: diagonal level blocks of (M^{-1}_rr Lambda_r') P + M^{-1}_rx B'
            # with P = R - C W C' (symmetric, on the pattern) and B' = Z_r'X - C W Z_1'X
            Wfill = M1 @ np.swapaxes(M1, 1, 2)
            P = rb.R_slots - rb.fill(Wfill)
            off_mask = pat.offdiag
            prow = np.concatenate([pat.rows, pat.cols[off_mask]]).astype(np.int64)
            pcol = np.concatenate([pat.cols, pat.rows[off_mask]]).astype(np.int64)
            pval = np.concatenate([P, P[off_mask]])
            if p:
                cwp = np.asarray(cp.C @ (Wfill @ P1X).reshape(-1, p))  # C W Z_1'X
                Bt = cp.RXY[:, :p] - cwp  # (q, p)
            offs = cp.rest_offsets
            for j, t in enumerate(cp.terms[1:]):  # the few rest terms
                o0, o1, k = int(offs[j]), int(offs[j + 1]), t.k
                sel = (pcol >= o0) & (pcol < o1)
                c, r, v = pcol[sel], prow[sel], pval[sel]
                base = o0 + ((c - o0) // k) * k
                fpos = (c - o0) % k
                SW = np.zeros((k, k))
                for e in range(k):  # rows of the level block
                    contrib = _gather_rows(flat, q, base + e, r) * v
                    SW[e] = np.bincount(fpos, weights=contrib, minlength=k)
                if p:
                    cols_ = o0 + np.arange(t.nlevels)[:, None] * k + np.arange(k)  # (L, k)
                    # sum_l rx[l e] . Bt[l f]
                    SW += np.einsum("lea,lfa->ef", rx[cols_], Bt[cols_])
                S_W_rest.append(SW)
        if p:
            J += P1X @ inv.xx @ np.swapaxes(P1X, 1, 2)
    TtJ = T1.T @ J  # (L1, k1, k1)
    V1 = Ainv + Ainv @ TtJ @ T1 @ Ainv
    W1 = V1 @ (T1.T @ cp.D1) - Ainv @ TtJ
    S_W = [W1.sum(axis=0), *S_W_rest]
    mult = (n - cp.p) if reml else n
    scale = mult / pwrss
    grads = []
    for t, SW, zr, ut in zip(cp.terms, S_W, ztr, u_terms, strict=True):
        G = 2.0 * SW.T - 2.0 * scale * (zr.T @ ut)  # [r, c]
        cols, rows_ = np.triu_indices(t.k)
        grads.append(G[rows_, cols])
    return np.concatenate(grads)
