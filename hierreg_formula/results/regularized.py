"""Results of the regularized mode (same API as the mixed model, no p-values).

Example
-------
>>> import hierreg_formula as hierreg
>>> res = hierreg.fit("Reaction ~ Days + (Days | Subject)", hierreg.load_dataset("sleepstudy"),
...                   method="regularized", alpha=1e-3)
>>> res.method, res.loss, res.family
('regularized', 'squared', 'gaussian')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from ..formula.blocks import DesignBlocks
from .base import MixedResultsBase, theta_names
from .summary import MixedSummary as Summary

KINDS = ("prob", "label", "link")


class RegularizedResults(MixedResultsBase):
    """Shared coefficients ``w`` (``params``) and penalized group deviations.

    ``random_effects`` holds the deviations ``v`` of every level, ``coef()`` the
    per-level totals ``w + v``.  Standard errors and p-values are not reported
    (``bse``, ``pvalues``, ``conf_int()``, ``random_effects_sd`` are NaN): the
    penalty biases the estimates towards the shared fit, so the sampling theory
    behind them does not apply.  ``llf``, ``deviance``, ``aic`` and ``bic`` are
    NaN (a penalized fit is not a likelihood fit); ``objective`` is the minimised
    penalized objective.

    Parameters
    ----------
    formula, blocks:
        The formula and the design blocks the model was fitted on.
    w, v:
        Shared coefficients ``(p,)`` and the deviations per random block ``(L, k)``.
    alpha:
        The penalty used (NaN for ``alpha="reml"``, whose penalty is the REML
        variance ratio, not hierreg's).
    alpha_request:
        What was asked: a number, ``"cv"`` or ``"reml"``.
    loss, family:
        ``"squared"``/``"norm"`` and ``"gaussian"``/``"binomial"``.
    objective:
        The minimised objective (hierreg's scale), when known.
    cv_results:
        The cross-validation curve of ``alpha="cv"``.
    labels:
        ``(negative, positive)`` response labels of a binomial fit.
    converged, theta, data:
        Solver status, the relative covariance parameters when they are one per
        term (REML's for ``alpha="reml"``; ``1 / sqrt(n alpha)`` on the diagonal
        with ``weight_by_nobs=False``) and the fitting data.
    dropped_columns:
        Fixed-effects columns dropped as linearly dependent.
    """

    def __init__(
        self,
        *,
        formula: str,
        blocks: DesignBlocks,
        w: np.ndarray,
        v: list[np.ndarray],
        alpha: float,
        alpha_request: float | str,
        loss: str,
        family: str,
        objective: float | None = None,
        cv_results: pd.DataFrame | None = None,
        labels: tuple[Any, Any] | None = None,
        converged: bool = True,
        theta: np.ndarray | None = None,
        data: Any = None,
        dropped_columns: tuple[str, ...] | list[str] = (),
    ) -> None:
        super().__init__(
            formula=formula,
            blocks=blocks,
            beta=w,
            b=v,
            method="regularized",
            dropped_columns=dropped_columns,
            data=data,
        )
        self._alpha = float(alpha)
        self._alpha_request = alpha_request
        self._loss = loss
        self._family = family
        self._objective = objective
        self._cv = cv_results
        self._labels = labels if labels is not None or family != "binomial" else (0, 1)
        self._converged = converged
        self._theta = theta

    has_inference = False

    @property
    def alpha(self) -> float:
        """The penalty used (hierreg's ``l2_reg``; chosen by cross-validation for
        ``alpha="cv"``; NaN for ``alpha="reml"``)."""
        return self._alpha

    @property
    def alpha_request(self) -> float | str:
        """The penalty as requested: a number, ``"cv"`` or ``"reml"``."""
        return self._alpha_request

    @property
    def loss(self) -> str:
        """``"squared"`` (hierreg's casadi objective) or ``"norm"`` (its cvxpy one)."""
        return self._loss

    @property
    def family(self) -> str:
        """``"gaussian"`` or ``"binomial"``."""
        return self._family

    @property
    def objective(self) -> float:
        """Minimum of the objective on hierreg's scale (NaN for ``alpha="reml"``)."""
        return float("nan") if self._objective is None else float(self._objective)

    @property
    def converged(self) -> bool:
        return self._converged

    @property
    def theta(self) -> pd.Series:
        """Relative covariance parameters in lme4's layout, when one factor per term
        describes the penalty (``alpha="reml"``, or ``weight_by_nobs=False``); NaN
        otherwise (hierreg's ``1/n_k`` weights give every level its own factor)."""
        names = theta_names(self._blocks.random)
        values = np.full(len(names), np.nan) if self._theta is None else self._theta
        return pd.Series(values, index=names, name="theta")

    @property
    def cv_results_(self) -> pd.DataFrame | None:
        """Cross-validation curve (``alpha="cv"``): alpha, mean and sd of the held-out loss."""
        return None if self._cv is None else self._cv.copy()

    @property
    def classes_(self) -> tuple[Any, Any] | None:
        """The two response labels of a binomial fit (negative, positive)."""
        return self._labels

    def predict(
        self,
        newdata: pd.DataFrame | Mapping[str, Any] | None = None,
        include_random: bool = True,
        kind: str | None = None,
        type: str | None = None,
    ) -> pd.Series:
        """Predictions; unseen levels get only the shared ``w``.

        For ``family="binomial"``: ``type="response"`` (probability of the positive
        label, default; as :meth:`GLMMResults.predict`), ``"link"`` (log-odds) or
        ``"label"``; ``kind`` is the older spelling (``"prob"`` = ``"response"``).
        Ignored for ``family="gaussian"``.
        """
        if type is not None and kind is not None:
            raise ValueError("give type= or kind=, not both")
        kind = {"response": "prob", None: "prob"}.get(type or kind, type or kind)
        if kind not in KINDS:
            raise ValueError(f"type (or kind) must be 'response', 'link' or 'label', got {kind!r}")
        eta, index = self._linear_predictor(newdata, include_random, None)
        if self._family != "binomial" or kind == "link":
            return pd.Series(eta, index=index, name="predicted")
        prob = expit(eta)
        if kind == "prob":
            return pd.Series(prob, index=index, name="prob")
        neg, pos = self._labels
        labels = np.where(prob >= 0.5, np.array(pos, dtype=object), np.array(neg, dtype=object))
        return pd.Series(labels, index=index, name="label")

    def predict_labels(
        self,
        newdata: pd.DataFrame | Mapping[str, Any] | None = None,
        include_random: bool = True,
    ) -> pd.Series:
        """Predicted labels of a binomial fit (probability >= 0.5 -> positive label)."""
        if self._family != "binomial":
            raise ValueError("predict_labels is for family='binomial'")
        return self.predict(newdata, include_random, kind="label")

    def summary(self, alpha: float = 0.05) -> Summary:
        """Model information and the shared coefficients (no standard errors; ``alpha``,
        the level of the intervals of other results, has nothing to set here).

        Examples
        --------
        >>> import hierreg_formula as hierreg
        >>> df = hierreg.load_dataset("sleepstudy")
        >>> res = hierreg.fit("Reaction ~ Days + (Days | Subject)", df, method="regularized",
        ...                   alpha=1e-3)
        >>> "no standard errors or p-values" in str(res.summary())
        True
        """
        smry = Summary()
        smry.add_title("Regularized Hierarchical Regression Results")
        pen = "reml" if self._alpha_request == "reml" else f"{self._alpha:.6g}"
        info = {
            "Model:": f"regularized ({self._family})",
            "Dependent Variable:": self.endog_name,
            "No. Observations:": str(self.nobs),
            "Loss:": "logistic" if self._family == "binomial" else self._loss,
            "No. Groups:": ", ".join(f"{g}: {n}" for g, n in self.ngroups.items()),
            "alpha (l2_reg):": pen,
            "Objective:": "-" if self._objective is None else f"{self._objective:.6g}",
            "Converged:": "Yes" if self._converged else "No",
        }
        if self._labels is not None and self._family == "binomial":
            info["Positive label:"] = str(self._labels[1])
        smry.add_dict(info, ncols=2)
        smry.add_df(
            pd.DataFrame({"Coef.": self.params.map(lambda v: f"{v:.4f}")}), float_format="%s"
        )
        rows, index = [], []
        for g, re in self.random_effects.items():
            for col in re.columns:
                vals = re[col].to_numpy()
                rows.append((f"{vals.std(ddof=0):.4f}", f"{np.abs(vals).max():.4f}"))
                index.append(f"{g} {col}")
        smry.add_df(
            pd.DataFrame(rows, index=index, columns=["SD of deviations", "max |deviation|"]),
            float_format="%s",
        )
        smry.add_text(
            "Penalized estimates: no standard errors or p-values are reported (the penalty "
            "biases the estimates; their usual sampling theory does not apply)."
        )
        if self._alpha_request == "reml":
            smry.add_text("alpha='reml': deviations are the REML mixed model's conditional modes.")
        if self._cv is not None:
            smry.add_text(
                f"alpha chosen by {self._cv.shape[0]}-value cross-validation (res.cv_results_)."
            )
        return smry
