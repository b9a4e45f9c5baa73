"""In-place dense algebra on the rest block's one ``q x q`` buffer.

The rest block (every term but the first, after the first is eliminated) is factored
densely by LAPACK in a single Fortran-ordered ``q x q`` array: its values are
scattered from the slots of the pattern (:mod:`~hierreg_formula.core.fillin`),
``dpotrf`` factors it in place, and ``dpotri`` turns the factor into the inverse in
place when the gradient or the conditional variances need it.  Nothing here
allocates another ``q x q`` array: the products with the block-diagonal ``Lambda``
of vector-valued rest terms and the symmetrisation work a chunk of columns at a time.

Example
-------
>>> import numpy as np
>>> buf = np.asfortranarray(np.array([[4.0, 0.0], [2.0, 5.0]]))
>>> factor_in_place(buf) is buf, buf.tolist()
(True, [[2.0, 0.0], [1.0, 2.0]])
>>> invert_in_place(buf); symmetrize_lower(buf); buf.round(4).tolist()
[[0.3125, -0.125], [-0.125, 0.25]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.linalg import blas, lapack

#: bytes of a temporary chunk (products with Lambda, symmetrisation)
CHUNK_BYTES = 32 * 2**20


def new_buffer(q: int) -> np.ndarray:
    """An uninitialised Fortran-ordered ``q x q`` buffer."""
    return np.empty((q, q), order="F")


def flat_view(buf: np.ndarray) -> np.ndarray:
    """The buffer as a 1-d view (Fortran order: entry ``(i, j)`` at ``j * q + i``)."""
    out = buf.ravel(order="F")
    if not np.shares_memory(out, buf):  # pragma: no cover - buffers are always F-contiguous
        raise ValueError("the rest buffer must be Fortran-contiguous")
    return out


def factor_in_place(buf: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of the symmetric ``buf`` (lower triangle read), in place;
    the upper triangle is zeroed."""
    if buf.shape[0] == 0:
        return buf
    L, info = lapack.dpotrf(buf, lower=1, clean=1, overwrite_a=1)
    if info != 0:
        raise np.linalg.LinAlgError(
            f"the random-effects block is not positive definite (dpotrf {info})"
        )
    if not np.shares_memory(L, buf):  # pragma: no cover - F-contiguous input is not copied
        buf[...] = L
    return buf


#: below this order the inverse comes from triangular solves (``dtrsm``) rather than
#: ``dpotri``: OpenBLAS's threaded ``dtrtri`` / ``dtrtrs`` can take milliseconds on tiny
#: matrices when the cores are busy, ``dtrsm`` does not
SMALL_INVERSE = 512


def tri_solve(L: np.ndarray, B: np.ndarray, trans: bool = False) -> np.ndarray:
    """``L^{-1} B`` (or ``L^{-T} B``) for a lower-triangular ``L`` (its upper triangle is
    not read); ``B`` a vector or a matrix.  BLAS ``dtrsm`` (no singularity check)."""
    B2 = np.asarray(B, dtype=float)
    vec = B2.ndim == 1
    if vec:
        B2 = B2[:, None]
    if L.shape[0] == 0 or B2.shape[1] == 0:
        out = B2.copy()
    else:
        out = blas.dtrsm(1.0, L, B2, lower=1, trans_a=int(trans))
    return out[:, 0] if vec else out


def invert_in_place(buf: np.ndarray) -> None:
    """``(L L')^{-1}`` from the lower factor ``L`` in ``buf``, in place (lower triangle)."""
    q = buf.shape[0]
    if q == 0:
        return
    if q <= SMALL_INVERSE:
        Li = blas.dtrsm(1.0, buf, np.eye(q), lower=1)
        buf[...] = Li.T @ Li
        return
    inv, info = lapack.dpotri(buf, lower=1, overwrite_c=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"dpotri failed ({info})")
    if not np.shares_memory(inv, buf):  # pragma: no cover
        buf[...] = inv


