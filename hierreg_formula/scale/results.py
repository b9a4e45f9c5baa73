"""Results of an out-of-core fit: the in-memory results classes, rows kept lazy.

:class:`DaskLMMResults` is an :class:`~hierreg_formula.results.lmm.LMMResults`
(and :class:`DaskRegularizedResults` a
:class:`~hierreg_formula.results.regularized.RegularizedResults`): fixed effects,
variance components, conditional modes, ``summary()`` and everything computed
from the estimate are the same.  What needs the rows stays lazy:
``fittedvalues``, ``resid`` and ``predict()`` are Dask Series over the fitting
frame (rows with missing values dropped, as in fitting), ``model_data`` the
Dask DataFrame of the used columns.  ``statistics`` holds the reduced
:class:`~hierreg_formula.scale.stats.SufficientStats`, ``problem`` the core's
problem on them (for inference that needs only the statistics) and
``scale_info`` the passes' timings.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import HierregError
from ..results.glmm import GLMMResults
from ..results.lmm import LMMResults
from ..results.regularized import RegularizedResults
from .predict import GLMMPredictor, LinearPredictor, predict_frame


class OutOfCoreResults:
    """The lazy, row-dependent part of the results of an out-of-core fit (a mixin)."""

    def _set_out_of_core(
        self,
        *,
        frame: Any,
        nobs: int,
        used: tuple[str, ...],
        dtypes: Mapping[str, Any],
        level_counts: dict[str, np.ndarray],
        statistics: Any,
        problem: Any = None,
        scale_info: dict[str, Any] | None = None,
    ) -> None:
        self._frame = frame
        self._nobs = int(nobs)
        self._used = tuple(used)
        self._dtypes = dict(dtypes)
        self._level_counts = level_counts
        self._statistics = statistics
        self._problem = problem
        self._scale_info = scale_info or {}

    @property
    def nobs(self) -> int:
        return self._nobs

    @property
    def statistics(self) -> Any:
        """The reduced sufficient statistics of the fit."""
        return self._statistics

    @property
    def problem(self) -> Any:
        """The core's :class:`~hierreg_formula.core.lmm.LMMProblem` on the statistics
        (``None`` for the regularized mode's numeric ``alpha``)."""
        return self._problem

    @property
    def scale_info(self) -> dict[str, Any]:
        """Partitions, wall seconds per pass, seconds per stage summed over partitions."""
        return self._scale_info

    def level_counts(self) -> dict[str, np.ndarray]:
        """Rows per level of every grouping factor (as ``random_effects``' index)."""
        return self._level_counts

    def _predictor(self, include_random: bool = True, residuals: bool = False):
        return LinearPredictor(
            self._blocks.spec,
            list(self.exog_names),
            self._beta,
            self._b if include_random else None,
            used=self._used,
            dtypes=self._dtypes,
            residuals=residuals,
        )

    @property
    def model_data(self) -> Any:
        """The used columns of the fitting data (lazy; rows with missing values included)."""
        return self._frame

    @property
    def fittedvalues(self) -> Any:
        """Fitted values including the random effects (a lazy Dask Series)."""
        return predict_frame(self._frame, self._predictor())

    @property
    def resid(self) -> Any:
        """Response minus fitted values (a lazy Dask Series)."""
        return predict_frame(self._frame, self._predictor(residuals=True))

    def predict(self, newdata: Any = None, include_random: bool = True) -> Any:
        """Predictions: on the fitting data by default (a lazy Dask Series), otherwise as
        the in-memory ``predict`` (a Dask Series for a Dask DataFrame)."""
        if newdata is None:
            pred = self._predictor(include_random)
            return predict_frame(self._frame, pred).rename("predicted")
        return super().predict(newdata, include_random=include_random)  # type: ignore[misc]

    def __repr__(self) -> str:
        base = super().__repr__()  # type: ignore[misc]
        return base[:-1] + f", out of core ({self._scale_info.get('npartitions', '?')} partitions)>"


class RowlessInference:
    """What needs the rows raises the class's ``_needs_rows`` error (a mixin before the
    in-memory results class): Wald intervals only; no simulation, bootstrap, profile,
    update, R^2 or ICC (the fixed effects' variance is a variance over the rows)."""

    def _needs_rows(self, what: str) -> HierregError:  # pragma: no cover - overridden
        return HierregError(f"{what} needs the rows, which an out-of-core fit does not keep")

    def conf_int(self, alpha: float | None = None, *, method: str = "wald", **kwargs: Any):
        if str(method).lower() != "wald":
            raise self._needs_rows(f"conf_int(method={method!r})")
        return super().conf_int(alpha, method=method, **kwargs)

    def simulate(self, *args: Any, **kwargs: Any):
        raise self._needs_rows("simulate()")

    def bootstrap(self, *args: Any, **kwargs: Any):
        raise self._needs_rows("bootstrap()")

    def profile(self, *args: Any, **kwargs: Any):
        raise self._needs_rows("profile()")

    def update(self, *args: Any, **kwargs: Any):
        raise self._needs_rows("update()")

    def r2(self, *args: Any, **kwargs: Any):
        raise self._needs_rows("r2()")

    def icc(self, *args: Any, **kwargs: Any):
        raise self._needs_rows("icc()")


class DaskLMMResults(RowlessInference, OutOfCoreResults, LMMResults):
    """A linear mixed model fitted out of core (see the module docstring).

    Satterthwaite's and Kenward-Roger's df read cross-products only: they come from
    the statistics (:class:`~hierreg_formula.scale.inference.StatsModelArrays`).
    What needs the rows (simulating responses, bootstraps, refits) raises.
    """

    @functools.cached_property
    def _arrays(self) -> Any:
        from .inference import StatsModelArrays

        return StatsModelArrays.from_statistics(self._problem.cp, self._problem.cond)

    def _needs_rows(self, what: str) -> HierregError:
        return HierregError(
            f"{what} needs the rows (the design matrices or simulated responses), which an "
            "out-of-core fit does not keep; available from the statistics: tidy/summary with "
            "Satterthwaite or Kenward-Roger df, cov_params, conf_int(method='wald'), "
            "get_prediction, res.problem (deviance, ML refits for likelihood ratios)"
        )

    def anova(self, *args: Any, **kwargs: Any):
        raise self._needs_rows("anova()")

    def refit(self, *args: Any, **kwargs: Any):
        raise self._needs_rows("refit()")


class DaskRegularizedResults(OutOfCoreResults, RegularizedResults):
    """The regularized mode fitted out of core (see the module docstring)."""


class DaskGLMMResults(RowlessInference, OutOfCoreResults, GLMMResults):
    """A generalized linear mixed model fitted out of core (:mod:`.glmm`).

    ``params``, ``bse`` (lme4's finite-difference Hessian by default), ``llf``,
    ``aic``, ``bic``, ``theta``, ``varcorr()``, ``random_effects`` and ``summary()``
    are the in-memory ones.  ``fittedvalues`` (means), ``linear_predictor``,
    ``resid`` (response residuals) and ``predict()`` are lazy Dask Series; what
    needs the rows again (profile and bootstrap intervals, simulation, other
    residual types) raises.  ``scale_info["passes"]``: the row passes of the fit.
    """

    _offset_column: str | None = None

    def _glmm_predictor(
        self, include_random: bool = True, residuals: bool = False, type: str = "response"
    ) -> GLMMPredictor:
        return GLMMPredictor(
            self._blocks.spec,
            list(self.exog_names),
            self._beta,
            self._b if include_random else None,
            used=self._used,
            dtypes=self._dtypes,
            residuals=residuals,
            link=self._fam.link,
            offset_column=self._offset_column,
            type=type,
        )

    @property
    def fittedvalues(self) -> Any:
        """Fitted means with the random effects (a lazy Dask Series)."""
        return predict_frame(self._frame, self._glmm_predictor())

    @property
    def linear_predictor(self) -> Any:
        """The fitted linear predictor, offset included (a lazy Dask Series)."""
        return predict_frame(self._frame, self._glmm_predictor(type="link")).rename("eta")

    def residuals(self, type: str = "response") -> Any:
        """Response residuals ``y - fitted`` (a lazy Dask Series); the other types need
        the rows in memory."""
        if type != "response":
            raise self._needs_rows(f"residuals(type={type!r})")
        return predict_frame(self._frame, self._glmm_predictor(residuals=True))

    @property
    def resid(self) -> Any:
        return self.residuals("response")

    @property
    def resid_pearson(self) -> Any:
        raise self._needs_rows("resid_pearson")

    @property
    def resid_deviance(self) -> Any:
        raise self._needs_rows("resid_deviance")

    def predict(
        self,
        newdata: Any = None,
        include_random: bool = True,
        offset: Any = None,
        type: str = "response",
    ) -> Any:
        """Predictions (``type="response"`` means or ``"link"``): on the fitting data by
        default and on a Dask DataFrame as lazy Dask Series, on a pandas frame as a
        pandas Series.  Unseen levels get the population value; with an ``offset=``
        column in the fit, ``newdata`` must have it."""
        if type not in ("response", "link"):
            raise HierregError(f"type must be 'response' or 'link', got {type!r}")
        if offset is not None:
            raise HierregError(
                "offset= is not available for an out-of-core fit's predict(): the offset "
                f"comes from the column {self._offset_column!r} of newdata"
            )
        pred = self._glmm_predictor(include_random, type=type)
        if newdata is None:
            return predict_frame(self._frame, pred).rename("predicted")
        pred = replace(pred, used=None, dtypes=None)
        if hasattr(newdata, "npartitions"):
            return predict_frame(newdata, pred).rename("predicted")
        frame = newdata if isinstance(newdata, pd.DataFrame) else pd.DataFrame(newdata)
        return pred(frame).rename("predicted")

    def _needs_rows(self, what: str) -> HierregError:
        return HierregError(
            f"{what} needs the rows in memory, which an out-of-core fit does not keep; "
            "available: params, bse, cov_params, conf_int(method='wald'), llf/aic/bic, "
            "theta, varcorr(), random_effects, summary(), lazy fittedvalues/resid/predict()"
        )


def level_counts_by_group(spec: Any, counts: list[np.ndarray]) -> dict[str, pd.Series]:
    """Rows per level of every grouping factor (the first term of each factor)."""
    out: dict[str, Any] = {}
    for rs, c in zip(spec.random, counts, strict=True):
        out.setdefault(rs.grouping.name, c)
    return out
