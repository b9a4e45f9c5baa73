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

from collections.abc import Sequence
from dataclasses import dataclass, field

import nlopt
import numpy as np
from scipy.optimize import minimize

from ..exceptions import EstimationError
from . import restdense as rd
from .conditioning import Conditioning, condition
from .gradient import scalar_gradient, vector_gradient
from .pls import PLSFactor, factorize
from .single_lmm import SingleTermDeviance
from .structure import CrossProducts, TermArrays, cross_products
from .theta import ThetaMap
from .tiny_dense import DenseDeviance, use_dense

LOG2PI = float(np.log(2.0 * np.pi))

#: a diagonal element of a relative covariance factor below this is "on the boundary"
SINGULAR_TOL = 1e-4

#: a residual SD below this fraction of the response's (centred) RMS is an exact fit
EXACT_FIT_TOL = 1e-7


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
    """Arrays describing a fitted linear mixed model, in the data's units.

    Terms are in the order given to :func:`fit_lmm`.  ``objective`` is the
    minimised criterion (the REML criterion, or the ML deviance ``-2 log L``);
    ``reml_criterion`` and ``ml_deviance`` are both criteria evaluated at the
    estimate (one of them equals ``objective``).
    """

    theta: np.ndarray
    factors: list[np.ndarray]
    beta: np.ndarray
    cov_beta: np.ndarray
    bse: np.ndarray
    sigma: float
    b: list[np.ndarray]
    cond_cov: list[np.ndarray]
    cond_sd: list[np.ndarray]
    objective: float
    reml_criterion: float
    ml_deviance: float
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
        self._work: np.ndarray | None = None
        # one term: the fused evaluation (a few array operations per theta); several terms
        # with few random effects in all: one dense q x q factor (no sparse overhead)
        self._single: SingleTermDeviance | DenseDeviance | None = None
        if len(cp.terms) == 1:
            self._single = SingleTermDeviance(cp, reml)
        elif use_dense(cp):
            self._single = DenseDeviance(cp, tmap, reml)

    def factor(self, theta: np.ndarray) -> PLSFactor:
        """The factor at ``theta`` in arrays of its own (it stays valid)."""
        return factorize(self.cp, self.tmap.factors(theta))

    def _scratch_factor(self, theta: np.ndarray) -> PLSFactor:
        """The factor at ``theta`` in the reused rest buffer (valid until the next call)."""
        q = self.cp.q_rest
        if q and self._work is None:
            self._work = rd.new_buffer(q)
        return factorize(self.cp, self.tmap.factors(theta), out=self._work)

    def release(self) -> None:
        """Free the reused rest buffer (the next evaluation allocates it again)."""
        self._work = None

    def __call__(self, theta: np.ndarray) -> float:
        self.nfev += 1
        if self._single is not None:
            return self._single(theta)
        return profiled_deviance(self._scratch_factor(np.asarray(theta, dtype=float)), self.reml)

    def value_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Deviance and its analytic gradient (scalar terms: :func:`scalar_gradient`;
        any terms: :func:`vector_gradient`)."""
        self.nfev += 1
        theta = np.asarray(theta, dtype=float)
        if self._single is not None:
            return self._single.value_and_gradient(theta)
        f = self._scratch_factor(theta)
        # the deviance first: the gradient inverts the rest block in the reused buffer
        # (f is spent after it)
        dev = profiled_deviance(f, self.reml)
        if all(t.k == 1 for t in self.cp.terms):
            return dev, scalar_gradient(f, theta, self.reml, overwrite=True)
        return dev, vector_gradient(f, self.tmap.factors(theta), self.reml)


def ols_solution(cp: CrossProducts) -> tuple[np.ndarray, float]:
    """OLS ``beta`` and residual sum of squares from the cross-products (``p x p`` work)."""
    p = cp.p
    if p == 0:
        return np.zeros(0), float(cp.XYXY[0, 0])
    XtX, Xty = cp.XYXY[:p, :p], cp.XYXY[:p, p]
    L = np.linalg.cholesky(XtX)
    z = np.linalg.solve(L, Xty)
    beta = np.linalg.solve(L.T, z)
    return beta, float(max(cp.XYXY[p, p] - z @ z, 0.0))


def _term_moments(cp: CrossProducts, beta: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per term, ``(L, k)`` arrays of ``sum x^2`` and ``sum x r`` per level and column,
    with ``r`` the OLS residual: the diagonals of the cross-products, no row pass."""
    a = np.append(-beta, 1.0)  # r = [X y] a
    out = [(np.diagonal(cp.D1, axis1=1, axis2=2), cp.P1 @ a)]
    if cp.C is not None:
        sxx_r, sxr_r = np.asarray(cp.R.diagonal()), cp.RXY @ a
        off = cp.rest_offsets
        for j, t in enumerate(cp.terms[1:]):
            sl = slice(off[j], off[j + 1])
            out.append((sxx_r[sl].reshape(t.nlevels, t.k), sxr_r[sl].reshape(t.nlevels, t.k)))
    return out


