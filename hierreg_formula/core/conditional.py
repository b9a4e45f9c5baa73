"""Uncertainty of a prediction that includes the random effects of known levels.

Given ``theta``, the estimation error of ``(u, beta)`` has covariance ``sigma^2 M^{-1}``
with ``M = [[Lambda'Z'Z Lambda + I, Lambda'Z'X], [X'Z Lambda, X'X]]`` (the penalized
least-squares matrix, Bates et al. 2015, sec. 3.6: the conditional distribution of
``u`` given ``y`` with ``beta`` at its estimate, widened by the uncertainty of
``beta``).  For a new row with fixed-effects row ``x`` and random-effects row ``z``,
the prediction ``x' beta + z' Lambda u`` has variance ``sigma^2 ||L^{-1} r||^2`` with
``r = [Lambda' z; x]`` and ``L`` the blocked Cholesky factor of ``M``
(:class:`~hierreg_formula.core.pls.PLSFactor`).  The forward solve is done for all
rows at once: batched ``k x k`` solves for the block-diagonal first term, one sparse
product for its fill-in of the others, and one dense triangular solve.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.structure import TermArrays, cross_products
>>> from hierreg_formula.core.pls import factorize
>>> g = np.repeat(np.arange(4), 5); X = np.ones((20, 1))
>>> f = factorize(cross_products(X, np.zeros(20), [TermArrays(g, 4, X)]), [np.array([[1.0]])])
>>> v = prediction_variance(f, np.ones((2, 1)), [TermArrays(np.array([0, -1]), 4, np.ones((2, 1)))])
>>> bool(v[0] < v[1])  # a known level is better determined than the population mean + ...
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from . import restdense as rd
from .pls import PLSFactor, _as_level_blocks, tri_solve_blocks
from .structure import TermArrays, z_matrix


def _zeroed(t: TermArrays) -> TermArrays:
    bad = t.codes < 0
    if not bad.any():
        return t
    return TermArrays(np.where(bad, 0, t.codes), t.nlevels, np.where(bad[:, None], 0.0, t.Xz))


def prediction_variance(
    f: PLSFactor, X_new: np.ndarray, terms_new: Sequence[TermArrays]
) -> np.ndarray:
    """``||L^{-1} [Lambda' z_i; x_i]||^2`` for every new row ``i`` (multiply by ``sigma^2``).

    ``terms_new`` are the new rows' terms in the factor's order; a row whose level was
    not seen (code ``-1``) contributes no random-effects part for that term.
    """
    cp = f.cp
    X_new = np.atleast_2d(np.asarray(X_new, dtype=float))
    m = X_new.shape[0]
    t1 = _zeroed(terms_new[0])
    L1, k1 = f.L11.shape[:2]
    lam1 = _as_level_blocks(f.lam1, L1)
    codes = t1.codes
    r1 = np.einsum("mab,ma->mb", lam1[codes], t1.Xz)  # Lambda_1' z_1 per row: (m, k1)
    v1 = tri_solve_blocks(f.L11[codes], r1[..., None])[..., 0]  # (m, k1)
    var = np.einsum("ma,ma->m", v1, v1)
    p = cp.p
    # the rest (other terms, then X): r - L21 v1
    Hx = f.H[:, :, :p]  # (L1, k1, p)
    rx = X_new - np.einsum("map,ma->mp", Hx[codes], v1)
    if cp.C is not None:
        Zr = sp.hstack([z_matrix(_zeroed(t)) for t in terms_new[1:]], format="csr")
        rr = np.asarray((f.lam_rest.T @ Zr.T).todense())  # (q, m)
        w = np.einsum("mab,mb->ma", f.M1[codes], v1)  # M1 v1 per row: (m, k1)
        rows = (codes[:, None] * k1 + np.arange(k1)).ravel()
        cols = np.repeat(np.arange(m), k1)
        U = sp.csr_matrix((w.ravel(), (rows, cols)), shape=(L1 * k1, m))
        rr = rr - np.asarray((f.lam_rest.T @ (cp.C @ U)).todense())
        # the rest block, then X: [[Lrr, 0], [V_X', L_X]] v2 = [rr; rx]
        v2r = rd.tri_solve(f.Lrr, rr)
        var = var + np.einsum("im,im->m", v2r, v2r)
        rx = rx - (f.V[:, :p].T @ v2r).T
    if p:
        v2x = rd.tri_solve(f.LX[:p, :p], rx.T)
        var = var + np.einsum("im,im->m", v2x, v2x)
    return var
