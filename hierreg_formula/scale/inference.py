"""The inference layer's model arrays from reduced statistics (no rows).

:class:`~hierreg_formula.inference.arrays.ModelArrays` gives the inference
(Satterthwaite's and Kenward-Roger's df, the variance-parameter covariance) the
cross-products of the data's units: ``Z'Z``, ``Z'X``, ``X'X``, ``Z'r``, ``r'r``
with ``r`` the OLS residual, and the core's ``CrossProducts``.  Out of core they
come from the statistics of the conditioned arrays: the conditioning is an exact
affine map (``X = Xs H^-1``, ``y = s ys + c 1`` with ``1 = X a``, ``Z_i = Zs_i
G_i^-1`` per level), so :func:`raw_cross_products` maps the cross-products back,
and the OLS residual quantities are ``s`` times the conditioned ones (no
cancellation for a response with a large mean).

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.conditioning import condition
>>> from hierreg_formula.core.structure import TermArrays, cross_products
>>> rng = np.random.default_rng(0); g = np.repeat(np.arange(5), 4)
>>> X = np.column_stack([np.ones(20), rng.normal(size=20) + 50]); y = rng.normal(size=20) + 9
>>> t = [TermArrays(g, 5, X)]
>>> cond = condition(X, y, t)
>>> cp = raw_cross_products(cross_products(*cond.apply(X, y, t)), cond)
>>> bool(np.allclose(cp.P1, cross_products(X, y, t).P1, rtol=1e-10))
True
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..core.conditioning import Conditioning
from ..core.lmm import ols_solution
from ..core.structure import CrossProducts
from ..inference.arrays import ModelArrays


def _y_map(cond: Conditioning, p: int) -> np.ndarray:
    """``B`` with ``[X y] = [Xs ys] B``."""
    Hinv = np.linalg.inv(cond.x_map)
    a = np.zeros(p)
    nz = cond.x_shift != 0
    if cond.y_shift != 0 and nz.any():
        a = cond.x_shift / cond.y_shift  # x_shift = c a
    B = np.zeros((p + 1, p + 1))
    B[:p, :p] = Hinv
    B[:p, p] = cond.y_shift * (Hinv @ a)
    B[p, p] = cond.y_scale
    return B


def _level_inverse(G: np.ndarray, L: int) -> sp.csr_matrix:
    Ginv = np.linalg.inv(G)
    return sp.kron(sp.identity(L, format="csr"), sp.csr_matrix(Ginv), format="csr")


def raw_cross_products(cp: CrossProducts, cond: Conditioning) -> CrossProducts:
    """The cross-products of the data's units from those of the conditioned arrays."""
    p = cp.p
    B = _y_map(cond, p)
    Ginv1 = np.linalg.inv(cond.z_maps[0])
    D1 = np.einsum("ba,lbc,cd->lad", Ginv1, cp.D1, Ginv1)
    P1 = np.einsum("ba,lbc,cd->lad", Ginv1, cp.P1, B)
    XYXY = B.T @ cp.XYXY @ B
    if cp.C is None:
        C, R, RXY = None, cp.R, cp.RXY
    else:
        Gr = sp.block_diag(
            [
                _level_inverse(G, t.nlevels)
                for G, t in zip(cond.z_maps[1:], cp.terms[1:], strict=True)
            ],
            format="csr",
        )
        G1 = _level_inverse(cond.z_maps[0], cp.terms[0].nlevels)
        C = (Gr.T @ cp.C @ G1).tocsr()
        C.sum_duplicates()
        R = (Gr.T @ sp.csr_matrix(cp.R) @ Gr).tocsr()
        RXY = np.asarray(Gr.T @ cp.RXY) @ B
    return CrossProducts(n=cp.n, p=p, terms=cp.terms, D1=D1, P1=P1, C=C, R=R, RXY=RXY, XYXY=XYXY)


class StatsModelArrays(ModelArrays):
    """:class:`~hierreg_formula.inference.arrays.ModelArrays` whose cross-products come from
    reduced statistics (``X``, ``y`` and the terms' rows are empty).

    Build it with :meth:`from_statistics`; the inference methods that read only
    cross-products work on it (those that need rows, e.g. simulating responses, do not).
    """

    @classmethod
    def from_statistics(cls, cp_s: CrossProducts, cond: Conditioning) -> StatsModelArrays:
        """From the cross-products of the conditioned arrays and their conditioning."""
        raw = raw_cross_products(cp_s, cond)
        p = raw.p
        obj = cls(X=np.zeros((0, p)), y=np.zeros(0), terms=tuple(cp_s.terms))
        d = obj.__dict__
        d["_n"], d["cp"] = raw.n, raw
        d["XtX"], d["Xty"] = raw.XYXY[:p, :p], raw.XYXY[:p, p]
        d["yty"] = float(raw.XYXY[p, p])
        ZXY = np.vstack([raw.P1.reshape(-1, p + 1), raw.RXY])
        d["ZtX"], d["Zty"] = ZXY[:, :p], ZXY[:, p]
        L1, k1 = raw.D1.shape[0], raw.D1.shape[1]
        D = sp.bsr_matrix((raw.D1, np.arange(L1), np.arange(L1 + 1)), shape=(L1 * k1,) * 2)
        if raw.C is None:
            S = D.tocsr()
        else:
            S = sp.bmat([[D, raw.C.T], [raw.C, sp.csr_matrix(raw.R)]], format="csr")
        S.sum_duplicates()
        d["ZtZ"] = S
        # OLS on the conditioned arrays, mapped back: r = s r_s exactly
        beta_s, rss_s = ols_solution(cp_s)
        s = cond.y_scale
        a_s = np.append(-beta_s, 1.0)
        ZXY_s = np.vstack([cp_s.P1.reshape(-1, p + 1), cp_s.RXY])
        Ginv = sp.block_diag(
            [_level_inverse(G, t.nlevels) for G, t in zip(cond.z_maps, cp_s.terms, strict=True)],
            format="csr",
        )
        d["Ztr"] = s * np.asarray(Ginv.T @ (ZXY_s @ a_s)).ravel()
        d["Xtr"] = s * np.linalg.solve(cond.x_map.T, cp_s.XYXY[:p] @ a_s) if p else np.zeros(0)
        d["rtr"] = float(s * s * rss_s)
        d["ols"] = cond.beta(beta_s) if p else np.zeros(0)
        return obj

    @property
    def n(self) -> int:
        return int(self.__dict__["_n"])

    @property
    def Z(self) -> sp.csr_matrix:
        raise NotImplementedError("an out-of-core fit keeps no rows (no Z)")

    @property
    def resid(self) -> np.ndarray:
        raise NotImplementedError("an out-of-core fit keeps no rows (no residual vector)")
