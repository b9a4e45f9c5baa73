"""(RE)ML profiled deviance of a linear mixed model and its optimisation.

Following Bates, Maechler, Bolker & Walker (2015), "Fitting Linear Mixed-Effects
Models Using lme4", J. Stat. Softw. 67(1), eqs. (34) and (41): with ``r^2`` the
penalized residual sum of squares at the PLS solution for ``theta``,

    ML:   d(theta)   = log|L|^2 + n (1 + log(2 pi r^2 / n))
    REML: d_R(theta) = log|L|^2 + log|R_X|^2 + (n - p)(1 + log(2 pi r^2 / (n - p)))

``theta`` is optimised with NLopt's BOBYQA (Powell 2009), a bounded
derivative-free trust-region method (the diagonal of each relative covariance
factor is bounded below by zero).

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.structure import TermArrays
>>> rng = np.random.default_rng(0)
>>> g = np.repeat(np.arange(10), 5)
>>> y = 1.0 + rng.normal(size=10)[g] + rng.normal(size=50)
>>> est = fit_lmm(np.ones((50, 1)), y, [TermArrays(g, 10, np.ones((50, 1)))])
>>> est.converged
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nlopt
import numpy as np
from scipy.optimize import minimize

from .gradient import scalar_gradient, single_term_gradient
from .pls import PLSFactor, factorize
from .structure import CrossProducts, TermArrays, cross_products
from .theta import ThetaMap

LOG2PI = float(np.log(2.0 * np.pi))

#: a diagonal element of a relative covariance factor below this is "on the boundary"
SINGULAR_TOL = 1e-4


def profiled_deviance(f: PLSFactor, reml: bool) -> float:
    """The (RE)ML profiled deviance at the factor ``f``."""
    n, p = f.cp.n, f.cp.p
    r2 = f.pwrss
    if reml:
        nmp = n - p
        return f.logdet_L + f.logdet_RX + nmp * (1.0 + LOG2PI + np.log(r2 / nmp))
    return f.logdet_L + n * (1.0 + LOG2PI + np.log(r2 / n))


@dataclass(frozen=True)
class LMMEstimate:
    """Arrays describing a fitted linear mixed model (terms in the caller's order)."""

    theta: np.ndarray
    factors: list[np.ndarray]
    beta: np.ndarray
    cov_beta: np.ndarray
    sigma: float
    b: list[np.ndarray]
    cond_cov: list[np.ndarray]
    objective: float
    logdet_L: float
    logdet_RX: float
    pwrss: float
    reml: bool
    n: int
    p: int
    converged: bool
    nfev: int
    message: str
    singular_terms: list[int] = field(default_factory=list)

    @property
    def is_singular(self) -> bool:
        return bool(self.singular_terms)


class DevianceFunction:
    """``theta -> d(theta)`` for fixed cross-products (the optimiser's objective)."""

    def __init__(self, cp: CrossProducts, tmap: ThetaMap, reml: bool) -> None:
        self.cp = cp
        self.tmap = tmap
        self.reml = reml
        self.nfev = 0

    def internal_factors(self, theta: np.ndarray) -> list[np.ndarray]:
        fs = self.tmap.factors(theta)
        return [fs[i] for i in self.cp.order]

    def factor(self, theta: np.ndarray) -> PLSFactor:
        return factorize(self.cp, self.internal_factors(theta))

    def __call__(self, theta: np.ndarray) -> float:
        self.nfev += 1
        return profiled_deviance(self.factor(np.asarray(theta, dtype=float)), self.reml)

    def value_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Deviance and its analytic gradient (one term, or all terms scalar)."""
        self.nfev += 1
        theta = np.asarray(theta, dtype=float)
        f = self.factor(theta)
        if len(self.cp.terms) == 1:
            return profiled_deviance(f, self.reml), single_term_gradient(
                f, self.tmap.factors(theta)[0], self.reml
            )
        order = list(self.cp.order)
        g_int = scalar_gradient(f, theta[order], self.reml)
        return profiled_deviance(f, self.reml), g_int[np.argsort(order)]


def moment_start(
    X: np.ndarray, y: np.ndarray, terms: list[TermArrays], tmap: ThetaMap
) -> np.ndarray:
    """Starting ``theta`` from a one-way method-of-moments estimate per term column.

    For each column ``j`` of each term, the per-level simple regression of the
    OLS residual on that column gives slopes ``c_l``; their spread beyond the
    sampling noise, relative to the within-level residual variance, gives the
    diagonal of ``T``.  Off-diagonals start at 0.  Crossed terms inflate each
    other's spread, but the start only has to be better than lme4's identity:
    on InstEval it halves the number of deviance evaluations.
    """
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    r = y - X @ beta
    factors = tmap.factors(tmap.initial())
    for T, t in zip(factors, terms, strict=True):
        for j in range(t.k):
            x = t.Xz[:, j]
            sxx = np.bincount(t.codes, weights=x * x, minlength=t.nlevels)
            ok = sxx > 1e-12 * max(sxx.max(), 1e-300)
            if ok.sum() < 2:
                continue
            sxr = np.bincount(t.codes, weights=x * r, minlength=t.nlevels)
            c = np.where(ok, sxr / np.where(ok, sxx, 1.0), 0.0)
            within = r - c[t.codes] * x
            s2 = float(within @ within) / max(len(r) - ok.sum(), 1)
            if s2 <= 0:
                continue
            vb = c[ok].var() - s2 * np.mean(1.0 / sxx[ok])
            T[j, j] = np.sqrt(max(vb, 0.01 * s2 / np.mean(sxx[ok])) / s2)
    return tmap.theta_of(factors)


def _optimize(
    fun: DevianceFunction, x0: np.ndarray, lower: np.ndarray, xtol: float, ftol: float, maxeval: int
) -> tuple[np.ndarray, float, bool, str]:
    """BOBYQA from ``x0``; returns the best point seen even if NLopt gives up on round-off."""
    best = {"f": np.inf, "x": np.maximum(x0, lower)}

    def objective(x: np.ndarray, grad: np.ndarray) -> float:
        try:
            f = fun(x)
        except np.linalg.LinAlgError:
            return 1e300
        if not np.isfinite(f):
            return 1e300
        if f < best["f"]:
            best["f"], best["x"] = f, x.copy()
        return f

    opt = nlopt.opt(nlopt.LN_BOBYQA, len(x0))
    opt.set_lower_bounds(lower)
    opt.set_upper_bounds(np.full(len(x0), np.inf))
    opt.set_min_objective(objective)
    opt.set_xtol_abs(xtol)
    opt.set_ftol_abs(ftol)
    opt.set_ftol_rel(1e-15)  # the deviance grows with n: also stop on a relative change
    opt.set_maxeval(maxeval)
    # initial trust-region radius: a fifth of each starting value (the moment start is
    # usually within that of the optimum), at least 0.02
    opt.set_initial_step(np.maximum(0.2 * np.abs(best["x"]), 0.02))
    messages = {
        nlopt.SUCCESS: "success",
        nlopt.FTOL_REACHED: "ftol reached",
        nlopt.XTOL_REACHED: "xtol reached",
        nlopt.MAXEVAL_REACHED: "maximum number of evaluations reached",
    }
    try:
        opt.optimize(best["x"])
        res = opt.last_optimize_result()
        converged = res in (nlopt.SUCCESS, nlopt.FTOL_REACHED, nlopt.XTOL_REACHED)
        msg = messages.get(res, f"nlopt result {res}")
    except nlopt.RoundoffLimited:
        # the objective cannot be decreased further in floating point: converged
        converged, msg = True, "round-off limited (converged to machine precision)"
    return best["x"], best["f"], converged and np.isfinite(best["f"]), msg


def _optimize_gradient(
    fun: DevianceFunction, x0: np.ndarray, lower: np.ndarray, maxeval: int
) -> tuple[np.ndarray, float, bool, str]:
    """L-BFGS-B with the analytic gradient (scalar terms only)."""
    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
    res = minimize(
        fun.value_and_gradient,
        np.maximum(x0, lower),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": 1e-15, "gtol": 1e-5, "maxiter": maxeval, "maxcor": 10},
    )
    # a line search that cannot improve further at a tiny projected gradient has
    # reached the precision of the objective: accept it
    x = np.asarray(res.x)
    pg = np.where((x <= lower) & (res.jac > 0), 0.0, res.jac)
    ok = bool(res.success) or float(np.max(np.abs(pg))) < 1e-4
    return np.asarray(res.x), float(res.fun), ok, f"L-BFGS-B: {res.message}"


def fit_lmm(
    X: np.ndarray,
    y: np.ndarray,
    terms: list[TermArrays],
    reml: bool = True,
    theta0: np.ndarray | None = None,
    xtol: float = 1e-10,
    ftol: float = 1e-12,
    maxeval: int = 100_000,
    gradient: bool | None = None,
) -> LMMEstimate:
    """Fit a linear mixed model by minimising the (RE)ML profiled deviance.

    Parameters
    ----------
    X, y:
        ``(n, p)`` full-rank fixed-effects matrix and ``(n,)`` response.
    terms:
        The random-effects terms (at least one).
    reml:
        REML (default) or maximum likelihood.
    theta0:
        Starting value (default: :func:`moment_start`; lme4 starts at identity factors).
    xtol, ftol:
        Absolute tolerances on ``theta`` and on the deviance for BOBYQA.
    gradient:
        Use L-BFGS-B with the analytic gradient (:mod:`.gradient`); default when
        every term is scalar.  Otherwise (or if it fails) NLopt's BOBYQA.
    """
    cp = cross_products(X, y, terms)
    tmap = ThetaMap([t.k for t in terms])
    fun = DevianceFunction(cp, tmap, reml)
    if theta0 is None:
        x0 = moment_start(np.asarray(X, float), np.asarray(y, float), terms, tmap)
    else:
        x0 = np.asarray(theta0, dtype=float)
    if gradient is None:
        # scalar terms: the gradient costs about one evaluation and saves most of them;
        # a vector term's gradient costs several batched products per call, which on
        # measured problems (sleepstudy, 100k/1M rows) is no faster than BOBYQA
        gradient = all(t.k == 1 for t in terms)
    converged = False
    if gradient:
        theta, _, converged, msg = _optimize_gradient(fun, x0, tmap.lower, maxeval)
        x0 = theta
    if not converged:  # derivative-free BOBYQA (also the fallback of the gradient path)
        theta, _, converged, msg = _optimize(fun, x0, tmap.lower, xtol, ftol, maxeval)
    return estimate_at(fun, theta, converged=converged, message=msg)


def estimate_at(
    fun: DevianceFunction, theta: np.ndarray, converged: bool = True, message: str = ""
) -> LMMEstimate:
    """All derived quantities at ``theta`` (caller's term order)."""
    cp, tmap, reml = fun.cp, fun.tmap, fun.reml
    f = fun.factor(theta)
    obj = profiled_deviance(f, reml)
    n, p = cp.n, cp.p
    sigma2 = f.pwrss / (n - p if reml else n)
    beta = f.beta
    b_terms = f.b_by_term()
    cov_beta = sigma2 * np.linalg.inv(f.fixed_precision())
    cc_int = f.cond_cov_blocks()
    inv = np.argsort(cp.order)
    factors = tmap.factors(theta)
    singular = [i for i, T in enumerate(factors) if np.any(np.abs(np.diag(T)) < SINGULAR_TOL)]
    return LMMEstimate(
        theta=np.asarray(theta, dtype=float),
        factors=factors,
        beta=beta,
        cov_beta=cov_beta,
        sigma=float(np.sqrt(sigma2)),
        b=b_terms,
        cond_cov=[sigma2 * cc_int[j] for j in inv],
        objective=float(obj),
        logdet_L=f.logdet_L,
        logdet_RX=f.logdet_RX,
        pwrss=f.pwrss,
        reml=reml,
        n=n,
        p=p,
        converged=converged,
        nfev=fun.nfev,
        message=message,
        singular_terms=singular,
    )