def moment_start(cp: CrossProducts, tmap: ThetaMap) -> np.ndarray:
    """Starting ``theta`` from a one-way method-of-moments estimate per term column.

    For each column ``j`` of each term, the per-level simple regression of the
    OLS residual on that column gives slopes ``c_l``; their spread beyond the
    sampling noise, relative to the within-level residual variance, gives the
    diagonal of ``T``.  Off-diagonals start at 0.  Crossed terms inflate each
    other's spread, but the start only has to be better than lme4's identity:
    on InstEval it halves the number of deviance evaluations.  Everything comes
    from the cross-products (the within-level residual sum of squares is
    ``r'r - sum_l sxr_l^2 / sxx_l``), so a fit from sufficient statistics starts
    the same way.
    """
    beta, rss = ols_solution(cp)
    factors = tmap.factors(tmap.initial())
    for T, (sxx_all, sxr_all) in zip(factors, _term_moments(cp, beta), strict=True):
        for j in range(T.shape[0]):
            sxx, sxr = sxx_all[:, j], sxr_all[:, j]
            ok = sxx > 1e-12 * max(sxx.max(), 1e-300)
            if ok.sum() < 2:
                continue
            c = np.where(ok, sxr / np.where(ok, sxx, 1.0), 0.0)
            within = rss - float(np.sum(c[ok] * sxr[ok]))
            s2 = within / max(cp.n - ok.sum(), 1)
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


#: the Newton polish after L-BFGS-B is used up to this many parameters (m extra gradients)
NEWTON_POLISH_MAX = 30
#: ... and up to this size of the dense fill-in block: beyond it one evaluation costs
#: seconds to minutes (a 5,000-column block: 3.3 s with the gradient; 20,000: 2.5 min) and
#: the polish (``m + 2`` evaluations per step) would add a third to the fit to take
#: ``theta`` from ~1e-6 of the optimum (criterion ~1e-12 relative) to round-off; L-BFGS-B's
#: answer (projected gradient checked) is kept there
NEWTON_POLISH_MAX_REST = 2000
#: a Newton step is not repeated once the projected gradient is this small relative to
#: the deviance (quadratic convergence: one step from L-BFGS-B's ~1e-6 usually gets there)
NEWTON_POLISH_GTOL = 1e-11


