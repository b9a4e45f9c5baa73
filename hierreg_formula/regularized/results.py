"""Results of the regularized mode (same API as the mixed model, no p-values).

Example
-------
>>> import hierreg_formula as hierreg
>>> res = hierreg.fit("Reaction ~ Days + (Days | Subject)", hierreg.load_dataset("sleepstudy"),
...                   method="regularized", alpha=1e-3)
>>> res.method
'regularized'
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from statsmodels.iolib.summary2 import Summary

from ..formula.blocks import DesignBlocks
from ..results.base import HierarchicalFitBase


class RegularizedResults(HierarchicalFitBase):
    """Shared coefficients ``w`` (``params``) and penalized group deviations.

    Standard errors and p-values are not reported: the penalty biases the
    estimates, so the usual sampling theory does not apply.
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
    ) -> None:
        super().__init__(formula=formula, blocks=blocks, beta=w, b=v, method="regularized")
        self._alpha = alpha
        self._loss = loss
        self._family = family
        self._objective = objective
        self._cv = cv_results
        self._labels = labels
        self._converged = converged
        self._theta = theta

    @property
    def alpha(self) -> float | str:
        """The penalty used (hierreg's ``l2_reg``; ``"reml"`` for the REML ratio)."""
        return self._alpha

    @property
    def loss(self) -> str:
        return self._loss

    @property
    def family(self) -> str:
        return self._family

    @property
    def objective(self) -> float | None:
        return self._objective

    @property
    def converged(self) -> bool:
        return self._converged

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
        newdata: Any = None,
        include_random: bool = True,
        kind: str = "prob",
    ) -> pd.Series:
        """Predictions; for ``family="binomial"``: ``kind="prob"`` (of the positive
        label), ``"label"`` or ``"link"``.  Unseen levels get only the shared ``w``."""
        eta, index = self._linear_predictor(newdata, include_random)
        if self._family != "binomial" or kind == "link":
            return pd.Series(eta, index=index, name="predicted")
        prob = 1.0 / (1.0 + np.exp(-eta))
        if kind == "prob":
            return pd.Series(prob, index=index, name="prob")
        if kind == "label":
            neg, pos = self._labels
            return pd.Series(np.where(prob >= 0.5, pos, neg), index=index, name="label")
        raise ValueError(f"kind must be 'prob', 'label' or 'link', got {kind!r}")

    def summary(self) -> Summary:
        """Model information and the shared coefficients (no standard errors)."""
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
        }
        if self._objective is not None:
            info["Objective:"] = f"{self._objective:.6g}"
        smry.add_dict(info, ncols=2)
        smry.add_df(
            pd.DataFrame({"Coef.": self.params.map(lambda v: f"{v:.4f}")}), float_format="%s"
        )
        rows = []
        for g, re in self.random_effects.items():
            for col in re.columns:
                rows.append(
                    (f"{g} {col}", f"{re[col].std(ddof=0):.4f}", f"{re[col].abs().max():.4f}")
                )
        smry.add_df(
            pd.DataFrame(
                [r[1:] for r in rows],
                index=[r[0] for r in rows],
                columns=["SD of deviations", "max |deviation|"],
            ),
            float_format="%s",
        )
        smry.add_text("Penalized estimates: no standard errors or p-values are reported.")
        if self._cv is not None:
            smry.add_text(f"alpha chosen by cross-validation over {len(self._cv)} values.")
        return smry
