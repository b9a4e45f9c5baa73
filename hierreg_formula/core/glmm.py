"""The GLMM deviance (Laplace / AGQ), its two-stage optimisation and the estimate.

The entry point is :func:`hierreg_formula.core.glmer.fit_glmm`.

The model: ``y_i | u ~ family(mu_i)`` with ``g(mu) = eta = offset + X beta + Z
Lambda_theta u`` and ``u ~ N(0, I)`` (Bates et al. 2015, sec. 5; lme4's
"Computational methods" vignette).  At given ``(theta, beta)``, PIRLS
(:mod:`.pirls`) finds the conditional modes ``u*``; the Laplace approximation of
the deviance is

    -2 log L ~ -2 log f(y | u*) + ||u*||^2 + log|L_theta|^2,

``L_theta L_theta' = Lambda' Z' W Z Lambda + I`` with the PIRLS working weights
``W`` at the mode (the expected information, also for non-canonical links, as
in lme4), and ``-2 log f`` is the full ``-2 log``-likelihood including the
binomial / Poisson / negative binomial constants (lme4's ``dev``).  With one
scalar term, ``nagq > 1`` replaces it by adaptive Gauss-Hermite quadrature
(:mod:`.agq`).

The fit follows lme4's two stages: (1) ``theta`` alone, with ``beta`` taken
jointly with ``u`` by PIRLS (lme4's ``nAGQ = 0``; the final answer when
``nagq = 0``), then (2) ``(theta, beta)`` jointly on the Laplace / AGQ deviance,
both by BOBYQA (Powell 2009, NLopt) with ``beta`` scaled by its standard errors.
Standard errors of ``beta``: by default, as lme4, from a central
finite-difference Hessian of the deviance in ``(theta, beta)``
(``cov_beta = 2 H^-1`` restricted to ``beta``, :mod:`.finite_diff`); the
``(R_X' R_X)^-1`` version of the PLS factor at the modes (``theta`` treated as
known) is always returned too.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.structure import TermArrays
>>> rng = np.random.default_rng(1)
>>> g = np.repeat(np.arange(30), 20)
>>> eta = -0.5 + rng.normal(size=30)[g]
>>> y = (rng.uniform(size=600) < 1 / (1 + np.exp(-eta))).astype(float)
>>> from hierreg_formula.core.families import get_family
>>> from hierreg_formula.core.pirls import GLMMData
>>> prob = GLMMProblem(GLMMData(np.ones((600, 1)), y, [TermArrays(g, 30, np.ones((600, 1)))],
...                             get_family("binomial")))
>>> theta, beta, ok, msg = fit_stages(prob)
>>> ok, bool(theta[0] > 0.5)
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import nlopt
import numpy as np
from scipy.optimize import minimize

from ..exceptions import (
    ConvergenceWarning,
    EstimationError,
    SeparationWarning,
    warn,
)
from .agq import agq_correction
from .families import Family
from .finite_diff import fd_gradient_hessian, fd_hessian_from_gradient
from .pirls import (
    PIRLS_TOL,
    GLMMData,
    PirlsResult,
    b_from_u,
    pirls_joint,
    pirls_modes,
)
from .pls import factorize
from .single import laplace_gradient
from .structure import cross_products
from .theta import ThetaMap

#: a diagonal element of a relative covariance factor below this is "on the boundary"
SINGULAR_TOL = 1e-4

#: R's glm: a fitted probability within this of 0 or 1 is "numerically 0 or 1"
SEPARATION_EPS = 10 * np.finfo(float).eps

#: PIRLS tolerance for the evaluations of the finite-difference Hessian
HESSIAN_PIRLS_TOL = 1e-13

#: the largest number of quadrature nodes (lme4 allows up to 25)
MAX_NAGQ = 25

PIRLS_ADVICE = (
    "check the response for complete separation (a group or a fixed-effects pattern whose "
    "responses are all 0 or all 1), rescale large covariates, or simplify the random effects"
)


@dataclass(frozen=True)
class GLMMEstimate:
    """Arrays describing a fitted GLMM (terms in the order given to :func:`fit_glmm`).

    Attributes
    ----------
    theta, factors:
        ``theta`` (lme4's order: per term, the column-major lower triangle of
        ``T_i``) and the per-term ``T_i``; ``Sigma_i = T_i T_i'`` (no residual scale).
    beta, cov_beta, bse:
        Fixed effects and their covariance / standard errors by ``cov_method``
        (``"hessian"``: lme4's default; ``"rx"``: ``(R_X' R_X)^-1``).
    cov_beta_hessian, cov_beta_rx:
        Both versions (``cov_beta_hessian`` None when not computed).
    b, cond_cov, cond_sd:
        Conditional modes per term ``(L, k)`` (lme4's ``ranef``), their conditional
        covariances ``(L, k, k)`` and standard deviations.
    objective:
        lme4's ``-2 log L``: the Laplace deviance with all constants (``nagq = 0``:
        the Laplace form at the joint modes of ``(u, beta)``).  For ``nagq > 1``
        lme4 reports the quadrature deviance *without* the constants of the
        saturated model (``sum_i -2 log f(y_i | mu_i = y_i)``, e.g. the binomial
        log-choose terms), so that is ``objective`` too; ``objective_full``
        always includes them (the one to compare across ``nagq``).
        ``loglik = -objective / 2``.
    deviance_residual_sum, sqr_u, logdet_L:
        Its pieces: ``sum w d(y, mu)`` (lme4's ``deviance()``), ``||u||^2``, ``log|L|^2``.
    eta, mu:
        Linear predictor (with the offset) and fitted means at the modes.
    nb_theta:
        The negative binomial's shape (``V = mu + mu^2 / nb_theta``), else None.
    """

    theta: np.ndarray
    factors: list[np.ndarray]
    beta: np.ndarray
    cov_beta: np.ndarray
    bse: np.ndarray
    cov_beta_hessian: np.ndarray | None
    cov_beta_rx: np.ndarray
    cov_method: str
    b: list[np.ndarray]
    u: np.ndarray
    cond_cov: list[np.ndarray]
    cond_sd: list[np.ndarray]
    objective: float
    objective_full: float
    deviance_residual_sum: float
    sqr_u: float
    logdet_L: float
    logdet_RX: float
    eta: np.ndarray
    mu: np.ndarray
    family: str
    nagq: int
    n: int
    p: int
    converged: bool
    nfev: int
    message: str
    nb_theta: float | None = None
    hessian: np.ndarray | None = None
    gradient: np.ndarray | None = None
    singular_terms: list[int] = field(default_factory=list)

    @property
    def loglik(self) -> float:
        return -0.5 * self.objective

    @property
    def is_singular(self) -> bool:
        return bool(self.singular_terms)


# ------------------------------------------------------------------ problem
class GLMMProblem:
    """One GLMM: its deviance functions for the two stages and the derived estimate.

    Parameters are as in :func:`fit_glmm` (``family`` a :class:`Family` with a
    known negative binomial ``theta``).
    """

    def __init__(self, data: GLMMData, nagq: int = 1) -> None:
        self.data = data
        self.nagq = nagq
        self.tmap = ThetaMap([t.k for t in data.terms])
        fam = data.family
        self.const = (
            fam.saturated_constant(data.y, data.weights) if fam.additive_constants else None
        )
        self.p = data.X.shape[1]
        self.nfev = 0
        self._u: np.ndarray | None = None  # warm start of the modes
        self._beta1: np.ndarray | None = None  # warm start of stage 1's beta
        self.pirls_failures = 0
        self.pirls_tol = PIRLS_TOL
        self._predict: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.last_pirls: PirlsResult | None = None

    # ------------------------------------------------------------ pieces
    def minus2_loglik(self, res: PirlsResult) -> float:
        """``-2 log f(y | u)`` at the modes (all constants)."""
        if self.const is not None:
            return self.const + res.state.dev
        d = self.data
        return d.family.minus2_loglik(d.y, res.state.mu, d.weights, res.state.dev)

    def laplace(self, res: PirlsResult) -> float:
        """lme4's Laplace deviance at the modes."""
        return self.minus2_loglik(res) + res.sqr_u + res.logdet_L

    def _lambdas(self, theta: np.ndarray) -> list[np.ndarray]:
        return self.tmap.factors(np.asarray(theta, dtype=float))

    # --------------------------------------------- row operations (hooks)
    # What needs the rows besides PIRLS, so that a problem whose rows live elsewhere
    # (the Dask fit, :mod:`hierreg_formula.scale.glmm`) can override it.
    def pirls_joint(
        self,
        lambdas: list[np.ndarray],
        beta0: np.ndarray | None = None,
        u0: np.ndarray | None = None,
    ) -> PirlsResult:
        """:func:`~.pirls.pirls_joint` on this problem's rows."""
        if beta0 is None:
            return pirls_joint(self.data, lambdas)
        return pirls_joint(self.data, lambdas, beta0, u0)

    def fixed_factor(self, res: PirlsResult, lambdas: list[np.ndarray]):
        """The PLS factor with ``X`` and the working weights at the modes ``res``."""
        d, st = self.data, res.state
        return factorize(cross_products(d.X, st.eta, d.terms, weights=st.w), lambdas)

    def conditional_factor(self, res: PirlsResult, lambdas: list[np.ndarray]):
        """The PLS factor of the random effects alone with the weights at ``res``."""
        d, st = self.data, res.state
        return factorize(cross_products(d._X0, st.eta, d.terms, weights=st.w), lambdas)

    # ------------------------------------------------------------ stage 1
    def modes_joint(self, theta: np.ndarray) -> PirlsResult:
        lam = self._lambdas(theta)
        if self._beta1 is None:
            res = self.pirls_joint(lam)
        else:
            res = self.pirls_joint(lam, self._beta1, self._u)
        if res.converged:
            self._beta1, self._u = res.beta, res.u
        return res

    def deviance_joint(self, theta: np.ndarray) -> float:
        """Stage 1 (lme4's ``nAGQ = 0``): the Laplace form at the joint modes of ``(u, beta)``."""
        self.nfev += 1
        res = self.modes_joint(theta)
        self.last_pirls = res
        if not res.converged:
            self.pirls_failures += 1
            return np.inf
        return self.laplace(res)

    # ------------------------------------------------------------ stage 2
    def warm_start(self, theta: np.ndarray, beta: np.ndarray) -> np.ndarray | None:
        """The modes' starting value at ``(theta, beta)``: the last modes, moved by the
        first-order prediction from the last gradient when there is one."""
        u0 = self._u
        if self._predict is not None:  # first-order prediction from the last gradient
            x0, u_at, sens = self._predict
            dx = np.concatenate([theta, beta]) - x0
            if len(dx) == sens.shape[1]:
                u0 = u_at + sens @ dx
        return u0

    def modes(self, theta: np.ndarray, beta: np.ndarray) -> PirlsResult:
        u0 = self.warm_start(theta, beta)
        res = pirls_modes(
            self.data, self._lambdas(theta), np.asarray(beta, float), u0, tol=self.pirls_tol
        )
        if res.converged:
            self._u = res.u
        return res

    def deviance(self, theta: np.ndarray, beta: np.ndarray) -> float:
        """Stage 2: the Laplace (``nagq = 1``) or AGQ deviance at ``(theta, beta)``."""
        self.nfev += 1
        res = self.modes(theta, beta)
        self.last_pirls = res
        if not res.converged:
            self.pirls_failures += 1
            return np.inf
        dev = self.laplace(res)
        if self.nagq > 1:
            lam = float(self._lambdas(theta)[0][0, 0])
            dev += agq_correction(self.data, res, lam, np.asarray(beta, float), self.nagq)
        return dev

    @property
    def has_gradient(self) -> bool:
        """The analytic gradient is available (one term, Laplace)."""
        return self.data.single is not None and self.nagq == 1

    def value_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Laplace deviance and its analytic gradient in ``x = (theta, beta)`` (one term)."""
        m = self.tmap.size
        theta, beta = x[:m], x[m:]
        f = self.deviance(theta, beta)
        if not np.isfinite(f):
            return f, np.zeros(len(x))
        res = self.last_pirls
        one = self.data.single
        T = self._lambdas(theta)[0]
        w_eta, w_obs = self.data.response.derivatives(res.state)
        layout = [(r, c) for (_, r, c) in self.tmap.layout()]
        g, sens = laplace_gradient(
            one,
            T,
            res.u.reshape(one.L, one.k),
            self.data.X,
            res.state.w,
            res.state.r,
            w_eta,
            w_obs,
            layout,
        )
        self._predict = (np.array(x, dtype=float), res.u, sens)
        return f, g

    def deviance_vector(self, x: np.ndarray) -> float:
        """:meth:`deviance` of ``x = (theta, beta)``."""
        m = self.tmap.size
        return self.deviance(x[:m], x[m:])


# ------------------------------------------------------------------ optimiser
def bobyqa(
    fun,
    x0: np.ndarray,
    lower: np.ndarray,
    step: np.ndarray,
    xtol: float,
    ftol: float,
    maxeval: int,
) -> tuple[np.ndarray, float, bool, str]:
    """NLopt's BOBYQA on ``fun(x)`` in coordinates scaled by ``step`` (the initial step).

    Returns the best point seen, its value, whether the optimiser reported
    convergence (or a round-off limit) and its message.
    """
    x0 = np.maximum(np.asarray(x0, float), lower)
    scale = np.asarray(step, dtype=float)
    best = {"f": np.inf, "x": x0.copy()}

    def objective(z: np.ndarray, grad: np.ndarray) -> float:
        x = x0 + scale * z
        try:
            f = float(fun(x))
        except (np.linalg.LinAlgError, FloatingPointError):
            return 1e300
        if not np.isfinite(f):
            return 1e300
        if f < best["f"]:
            best["f"], best["x"] = f, x.copy()
        return f

    m = len(x0)
    opt = nlopt.opt(nlopt.LN_BOBYQA, m)
    zlo = np.where(np.isfinite(lower), (lower - x0) / scale, -np.inf)
    opt.set_lower_bounds(np.minimum(zlo, 0.0))
    opt.set_upper_bounds(np.full(m, np.inf))
    opt.set_min_objective(objective)
    opt.set_xtol_abs(xtol)
    opt.set_ftol_abs(ftol)
    opt.set_maxeval(maxeval)
    opt.set_initial_step(np.ones(m))
    messages = {
        nlopt.SUCCESS: "success",
        nlopt.FTOL_REACHED: "ftol reached",
        nlopt.XTOL_REACHED: "xtol reached",
        nlopt.MAXEVAL_REACHED: "maximum number of evaluations reached",
    }
    try:
        opt.optimize(np.zeros(m))
        res = opt.last_optimize_result()
        converged = res in (nlopt.SUCCESS, nlopt.FTOL_REACHED, nlopt.XTOL_REACHED)
        msg = messages.get(res, f"nlopt result {res}")
    except nlopt.RoundoffLimited:
        converged, msg = True, "round-off limited (converged to machine precision)"
    return best["x"], best["f"], converged and bool(np.isfinite(best["f"])), msg


def lbfgsb(
    fun, x0: np.ndarray, lower: np.ndarray, scale: np.ndarray, gtol: float, maxeval: int
) -> tuple[np.ndarray, float, bool, str]:
    """L-BFGS-B with the analytic gradient, in coordinates scaled by ``scale``."""
    x0 = np.maximum(np.asarray(x0, float), lower)

    f_ref: list[float] = []

    def f(z: np.ndarray) -> tuple[float, np.ndarray]:
        val, g = fun(x0 + scale * z)
        if not np.isfinite(val):
            return 1e300, np.zeros_like(z)
        # relative to the first value: L-BFGS-B's relative-reduction test then does not
        # stop on the round-off of a deviance of size n (it stops on the gradient)
        if not f_ref:
            f_ref.append(val)
        return val - f_ref[0], g * scale

    zlo = np.where(np.isfinite(lower), (lower - x0) / scale, -np.inf)
    bounds = [(lo if np.isfinite(lo) else None, None) for lo in np.minimum(zlo, 0.0)]
    res = minimize(
        f,
        np.zeros(len(x0)),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": 1e-15, "gtol": gtol, "maxiter": maxeval, "maxcor": 20},
    )
    z = np.asarray(res.x)
    val, g = f(z)
    val += f_ref[0] if f_ref else 0.0
    pg = np.where((z <= np.minimum(zlo, 0.0)) & (g > 0), 0.0, g)
    size = float(np.max(np.abs(pg))) if len(pg) else 0.0
    # L-BFGS-B also reports success when f stops decreasing (noise): accept only a small
    # projected gradient (beta in units of its SE); otherwise the caller polishes with BOBYQA
    ok = size <= max(10 * gtol, 1e-4)
    return x0 + scale * z, val, ok and val < 1e300, f"L-BFGS-B: {res.message} (|grad| {size:.2g})"


# ------------------------------------------------------------------ estimate
def boundary_count(state: Any) -> int:
    """Fitted probabilities numerically 0 or 1 (a state without the rows counts them
    itself: ``state.n_boundary``)."""
    if hasattr(state, "n_boundary"):
        return int(state.n_boundary)
    mu = state.mu
    return int(np.sum((mu <= SEPARATION_EPS) | (mu >= 1.0 - SEPARATION_EPS)))


def _separation_check(res: PirlsResult, family: Family, where: str) -> None:
    if family.name != "binomial":
        return
    k = boundary_count(res.state)
    if k:
        warn(
            f"complete separation: {where} gives fitted probabilities numerically 0 or 1 for "
            f"{k} observation(s) (as R's glm warns); some fixed effects are then infinite and "
            "their estimates and standard errors are meaningless (drop or merge the predictor "
            "that separates the outcomes, or use a penalized fit)",
            SeparationWarning,
        )


def estimate_at(
    prob: GLMMProblem,
    theta: np.ndarray,
    beta: np.ndarray,
    cov: str = "hessian",
    converged: bool = True,
    message: str = "",
) -> GLMMEstimate:
    """All derived quantities at ``(theta, beta)`` (``nagq = 0``: ``beta`` from PIRLS)."""
    data, tmap = prob.data, prob.tmap
    theta = np.asarray(theta, dtype=float)
    if prob.nagq == 0:
        res = prob.modes_joint(theta)
        beta = res.beta
        objective = prob.laplace(res)
    else:
        # the final evaluation converges PIRLS to round-off (also the centre of the
        # finite-difference Hessian)
        tol_keep, prob.pirls_tol = prob.pirls_tol, HESSIAN_PIRLS_TOL
        prob._predict = None
        objective = prob.deviance(theta, beta)
        prob.pirls_tol = tol_keep
        res = prob.last_pirls
    if not res.converged:
        raise EstimationError(
            f"PIRLS did not converge at the estimate ({res.message}); " + PIRLS_ADVICE
        )
    lam = prob._lambdas(theta)
    # the full factor (with X) at the modes: R_X for the (R_X'R_X)^-1 covariance
    st = res.state
    ff = prob.fixed_factor(res, lam)
    prec = ff.fixed_precision()
    cov_rx = np.linalg.inv(prec) if prob.p else np.zeros((0, 0))
    m = tmap.size
    H = g = cov_h = None
    msg = message
    if cov == "hessian" and prob.nagq > 0 and prob.p:
        H, g = _hessian(prob, theta, beta, objective, res.u)
        try:
            Hinv = np.linalg.inv(H)
            cov_h = 2.0 * Hinv[m:, m:]
            ok = np.all(np.isfinite(cov_h)) and np.all(np.linalg.eigvalsh(cov_h) > 0)
        except np.linalg.LinAlgError:
            ok = False
        if not ok:
            warn(
                "the finite-difference Hessian of the deviance is not positive definite: "
                "standard errors of the fixed effects come from (R_X' R_X)^-1 instead "
                "(as lme4 falls back)",
                ConvergenceWarning,
            )
            cov_h = None
    reported = objective
    if prob.nagq > 1 and prob.const is not None:  # lme4 drops the constants with AGQ
        reported = objective - prob.const
    cov_method = "hessian" if cov_h is not None else "rx"
    cov_beta = cov_h if cov_h is not None else cov_rx
    cc = prob.conditional_factor(res, lam).cond_cov_blocks()
    factors = tmap.factors(theta)
    singular = [i for i, T in enumerate(factors) if np.any(np.abs(np.diag(T)) < SINGULAR_TOL)]
    _separation_check(res, data.family, "the fitted model")
    return GLMMEstimate(
        theta=theta,
        factors=factors,
        beta=np.asarray(beta, dtype=float),
        cov_beta=cov_beta,
        bse=np.sqrt(np.diag(cov_beta)),
        cov_beta_hessian=cov_h,
        cov_beta_rx=cov_rx,
        cov_method=cov_method,
        b=b_from_u(res.u, data.terms, lam),
        u=res.u,
        cond_cov=cc,
        cond_sd=[np.sqrt(np.diagonal(c, axis1=1, axis2=2)) for c in cc],
        objective=float(reported),
        objective_full=float(objective),
        deviance_residual_sum=res.state.dev,
        sqr_u=res.sqr_u,
        logdet_L=res.logdet_L,
        logdet_RX=ff.logdet_RX,
        eta=st.eta,
        mu=st.mu,
        family=str(data.family)
        if data.family.nb_theta is None
        else f"negative_binomial/{data.family.link.name}",
        nagq=prob.nagq,
        n=data.n,
        p=prob.p,
        converged=converged,
        nfev=prob.nfev,
        message=msg,
        nb_theta=data.family.nb_theta,
        hessian=H,
        gradient=g,
        singular_terms=singular,
    )


# ------------------------------------------------------------------ fitting
def _hessian(
    prob: GLMMProblem, theta: np.ndarray, beta: np.ndarray, objective: float, u: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """Hessian of the deviance in ``(theta, beta)`` at the estimate (and the gradient).

    Every evaluation starts PIRLS from the modes at the estimate and converges it
    to round-off, so the differences are not swamped by PIRLS noise.  With the
    analytic gradient (one term, Laplace): central differences of the gradient;
    otherwise lme4's central differences of the deviance.
    """
    lower = np.concatenate([prob.tmap.lower, np.full(prob.p, -np.inf)])
    x = np.concatenate([theta, beta])
    keep = prob._u, prob._predict, prob.pirls_tol
    prob.pirls_tol = HESSIAN_PIRLS_TOL

    def fresh(fun):
        def call(z):
            prob._u, prob._predict = u, None
            return fun(z)

        return call

    try:
        if prob.has_gradient:
            f0, g = fresh(prob.value_and_gradient)(x)
            H = fd_hessian_from_gradient(
                lambda z: fresh(prob.value_and_gradient)(z)[1], x, lower=lower, gx=g
            )
        else:
            g, H = fd_gradient_hessian(fresh(prob.deviance_vector), x, lower=lower, fx=objective)
    finally:
        prob._u, prob._predict, prob.pirls_tol = keep
    return H, g


def _newton_polish(
    prob: GLMMProblem, x: np.ndarray, lower: np.ndarray, scale: np.ndarray, steps: int = 3
) -> tuple[np.ndarray, bool, float]:
    """Newton steps on the finite-difference Hessian of the analytic gradient.

    Where L-BFGS-B stalls on the round-off of a large deviance, one or two Newton
    steps (``2 m`` gradient evaluations each, the Hessian the standard errors need
    anyway) reach the optimum.  Returns the point, whether the scaled gradient
    there is small, and its size.
    """
    m = prob.tmap.size
    keep = prob.pirls_tol
    size = np.inf
    try:
        prob.pirls_tol = HESSIAN_PIRLS_TOL
        for _ in range(steps):
            prob._predict = None
            f0, g = prob.value_and_gradient(x)
            pg = np.where((x <= lower) & (g > 0), 0.0, g) * scale
            size = float(np.max(np.abs(pg)))
            if size <= 1e-6:
                return x, True, size
            H, _ = _hessian(prob, x[:m], x[m:], f0, prob._u)
            free = ~((x <= lower) & (g > 0))
            dx = np.zeros_like(x)
            try:
                Hf = H[np.ix_(free, free)]
                np.linalg.cholesky(Hf)
                dx[free] = -np.linalg.solve(Hf, g[free])
            except np.linalg.LinAlgError:
                return x, False, size
            x_new = np.maximum(x + dx, lower)
            prob._predict = None
            if not prob.deviance_vector(x_new) <= f0 + 1e-12 * abs(f0):
                return x, False, size
            x = x_new
        prob._predict = None
        f0, g = prob.value_and_gradient(x)
        pg = np.where((x <= lower) & (g > 0), 0.0, g) * scale
        size = float(np.max(np.abs(pg)))
        return x, size <= 1e-5, size
    finally:
        prob.pirls_tol = keep


def fit_stages(
    prob: GLMMProblem,
    theta0: np.ndarray | None = None,
    beta0: np.ndarray | None = None,
    xtol: float = 1e-8,
    ftol: float = 1e-11,
    maxeval: int = 10_000,
    skip_stage1: bool = True,
) -> tuple[np.ndarray, np.ndarray, bool, str]:
    """Stage 1 (``theta`` with PIRLS ``beta``) then stage 2 (``(theta, beta)``).

    With the analytic gradient (one term, Laplace) stage 1 is skipped unless
    ``skip_stage1`` is False (the optimum is the same).

    With ``beta0`` given (a warm start, e.g. a neighbouring negative binomial
    ``theta``), stage 1 is skipped.  Returns ``theta``, ``beta``, converged, message.
    """
    tmap, data = prob.tmap, prob.data
    lower = tmap.lower
    theta = tmap.initial() if theta0 is None else np.maximum(np.asarray(theta0, float), lower)
    if beta0 is None:
        # fixed-effects GLM (Lambda = 0) for the separation check and the start
        glm = prob.pirls_joint(prob._lambdas(np.zeros(tmap.size)))
        if not glm.converged:
            raise EstimationError(
                f"the fixed-effects GLM fit did not converge ({glm.message}); " + PIRLS_ADVICE
            )
        _separation_check(glm, data.family, "the fixed-effects GLM (no random effects)")
        prob._beta1 = glm.beta
    if beta0 is None and prob.has_gradient and skip_stage1:
        # with the analytic gradient, stage 2 starts from the GLM's beta (lme4's start
        # too) and the starting theta: stage 1's joint PIRLS passes (each with X) cost
        # more than the L-BFGS-B iterations they save; beta scaled by the GLM's SEs
        beta = glm.beta
        prec = glm.factor.fixed_precision()
        d = np.diag(prec)
        se = np.sqrt(np.diag(np.linalg.inv(prec + 1e-12 * np.diag(np.where(d > 0, d, 1.0)))))
        prob._u = None
    elif beta0 is None:
        # stage 1: theta, with beta from PIRLS
        step1 = np.maximum(0.25 * np.abs(theta), 0.05)
        tight = prob.nagq == 0
        theta, f1, ok1, msg1 = bobyqa(
            prob.deviance_joint,
            theta,
            lower,
            step1,
            xtol if tight else (1e-3 if prob.has_gradient else 1e-5),
            ftol if tight else 1e-6,
            maxeval,
        )
        if not np.isfinite(f1):
            raise EstimationError("PIRLS did not converge at any starting value; " + PIRLS_ADVICE)
        res1 = prob.modes_joint(theta)
        beta = res1.beta
        if prob.nagq == 0:
            return theta, beta, ok1, f"stage 1 (nagq = 0): {msg1}"
        se = np.sqrt(np.diag(np.linalg.inv(_rx_precision(prob, theta, res1))))
    else:
        beta = np.asarray(beta0, dtype=float)
        se = np.sqrt(np.diag(np.linalg.inv(_rx_precision(prob, theta, prob.modes(theta, beta)))))
    # stage 2: (theta, beta) on the Laplace / AGQ deviance, beta scaled by its SEs
    m = tmap.size
    x0 = np.concatenate([theta, beta])
    lower2 = np.concatenate([lower, np.full(len(beta), -np.inf)])
    step = np.concatenate([np.maximum(0.1 * np.abs(theta), 0.02), 0.5 * se])
    ok2 = False
    if prob.has_gradient:
        x, f2, ok2, msg2 = lbfgsb(prob.value_and_gradient, x0, lower2, step, 1e-7, maxeval)
        if not ok2 and np.isfinite(f2):
            x, ok2, size = _newton_polish(prob, x, lower2, step)
            msg2 += f"; Newton polish: scaled gradient {size:.2g}"
        x0 = x
    if not ok2:
        x, f2, ok2, msg2 = bobyqa(prob.deviance_vector, x0, lower2, step, xtol, ftol, maxeval)
    if not np.isfinite(f2):
        raise EstimationError("PIRLS did not converge during the optimisation; " + PIRLS_ADVICE)
    return x[:m], x[m:], ok2, f"stage 2: {msg2}"


def _rx_precision(prob: GLMMProblem, theta: np.ndarray, res: PirlsResult) -> np.ndarray:
    prec = prob.fixed_factor(res, prob._lambdas(theta)).fixed_precision()
    # guard: a singular precision (separation) still gives a usable scale
    d = np.diag(prec)
    return prec + 1e-12 * np.diag(np.where(d > 0, d, 1.0))
