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
from statsmodels.iolib.summary2 import Summary

from ..formula.blocks import DesignBlocks
from ..results.base import HierarchicalFitBase

KINDS = ("prob", "label", "link")


class RegularizedResults(HierarchicalFitBase):
    """Shared coefficients ``w`` (``params``) and penalized group deviations.

    ``random_effects`` holds the deviations ``v`` of every level, ``coef()`` the
    per-level totals ``w + v``.  Standard errors and p-values are not reported:
    the penalty biases the estimates towards the shared fit, so the sampling
    theory behind them does not apply.

    Parameters
    ----------
    formula, blocks:
        The formula and the design blocks the model was fitted on.
    w, v:
        Shared coefficients ``(p,)`` and the deviations per random block ``(L, k)``.
    alpha:
        The penalty used (``"reml"`` for the REML variance ratio).
    loss, family:
        ``"squared"``/``"norm"`` and ``"gaussian"``/``"binomial"``.
    objective:
        The minimised objective (hierreg's scale), when known.
    cv_results:
        The cross-validation curve of ``alpha="cv"``.
    labels:
        ``(negative, positive)`` response labels of a binomial fit.
    converged, theta, data:
        Solver status, REML ``theta`` (``alpha="reml"``) and the fitting data.
    """

    def __init__(
        self,
        *,
        formula: str,
        blocks: DesignBlocks,
        w: np.ndarray,
        v: list[np.ndarray],
        alpha: float | str,
        loss: str,
        family: str,
        objective: float | None = None,
        cv_results: pd.DataFrame | None = None,
        labels: tuple[Any, Any] | None = None,
        converged: bool = True,
        theta: np.ndarray | None = None,
        data: Any = None,
    ) -> None:
        super().__init__(
            formula=formula, blocks=blocks, beta=w, b=v, method="regularized", data=data
        )
        self._alpha = alpha
        self._loss = loss
        self._family = family
        self._objective = objective
        self._cv = cv_results
        self._labels = labels if labels is not None or family != "binomial" else (0, 1)
        self._converged = converged
        self._theta = theta

    @property
    def alpha(self) -> float | str:
        """The penalty used (hierreg's ``l2_reg``; ``"reml"`` for the REML ratio)."""
        return self._alpha

    @property
    def loss(self) -> str:
        """``"squared"`` (hierreg's casadi objective) or ``"norm"`` (its cvxpy one)."""
        return self._loss

    @property
    def family(self) -> str:
        """``"gaussian"`` or ``"binomial"``."""
        return self._family

    @property
    def objective(self) -> float | None:
        """Minimum of the objective on hierreg's scale (``None`` for ``alpha="reml"``)."""
        return self._objective

    @property
    def converged(self) -> bool:
        return self._converged

    @property
    def theta(self) -> np.ndarray | None:
        """REML's relative covariance parameters (``alpha="reml"`` only)."""
        return self._theta

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
        kind: str = "prob",
    ) -> pd.Series:
        """Predictions; unseen levels get only the shared ``w``.

        For ``family="binomial"``: ``kind="prob"`` (probability of the positive
        label, default), ``"label"`` or ``"link"`` (log-odds); ignored otherwise.
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        eta, index = self._linear_predictor(newdata, include_random)
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

    def summary(self) -> Summary:
        """Model information and the shared coefficients (no standard errors).

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
        alpha = self._alpha if isinstance(self._alpha, str) else f"{self._alpha:.6g}"
        info = {
            "Model:": f"regularized ({self._family})",
            "Dependent Variable:": self.endog_name,
            "No. Observations:": str(self.nobs),
            "Loss:": self._loss,
            "No. Groups:": ", ".join(f"{g}: {n}" for g, n in self.ngroups.items()),
            "alpha (l2_reg):": alpha,
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
        if self._alpha == "reml":
            smry.add_text("alpha='reml': deviations are the REML mixed model's conditional modes.")
        if self._cv is not None:
            smry.add_text(
                f"alpha chosen by {self._cv.shape[0]}-value cross-validation (res.cv_results_)."
            )
        return smry
