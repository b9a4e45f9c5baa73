"""One results vocabulary for every estimator of the package.

:class:`MixedResultsBase` is the base of the REML/ML results
(:class:`~hierreg_formula.results.lmm.LMMResults`), the regularized mode's
(:class:`~hierreg_formula.results.regularized.RegularizedResults`) and the
GLMM results: the same names mean the same thing everywhere.

Criteria (documented once, here):

``objective``
    The value the estimator minimised: the REML criterion (REML), the deviance
    ``-2 log L`` (ML, GLMM), the penalized objective on hierreg's scale
    (regularized mode).
``llf``
    The log-likelihood the fit maximised: the restricted (REML) log-likelihood
    for REML fits (as lme4's ``logLik`` and statsmodels' MixedLM ``llf``), the
    log-likelihood otherwise; NaN for penalized fits.
``deviance``
    ``-2 log L`` with ``L`` the (unrestricted) likelihood at the estimates; for a
    REML fit this is lme4's ``deviance(fit, REML = FALSE)``.  NaN for penalized fits.
``reml_criterion``
    The REML criterion at the estimates (for an ML fit: evaluated at the ML
    estimate); NaN where undefined.
``aic``, ``bic``
    From ``llf`` and the number of estimated parameters (lme4's convention, so a
    REML fit's AIC uses the REML log-likelihood).

Random effects are keyed by grouping factor in every mapping
(``random_effects``, ``random_effects_sd``, ``random_effects_cov``, ``coef()``).
``theta`` is a Series in lme4's order (the order of the fitted terms).

Example
-------
>>> import hierreg_formula as hierreg
>>> res = hierreg.fit("Yield ~ 1 + (1 | Batch)", hierreg.load_dataset("Dyestuff"))
>>> res.random_effects["Batch"].shape, list(res.theta.index)
((6, 1), ['Batch.Intercept'])
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..core.structure import TermArrays, random_part
from ..core.theta import ThetaMap
from ..exceptions import DataError, HierregError
from ..formula.blocks import DesignBlocks, RandomBlock, group_blocks
from ..scale.detect import is_dask_frame


def theta_names(random: list[RandomBlock]) -> list[str]:
    """Readable names of ``theta`` (lme4's layout): ``group.col`` on the diagonal of a
    term's factor, ``group.row.col`` below it; made unique when a factor repeats.

    >>> blk = RandomBlock("g", np.zeros(2, int), pd.Index(["a"]), np.ones((2, 2)), ["Intercept", "x"])
    >>> theta_names([blk])
    ['g.Intercept', 'g.x.Intercept', 'g.x']
    """
    tmap = ThetaMap([blk.ncols for blk in random])
    names: list[str] = []
    for i, r, c in tmap.layout():
        blk = random[i]
        nm = blk.names[r] if r == c else f"{blk.names[r]}.{blk.names[c]}"
        name = f"{blk.group}.{nm}"
        k = 1
        while name in names:
            k += 1
            name = f"{blk.group}.{k}.{nm}"
        names.append(name)
    return names


def design_terms(blocks: DesignBlocks) -> list[TermArrays]:
    """The random blocks as core terms (codes ``-1`` kept: :func:`random_part` skips them)."""
    return [TermArrays(blk.codes, blk.nlevels, blk.X) for blk in blocks.random]


class MixedResultsBase:
    """Common results API (statsmodels names, lme4 content) for every estimator.

    Parameters
    ----------
    formula:
        The model formula.
    blocks:
        Design blocks used for fitting (``X`` reduced to the kept columns, random
        blocks in lme4's order).
    beta:
        Fixed coefficients ``(p,)``, matching ``blocks.x_names``.
    b:
        Per random block, the ``(L, k)`` effects (deviations) of every level.
    method:
        Estimation method label (``"REML"``, ``"ML"``, ``"regularized"``, ...).
    dropped_columns:
        Fixed-effects columns dropped as linearly dependent.
    data:
        The fitting data (kept for ``model_data``), optional.
    offset:
        The offset of the fitting rows (``None`` without one).
    offset_argument:
        Part of the offset came from ``offset=`` rather than the formula: predictions
        on new data then need ``offset=`` too.
    """

    #: subclasses without standard errors (penalized fits) set this to False
    has_inference = True

    def __init__(
        self,
        *,
        formula: str,
        blocks: DesignBlocks,
        beta: np.ndarray,
        b: list[np.ndarray],
        method: str,
        dropped_columns: tuple[str, ...] | list[str] = (),
        data: Any = None,
        offset: np.ndarray | None = None,
        offset_argument: bool = False,
    ) -> None:
        self._data = data
        self._offset_argument = offset_argument
        self._formula = formula
        self._blocks = blocks
        self._beta = np.asarray(beta, dtype=float)
        self._b = [np.asarray(x, dtype=float) for x in b]
        self._method = method
        self._dropped = tuple(dropped_columns)
        self._offset = offset
        self._groups = group_blocks(blocks)

    # ------------------------------------------------------------------ basics
    @property
    def formula(self) -> str:
        return self._formula

    @property
    def method(self) -> str:
        return self._method

    @property
    def model_data(self) -> pd.DataFrame | None:
        """The rows of the fitting data that were used (``None`` if not kept)."""
        if self._data is None:
            return None
        df = self._data if isinstance(self._data, pd.DataFrame) else pd.DataFrame(self._data)
        return df.loc[self._blocks.index]

    @property
    def model_blocks(self) -> DesignBlocks:
        """The design blocks the model was fitted on."""
        return self._blocks

    @property
    def nobs(self) -> int:
        return self._blocks.nobs

    @property
    def endog_name(self) -> str:
        return self._blocks.y_name

    @property
    def exog_names(self) -> list[str]:
        return list(self._blocks.x_names)

    @property
    def dropped_columns(self) -> list[str]:
        """Fixed-effects columns dropped as linearly dependent (lme4 drops them too)."""
        return list(self._dropped)

    @property
    def params(self) -> pd.Series:
        """Fixed-effects coefficients (statsmodels' ``fe_params``)."""
        return pd.Series(self._beta, index=self.exog_names, name="coef")

    @property
    def fe_params(self) -> pd.Series:
        return self.params

    @property
    def group_names(self) -> list[str]:
        """The grouping factors, in lme4's order."""
        return list(self._groups)

    @property
    def ngroups(self) -> dict[str, int]:
        """Number of levels of each grouping factor."""
        return {g: self._blocks.random[idx[0]].nlevels for g, idx in self._groups.items()}

    # -------------------------------------------------- per-estimator criteria
    @property
    def objective(self) -> float:
        """The minimised value (see the module docstring)."""
        return float("nan")

    @property
    def llf(self) -> float:
        """The maximised log-likelihood (restricted for REML); NaN for penalized fits."""
        return float("nan")

    @property
    def deviance(self) -> float:
        """``-2 log L`` at the estimates (unrestricted likelihood); NaN for penalized fits."""
        return float("nan")

    @property
    def reml_criterion(self) -> float:
        """The REML criterion at the estimates; NaN where undefined."""
        return float("nan")

    @property
    def df_modelwc(self) -> int:
        """Number of estimated parameters: fixed effects + theta + sigma."""
        return len(self._beta) + len(self.theta) + 1

    @property
    def aic(self) -> float:
        return -2.0 * self.llf + 2.0 * self.df_modelwc

    @property
    def bic(self) -> float:
        return -2.0 * self.llf + np.log(self.nobs) * self.df_modelwc

    @property
    def converged(self) -> bool:
        return True

    @property
    def is_singular(self) -> bool:
        return False

    @property
    def theta(self) -> pd.Series:
        """Relative covariance parameters in lme4's layout and order (NaN where undefined)."""
        names = theta_names(self._blocks.random)
        return pd.Series(np.full(len(names), np.nan), index=names, name="theta")

    # ---------------------------------------------------------- fixed effects
    def cov_params(self) -> pd.DataFrame:
        """Covariance matrix of the fixed effects (NaN for penalized fits)."""
        names = self.exog_names
        return pd.DataFrame(np.full((len(names),) * 2, np.nan), index=names, columns=names)

    @property
    def bse(self) -> pd.Series:
        """Standard errors of the fixed effects (NaN for penalized fits)."""
        return pd.Series(np.sqrt(np.diag(self.cov_params().to_numpy())), index=self.exog_names)

    @property
    def tvalues(self) -> pd.Series:
        """``coef / se`` (Wald z)."""
        return pd.Series(self._beta / self.bse.to_numpy(), index=self.exog_names, name="z")

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values from the normal approximation."""
        return pd.Series(
            2.0 * stats.norm.sf(np.abs(self.tvalues.to_numpy())),
            index=self.exog_names,
            name="P>|z|",
        )

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald confidence intervals (normal quantiles) for the fixed effects."""
        z = stats.norm.ppf(1.0 - alpha / 2.0)
        se = self.bse.to_numpy()
        return pd.DataFrame({0: self._beta - z * se, 1: self._beta + z * se}, index=self.exog_names)

    def tidy(self, alpha: float = 0.05, ddf: str = "normal") -> pd.DataFrame:
        """Fixed-effects table: coef, std err, z, p-value, confidence bounds (Wald z; no
        small-sample df for this model: ``ddf`` must be ``"normal"``)."""
        if str(ddf).lower() not in ("normal", "z", "wald"):
            raise DataError(f"{type(self).__name__} has no small-sample df; use ddf='normal'")
        ci = self.conf_int(alpha)
        return pd.DataFrame(
            {
                "Coef.": self._beta,
                "Std.Err.": self.bse.to_numpy(),
                "z": self.tvalues.to_numpy(),
                "P>|z|": self.pvalues.to_numpy(),
                f"[{alpha / 2:.3f}": ci[0].to_numpy(),
                f"{1 - alpha / 2:.3f}]": ci[1].to_numpy(),
            },
            index=self.exog_names,
        )

    # --------------------------------------------------------- random effects
    def _group_frame(self, values: list[np.ndarray], group: str) -> pd.DataFrame:
        idx = self._groups[group]
        blks = [self._blocks.random[i] for i in idx]
        names: list[str] = []
        for blk in blks:
            for nm in blk.names:
                names.append(nm if nm not in names else f"{nm}.{len(names)}")
        data = np.column_stack([values[i] for i in idx])
        return pd.DataFrame(data, index=pd.Index(blks[0].levels, name=group), columns=names)

    @property
    def random_effects(self) -> dict[str, pd.DataFrame]:
        """Per grouping factor, the effects of every level (levels as index)."""
        return {g: self._group_frame(self._b, g) for g in self._groups}

    def _cond_cov_blocks(self) -> list[np.ndarray] | None:
        """Per random block, ``(L, k, k)`` conditional covariances (``None``: not available)."""
        return None

    @property
    def random_effects_sd(self) -> dict[str, pd.DataFrame]:
        """Per grouping factor, conditional SDs of the effects (lme4's ``condVar``); NaN
        where not available (penalized fits)."""
        cov = self._cond_cov_blocks()
        if cov is None:
            sds = [np.full_like(b, np.nan) for b in self._b]
        else:
            sds = [np.sqrt(np.diagonal(c, axis1=1, axis2=2)) for c in cov]
        return {g: self._group_frame(sds, g) for g in self._groups}

    @property
    def random_effects_cov(self) -> dict[str, np.ndarray]:
        """Per grouping factor, the ``(L, K, K)`` conditional covariances of its effects.

        ``K`` is the number of columns of ``random_effects[group]``.  For a factor with
        several terms (``(x || g)``) the covariances between terms are not computed
        (NaN); NaN throughout where not available (penalized fits).
        """
        cov = self._cond_cov_blocks()
        out = {}
        for g, idx in self._groups.items():
            ks = [self._blocks.random[i].ncols for i in idx]
            L = self._blocks.random[idx[0]].nlevels
            K = sum(ks)
            full = np.full((L, K, K), np.nan)
            if cov is not None:
                off = 0
                for i, k in zip(idx, ks, strict=True):
                    full[:, off : off + k, off : off + k] = cov[i]
                    off += k
            out[g] = full
        return out

    def coef(self) -> dict[str, pd.DataFrame]:
        """Per grouping factor, fixed + random coefficients of every level (lme4's ``coef``)."""
        out = {}
        fe = self.params
        for g, re in self.random_effects.items():
            frame = pd.DataFrame(
                np.broadcast_to(fe.to_numpy(), (len(re), len(fe))).copy(),
                index=re.index,
                columns=fe.index,
            )
            for col in re.columns:
                if col in frame.columns:
                    frame[col] = frame[col] + re[col]
                else:
                    frame[col] = re[col]
            out[g] = frame
        return out

    # ----------------------------------------------------------- fitted values
    @functools.cached_property
    def _fitted(self) -> np.ndarray:
        eta = self._blocks.X @ self._beta + random_part(design_terms(self._blocks), self._b)
        return eta if self._offset is None else eta + self._offset

    @property
    def fittedvalues(self) -> pd.Series:
        """Fitted values including the random effects."""
        return pd.Series(self._fitted, index=self._blocks.index, name="fitted")

    @property
    def resid(self) -> pd.Series:
        """Response minus fitted values."""
        return pd.Series(self._blocks.y - self._fitted, index=self._blocks.index, name="resid")

    # -------------------------------------------------------------- prediction
    def _linear_predictor(
        self,
        newdata: pd.DataFrame | Mapping[str, Any] | None,
        include_random: bool,
        offset: Any = None,
    ) -> tuple[np.ndarray, pd.Index]:
        if newdata is None:
            if offset is not None:
                raise DataError("offset= is for new data; the fitted rows have their offset")
            blocks, off = self._blocks, self._offset
        else:
            spec = self._blocks.spec
            if spec is None:
                raise TypeError(
                    "this model was fitted without a recipe to rebuild its design on new data"
                )
            blocks = spec.rebuild(newdata, response=False)
            off = getattr(blocks, "offset", None)
            if self._offset_argument and offset is None:
                raise DataError(
                    "the model was fitted with offset=...: pass the offset of the new rows "
                    "as predict(newdata, offset=...) (or write it in the formula as "
                    "offset(column))"
                )
            if offset is not None:
                df = newdata if isinstance(newdata, pd.DataFrame) else pd.DataFrame(newdata)
                extra = df[offset] if isinstance(offset, str) else offset
                extra = np.asarray(extra, dtype=float).reshape(-1)
                if len(extra) != blocks.nobs or not np.isfinite(extra).all():
                    raise DataError(
                        f"offset= must give {blocks.nobs} finite values, one per new row"
                    )
                off = extra if off is None else off + extra
        X = blocks.X
        if list(blocks.x_names) != self.exog_names:  # columns dropped as linearly dependent
            pos = {nm: i for i, nm in enumerate(blocks.x_names)}
            X = X[:, [pos[nm] for nm in self.exog_names]]
        eta = X @ self._beta
        if include_random:
            eta = eta + random_part(design_terms(blocks), self._b)
        if off is not None:
            eta = eta + off
        return eta, blocks.index

    def predict(
        self,
        newdata: pd.DataFrame | Mapping[str, Any] | None = None,
        include_random: bool = True,
        offset: Any = None,
    ) -> pd.Series:
        """Predictions on ``newdata`` (default: the fitting data).

        With ``include_random=True`` each row gets the effects of its levels; a
        level not seen in fitting contributes zero (population-level prediction,
        lme4's ``allow.new.levels = TRUE``).  With ``include_random=False`` only
        the fixed part is used (lme4's ``re.form = NA``).  The formula's
        ``offset()`` terms are rebuilt on ``newdata``; a model fitted with
        ``offset=`` needs ``offset=`` here too (a column name of ``newdata`` or
        one value per row).  On a Dask DataFrame the result is a lazy Dask Series
        (errors about the new data come when it is computed).
        """
        if is_dask_frame(newdata):  # a lazy Dask Series, partition by partition
            from ..scale.predict import LinearPredictor, predict_frame

            if offset is not None or self._offset_argument:
                raise DataError(
                    "predict(ddf) of a model fitted with offset=: not available yet (an "
                    "offset(column) term in the formula is)"
                )
            pred = LinearPredictor(
                self._blocks.spec, self.exog_names, self._beta, self._b if include_random else None
            )
            return predict_frame(newdata, pred)
        eta, index = self._linear_predictor(newdata, include_random, offset)
        return pd.Series(eta, index=index, name="predicted")

    # ------------------------------------------------------------------ update
    def update(self, formula: str | None = None, data: Any = None, **kwargs: Any):
        """Fit again with another formula and/or data (lme4's ``update``); the other
        options of the fit (method or family, weights, offset...) stay unless given."""
        refit_formula = getattr(self, "_refit_formula", None)
        if refit_formula is None:
            raise HierregError("this fit cannot be updated (no driver recorded)")
        return refit_formula(
            formula if formula is not None else self.formula,
            data if data is not None else self._data,
            **kwargs,
        )

    # ---------------------------------------------------------------- summary
    def summary(self, alpha: float = 0.05):
        """A statsmodels-style summary (print it, or use ``.tables``)."""
        raise NotImplementedError

    # --------------------------------------------------------- plots (leaf)
    def plot_random_effects(self, group: str | None = None, ax: Any = None, *, z: float = 1.96):
        """Caterpillar plot of the effects of one grouping factor, with ``+- z`` conditional
        SDs where available (see :func:`hierreg_formula.plots.plot_random_effects`)."""
        from ..plots import plot_random_effects

        return plot_random_effects(self, group=group, ax=ax, z=z)

    def plot_fit(self, **kwargs: Any):
        """Observed vs fitted lines per level of a grouping factor
        (see :func:`hierreg_formula.plots.plot_fit`)."""
        from ..plots import plot_fit

        return plot_fit(self, **kwargs)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__}: {self._formula!r}, method={self._method}, nobs={self.nobs}>"
        )
