"""Link functions of generalized linear (mixed) models, taken from statsmodels.

A :class:`Link` wraps a ``statsmodels.genmod.families.links`` instance (so probit,
cloglog, cauchit, power links ... are statsmodels' code) and adds what a GLMM fit
needs on top of it:

- the same guards as R's ``make.link`` / ``binomial()`` (which lme4 uses): the
  inverse link of a link onto ``(0, 1)`` is kept in ``[eps, 1 - eps]`` and the
  derivative ``dmu/deta`` at least ``eps`` (``eps`` = machine epsilon), so a very
  large ``|eta|`` gives a finite deviance instead of ``log(0)``;
- overflow-free code for the logit and log links (the ones a large fit calls
  millions of times): statsmodels' ``Logit.inverse_deriv`` overflows for
  ``eta > 709``.

Example
-------
>>> import numpy as np
>>> import statsmodels.genmod.families.links as L
>>> lk = Link.from_statsmodels(L.Probit(), unit_interval=True)
>>> lk.name, float(lk.linkinv(np.array([0.0]))[0]), float(lk.mu_eta(np.array([0.0]))[0])
('probit', 0.5, 0.3989422804014327)
>>> float(Link.from_statsmodels(L.Logit(), True).linkinv(np.array([800.0]))[0]) < 1.0
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit

EPS = float(np.finfo(float).eps)

#: statsmodels link class name -> R's name of the link
_R_NAMES = {
    "Logit": "logit",
    "Probit": "probit",
    "CLogLog": "cloglog",
    "LogLog": "loglog",
    "Cauchy": "cauchit",
    "Log": "log",
    "Identity": "identity",
    "InversePower": "inverse",
    "InverseSquared": "1/mu^2",
    "Sqrt": "sqrt",
    "Power": "power",
    "LogC": "logc",
}


def _logit_linkinv(eta: np.ndarray) -> np.ndarray:
    # R's binomial()$linkinv: mu in [eps / (1 + eps), 1 / (1 + eps)] (in place: fast)
    mu = expit(eta)
    np.minimum(mu, 1.0 / (1.0 + EPS), out=mu)
    np.maximum(mu, EPS / (1.0 + EPS), out=mu)
    return mu


def _logit_mu_eta(eta: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(eta))
    return np.maximum(e / ((1.0 + e) * (1.0 + e)), EPS)


def _log_linkinv(eta: np.ndarray) -> np.ndarray:
    return np.maximum(np.exp(np.minimum(eta, 709.0)), EPS)


@dataclass(frozen=True)
class Link:
    """A link ``eta = g(mu)``: its inverse and ``dmu/deta`` on arrays.

    Build it with :meth:`from_statsmodels`; ``sm`` is the statsmodels instance.
    """

    name: str
    sm: Any
    unit_interval: bool

    @classmethod
    def from_statsmodels(cls, link: Any, unit_interval: bool) -> Link:
        """Wrap a statsmodels link instance (``unit_interval``: the mean is a probability)."""
        kind = type(link).__name__
        name = _R_NAMES.get(kind, kind.lower())
        if kind == "Power":
            power = float(link.power)
            name = {1.0: "identity", -1.0: "inverse", 0.5: "sqrt", -2.0: "1/mu^2"}.get(
                power, f"mu^{power:g}"
            )
        return cls(name=name, sm=link, unit_interval=unit_interval)

    def linkfun(self, mu: np.ndarray) -> np.ndarray:
        """``g(mu)``."""
        return np.asarray(self.sm(np.asarray(mu, dtype=float)), dtype=float)

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        """``mu = g^{-1}(eta)`` (clamped into ``[eps, 1 - eps]`` for probabilities)."""
        if self.name == "logit":
            return _logit_linkinv(eta)
        if self.name == "log":
            return _log_linkinv(eta)
        if self.name == "identity":
            return np.asarray(eta, dtype=float)
        with np.errstate(over="ignore", under="ignore"):
            mu = np.asarray(self.sm.inverse(eta), dtype=float)
        if self.unit_interval:
            mu = np.clip(mu, EPS, 1.0 - EPS)
        return mu

    def mu_eta2(self, eta: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """``d^2 mu / deta^2`` (``mu`` the inverse link at ``eta``)."""
        if self.name == "logit":
            return mu * (1.0 - mu) * (1.0 - 2.0 * mu)
        if self.name == "log":
            return mu
        if self.name == "identity":
            return np.zeros_like(mu)
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            d2 = np.asarray(self.sm.inverse_deriv2(eta), dtype=float)
        return np.where(np.isfinite(d2), d2, 0.0)

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        """``dmu/deta`` (at least ``eps`` in absolute value for probability links)."""
        if self.name == "logit":
            return _logit_mu_eta(eta)
        if self.name == "log":
            return _log_linkinv(eta)
        if self.name == "identity":
            return np.ones_like(np.asarray(eta, dtype=float))
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            d = np.asarray(self.sm.inverse_deriv(eta), dtype=float)
        d = np.where(np.isfinite(d), d, 0.0)
        if self.unit_interval:
            d = np.maximum(d, EPS)
        return d
