"""Penalized iteratively reweighted least squares (PIRLS) on the PLS core.

For a GLMM with linear predictor ``eta = offset + X beta + Z Lambda u`` the
conditional modes ``u`` (and, in lme4's ``nAGQ = 0`` stage, ``beta`` too)
minimise the penalized deviance (Bates et al. 2015, sec. 5; lme4's
"Computational methods" vignette)

    pdev(u) = sum_i w_i d(y_i, mu_i) + ||u||^2

(``d`` the unit deviance, ``w`` the prior weights).  Each PIRLS iteration is a
Fisher-scoring step: with the working weights ``W = w (dmu/deta)^2 / V(mu)`` and
the working residual ``(y - mu) / (dmu/deta)`` (:func:`working_state`) it solves
the weighted penalized least-squares problem

    min ||W^{1/2} (z - Z Lambda u [- X beta])||^2 + ||u||^2,
    z = eta - offset [- X beta] + (y - mu) / (dmu/deta),

by the blocked Cholesky factor of :mod:`.pls` on cross-products weighted by
``W`` (one pass over the rows), and halves the step while ``pdev`` does not
decrease.  For a canonical link this is Newton's method; otherwise it uses the
expected information, as lme4 does, and the factor at the mode is the one of
lme4's Laplace approximation.

The working-weights machinery is :class:`~hierreg_formula.core.working.Response`;
a model with a single term takes the level-wise path of :mod:`.single`.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.families import get_family
>>> from hierreg_formula.core.structure import TermArrays
>>> g = np.repeat(np.arange(4), 5)
>>> y = (np.arange(20) % 3 == 0).astype(float)
>>> t = TermArrays(g, 4, np.ones((20, 1)))
>>> res = pirls_modes(GLMMData(np.ones((20, 1)), y, [t], get_family("binomial")),
...                   [np.array([[0.5]])], np.array([-0.6]))
>>> res.converged, res.u.shape
(True, (4,))
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .families import Family
from .pls import PLSFactor, factorize
from .single import SingleTerm
from .structure import TermArrays, random_part
from .weighted import WeightedCrossProducts
from .working import Response, WorkingState

#: PIRLS stops when no spherical random effect (and no fixed-effect contribution
#: to eta, for the joint version) moves by more than this (times 1 + its size)
PIRLS_TOL = 1e-10

#: at most this many step halvings per iteration
MAX_HALVINGS = 30


@dataclass(frozen=True)
class GLMMData:
    """The arrays of one GLMM (everything PIRLS needs besides the parameters).

    ``weights`` are the prior weights (binomial: numbers of trials, with ``y`` the
    proportion of successes) and ``offset`` the known part of ``eta``; ``None``
    means ones and zeros.  ``terms`` are used in the order given (``terms[0]`` is
    the block-diagonal term of the factor: give the one with the most levels first).
    """

    X: np.ndarray
    y: np.ndarray
    terms: Sequence[TermArrays]
    family: Family
    weights: np.ndarray | None = None
    offset: np.ndarray | None = None
    _X0: np.ndarray = field(init=False, repr=False)
    response: Response = field(init=False, repr=False)
    single: SingleTerm | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_X0", np.empty((len(self.y), 0)))
        # column-major X: X @ beta (once per evaluation) is a fast column sweep
        object.__setattr__(self, "X", np.asfortranarray(self.X, dtype=float))
        object.__setattr__(self, "response", Response(self.family, self.y, self.weights))
        one = SingleTerm(self.terms[0]) if len(self.terms) == 1 else None
        object.__setattr__(self, "single", one)

    @property
    def n(self) -> int:
        return len(self.y)

    @functools.cached_property
    def cp_z(self) -> WeightedCrossProducts:
        """Weighted cross-products of the terms alone (PIRLS for ``u``)."""
        return WeightedCrossProducts(self._X0, self.terms)

    @functools.cached_property
    def cp_x(self) -> WeightedCrossProducts:
        """Weighted cross-products of ``X`` and the terms (PIRLS for ``u`` and ``beta``)."""
        return WeightedCrossProducts(self.X, self.terms)

    @property
    def q(self) -> int:
        return int(sum(t.q for t in self.terms))

    def fixed_eta(self, beta: np.ndarray) -> np.ndarray:
        """``offset + X beta``."""
        eta = self.X @ beta if self.X.shape[1] else np.zeros(self.n)
        return eta if self.offset is None else eta + self.offset


def b_from_u(u: np.ndarray, terms: Sequence[TermArrays], lambdas: Sequence[np.ndarray]):
    """Per term ``(L, k)`` random effects ``b = Lambda u`` from the stacked spherical ``u``."""
    out, off = [], 0
    for t, lam in zip(terms, lambdas, strict=True):
        ut = u[off : off + t.q].reshape(t.nlevels, t.k)
        out.append(ut @ np.asarray(lam).T)
        off += t.q
    return out


@dataclass(frozen=True)
class PirlsResult:
    """The conditional modes and what the Laplace approximation needs there.

    ``logdet_L`` is lme4's ``ldL2``, ``log|L|^2`` with the working weights at
    ``u``; ``L11`` the factor's first-term blocks; ``factor`` the PLS factor (None
    on the single-term path); ``pdev = dev + ||u||^2``.
    """

    u: np.ndarray
    beta: np.ndarray
    state: WorkingState
    logdet_L: float
    L11: np.ndarray
    factor: PLSFactor | None
    pdev: float
    iterations: int
    converged: bool
    message: str = ""

    @property
    def sqr_u(self) -> float:
        return float(self.u @ self.u)


def _pass(data: GLMMData, lambdas, u, fixed) -> tuple[WorkingState, float]:
    if data.single is not None:
        one = data.single
        eta = fixed + one.zb(u.reshape(one.L, one.k) @ np.asarray(lambdas[0]).T)
    else:
        eta = fixed + random_part(data.terms, b_from_u(u, data.terms, lambdas))
    st = data.response.state(eta)
    return st, st.dev + float(u @ u)


def _separated(data: GLMMData, st: WorkingState, pdev_old: float, pdev: float) -> bool:
    """Binomial fit with fitted probabilities numerically 0 or 1 whose penalized deviance
    has stopped changing: the parameters drift off to infinity (complete separation)
    while the deviance has converged, as R's glm judges convergence."""
    if data.family.name != "binomial" or not np.isfinite(pdev_old):
        return False
    eps = 10 * np.finfo(float).eps
    if not np.any((st.mu <= eps) | (st.mu >= 1.0 - eps)):
        return False
    return abs(pdev_old - pdev) <= 1e-10 * (abs(pdev) + 0.1)