def _step(q: int, width: int = 1) -> int:
    return max(1, CHUNK_BYTES // (8 * max(q, 1) * width))


def symmetrize_lower(buf: np.ndarray) -> None:
    """Copy the lower triangle onto the upper one, a block of columns at a time."""
    q = buf.shape[0]
    step = max(64, int(np.sqrt(CHUNK_BYTES / 8)))
    for j0 in range(0, q, step):  # blocks of columns, not single columns
        j1 = min(j0 + step, q)
        buf[:j0, j0:j1] = buf[j0:j1, :j0].T
        d = buf[j0:j1, j0:j1]
        d[...] = np.tril(d) + np.tril(d, -1).T


def rank_update(buf: np.ndarray, A: np.ndarray, B: np.ndarray) -> None:
    """``buf += A B'`` in place (``A``, ``B``: ``q x p``)."""
    if A.shape[1] == 0 or buf.shape[0] == 0:
        return
    out = blas.dgemm(1.0, A, B, beta=1.0, c=buf, trans_b=1, overwrite_c=1)
    if not np.shares_memory(out, buf):  # pragma: no cover
        buf[...] = out


def apply_blocks(
    buf: np.ndarray,
    blocks: Sequence[np.ndarray],
    offsets: np.ndarray,
    transpose: bool,
    right: bool = False,
) -> None:
    """``buf <- Lambda' buf Lambda`` (``transpose``) or ``Lambda buf Lambda'``, in place;
    with ``right`` only the product on the right (``buf Lambda`` or ``buf Lambda'``).

    ``Lambda`` is block diagonal: term ``j`` covers ``offsets[j]:offsets[j + 1]`` with a
    ``(k, k)`` block shared by its levels or an ``(L, k, k)`` stack.
    """
    Bt = buf.T  # C-ordered view: Bt[j, i] = buf[i, j]
    q = buf.shape[0]
    for T, o0, o1 in zip(blocks, offsets[:-1], offsets[1:], strict=True):
        T = np.asarray(T, dtype=float)
        k = T.shape[-1]
        A = np.swapaxes(T, -1, -2) if transpose else T  # per level: Lambda_l' or Lambda_l
        if k == 1 and T.ndim == 2:  # a shared scalar
            Bt[o0:o1, :] *= A[0, 0]
            if not right:
                Bt[:, o0:o1] *= A[0, 0]
            continue
        L = (o1 - o0) // k
        step = _step(q, k)
        for l0 in range(0, L, step):  # chunks of levels (a few), not levels
            l1 = min(l0 + step, L)
            c0, c1 = o0 + l0 * k, o0 + l1 * k
            Al = A if A.ndim == 2 else A[l0:l1]
            # columns of buf (rows of Bt): Bt_l <- A_l Bt_l
            V = Bt[c0:c1, :].reshape(l1 - l0, k, q)
            Bt[c0:c1, :] = np.matmul(Al, V).reshape(c1 - c0, q)
            if right:
                continue
            # rows of buf (columns of Bt): Bt[:, l] <- Bt[:, l] A_l'
            U = Bt[:, c0:c1].reshape(q, l1 - l0, k)
            if Al.ndim == 2:
                Bt[:, c0:c1] = (U @ Al.T).reshape(q, c1 - c0)
            else:
                Bt[:, c0:c1] = np.einsum("ilb,lab->ila", U, Al).reshape(q, c1 - c0)


def rowdot(A: np.ndarray, B: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``sum_a A[rows[s], a] * B[cols[s], a]`` for every ``s`` (chunked gathers)."""
    out = np.empty(len(rows))
    if A.shape[1] == 0:
        out[:] = 0.0
        return out
    step = max(1, CHUNK_BYTES // (16 * A.shape[1]))
    for s0 in range(0, len(rows), step):  # chunks of slots
        s1 = min(s0 + step, len(rows))
        out[s0:s1] = np.einsum("sa,sa->s", A[rows[s0:s1]], B[cols[s0:s1]])
    return out
