"""A GLMM with a single random-effects term: level-wise PIRLS and the Laplace gradient.

With one term (``k`` columns, ``L`` levels) the conditional modes decouple by
level: ``A_j = I + T' M_j T`` with ``M_j = sum_{i in j} W_i z_i z_i'`` is the
level's ``k x k`` block of the PLS factor, and a Fisher-scoring step for ``u_j``
is ``A_j^{-1} (T' sum_i r_i z_i - u_j)`` (``r = W (y - mu) / mu'``).  Everything
is a few ``np.bincount`` over the rows and batched ``k x k`` algebra.

:func:`laplace_gradient` differentiates the Laplace deviance

    f(theta, beta) = -2 log f(y | u*) + ||u*||^2 + sum_j log det A_j

at the modes ``u*(theta, beta)``: by the envelope theorem the first two terms
contribute their partial derivatives at fixed ``u``; the log-determinants
depend on ``(theta, beta)`` through ``T`` and through the working weights
``W(eta*)``, with ``d eta* = X d beta + z' dT u + z' T du*`` and ``du*`` from
differentiating the mode equation ``T' sum_i r_i z_i = u`` (its Jacobian uses
the observed information ``W_obs``).  With ``c_i = z_i' T A_j^{-1} T' z_i``:

    d/d beta   = -2 sum_i r_i x_i + sum_i c_i W'_i (x_i + z_i' T du_j/d beta)
    d/d theta_m = -2 sum_i r_i z_i' E_m u_j + 2 sum_j tr(A_j^{-1} T' M_j E_m)
                  + sum_i c_i W'_i (z_i' E_m u_j + z_i' T du_j/d theta_m)

(``E_m = dT/d theta_m``, ``W' = dW/deta``).  One pass over the rows gives all of it.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.structure import TermArrays
>>> st = SingleTerm(TermArrays(np.array([0, 0, 1]), 2, np.ones((3, 1))))
>>> st.ones, st.level_sum(np.array([1.0, 2.0, 4.0])).tolist()
(True, [3.0, 4.0])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .pls import chol_blocks, tri_solve_blocks
from .structure import TermArrays


class SingleTerm:
    """The one random-effects term of a model, with its per-level sums."""

    def __init__(self, term: TermArrays) -> None:
        self.term = term
        self.codes = np.ascontiguousarray(term.codes)
        self.L, self.k = term.nlevels, term.k
        self.Z = np.ascontiguousarray(term.Xz, dtype=float)
        # an intercept-only term (all ones): no multiplications by z
        self.ones = self.k == 1 and bool(np.all(self.Z == 1.0))

    def level_sum(self, v: np.ndarray) -> np.ndarray:
        """``sum_{i in j} v_i`` per level."""
        return np.bincount(self.codes, weights=v, minlength=self.L)

    def zsum(self, v: np.ndarray) -> np.ndarray:
        """``sum_{i in j} v_i z_i`` per level: ``(L, k)``."""
        if self.ones:
            return self.level_sum(v)[:, None]
        return np.stack([self.level_sum(v * self.Z[:, a]) for a in range(self.k)], axis=1)

    def zzsum(self, v: np.ndarray) -> np.ndarray:
        """``sum_{i in j} v_i z_i z_i'`` per level: ``(L, k, k)``."""
        if self.ones:
            return self.level_sum(v)[:, None, None]
        k = self.k
        out = np.empty((self.L, k, k))
        for a in range(k):  # loops over the few columns of the term
            va = v * self.Z[:, a]
            for b in range(a + 1):
                out[:, a, b] = out[:, b, a] = self.level_sum(va * self.Z[:, b])
        return out

    def zxsum(self, v: np.ndarray, X: np.ndarray) -> np.ndarray:
        """``sum_{i in j} v_i z_i x_i'`` per level: ``(L, k, p)``."""
        p = X.shape[1]
        out = np.empty((self.L, self.k, p))
        for a in range(self.k):
            va = v if self.ones else v * self.Z[:, a]
            for c in range(p):
                out[:, a, c] = self.level_sum(va * X[:, c])
        return out

    def zb(self, b: np.ndarray) -> np.ndarray:
        """``z_i' b_{j(i)}`` per row for level effects ``b`` ``(L, k)``."""
        if self.ones:
            return b[:, 0][self.codes]
        return np.einsum("nk,nk->n", self.Z, b[self.codes])

    def quad(self, B: np.ndarray) -> np.ndarray:
        """``z_i' B_{j(i)} z_i`` per row for per-level ``(L, k, k)`` matrices."""
        if self.ones:
            return B[:, 0, 0][self.codes]
        Bz = np.einsum("nab,nb->na", B[self.codes], self.Z)
        return np.einsum("na,na->n", self.Z, Bz)

    # ------------------------------------------------------------- PIRLS
    def newton_step(
        self, T: np.ndarray, u: np.ndarray, w: np.ndarray, r: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fisher-scoring step for ``u`` ``(L, k)`` and the factor blocks ``L_j`` of ``A_j``."""
        return newton_step_from_sums(T, u, self.zzsum(w), self.zsum(r))


def newton_step_from_sums(
    T: np.ndarray, u: np.ndarray, M: np.ndarray, rz: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`SingleTerm.newton_step` from the level sums ``M = sum_j W z z'`` ``(L, k, k)``
    and ``rz = sum_j r z`` ``(L, k)`` (which add over chunks of rows)."""
    k = M.shape[1]
    A = np.einsum("ba,lbc,cd->lad", T, M, T)
    A[:, np.arange(k), np.arange(k)] += 1.0
    Lc = chol_blocks(A)
    g = rz @ T - u  # T' sum r z - u, per level
    x = tri_solve_blocks(Lc, g[..., None])
    step = tri_solve_blocks(Lc, x, trans=True)[..., 0]
    return step, Lc


def _inv_blocks(Lc: np.ndarray) -> np.ndarray:
    """``A^{-1}`` per level from its Cholesky blocks."""
    k = Lc.shape[1]
    Li = tri_solve_blocks(Lc, np.broadcast_to(np.eye(k), Lc.shape).copy())
    return np.swapaxes(Li, 1, 2) @ Li


def laplace_gradient(
    st: SingleTerm,
    T: np.ndarray,
    u: np.ndarray,
    X: np.ndarray,
    w: np.ndarray,
    r: np.ndarray,
    w_eta: np.ndarray,
    w_obs: np.ndarray,
    theta_layout: list[tuple[int, int]],
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient of the Laplace deviance in ``(theta, beta)`` at the modes ``u`` ``(L, k)``.

    ``w, r, w_eta, w_obs`` are the working quantities at the modes (see
    :mod:`.working`); ``theta_layout`` the ``(row, col)`` of ``T`` of each ``theta``.
    Also returns the sensitivities ``du*/d(theta, beta)`` as an ``(L k, m + p)``
    array (a first-order prediction of the modes at neighbouring parameters).
    """
    M = st.zzsum(w)
    Mo = M if w_obs is w else st.zzsum(w_obs)

    def a_sums(B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = st.quad(B) * w_eta
        return st.zsum(a), a @ X

    sums = GradientSums(M=M, Mo=Mo, rz=st.zsum(r), rX=r @ X, ZoX=st.zxsum(w_obs, X))
    return laplace_gradient_from_sums(T, u, sums, a_sums, theta_layout)


@dataclass(frozen=True)
class GradientSums:
    """The row sums :func:`laplace_gradient_from_sums` needs (they add over chunks of rows).

    ``M`` and ``Mo``: per level ``sum W z z'`` and ``sum W_obs z z'`` ``(L, k, k)``;
    ``rz``: ``sum r z`` ``(L, k)``; ``rX``: ``sum r x`` ``(p,)``; ``ZoX``: per level
    ``sum W_obs z x'`` ``(L, k, p)``.
    """

    M: np.ndarray
    Mo: np.ndarray
    rz: np.ndarray
    rX: np.ndarray
    ZoX: np.ndarray


def laplace_gradient_from_sums(
    T: np.ndarray,
    u: np.ndarray,
    sums: GradientSums,
    a_sums: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    theta_layout: list[tuple[int, int]],
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`laplace_gradient` from row sums.

    ``a_sums(B)`` returns, for per-level ``(L, k, k)`` matrices ``B``, ``sum_j a_i z_i``
    ``(L, k)`` and ``sum a_i x_i`` ``(p,)`` with ``a_i = z_i' B_j z_i W'_i`` (the only
    sums that depend on the factor at the modes).
    """
    M, Mo, rz, ZoX = sums.M, sums.Mo, sums.rz, sums.ZoX
    L, k = rz.shape
    A = np.einsum("ba,lbc,cd->lad", T, M, T)
    A[:, np.arange(k), np.arange(k)] += 1.0
    Ainv = _inv_blocks(chol_blocks(A))
    Ao = np.einsum("ba,lbc,cd->lad", T, Mo, T)
    Ao[:, np.arange(k), np.arange(k)] += 1.0
    Aoinv = _inv_blocks(chol_blocks(Ao))
    # c_i = z_i' T A_j^{-1} T' z_i, a_i = c_i W'_i
    B = np.einsum("ab,lbc,dc->lad", T, Ainv, T)
    za, aX = a_sums(B)  # (L, k): sum a_i z_i; (p,): sum a_i x_i
    zaT = za @ T  # (L, k): T' sum a z (row form)
    # beta
    du_db = -Aoinv @ np.einsum("ba,lbc->lac", T, ZoX)  # (L, k, p)
    g_beta = -2.0 * sums.rX + aX + np.einsum("lk,lkp->p", zaT, du_db)
    # theta
    g_theta = np.empty(len(theta_layout))
    sens = np.empty((L * k, len(theta_layout) + ZoX.shape[2]))
    sens[:, len(theta_layout) :] = du_db.reshape(L * k, -1)
    for m, (ra, ca) in enumerate(theta_layout):  # loops over the few theta
        E = np.zeros((k, k))
        E[ra, ca] = 1.0
        Eu = u @ E.T  # (L, k): E u_j
        env = -2.0 * np.sum(rz * Eu)
        TMEu = np.einsum("ba,lbc,lc->la", T, Mo, Eu)  # T' M_obs E u
        rhs = -(rz @ E) + TMEu  # -E' sum r z + T' M_o E u   (row form: E' v = v @ E)
        du = -np.einsum("lab,lb->la", Aoinv, rhs)
        tr = 2.0 * np.einsum("lab,bc,lcd,da->", Ainv, T.T, M, E)
        ld = np.sum(za * Eu) + np.sum(zaT * du)
        g_theta[m] = env + tr + ld
        sens[:, m] = du.ravel()
    return np.concatenate([g_theta, g_beta]), sens