def _newton_polish(
    value_and_gradient,
    x: np.ndarray,
    f: float,
    lower: np.ndarray,
    steps: int = 2,
    g: np.ndarray | None = None,
) -> tuple[np.ndarray, float, str]:
    """Newton steps on the free coordinates, the Hessian from forward differences of the
    analytic gradient (``m`` gradients each): L-BFGS-B stops at a projected gradient
    of ~1e-6, which leaves ``theta`` about 1e-6 from the optimum; one or two Newton steps
    take it to the precision of the deviance, so that the optimum does not depend on
    round-off in the cross-products (chunked sums, row order).  A step is kept only if
    it lowers the deviance (or keeps it) and shrinks the gradient; no further step is
    taken once the projected gradient is below ``NEWTON_POLISH_GTOL`` relative to the
    deviance."""
    m = len(x)
    if m == 0 or m > NEWTON_POLISH_MAX:
        return x, f, ""
    f0, g0 = (f, np.asarray(g, dtype=float)) if g is not None else value_and_gradient(x)
    done = 0
    pg = lambda z, g: np.where((z <= lower) & (g > 0), 0.0, g)  # noqa: E731
    for _ in range(steps):
        if done and np.max(np.abs(pg(x, g0))) <= NEWTON_POLISH_GTOL * max(1.0, abs(f0)):
            break
        free = ~((x <= lower) & (g0 > 0))
        idx = np.flatnonzero(free)
        if not len(idx):
            break
        H = np.empty((len(idx), len(idx)))
        for a, j in enumerate(idx):
            h = 1e-5 * max(1.0, abs(float(x[j])))
            xp = x.copy()
            xp[j] += h
            H[:, a] = (value_and_gradient(xp)[1][idx] - g0[idx]) / h
        H = 0.5 * (H + H.T)
        try:
            step = np.linalg.solve(H, g0[idx])
        except np.linalg.LinAlgError:
            break
        xn = x.copy()
        xn[idx] -= step
        xn = np.maximum(xn, lower)
        fn, gn = value_and_gradient(xn)
        if not (np.isfinite(fn) and fn <= f0 + 1e-12 * abs(f0)):
            break
        if np.max(np.abs(pg(xn, gn))) >= np.max(np.abs(pg(x, g0))):
            break
        x, f0, g0 = xn, fn, gn
        done += 1
    return x, f0, f"; {done} Newton step(s)" if done else ""


def _optimize_gradient(
    fun: DevianceFunction, x0: np.ndarray, lower: np.ndarray, maxeval: int
) -> tuple[np.ndarray, float, bool, str]:
    """L-BFGS-B with the analytic gradient (scalar terms only).

    scipy's L-BFGS-B can stop with ``ABNORMAL_TERMINATION_IN_LNSRCH`` when the
    line search cannot decrease the objective any more; that is convergence only
    if the projected gradient there is small, so the gradient is recomputed at
    the returned point and checked (relative to the deviance, which grows with
    ``n``) before the fit counts as converged.  Otherwise the caller falls back
    to BOBYQA.
    """
    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]

    def value_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        try:
            f, g = fun.value_and_gradient(theta)
        except np.linalg.LinAlgError:  # a factor that fails: a point to back away from
            return 1e300, np.zeros(len(theta))
        if not np.isfinite(f):
            return 1e300, np.zeros(len(theta))
        return f, g

    xs = np.maximum(x0, lower)
    start = [xs.copy(), value_and_gradient(xs)]  # computed once, reused by L-BFGS-B

    def first_reused(theta: np.ndarray) -> tuple[float, np.ndarray]:
        if start and np.array_equal(theta, start[0]):
            out = start[1]
            start.clear()  # once
            return out
        start.clear()
        return value_and_gradient(theta)

    res = minimize(
        first_reused,
        xs,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        # ftol 1e-12: below it L-BFGS-B crawls at round-off (three vector terms: 61 evaluations
        # against 32, the same optimum to 1e-14); the Newton polish finishes the job
        options={"ftol": 1e-12, "gtol": 1e-6, "maxiter": maxeval, "maxcor": 10},
    )
    x = np.asarray(res.x)
    if res.success:
        f, note = float(res.fun), ""
        if fun.cp.q_rest <= NEWTON_POLISH_MAX_REST:
            # L-BFGS-B's last gradient is at res.x: the polish starts from it
            x, f, note = _newton_polish(value_and_gradient, x, f, lower, g=np.asarray(res.jac))
        return x, f, True, f"L-BFGS-B: {res.message}{note}"
    f, g = value_and_gradient(x)
    pg = np.where((x <= lower) & (g > 0), 0.0, g)
    size = float(np.max(np.abs(pg))) if len(pg) else 0.0
    tol = 1e-6 * max(1.0, abs(f))
    if np.isfinite(f) and size <= tol:
        return (
            x,
            f,
            True,
            (
                f"L-BFGS-B stopped ({res.message}) where the projected gradient is {size:.2g} "
                f"(<= {tol:.2g}): converged to the precision of the deviance"
            ),
        )
    return (
        x,
        f,
        False,
        (f"L-BFGS-B stopped ({res.message}) with projected gradient {size:.2g} (> {tol:.2g})"),
    )


