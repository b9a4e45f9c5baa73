"""Inference on a fitted GLMM: profile and parametric-bootstrap intervals, simulation.

Where the statistics exist for a GLMM (issue 10): likelihood-ratio tests
(:func:`hierreg_formula.anova`), Wald z tests and intervals, likelihood profiles and
the parametric bootstrap.

- **Profile** (lme4's ``confint(m, method = "profile")``): for every variance parameter
  (the SD of each scalar random term: ``theta`` itself, the family fixing the scale)
  and every fixed effect, the deviance minimised over the other parameters with that
  one held fixed; ``zeta = sign(x - x_hat) sqrt(dev(x) - dev_min)`` and the bounds solve
  ``zeta = -+ z`` by Brent's method (no spline).  An SD whose profile does not reach
  the cutoff before 0 has the lower bound 0, as lme4.  Terms with several columns are
  not profiled (use the bootstrap).
- **Parametric bootstrap** (lme4's ``bootMer``): responses simulated from the fitted
  model (new random effects, then the family's distribution given the means; binomial
  with its numbers of trials), each refitted from the estimates with the same
  options; replicate ``i`` uses stream ``i`` of ``seed``.

Example
-------
>>> import hierreg_formula as hierreg
>>> res = hierreg.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)",
...                   hierreg.load_dataset("cbpp"), family="binomial")
>>> res.simulate(2, seed=1).shape
(56, 2)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ..core.glmer import fit_glmm
from ..core.glmm import GLMMProblem, bobyqa
from ..core.pirls import GLMMData
from ..core.structure import random_part
from ..exceptions import EstimationError, HierregError, HierregWarning
from ..inference.bootstrap import BootstrapResult, replicate_generators
from ..inference.names import varpar_names


class GLMMInference:
    """Profile and bootstrap intervals, simulation (mixed into ``GLMMResults``)."""

    # ------------------------------------------------------------ pieces
    def _param_names(self) -> tuple[list[str], list[str], list[int]]:
        """lme4's ``.sigNN`` and readable names of the SDs (scalar terms only), and the
        index of each in ``theta`` (terms in lme4's order = the fit's)."""
        blocks = self.model_blocks
        vn = varpar_names(
            [b.group for b in blocks.random],
            [list(b.names) for b in blocks.random],
            [b.nlevels for b in blocks.random],
        )
        keep = [i for i, (t, _, _) in enumerate(vn.entries) if t >= 0]
        # the fit's terms are in lme4's order already: theta index = term index (scalar)
        return [vn.sig_names[i] for i in keep], [vn.readable[i] for i in keep], keep

    def _problem(self) -> GLMMProblem:
        pm = self._prepared
        fam = self.family_object
        data = GLMMData(pm.X, pm.y, tuple(pm.terms), fam, pm.weights, pm.offset)
        return GLMMProblem(data, max(self.nagq, 1))

    # -------------------------------------------------------------- profile
    def _profile_bounds(self, level: float) -> pd.DataFrame:
        if any(b.ncols > 1 for b in self.model_blocks.random):
            raise HierregError(
                "profile intervals of a GLMM are available for scalar random terms only "
                "((1 | g), (0 + x | g)); use conf_int(method='bootstrap')"
            )
        if self.nagq == 0:
            raise HierregError("no profile for nagq=0 (beta is not a likelihood estimate)")
        prob = self._problem()
        est = self.estimate
        x_hat = np.concatenate([est.theta, est.beta])
        m = len(est.theta)
        lower = np.concatenate([np.zeros(m), np.full(len(est.beta), -np.inf)])
        dev0 = prob.deviance_vector(x_hat)
        # steps for the search: the Hessian's SEs where there is one
        se_theta = np.maximum(0.2 * np.abs(est.theta), 0.05)
        if est.hessian is not None:
            with np.errstate(invalid="ignore"):
                v = np.diag(np.linalg.pinv(0.5 * est.hessian))[:m]
            se_theta = np.where(np.isfinite(v) & (v > 0), np.sqrt(np.abs(v)), se_theta)
        se = np.concatenate([se_theta, est.bse])
        se = np.where(np.isfinite(se) & (se > 0), se, 0.1)
        z = float(stats.norm.ppf(0.5 + level / 2.0))
        step0 = np.concatenate([np.maximum(0.1 * np.abs(est.theta), 0.02), 0.5 * est.bse])

        def profiled(w: int, value: float, start: np.ndarray) -> tuple[float, np.ndarray]:
            others = [j for j in range(len(x_hat)) if j != w]

            def fun(v: np.ndarray) -> float:
                x = np.empty_like(x_hat)
                x[others] = v
                x[w] = value
                return prob.deviance_vector(x)

            v, f, _, _ = bobyqa(fun, start[others], lower[others], step0[others], 1e-8, 1e-10, 5000)
            full = start.copy()
            full[others] = v
            full[w] = value
            return f, full

        rows = []
        for w in range(len(x_hat)):
            cache = {"start": x_hat.copy()}

            def zeta(value: float, w: int = w, cache: dict = cache) -> float:
                f, full = profiled(w, value, cache["start"])
                cache["start"] = full
                return float(np.sign(value - x_hat[w]) * np.sqrt(max(f - dev0, 0.0)))

            bounds = []
            for side in (-1.0, 1.0):
                cache["start"] = x_hat.copy()
                target = side * z
                a = x_hat[w]
                b = a + side * se[w]
                for _ in range(60):
                    if w < m and b <= 0.0:  # an SD: stop at 0
                        b = 0.0
                    zb = zeta(b)
                    if (zb - target) * side >= 0 or (w < m and b == 0.0):
                        break
                    a = b
                    b = a + side * se[w] * 2.0
                if w < m and b == 0.0 and (zb - target) * side < 0:
                    bounds.append(0.0)  # the profile does not reach the cutoff before 0
                    continue
                root = optimize.brentq(
                    lambda v, t=target: zeta(v) - t,
                    min(a, b),
                    max(a, b),
                    xtol=1e-10 * max(1.0, abs(x_hat[w])),
                )
                bounds.append(root)
            rows.append((x_hat[w], bounds[0], bounds[1]))
        sig, readable, _ = self._param_names()
        names = sig + self.exog_names
        index = readable + self.exog_names
        est_, lo, hi = (np.array(c) for c in zip(*rows, strict=True))
        return pd.DataFrame(
            {"name": names, "estimate": est_, "lower": lo, "upper": hi},
            index=pd.Index(index, name="parameter"),
        )

    def conf_int(
        self,
        alpha: float | None = None,
        *,
        level: float = 0.95,
        method: str = "wald",
        nsim: int = 1000,
        seed: int | None = None,
        progress: bool = True,
    ) -> pd.DataFrame:
        """Confidence intervals: ``"wald"`` (fixed effects, normal quantiles; columns
        ``0``/``1``), ``"profile"`` or ``"bootstrap"`` (the SDs of the random terms too,
        lme4's row order and names; columns ``name, estimate, lower, upper``)."""
        if alpha is not None:
            level = 1.0 - alpha
        m = str(method).lower()
        if m == "wald":
            q = stats.norm.ppf(0.5 + level / 2.0)
            se = self.bse.to_numpy()
            return pd.DataFrame(
                {0: self._beta - q * se, 1: self._beta + q * se}, index=self.exog_names
            )
        if m == "profile":
            return self._profile_bounds(level)
        if m == "bootstrap":
            boot = self.bootstrap(nsim=nsim, seed=seed, progress=progress)
            lo, hi = boot.confint(level, "perc")
            return pd.DataFrame(
                {"name": boot.names, "estimate": boot.estimate, "lower": lo, "upper": hi},
                index=pd.Index(boot.readable, name="parameter"),
            )
        raise HierregError(f"method must be 'wald', 'profile' or 'bootstrap', got {method!r}")

    # ---------------------------------------------------- simulate, bootstrap
    def _simulate_one(self, rng: np.random.Generator) -> np.ndarray:
        pm = self._prepared
        est = self.estimate
        b = [
            rng.standard_normal((t.nlevels, t.k)) @ T.T
            for t, T in zip(pm.terms, est.factors, strict=True)
        ]
        eta = pm.X @ est.beta + random_part(list(pm.terms), b)
        if pm.offset is not None:
            eta = eta + pm.offset
        mu = self.family_object.link.linkinv(eta)
        name = self.family_object.name
        w = pm.weights
        if name == "binomial":
            n = np.ones_like(mu) if w is None else np.round(w).astype(np.int64)
            k = rng.binomial(n, np.clip(mu, 0.0, 1.0))
            return np.where(n > 0, k / np.maximum(n, 1), 0.0)
        if name == "poisson":
            return rng.poisson(mu).astype(float)
        if name == "negative_binomial":
            shape = float(self.nb_theta)
            return rng.poisson(rng.gamma(shape, mu / shape)).astype(float)
        raise HierregError(f"simulating a {name} GLMM is not available")

    def simulate(self, nsim: int = 1, seed: int | None = None) -> pd.DataFrame:
        """Responses simulated from the fitted model (lme4's ``simulate``), ``(n, nsim)``;
        binomial: proportions of successes (with the fit's numbers of trials)."""
        sims = [
            self._simulate_one(np.random.default_rng(s)) for s in replicate_generators(seed, nsim)
        ]
        cols = [f"sim_{i + 1}" for i in range(nsim)]
        return pd.DataFrame(np.column_stack(sims), index=self.model_blocks.index, columns=cols)

    def _default_stat(self, est: Any) -> np.ndarray:
        sd = [float(T[0, 0]) if T.shape[0] == 1 else np.nan for T in est.factors]
        return np.concatenate([sd, est.beta])

    def bootstrap(
        self,
        nsim: int = 1000,
        statistic: Callable[[Any], np.ndarray] | None = None,
        seed: int | None = None,
        progress: bool = True,
    ) -> BootstrapResult:
        """Parametric bootstrap (lme4's ``bootMer``): simulate ``nsim`` responses, refit
        each from the estimates (Laplace / the fit's ``nagq``, ``(R_X'R_X)^{-1}`` SEs).

        ``statistic`` is a function of the refitted core estimate (default: the SDs of
        the scalar random terms and the fixed effects, lme4's order).  Replicates whose
        refit fails are NaN (and counted in a warning).
        """
        pm = self._prepared
        est = self.estimate
        stat = statistic or self._default_stat
        fam = self.family_object
        nagq = self.nagq
        seeds = replicate_generators(seed, nsim)
        out, ok = [], []
        bar = _progress(nsim) if progress and nsim >= 100 else None
        failed = 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", HierregWarning)
            for s in seeds:
                y = self._simulate_one(np.random.default_rng(s))
                try:
                    e = fit_glmm(
                        pm.X,
                        y,
                        list(pm.terms),
                        fam,
                        weights=pm.weights,
                        offset=pm.offset,
                        nagq=nagq,
                        cov="rx",
                        theta0=est.theta,
                    )
                    out.append(np.asarray(stat(e), dtype=float))
                    ok.append(bool(e.converged))
                except (EstimationError, ValueError, np.linalg.LinAlgError):
                    failed += 1
                    out.append(np.full(len(stat(est)), np.nan))
                    ok.append(False)
                if bar is not None:
                    bar.update(1)
        if bar is not None:
            bar.close()
        if failed:
            warnings.warn(
                f"{failed} of {nsim} bootstrap refits failed (NaN)", HierregWarning, stacklevel=2
            )
        sig, readable, _ = self._param_names()
        names = (
            (sig + self.exog_names)
            if statistic is None
            else [f"stat{i + 1}" for i in range(len(out[0]))]
        )
        read = (readable + self.exog_names) if statistic is None else names
        return BootstrapResult(
            names=names,
            estimate=np.asarray(stat(est), dtype=float),
            replicates=np.vstack(out),
            converged=np.array(ok),
            seed=seed,
            readable=read,
        )


def _progress(total: int):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, desc="bootstrap")
