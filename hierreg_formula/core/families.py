"""Response distributions of a GLMM: variance, deviance, log-likelihood, checks.

:func:`get_family` turns a string (``"binomial"``, ``"poisson"``,
``"negative_binomial"``, ``"gamma"``, ``"inverse_gaussian"``, ``"gaussian"``) or a
statsmodels family instance (``statsmodels.genmod.families.Binomial(link=...)``,
``Poisson``, ``NegativeBinomial(alpha=...)``, ``Gamma``, ...) into a
:class:`Family`: the link comes from statsmodels (:mod:`.links`), the
distribution's formulas are R's ``family`` objects, which lme4 uses:

========================  ==================  ============================================
family                    variance ``V(mu)``  unit deviance ``d(y, mu)``
========================  ==================  ============================================
binomial (``y`` in 0..1)  ``mu (1 - mu)``     ``2 [y log(y/mu) + (1-y) log((1-y)/(1-mu))]``
poisson                   ``mu``              ``2 [y log(y/mu) - (y - mu)]``
negative binomial(theta)  ``mu + mu^2/theta`` ``2 [y log(y/mu) - (y+theta) log((y+theta)/(mu+theta))]``
gamma                     ``mu^2``            ``-2 [log(y/mu) - (y - mu)/mu]``
inverse Gaussian          ``mu^3``            ``(y - mu)^2 / (y mu^2)``
gaussian                  ``1``               ``(y - mu)^2``
========================  ==================  ============================================

Prior weights ``w`` multiply the unit deviances; for the binomial they are the
numbers of trials and ``y`` is the proportion of successes (as in R/lme4).
:meth:`Family.minus2_loglik` is R's ``family$aic`` without the ``2 * rank``
term, i.e. ``-2 log L`` with every constant (``log choose``, ``log y!``, the
``lgamma`` terms of the negative binomial); lme4's Laplace deviance adds it to
``log|L|^2 + ||u||^2``.

Example
-------
>>> import numpy as np
>>> fam = get_family("poisson")
>>> fam.name, fam.link.name, fam.canonical
('poisson', 'log', True)
>>> y = np.array([0.0, 2.0, 5.0]); mu = np.array([0.5, 2.0, 4.0])
>>> round(float(fam.minus2_loglik(y, mu, np.ones(3))), 6)
7.325746
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import statsmodels.genmod.families as smf
import statsmodels.genmod.families.links as sml
from scipy.special import gammaln, xlogy

from ..exceptions import DataError
from .links import Link

#: the canonical link of each distribution (R's default link; the gamma's "inverse")
_CANONICAL = {
    "binomial": "logit",
    "poisson": "log",
    "negative_binomial": None,
    "gamma": "inverse",
    "inverse_gaussian": "1/mu^2",
    "gaussian": "identity",
}

_DEFAULT_LINKS = {
    "binomial": sml.Logit,
    "poisson": sml.Log,
    "negative_binomial": sml.Log,
    "gamma": sml.InversePower,
    "inverse_gaussian": sml.InverseSquared,
    "gaussian": sml.Identity,
}

_ALIASES = {
    "binomial": "binomial",
    "bernoulli": "binomial",
    "poisson": "poisson",
    "negative_binomial": "negative_binomial",
    "negativebinomial": "negative_binomial",
    "negbin": "negative_binomial",
    "nb": "negative_binomial",
    "gamma": "gamma",
    "inverse_gaussian": "inverse_gaussian",
    "inversegaussian": "inverse_gaussian",
    "gaussian": "gaussian",
    "normal": "gaussian",
}

_SM_CLASSES = {
    "Binomial": "binomial",
    "Poisson": "poisson",
    "NegativeBinomial": "negative_binomial",
    "Gamma": "gamma",
    "InverseGaussian": "inverse_gaussian",
    "Gaussian": "gaussian",
}

#: relative tolerance for "a whole number" (counts, numbers of trials and successes)
INTEGER_TOL = 1e-7


def _not_whole(v: np.ndarray) -> np.ndarray:
    return np.abs(v - np.round(v)) > INTEGER_TOL * np.maximum(1.0, np.abs(v))


@dataclass(frozen=True)
class Family:
    """A response distribution with its link.

    Attributes
    ----------
    name:
        ``"binomial"``, ``"poisson"``, ``"negative_binomial"``, ``"gamma"``,
        ``"inverse_gaussian"`` or ``"gaussian"``.
    link:
        The :class:`~hierreg_formula.core.links.Link`.
    nb_theta:
        The negative binomial's shape ``theta`` (``V = mu + mu^2 / theta``;
        statsmodels' ``alpha`` is ``1 / theta``); ``None`` when it is to be estimated.
    """

    name: str
    link: Link
    nb_theta: float | None = None

    # ----------------------------------------------------------------- facts
    @property
    def canonical(self) -> bool:
        """The link is the canonical one (observed = expected information)."""
        return _CANONICAL[self.name] == self.link.name

    @property
    def has_dispersion(self) -> bool:
        """The distribution has a free scale parameter (gamma, inverse Gaussian, Gaussian)."""
        return self.name in ("gamma", "inverse_gaussian", "gaussian")

    @property
    def additive_constants(self) -> bool:
        """``-2 log L`` is the deviance plus a constant that does not depend on ``mu``."""
        return not self.has_dispersion

    def with_nb_theta(self, theta: float) -> Family:
        """The negative binomial family with shape ``theta``."""
        return replace(self, nb_theta=float(theta))

    def __str__(self) -> str:
        extra = f"({self.nb_theta:.6g})" if self.nb_theta is not None else ""
        return f"{self.name}{extra}/{self.link.name}"

    # ------------------------------------------------------------- formulas
    def variance(self, mu: np.ndarray) -> np.ndarray:
        """``V(mu)``."""
        if self.name == "binomial":
            return mu * (1.0 - mu)
        if self.name == "poisson":
            return mu
        if self.name == "negative_binomial":
            return mu + mu * mu / self._theta()
        if self.name == "gamma":
            return mu * mu
        if self.name == "inverse_gaussian":
            return mu * mu * mu
        return np.ones_like(mu)

    def variance_deriv(self, mu: np.ndarray) -> np.ndarray:
        """``dV / dmu``."""
        if self.name == "binomial":
            return 1.0 - 2.0 * mu
        if self.name == "poisson":
            return np.ones_like(mu)
        if self.name == "negative_binomial":
            return 1.0 + 2.0 * mu / self._theta()
        if self.name == "gamma":
            return 2.0 * mu
        if self.name == "inverse_gaussian":
            return 3.0 * mu * mu
        return np.zeros_like(mu)

    def _theta(self) -> float:
        if self.nb_theta is None:
            raise ValueError("the negative binomial's theta is not set")
        return self.nb_theta

    def unit_deviance(self, y: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """``d(y, mu)`` per observation (no prior weights)."""
        if self.name == "binomial":
            return 2.0 * (xlogy(y, y / mu) + xlogy(1.0 - y, (1.0 - y) / (1.0 - mu)))
        if self.name == "poisson":
            return 2.0 * (xlogy(y, y / mu) - (y - mu))
        if self.name == "negative_binomial":
            th = self._theta()
            return 2.0 * (xlogy(y, y / mu) - (y + th) * np.log1p((y - mu) / (mu + th)))
        if self.name == "gamma":
            return -2.0 * (np.log(y / mu) - (y - mu) / mu)
        if self.name == "inverse_gaussian":
            return (y - mu) ** 2 / (y * mu * mu)
        return (y - mu) ** 2

    def dev_resids(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray | None) -> np.ndarray:
        """Prior-weighted unit deviances (R's ``dev.resids``)."""
        d = self.unit_deviance(y, mu)
        return d if wt is None else wt * d

    def minus2_loglik(
        self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray | None, devsum: float | None = None
    ) -> float:
        """``-2 log L`` with all constants (R's ``family$aic`` without ``2 * rank``).

        For the families with a dispersion, the dispersion is R's plug-in
        ``deviance / sum(w)`` (``devsum`` may pass the weighted deviance).
        """
        w = np.ones_like(y) if wt is None else wt
        if self.name == "binomial":
            m = w  # numbers of trials (R: m = n if any n > 1 else wt)
            k = np.round(m * y)
            ll = gammaln(m + 1) - gammaln(k + 1) - gammaln(m - k + 1)
            ll = ll + xlogy(k, mu) + xlogy(m - k, 1.0 - mu)
            return float(-2.0 * np.sum(ll))
        if self.name == "poisson":
            ll = xlogy(y, mu) - mu - gammaln(y + 1.0)
            return float(-2.0 * np.sum(w * ll))
        if self.name == "negative_binomial":
            th = self._theta()
            term = (
                (y + th) * np.log(mu + th)
                - xlogy(y, mu)
                + gammaln(y + 1.0)
                - th * np.log(th)
                + gammaln(th)
                - gammaln(th + y)
            )
            return float(2.0 * np.sum(w * term))
        if devsum is None:
            devsum = float(np.sum(self.dev_resids(y, mu, wt)))
        if self.name == "gamma":
            disp = devsum / float(np.sum(w))
            shape = 1.0 / disp
            scale = mu * disp
            ll = -gammaln(shape) - shape * np.log(scale) + (shape - 1.0) * np.log(y) - y / scale
            return float(-2.0 * np.sum(w * ll) + 2.0)
        if self.name == "inverse_gaussian":
            disp = devsum / float(np.sum(w))
            return float(
                np.sum(w) * (np.log(disp * 2.0 * np.pi) + 1.0) + 3.0 * np.sum(np.log(y) * w) + 2.0
            )
        n = len(y)
        return float(n * (np.log(2.0 * np.pi * devsum / n) + 1.0) + 2.0 - np.sum(np.log(w)))

    def saturated_constant(self, y: np.ndarray, wt: np.ndarray | None) -> float:
        """``-2 log L`` at ``mu = y`` (additive families): ``-2 log L = deviance + this``."""
        if not self.additive_constants:
            raise ValueError(f"{self.name}: -2 log L is not the deviance plus a constant")
        # the deviance is 0 at mu = y (xlogy handles the log(0) terms)
        return self.minus2_loglik(y, np.asarray(y, dtype=float), wt)

    def mustart(self, y: np.ndarray, wt: np.ndarray | None) -> np.ndarray:
        """Starting means (R's ``family$initialize``)."""
        w = np.ones_like(y) if wt is None else wt
        if self.name == "binomial":
            return (w * y + 0.5) / (w + 1.0)
        if self.name in ("poisson", "negative_binomial"):
            return y + 0.1 if self.name == "poisson" else y + (y == 0) / 6.0
        return np.array(y, dtype=float)

    # ------------------------------------------------------------- checks
    def validate(self, y: np.ndarray, wt: np.ndarray | None) -> None:
        """Raise :class:`~hierreg_formula.DataError` when ``y`` cannot come from this family."""
        y = np.asarray(y, dtype=float)
        if not np.isfinite(y).all():
            raise DataError(f"{self.name} response has non-finite values (NaN or inf)")
        if wt is not None:
            if not np.isfinite(wt).all() or (wt <= 0).any():
                raise DataError("prior weights must be finite and positive")
        if self.name == "binomial":
            if (y < 0).any() or (y > 1).any():
                raise DataError(
                    "binomial response must be in [0, 1] (0/1 outcomes, or proportions of "
                    f"successes with the numbers of trials as weights); {int(((y < 0) | (y > 1)).sum())} "
                    f"value(s) are outside (range {y.min():g} .. {y.max():g})"
                )
            if wt is not None:
                if _not_whole(wt).any():
                    raise DataError(
                        "binomial: the numbers of trials (the weights) must be whole numbers; "
                        f"{int(_not_whole(wt).sum())} are not"
                    )
                if _not_whole(wt * y).any():
                    raise DataError(
                        "binomial: the numbers of successes (weights * proportion) must be whole "
                        f"numbers; {int(_not_whole(wt * y).sum())} are not (pass y as the "
                        "proportion of successes and the numbers of trials as weights)"
                    )
            elif ((y != 0) & (y != 1)).any():
                raise DataError(
                    "binomial response with values strictly between 0 and 1 needs the numbers "
                    "of trials as weights (or use cbind(successes, failures))"
                )
            if (y == 0).all() or (y == 1).all():
                which = "0 (no successes)" if (y == 0).all() else "1 (no failures)"
                raise DataError(
                    f"binomial response is {which} in every row: the probabilities cannot be "
                    "estimated"
                )
        elif self.name in ("poisson", "negative_binomial"):
            if (y < 0).any():
                raise DataError(
                    f"{self.name} response must be non-negative counts; "
                    f"{int((y < 0).sum())} value(s) are negative"
                )
            if _not_whole(y).any():
                raise DataError(
                    f"{self.name} response must be whole counts; {int(_not_whole(y).sum())} "
                    "value(s) are not integers"
                )
            if (y == 0).all():
                raise DataError(
                    f"{self.name} response is 0 in every row: the rates cannot be estimated"
                )
        elif self.name in ("gamma", "inverse_gaussian"):
            if (y <= 0).any():
                raise DataError(
                    f"{self.name} response must be positive; {int((y <= 0).sum())} value(s) are <= 0"
                )


def _from_string(name: str, link: Any = None) -> Family:
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in _ALIASES:
        raise ValueError(
            f"unknown family {name!r}; use one of 'binomial', 'poisson', 'negative_binomial', "
            "'gamma', 'inverse_gaussian', 'gaussian' or a statsmodels family instance"
        )
    fam = _ALIASES[key]
    lk = _DEFAULT_LINKS[fam]() if link is None else link
    return Family(fam, Link.from_statsmodels(lk, unit_interval=fam == "binomial"))


def get_family(family: str | Any, nb_theta: float | None = None) -> Family:
    """A :class:`Family` from a name or a statsmodels family instance.

    ``statsmodels.genmod.families.NegativeBinomial(alpha=a)`` gives a negative
    binomial with a fixed ``theta = 1 / a``; the string ``"negative_binomial"``
    leaves ``theta`` to be estimated (or fixed by ``nb_theta``).

    >>> import statsmodels.api as sm
    >>> str(get_family(sm.families.Binomial(link=sm.families.links.CLogLog())))
    'binomial/cloglog'
    >>> str(get_family(sm.families.NegativeBinomial(alpha=0.5)))
    'negative_binomial(2)/log'
    """
    if isinstance(family, Family):
        fam = family
    elif isinstance(family, str):
        fam = _from_string(family)
    elif isinstance(family, smf.Family):
        kind = type(family).__name__
        if kind not in _SM_CLASSES:
            raise ValueError(
                f"statsmodels family {kind} is not supported in a mixed model; use Binomial, "
                "Poisson, NegativeBinomial, Gamma, InverseGaussian or Gaussian"
            )
        fam = _from_string(_SM_CLASSES[kind], family.link)
        if kind == "NegativeBinomial":
            fam = fam.with_nb_theta(1.0 / float(family.alpha))
    else:
        raise TypeError(f"family must be a string or a statsmodels family, not {type(family)}")
    if nb_theta is not None:
        if fam.name != "negative_binomial":
            raise ValueError("nb_theta is only for the negative binomial family")
        if not (np.isfinite(nb_theta) and nb_theta > 0):
            raise ValueError("nb_theta must be positive")
        fam = fam.with_nb_theta(nb_theta)
    return fam