def _result(u, beta, st, f: PLSFactor, pdev, it, ok, msg="") -> PirlsResult:
    return PirlsResult(u, beta, st, f.logdet_L, f.L11, f, pdev, it, ok, msg)


def pirls_modes(
    data: GLMMData,
    lambdas: Sequence[np.ndarray],
    beta: np.ndarray,
    u0: np.ndarray | None = None,
    tol: float = PIRLS_TOL,
    maxit: int = 100,
) -> PirlsResult:
    """Conditional modes ``u`` at fixed ``(Lambda, beta)`` (lme4's ``nAGQ >= 1`` PIRLS).

    ``lambdas`` are the per-term relative covariance factors ``T_i`` (``(k, k)``),
    ``u0`` a starting value (e.g. the modes at neighbouring parameters).
    """
    fixed = data.fixed_eta(beta)
    u = np.zeros(data.q) if u0 is None else np.array(u0, dtype=float)
    st, pdev = _pass(data, lambdas, u, fixed)
    msg = ""
    one = data.single
    T = np.asarray(lambdas[0], dtype=float)
    for it in range(1, maxit + 1):
        if one is not None:
            step, Lc = one.newton_step(T, u.reshape(one.L, one.k), st.w, st.r)
            step = step.ravel()
            ldl = float(2.0 * np.log(np.diagonal(Lc, axis1=1, axis2=2)).sum())
        else:
            zr = (st.eta - fixed) + st.wres
            f = factorize(data.cp_z(zr, st.w), lambdas)
            step = f.solution()[0] - u
        if np.max(np.abs(step), initial=0.0) <= tol * (1.0 + np.max(np.abs(u), initial=0.0)):
            if one is not None:
                return PirlsResult(u, beta, st, ldl, Lc, None, pdev, it, True)
            return _result(u, beta, st, f, pdev, it, True)
        for _ in range(MAX_HALVINGS):
            st_new, pdev_new = _pass(data, lambdas, u + step, fixed)
            if pdev_new <= pdev * (1.0 + 1e-15) or not np.isfinite(pdev):
                break
            step = 0.5 * step
        else:
            # no decrease along the Fisher-scoring direction: at the precision limit
            # if the step is already tiny, otherwise a failure
            small = np.max(np.abs(step)) <= 1e-6 * (1.0 + np.max(np.abs(u)))
            msg = "step halving could not decrease the penalized deviance"
            if one is not None:
                return PirlsResult(u, beta, st, ldl, Lc, None, pdev, it, bool(small), msg)
            return _result(u, beta, st, f, pdev, it, bool(small), msg)
        u, st, pdev = u + step, st_new, pdev_new
    msg = f"no convergence in {maxit} iterations"
    if one is not None:
        return PirlsResult(u, beta, st, ldl, Lc, None, pdev, maxit, False, msg)
    return _result(u, beta, st, f, pdev, maxit, False, msg)