class LMMProblem:
    """One linear mixed model, ready to evaluate and optimise its (RE)ML deviance.

    The arrays are conditioned (:mod:`.conditioning`) and their cross-products
    computed once; :meth:`deviance` takes ``theta`` in the data's units.

    Parameters
    ----------
    X, y:
        ``(n, p)`` full-rank fixed-effects matrix and ``(n,)`` response.
    terms:
        The random-effects terms (level codes in ``[0, L)``; the first term is the
        block-diagonal one, fastest when it has the most levels).
    reml:
        REML (default) or maximum likelihood.
    weights:
        Prior weights (lme4's: the residual variance of row ``i`` is ``sigma^2 / w_i``).
    offset:
        Known part of the linear predictor, subtracted from ``y``.
    xtx:
        ``X_s'X_s`` of the conditioned ``X`` (unweighted fits), when the caller has it
        (:func:`~hierreg_formula.models.prepare.prepare` computes it for the rank check).

    Examples
    --------
    >>> import numpy as np
    >>> from hierreg_formula.core.structure import TermArrays
    >>> g = np.repeat(np.arange(6), 4)
    >>> y = np.arange(24.0) % 5 + g
    >>> prob = LMMProblem(np.ones((24, 1)), y, [TermArrays(g, 6, np.ones((24, 1)))])
    >>> bool(prob.deviance(np.array([0.5])) > prob.deviance(prob.fit().theta))
    True
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        terms: Sequence[TermArrays],
        reml: bool = True,
        weights: np.ndarray | None = None,
        offset: np.ndarray | None = None,
        xtx: np.ndarray | None = None,
    ) -> None:
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        if offset is not None:
            y = y - np.asarray(offset, dtype=float)
        w = None if weights is None else np.asarray(weights, dtype=float)
        cond = condition(X, y, terms, w)
        Xs, ys, cterms = cond.apply(X, y, terms)
        cp = cross_products(Xs, ys, cterms, weights=w, xtx=xtx if w is None else None)
        self._setup(cp, cond, reml, 0.0 if w is None else float(np.sum(np.log(w))))

    @classmethod
    def from_cross_products(
        cls,
        cp: CrossProducts,
        cond: Conditioning,
        reml: bool = True,
        sum_log_weights: float = 0.0,
    ) -> LMMProblem:
        """The problem from cross-products of the conditioned arrays (e.g. reduced from
        chunks of rows), with the conditioning that produced them."""
        prob = cls.__new__(cls)
        prob._setup(cp, cond, reml, sum_log_weights)
        return prob

    def _setup(
        self, cp: CrossProducts, cond: Conditioning, reml: bool, sum_log_weights: float
    ) -> None:
        self.reml = reml
        self.cond = cond
        self.cp = cp
        if cp.p:
            _, rss = ols_solution(cp)  # conditioned: y has unit RMS
            if rss <= 1e-13 * cp.XYXY[-1, -1]:  # R^2 within rounding of 1
                raise EstimationError(
                    "the fixed effects reproduce the response exactly: there is no residual "
                    "variance to estimate"
                )
        self.tmap = ThetaMap([t.k for t in cp.terms])
        self.fun = DevianceFunction(cp, self.tmap, reml)
        n, p = cp.n, cp.p
        logs2 = 2.0 * np.log(cond.y_scale)
        self._shift_ml = n * logs2 - sum_log_weights
        self._shift_reml = (n - p) * logs2 + cond.logdet_x - sum_log_weights

    # ------------------------------------------------------------ theta maps
    def to_conditioned(self, theta: np.ndarray) -> np.ndarray:
        """``theta`` of the conditioned problem from ``theta`` in the data's units."""
        fs = self.tmap.factors(np.asarray(theta, dtype=float))
        return self.tmap.theta_of([self.cond.factor_to_conditioned(i, T) for i, T in enumerate(fs)])

    def from_conditioned(self, theta_s: np.ndarray) -> np.ndarray:
        """``theta`` in the data's units from ``theta`` of the conditioned problem."""
        fs = self.tmap.factors(np.asarray(theta_s, dtype=float))
        return self.tmap.theta_of(
            [self.cond.factor_from_conditioned(i, T) for i, T in enumerate(fs)]
        )

    # -------------------------------------------------------------- criteria
    def _criteria(self, f: PLSFactor) -> tuple[float, float]:
        """(REML criterion, ML deviance) in the data's units at the factor ``f``."""
        return (
            profiled_deviance(f, True) + self._shift_reml,
            profiled_deviance(f, False) + self._shift_ml,
        )

    def deviance(self, theta: np.ndarray) -> float:
        """The minimised criterion (REML or ML) at ``theta`` (data's units)."""
        f = self.fun.factor(self.to_conditioned(theta))
        return self._criteria(f)[0 if self.reml else 1]

    # ------------------------------------------------------------------ fit
    def start(self) -> np.ndarray:
        """The conditioned starting value (method of moments)."""
        return moment_start(self.cp, self.tmap)

    def fit(
        self,
        theta0: np.ndarray | None = None,
        xtol: float = 1e-10,
        ftol: float = 1e-12,
        maxeval: int = 100_000,
        gradient: bool | None = None,
    ) -> LMMEstimate:
        """Minimise the deviance; see :func:`fit_lmm` for the options."""
        fun, lower = self.fun, self.tmap.lower
        x0 = self.start() if theta0 is None else self.to_conditioned(theta0)
        if gradient is None:
            # the analytic gradient (scalar or vector terms, exact on the boundary) costs
            # one to three evaluations and saves most of them: L-BFGS-B needs 7-30
            # evaluations where BOBYQA needs 60-400 (sleepstudy 14 vs 83, three vector
            # terms 26 vs 368; 210 variance parameters: 150 evaluations, seconds)
            gradient = True
        converged, msg = False, ""
        if gradient:
            theta_s, _, converged, msg = _optimize_gradient(fun, x0, lower, maxeval)
            x0 = theta_s
        if not converged:  # derivative-free BOBYQA (also the fallback of the gradient path)
            note = f"{msg}; then BOBYQA: " if msg else ""
            theta_s, _, converged, msg2 = _optimize(fun, x0, lower, xtol, ftol, maxeval)
            msg = note + msg2
        fun.release()  # the estimate's factor has its own buffer
        with np.errstate(over="ignore"):  # a variance beyond the float range is inf
            return self.estimate_at_conditioned(theta_s, converged=converged, message=msg)

    def estimate_at(self, theta: np.ndarray) -> LMMEstimate:
        """All derived quantities at ``theta`` (data's units), e.g. a fixed value."""
        return self.estimate_at_conditioned(self.to_conditioned(theta))

    def estimate_at_conditioned(
        self, theta_s: np.ndarray, converged: bool = True, message: str = ""
    ) -> LMMEstimate:
        """All derived quantities at the conditioned ``theta_s``, mapped to the data's units."""
        cp, cond = self.cp, self.cond
        theta_s = np.asarray(theta_s, dtype=float)
        f = self.fun.factor(theta_s)
        reml_crit, ml_dev = self._criteria(f)
        n, p = cp.n, cp.p
        if not f.pwrss > 0:
            raise np.linalg.LinAlgError(
                "the penalized residual sum of squares is 0: the model reproduces the response "
                "exactly, so there is no residual variance to estimate"
            )
        sigma2_s = f.pwrss / (n - p if self.reml else n)
        if sigma2_s < EXACT_FIT_TOL**2:  # conditioned: y - c has unit RMS
            raise EstimationError(
                f"the model reproduces the response almost exactly (residual SD "
                f"{np.sqrt(sigma2_s):.1e} times the response's): there is no residual variance "
                "to estimate (is the response a function of the grouping factors?)"
            )
        cov_s = sigma2_s * np.linalg.inv(f.fixed_precision())
        factors_s = self.tmap.factors(theta_s)
        factors = [cond.factor_from_conditioned(i, T) for i, T in enumerate(factors_s)]
        singular = [i for i, T in enumerate(factors_s) if np.any(np.abs(np.diag(T)) < SINGULAR_TOL)]
        b = [cond.b(i, bt) for i, bt in enumerate(f.b_by_term())]
        beta_s, logdet_L, logdet_RX, pwrss = f.beta, f.logdet_L, f.logdet_RX, f.pwrss
        # last: the conditional variances invert the rest block in the factor's buffer
        cc_s = [sigma2_s * c for c in f.cond_cov_blocks(overwrite=True)]
        del f
        return LMMEstimate(
            theta=self.tmap.theta_of(factors),
            factors=factors,
            beta=cond.beta(beta_s),
            cov_beta=cond.cov_beta(cov_s),
            bse=cond.bse(cov_s),
            sigma=float(cond.y_scale * np.sqrt(sigma2_s)),
            b=b,
            cond_cov=[cond.cond_cov(i, c) for i, c in enumerate(cc_s)],
            cond_sd=[cond.cond_sd(i, c) for i, c in enumerate(cc_s)],
            objective=float(reml_crit if self.reml else ml_dev),
            reml_criterion=float(reml_crit),
            ml_deviance=float(ml_dev),
            logdet_L=logdet_L,
            logdet_RX=logdet_RX + cond.logdet_x,
            pwrss=float(pwrss * np.float64(cond.y_scale) ** 2),
            reml=self.reml,
            n=n,
            p=p,
            converged=converged,
            nfev=self.fun.nfev,
            message=message,
            singular_terms=singular,
        )


