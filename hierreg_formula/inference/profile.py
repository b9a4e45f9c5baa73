"""Likelihood profiles of an LMM and profile confidence intervals.

As lme4's ``profile()`` (Bates et al. 2015, J. Stat. Softw. 67(1), sec. 5.1): the
model is refitted by maximum likelihood; the parameters are the standard
deviations and correlations of each random term and the residual SD ``sigma``
(lme4's ``.sig01, ..., .sigma`` order, :mod:`.names`), then the fixed effects.
For a parameter fixed at ``x`` the ML deviance is minimised over all the others:

- a variance parameter: ``D(x) = min log|L|^2 + pwrss(theta) / sigma^2 + n log(2 pi sigma^2)``
  over the other SDs / correlations and ``sigma`` (``theta`` is the Cholesky factor
  of each term's covariance divided by ``sigma``), by BOBYQA within the bounds
  ``sd >= 0``, ``-1 <= cor <= 1``;
- a fixed effect ``beta_j``: ``x_j beta_j`` moves into the offset (the
  structure is reused, :class:`~.refit.CoreRefitter`) and the
  profiled ML deviance of the reduced model is minimised over ``theta``.

The signed square root ``zeta(x) = sign(x - x_hat) sqrt(D(x) - D(x_hat))`` is the
profile.  :meth:`Profiler.grid` steps along it as lme4 does (steps of
``cutoff / 8`` in ``zeta``, ``cutoff = sqrt(qchisq(0.99, npar))``); confidence
bounds solve ``zeta(x) = -+ qnorm((1 + level) / 2)`` by Brent's method on the exact
profile (lme4 interpolates its grid with splines instead), or stop at the
parameter's bound when the profile does not reach the cutoff there.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.structure import TermArrays
>>> from hierreg_formula.inference.arrays import ModelArrays
>>> rng = np.random.default_rng(3)
>>> g = np.repeat(np.arange(10), 6)
>>> y = 2.0 + rng.normal(size=10)[g] + rng.normal(size=60)
>>> arrays = ModelArrays.from_arrays(np.ones((60, 1)), y, [TermArrays(g, 10, np.ones((60, 1)))])
>>> ci = profile_confint(arrays, level=0.95)
>>> ci.names
['.sig01', '.sigma', 'x1']
>>> bool(np.all(ci.lower < ci.estimate) and np.all(ci.estimate < ci.upper))
True
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import nlopt
import numpy as np
from scipy import optimize, stats

from ..core.lmm import LMMEstimate
from .arrays import ModelArrays
from .names import VarParNames, varpar_names
from .refit import CoreRefitter, fit_arrays, refit_ml

LOG2PI = float(np.log(2.0 * np.pi))


# ------------------------------------------------------- sd/cor <-> theta maps
def psd_cholesky(S: np.ndarray, tol: float = 1e-12) -> np.ndarray | None:
    """Lower Cholesky factor of a positive semi-definite ``k x k`` matrix (None if not PSD).

    A (numerically) zero pivot gives a zero column, as for a zero standard deviation.
    """
    k = S.shape[0]
    L = np.zeros_like(S)
    scale = max(float(np.max(np.abs(np.diag(S)))), np.finfo(float).tiny)
    for j in range(k):  # k is the size of one term's covariance (small)
        d = S[j, j] - L[j, :j] @ L[j, :j]
        if d < -1e-10 * scale:
            return None
        if d <= tol * scale:
            rest = S[j + 1 :, j] - L[j + 1 :, :j] @ L[j, :j]
            if np.any(np.abs(rest) > 1e-8 * scale):
                return None
            continue
        L[j, j] = np.sqrt(d)
        L[j + 1 :, j] = (S[j + 1 :, j] - L[j + 1 :, :j] @ L[j, :j]) / L[j, j]
    return L


@dataclass(frozen=True)
class ParameterMap:
    """lme4's variance parameters (SDs, correlations, ``sigma``) <-> ``(theta, sigma)``."""

    names: VarParNames
    ks: list[int]

    def to_theta(self, v: np.ndarray) -> np.ndarray | None:
        """``theta`` (caller's order) from ``(sd/cor..., sigma)``; None if not PSD or sigma <= 0."""
        sigma = v[-1]
        if not sigma > 0:
            return None
        covs = [np.zeros((k, k)) for k in self.ks]
        sds = [np.zeros(k) for k in self.ks]
        for (a, r, c), x in zip(self.names.entries[:-1], v[:-1], strict=True):
            if r == c:
                sds[a][r] = x
        for (a, r, c), x in zip(self.names.entries[:-1], v[:-1], strict=True):
            if r == c:
                covs[a][r, r] = x * x
            else:
                covs[a][r, c] = covs[a][c, r] = x * sds[a][r] * sds[a][c]
        out = []
        for C in covs:
            L = psd_cholesky(C / (sigma * sigma))
            if L is None:
                return None
            cols, rows = np.triu_indices(C.shape[0])
            out.append(L[rows, cols])
        return np.concatenate(out)

    def from_theta(
        self, theta: np.ndarray, sigma: float, factors: Sequence[np.ndarray]
    ) -> np.ndarray:
        """``(sd/cor..., sigma)`` in lme4's order from ``theta``'s factors and ``sigma``."""
        covs = [sigma * sigma * (T @ T.T) for T in factors]
        v = []
        for a, r, c in self.names.entries[:-1]:
            C = covs[a]
            if r == c:
                v.append(np.sqrt(C[r, r]))
            else:
                den = np.sqrt(C[r, r] * C[c, c])
                v.append(C[r, c] / den if den > 0 else 0.0)
        v.append(sigma)
        return np.asarray(v, dtype=float)

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo = [0.0 if r == c else -1.0 for _, r, c in self.names.entries[:-1]] + [0.0]
        hi = [np.inf if r == c else 1.0 for _, r, c in self.names.entries[:-1]] + [np.inf]
        return np.asarray(lo), np.asarray(hi)


