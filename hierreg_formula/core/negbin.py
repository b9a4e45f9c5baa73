"""Negative binomial GLMM with its shape ``theta`` estimated (lme4's ``glmer.nb``).

``V(mu) = mu + mu^2 / theta``.  As ``glmer.nb`` does: fit the Poisson GLMM, take
the maximum-likelihood ``theta`` of a negative binomial with those fitted means
(:func:`theta_ml`, Newton's method on the score, as MASS's ``theta.ml``), then
minimise the GLMM's Laplace (or AGQ) deviance -- with the negative binomial's
``lgamma`` constants, which depend on ``theta`` -- over ``log theta`` by Brent's
method, each inner fit (:func:`~hierreg_formula.core.glmm.fit_stages`) starting
from the previous one.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> mu = np.full(2000, 3.0)
>>> y = rng.negative_binomial(2.0, 2.0 / (2.0 + mu)).astype(float)
>>> round(theta_ml(y, mu), 1)
2.0
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import digamma, polygamma

from ..exceptions import ConvergenceWarning, EstimationError, warn
from .families import Family
from .glmm import GLMMEstimate, GLMMProblem, estimate_at, fit_stages
from .pirls import GLMMData
from .structure import TermArrays

#: Brent's tolerance on log(theta)
LOG_THETA_TOL = 1e-7


def theta_ml(
    y: np.ndarray, mu: np.ndarray, weights: np.ndarray | None = None, maxit: int = 50
) -> float:
    """Maximum-likelihood negative binomial shape for fixed means (Newton on the score)."""
    w = np.ones_like(y) if weights is None else weights
    n = float(np.sum(w))
    disp = float(np.sum(w * (y / mu - 1.0) ** 2)) / n
    t = 1.0 / disp if disp > 0 else 1e3
    for _ in range(maxit):
        score = np.sum(
            w
            * (digamma(t + y) - digamma(t) + np.log(t) + 1.0 - np.log(t + mu) - (y + t) / (mu + t))
        )
        info = np.sum(
            w
            * (
                -polygamma(1, t + y)
                + polygamma(1, t)
                - 1.0 / t
                + 2.0 / (mu + t)
                - (y + t) / (mu + t) ** 2
            )
        )
        step = score / info
        t_new = t + step
        if t_new <= 0:
            t_new = t / 2.0
        if abs(t_new - t) <= 1e-10 * t:
            return float(t_new)
        t = t_new
    return float(t)


def fit_glmm_nb(
    X: np.ndarray,
    y: np.ndarray,
    terms: Sequence[TermArrays],
    family: Family,
    weights: np.ndarray | None,
    offset: np.ndarray | None,
    nagq: int,
    cov: str,
    theta0: np.ndarray | None,
    xtol: float,
    ftol: float,
    maxeval: int,
) -> GLMMEstimate:
    """The negative binomial GLMM with ``theta`` estimated (see the module docstring)."""
    terms = tuple(terms)
    pois = Family("poisson", family.link)
    prob0 = GLMMProblem(GLMMData(X, y, terms, pois, weights, offset), nagq)
    th, be, ok, msg = fit_stages(prob0, theta0, None, xtol, ftol, maxeval)
    mu0 = prob0.modes(th, be).state.mu
    k0 = theta_ml(y, mu0, weights)
    if not np.isfinite(k0) or k0 <= 0:
        raise EstimationError("the negative binomial shape could not be initialised")
    state = {"theta": th, "beta": be, "ok": ok}
    probs: dict[float, GLMMProblem] = {}

    def profile(logk: float) -> float:
        fam = family.with_nb_theta(float(np.exp(logk)))
        prob = GLMMProblem(GLMMData(X, y, terms, fam, weights, offset), nagq)
        t, b, ok_k, _ = fit_stages(prob, state["theta"], state["beta"], xtol, ftol, maxeval)
        f = prob.deviance(t, b)
        state.update(theta=t, beta=b, ok=ok_k)
        probs[logk] = prob
        return f

    lk = float(np.log(k0))
    res = minimize_scalar(profile, bracket=(lk - 0.1, lk + 0.1), tol=LOG_THETA_TOL)
    if not res.success:
        warn(f"the negative binomial shape did not converge ({res.message})", ConvergenceWarning)
    best = float(res.x)
    fam = family.with_nb_theta(float(np.exp(best)))
    prob = GLMMProblem(GLMMData(X, y, terms, fam, weights, offset), nagq)
    t, b, ok2, msg2 = fit_stages(prob, state["theta"], state["beta"], xtol, ftol, maxeval)
    if not ok2:
        warn(f"the GLMM optimiser did not converge ({msg2})", ConvergenceWarning)
    return estimate_at(
        prob,
        t,
        b,
        cov=cov,
        converged=bool(ok2 and res.success),
        message=f"{msg2}; negative binomial theta by Brent ({int(res.nfev)} fits)",
    )