def fit_lmm(
    X: np.ndarray,
    y: np.ndarray,
    terms: Sequence[TermArrays],
    reml: bool = True,
    theta0: np.ndarray | None = None,
    xtol: float = 1e-10,
    ftol: float = 1e-12,
    maxeval: int = 100_000,
    gradient: bool | None = None,
    weights: np.ndarray | None = None,
    offset: np.ndarray | None = None,
) -> LMMEstimate:
    """Fit a linear mixed model by minimising the (RE)ML profiled deviance.

    Parameters
    ----------
    X, y:
        ``(n, p)`` full-rank fixed-effects matrix and ``(n,)`` response.
    terms:
        The random-effects terms (at least one; codes in ``[0, L)``).  They are used
        in the order given, the first as the block-diagonal one.
    reml:
        REML (default) or maximum likelihood.
    theta0:
        Starting value in the data's units (default: :func:`moment_start`; lme4
        starts at identity factors).
    xtol, ftol:
        Absolute tolerances on ``theta`` and on the deviance for BOBYQA.
    gradient:
        Use L-BFGS-B with the analytic gradient (:mod:`.gradient`, default); if it does
        not converge, or with ``gradient=False``, NLopt's BOBYQA.
    weights, offset:
        Prior weights and offset (see :class:`LMMProblem`).
    """
    prob = LMMProblem(X, y, terms, reml=reml, weights=weights, offset=offset)
    return prob.fit(theta0=theta0, xtol=xtol, ftol=ftol, maxeval=maxeval, gradient=gradient)