# ------------------------------------------------------------------- profiler
@dataclass
class ParameterProfile:
    """The profile of one parameter: values, ``zeta`` and all parameters at each point."""

    name: str
    values: np.ndarray
    zeta: np.ndarray
    params: np.ndarray


@dataclass
class ConfIntResult:
    """Confidence intervals in lme4's ``confint()`` order."""

    names: list[str]
    readable: list[str]
    estimate: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    method: str
    messages: list[str] = field(default_factory=list)


class Profiler:
    """Evaluates ``zeta`` for each parameter of an ML-refitted model, with warm starts.

    Parameters
    ----------
    arrays: the model arrays.
    est: a REML or ML fit (refitted by ML if REML).
    groups, columns: per term (caller's order) the grouping name and the column
        names, for the readable names (default ``g1``, ``c1``...).
    fixed_names: names of the fixed effects (default ``x1``...).
    """

    def __init__(
        self,
        arrays: ModelArrays,
        est: LMMEstimate | None = None,
        groups: Sequence[str] | None = None,
        columns: Sequence[Sequence[str]] | None = None,
        fixed_names: Sequence[str] | None = None,
    ) -> None:
        self.arrays = arrays
        if est is None:
            est = fit_arrays(arrays, reml=False)
        self.est = refit_ml(arrays, est)
        groups = (
            list(groups) if groups is not None else [f"g{i + 1}" for i in range(len(arrays.terms))]
        )
        if columns is None:
            columns = [[f"c{j + 1}" for j in range(t.k)] for t in arrays.terms]
        self.fixed_names = (
            list(fixed_names) if fixed_names is not None else [f"x{j + 1}" for j in range(arrays.p)]
        )
        self.vnames = varpar_names(groups, columns, arrays.nlevels)
        self.pmap = ParameterMap(self.vnames, arrays.ks)
        self.nvp = len(self.vnames.entries)
        self.base = float(self.est.objective)
        self.vhat = self.pmap.from_theta(self.est.theta, self.est.sigma, self.est.factors)
        self.opt = np.concatenate([self.vhat, self.est.beta])
        self.stderr = np.sqrt(np.diag(self.est.cov_beta))
        self.messages: list[str] = []
        # warm starts: per parameter, the last (x, full parameter vector) evaluated
        self._last: dict[int, list[tuple[float, np.ndarray]]] = {}
        self._fixed_refitters: dict[int, CoreRefitter] = {}

    # ------------------------------------------------------------- names
    @property
    def names(self) -> list[str]:
        return self.vnames.sig_names + self.fixed_names

    @property
    def readable(self) -> list[str]:
        return self.vnames.readable + self.fixed_names

    @property
    def nparams(self) -> int:
        return self.nvp + self.arrays.p

    def bounds(self, w: int) -> tuple[float, float]:
        if w >= self.nvp:
            return -np.inf, np.inf
        lo, hi = self.pmap.bounds
        return float(lo[w]), float(hi[w])

    # ---------------------------------------------------------- deviances
    def deviance_varpar(self, v: np.ndarray) -> float:
        """ML deviance at ``(sd/cor..., sigma)``, non-profiled in ``sigma``."""
        theta = self.pmap.to_theta(v)
        if theta is None:
            return np.inf
        try:
            f = self.arrays.factor(theta)
        except np.linalg.LinAlgError:
            return np.inf
        s2 = v[-1] ** 2
        return float(f.logdet_L + f.pwrss / s2 + self.arrays.n * (LOG2PI + np.log(s2)))

    def _nearest_start(self, w: int, x: float) -> np.ndarray:
        pts = self._last.get(w)
        if not pts:
            return self.opt.copy()
        xs = np.array([p[0] for p in pts])
        return pts[int(np.argmin(np.abs(xs - x)))][1].copy()

    def _varpar_point(self, w: int, x: float) -> tuple[float, np.ndarray]:
        start = self._nearest_start(w, x)[: self.nvp]
        free = [i for i in range(self.nvp) if i != w]
        lo, hi = self.pmap.bounds
        v = start.copy()
        v[w] = x

        def obj(z: np.ndarray, grad: np.ndarray) -> float:
            v[free] = z
            d = self.deviance_varpar(v)
            return d if np.isfinite(d) else 1e300

        z0 = np.clip(start[free], lo[free], hi[free])
        if not free:
            dev = obj(z0, np.empty(0))
            return dev, v.copy()
        opt = nlopt.opt(nlopt.LN_BOBYQA, len(free))
        opt.set_lower_bounds(lo[free])
        opt.set_upper_bounds(np.where(np.isfinite(hi[free]), hi[free], 1e300))
        opt.set_min_objective(obj)
        opt.set_xtol_rel(1e-10)
        opt.set_ftol_abs(1e-11)
        opt.set_maxeval(20_000)
        step = np.maximum(0.05 * np.abs(z0), 0.01)
        step = np.minimum(step, np.where(np.isfinite(hi[free]), 0.25 * (hi[free] - lo[free]), step))
        opt.set_initial_step(step)
        try:
            z = opt.optimize(z0)
            dev = opt.last_optimum_value()
        except nlopt.RoundoffLimited:
            z, dev = z0, obj(z0, np.empty(0))
        v[free] = z
        return float(self.deviance_varpar(v)), v.copy()

    def _fixed_point(self, w: int, x: float) -> tuple[float, np.ndarray]:
        j = w - self.nvp
        start = self._nearest_start(w, x)
        theta0 = self.pmap.to_theta(start[: self.nvp])
        if theta0 is None:
            theta0 = self.est.theta
        if j not in self._fixed_refitters:
            self._fixed_refitters[j] = CoreRefitter(self.arrays, reml=False, drop=j)
        est = self._fixed_refitters[j].fit_fixed(x, theta0=theta0)
        n = self.arrays.n
        sigma = float(np.sqrt(est.pwrss / n))
        v = self.pmap.from_theta(est.theta, sigma, est.factors)
        beta = np.insert(est.beta, j, x)
        return float(est.objective), np.concatenate([v, beta])

    def point(self, w: int, x: float) -> tuple[float, np.ndarray]:
        """``(zeta, all parameters)`` with parameter ``w`` fixed at ``x``."""
        if w < self.nvp:
            dev, v = self._varpar_point(w, x)
            beta = (
                self.arrays.factor(self.pmap.to_theta(v)).beta
                if np.isfinite(dev)
                else self.est.beta
            )
            params = np.concatenate([v, beta])
        else:
            dev, params = self._fixed_point(w, x)
        diff = dev - self.base
        if diff < -1e-6:
            self.messages.append(
                f"profiling {self.names[w]} found a lower deviance (by {-diff:.3g}): "
                "the fit may not have converged"
            )
        zeta = float(np.sign(x - self.opt[w]) * np.sqrt(max(diff, 0.0)))
        self._last.setdefault(w, []).append((x, params))
        return zeta, params

    def zeta(self, w: int, x: float) -> float:
        return self.point(w, x)[0]

    # ------------------------------------------------------------- search
    def _first_step(self, w: int) -> float:
        xhat = self.opt[w]
        if w >= self.nvp:
            return 0.5 * self.stderr[w - self.nvp]
        return 1e-3 if xhat == 0 else 0.01 * abs(xhat)

    def bound(self, w: int, target: float, xtol: float = 1e-9) -> float:
        """The value where ``zeta = target`` on one side (or the parameter's bound)."""
        side = np.sign(target)
        lo, hi = self.bounds(w)
        edge = lo if side < 0 else hi
        xhat = float(self.opt[w])
        if xhat == edge:
            return edge
        xs, zs = [xhat], [0.0]
        x = xhat + side * self._first_step(w)
        x = min(max(x, lo), hi)
        for _ in range(60):
            z = self.zeta(w, x)
            xs.append(x)
            zs.append(z)
            if side * (z - target) >= 0:  # crossed: refine in [previous, x]
                a, b = xs[-2], xs[-1]
                za, zb = zs[-2] - target, zs[-1] - target
                if za == 0:
                    return a
                if np.sign(za) == np.sign(zb):
                    return b
                try:
                    return float(
                        optimize.brentq(
                            lambda t: self.zeta(w, t) - target,
                            min(a, b),
                            max(a, b),
                            xtol=xtol * max(1.0, abs(xhat)),
                            rtol=1e-12,
                        )
                    )
                except ValueError:
                    # re-evaluated ends disagree in sign by round-off of the inner fits:
                    # the crossing is within their noise, interpolate it
                    return float(a + (b - a) * za / (za - zb))
            if x == edge:
                return edge
            # secant step on the last two points towards the target, capped
            dz = zs[-1] - zs[-2]
            dx = xs[-1] - xs[-2]
            step = (target - zs[-1]) * dx / dz if dz * side > 0 else 2.0 * dx
            step = np.clip(step, -10 * abs(dx), 10 * abs(dx))
            if abs(step) < 1e-3 * abs(dx):
                step = 1e-3 * dx
            x = min(max(x + step, lo), hi)
        self.messages.append(f"profile of {self.names[w]} did not reach zeta = {target:.3g}")
        return np.nan

    def grid(
        self, w: int, alphamax: float = 0.01, delta_cutoff: float = 1 / 8, maxpts: int = 100
    ) -> ParameterProfile:
        """lme4-style profile points: steps of ``cutoff * delta_cutoff`` in ``zeta``, both sides."""
        cutoff = float(np.sqrt(stats.chi2.ppf(1 - alphamax, self.nparams)))
        delta = cutoff * delta_cutoff
        lo, hi = self.bounds(w)
        xhat = float(self.opt[w])
        rows = [(xhat, 0.0, self.opt.copy())]
        for side in (-1.0, 1.0):
            edge = lo if side < 0 else hi
            if xhat == edge:
                continue
            xs, zs = [xhat], [0.0]
            x = min(max(xhat + side * self._first_step(w), lo), hi)
            for _ in range(maxpts // 2):
                z, params = self.point(w, x)
                rows.append((x, z, params))
                xs.append(x)
                zs.append(z)
                if abs(z) > cutoff or x == edge:
                    break
                dz, dx = zs[-1] - zs[-2], xs[-1] - xs[-2]
                step = side * delta * dx / dz if dz * side > 0 else dx  # |dz| = delta
                step = np.clip(step, -10 * abs(dx), 10 * abs(dx))
                x = min(max(x + step, lo), hi)
        rows.sort(key=lambda r: r[0])
        return ParameterProfile(
            name=self.names[w],
            values=np.array([r[0] for r in rows]),
            zeta=np.array([r[1] for r in rows]),
            params=np.array([r[2] for r in rows]),
        )


def _which(profiler: Profiler, which: Sequence[int | str] | None) -> list[int]:
    if which is None:
        return list(range(profiler.nparams))
    out = []
    for w in which:
        if isinstance(w, str):
            names = profiler.names
            out.append(names.index(w) if w in names else profiler.readable.index(w))
        else:
            out.append(int(w))
    return out


def profile_confint(
    arrays: ModelArrays,
    est: LMMEstimate | None = None,
    level: float = 0.95,
    which: Sequence[int | str] | None = None,
    groups: Sequence[str] | None = None,
    columns: Sequence[Sequence[str]] | None = None,
    fixed_names: Sequence[str] | None = None,
    profiler: Profiler | None = None,
) -> ConfIntResult:
    """Profile-likelihood confidence intervals (lme4's ``confint(m, method = "profile")``).

    Rows in lme4's order: per random term its SDs and correlations (``.sig01, ...``),
    ``.sigma``, then the fixed effects; ``which`` selects rows by index or name.
    """
    pr = profiler or Profiler(arrays, est, groups, columns, fixed_names)
    idx = _which(pr, which)
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    lower = np.array([pr.bound(w, -z) for w in idx])
    upper = np.array([pr.bound(w, z) for w in idx])
    msgs = list(dict.fromkeys(pr.messages))
    for m in msgs:
        warnings.warn(m, RuntimeWarning, stacklevel=2)
    return ConfIntResult(
        names=[pr.names[w] for w in idx],
        readable=[pr.readable[w] for w in idx],
        estimate=pr.opt[idx],
        lower=lower,
        upper=upper,
        level=level,
        method="profile",
        messages=msgs,
    )


def profile_grid(
    arrays: ModelArrays,
    est: LMMEstimate | None = None,
    which: Sequence[int | str] | None = None,
    groups: Sequence[str] | None = None,
    columns: Sequence[Sequence[str]] | None = None,
    fixed_names: Sequence[str] | None = None,
    **kwargs,
) -> tuple[Profiler, list[ParameterProfile]]:
    """The profiles (lme4's ``profile(m)``) of the selected parameters, and the profiler."""
    pr = Profiler(arrays, est, groups, columns, fixed_names)
    return pr, [pr.grid(w, **kwargs) for w in _which(pr, which)]