def pirls_joint(
    data: GLMMData,
    lambdas: Sequence[np.ndarray],
    beta0: np.ndarray | None = None,
    u0: np.ndarray | None = None,
    eta0: np.ndarray | None = None,
    tol: float = PIRLS_TOL,
    maxit: int = 100,
) -> PirlsResult:
    """Joint modes of ``(u, beta)`` at fixed ``Lambda`` (lme4's ``nAGQ = 0`` PIRLS).

    Starts from ``(u0, beta0)`` or, when ``beta0`` is None, from the linear
    predictor ``eta0`` (default: the family's starting means, as R's ``glm``).
    """
    X = data.X
    off = np.zeros(data.n) if data.offset is None else data.offset
    xscale = np.sqrt(np.mean(X * X, axis=0)) if X.shape[1] else np.zeros(0)
    if beta0 is None:
        if eta0 is None:
            eta0 = data.family.link.linkfun(data.family.mustart(data.y, data.weights))
        u = np.zeros(data.q)
        beta = np.zeros(X.shape[1])
        st = data.response.state(eta0)
        pdev = np.inf  # the start is not a point (u, beta): no halving on the first step
    else:
        beta = np.array(beta0, dtype=float)
        u = np.zeros(data.q) if u0 is None else np.array(u0, dtype=float)
        st, pdev = _pass(data, lambdas, u, data.fixed_eta(beta))
    msg = ""
    pdev_prev = np.inf
    for it in range(1, maxit + 1):
        z = (st.eta - off) + st.wres
        f = factorize(data.cp_x(z, st.w), lambdas)
        u_new, _, beta_new = f.solution()
        du, db = u_new - u, beta_new - beta
        size = max(
            np.max(np.abs(du), initial=0.0) / (1.0 + np.max(np.abs(u), initial=0.0)),
            np.max(np.abs(db) * xscale, initial=0.0) / (1.0 + np.max(np.abs(st.eta - off))),
        )
        if np.isfinite(pdev) and size <= tol:
            return _result(u, beta, st, f, pdev, it, True)
        if it > 1 and _separated(data, st, pdev_prev, pdev):
            return _result(u, beta, st, f, pdev, it, True, "complete separation")
        pdev_prev = pdev
        for _ in range(MAX_HALVINGS):
            st_new, pdev_new = _pass(data, lambdas, u + du, data.fixed_eta(beta + db))
            if pdev_new <= pdev * (1.0 + 1e-15) or not np.isfinite(pdev):
                break
            du, db = 0.5 * du, 0.5 * db
        else:
            msg = "step halving could not decrease the penalized deviance"
            return _result(u, beta, st, f, pdev, it, bool(size <= 1e-6), msg)
        u, beta, st, pdev = u + du, beta + db, st_new, pdev_new
    return _result(u, beta, st, f, pdev, maxit, False, f"no convergence in {maxit} iterations")
