"""IRLS working quantities of a response: means, working weights and residuals, deviance.

:class:`Response` holds a family, the response and the prior weights, with the
parts of the deviance that depend on ``y`` alone computed once, so each pass
over the rows (:meth:`Response.state`) costs a handful of vectorised
operations.  At the linear predictor ``eta`` (Fisher scoring, as in R's ``glm``
and lme4):

- ``mu = g^{-1}(eta)``, ``mu' = dmu/deta``;
- working weights ``W = w mu'^2 / V(mu)`` (``w`` the prior weights; for a
  canonical link ``mu' = V(mu)`` so ``W = w mu'``);
- working residual ``(y - mu) / mu'``, so the working response is ``eta + (y - mu) / mu'``;
- the prior-weighted unit deviances, written as ``c(y) - 2 w B(y, mu)`` with
  ``c`` precomputed (binomial ``B = y log mu + (1 - y) log(1 - mu)``, Poisson
  ``y log mu - mu``, negative binomial ``y log mu + (y + theta) log1p((y - mu) / (mu + theta))``).

:meth:`Response.derivatives` adds what the analytic gradient of the Laplace
deviance needs: ``dW/deta`` and the observed-information weights
``W_obs = -d/deta [w (y - mu) mu' / V]`` (equal to ``W`` for canonical links).

This is the machinery any IRLS needs; e.g. the regularized mode's penalized
logistic regression would use ``Response(get_family("binomial"), y).state(eta)``.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.families import get_family
>>> r = Response(get_family("binomial"), np.array([0.0, 1.0]))
>>> st = r.state(np.array([0.0, 0.0]))
>>> st.mu.tolist(), st.w.tolist(), round(st.dev, 6)
([0.5, 0.5], [0.25, 0.25], 2.772589)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import xlogy

from .families import Family


@dataclass(frozen=True)
class WorkingState:
    """IRLS quantities at one linear predictor (see the module docstring).

    ``r = W * wres = w (y - mu) mu' / V`` is minus half the derivative of the
    deviance with respect to ``eta``.
    """

    eta: np.ndarray
    mu: np.ndarray
    mu_eta: np.ndarray
    w: np.ndarray
    res: np.ndarray
    dev_rows: np.ndarray
    dev: float
    r: np.ndarray

    @property
    def wres(self) -> np.ndarray:
        """Working residual ``(y - mu) / mu'`` (computed when asked for)."""
        return self.res / self.mu_eta


class Response:
    """A response with its family and prior weights, ready for repeated passes."""

    def __init__(self, family: Family, y: np.ndarray, weights: np.ndarray | None = None) -> None:
        self.family = family
        self.y = np.asarray(y, dtype=float)
        self.weights = None if weights is None else np.asarray(weights, dtype=float)
        fam, y, w = family, self.y, self.weights
        wt = 1.0 if w is None else w
        self.kind = "generic"
        if fam.name == "binomial":
            if w is None and np.all((y == 0) | (y == 1)):
                self.kind = "bernoulli"
                self._omy = 1.0 - y
                self._sgn = 2.0 * y - 1.0
            else:
                self.kind = "binomial"
                self._c = 2.0 * wt * (xlogy(y, y) + xlogy(1.0 - y, 1.0 - y))
        elif fam.name == "poisson":
            self.kind = "poisson"
            self._c = 2.0 * wt * (xlogy(y, y) - y)
        elif fam.name == "negative_binomial" and fam.nb_theta is not None:
            self.kind = "negbin"
            self._c = 2.0 * wt * xlogy(y, y)

    @property
    def n(self) -> int:
        return len(self.y)

    def dev_rows(self, mu: np.ndarray) -> np.ndarray:
        """Prior-weighted unit deviances at ``mu``."""
        y = self.y
        if self.kind == "bernoulli":  # -2 log P(y | mu)
            return -2.0 * np.log(self._omy + self._sgn * mu)
        wt = 1.0 if self.weights is None else self.weights
        if self.kind == "binomial":
            return self._c - 2.0 * wt * (y * np.log(mu) + (1.0 - y) * np.log1p(-mu))
        if self.kind == "poisson":
            return self._c + 2.0 * wt * (mu - y * np.log(mu))
        if self.kind == "negbin":
            th = self.family.nb_theta
            # (y + th) log((y + th) / (mu + th)) by log1p: no cancellation for a large theta
            return self._c - 2.0 * wt * (y * np.log(mu) + (y + th) * np.log1p((y - mu) / (mu + th)))
        return self.family.dev_resids(y, mu, self.weights)

    def state(self, eta: np.ndarray) -> WorkingState:
        """Means, working weights and residuals and the deviance at ``eta``."""
        fam = self.family
        link = fam.link
        mu = link.linkinv(eta)
        if link.name == "logit":
            d = np.maximum(mu * (1.0 - mu), np.finfo(float).eps)
        elif link.name == "log":
            d = mu
        else:
            d = link.mu_eta(eta)
        if fam.canonical:
            w = d if self.weights is None else d * self.weights
        else:
            w = d * d / fam.variance(mu)
            if self.weights is not None:
                w = w * self.weights
        res = self.y - mu
        if fam.canonical:  # r = w (y - mu) mu' / V = w (y - mu)
            r = res if self.weights is None else res * self.weights
        else:
            r = w * (res / d)
        dr = self.dev_rows(mu)
        return WorkingState(
            eta=eta, mu=mu, mu_eta=d, w=w, res=res, dev_rows=dr, dev=float(dr.sum()), r=r
        )

    def derivatives(self, st: WorkingState) -> tuple[np.ndarray, np.ndarray]:
        """``(dW/deta, W_obs)`` at the state ``st``."""
        fam = self.family
        mu, d = st.mu, st.mu_eta
        pw = 1.0 if self.weights is None else self.weights
        V = fam.variance(mu)
        dV = fam.variance_deriv(mu)
        d2 = fam.link.mu_eta2(st.eta, mu)
        if fam.canonical:  # W = w V(mu(eta)): dW/deta = w V'(mu) mu'
            return pw * dV * d, st.w
        w_eta = pw * (2.0 * d * d2 / V - d * d * d * dV / (V * V))
        # d/deta [mu' / V] = mu''/V - mu'^2 V'/V^2
        g = d2 / V - d * d * dV / (V * V)
        w_obs = st.w - pw * (self.y - mu) * g
        return w_eta, w_obs
