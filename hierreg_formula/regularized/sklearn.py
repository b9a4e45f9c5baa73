"""scikit-learn estimators for the regularized mode (optional ``sklearn`` extra).

:class:`HierarchicalRegression` keeps hierreg's constructor names and its
``fit(X, y, groups)`` / ``predict(X, groups)`` calls; ``groups`` may be a pandas
Series or DataFrame (several grouping columns, each adding its own deviations),
a list, or a 1-d or 2-d array, all giving the same fit.  Deviations are fitted
on every column of ``X`` and on the intercept, as in hierreg.

For pipelines and ``cross_val_score`` (which pass only ``X``), set
``group_cols`` to the column names or indices of ``X`` that hold the groups:
they are split off ``X`` inside ``fit``/``predict``.

Differences from hierreg 0.1: the default ``l2_reg="cv"`` chooses the penalty
by cross-validation (hierreg's fixed 100 sets every deviation to zero on typical
data); the default squared loss is one linear solve (``loss="norm"`` gives
hierreg's cvxpy objective); any two labels work for classification.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 2)); g = rng.integers(0, 4, 200)
>>> y = X @ [1.0, -1.0] + 0.5 * g + rng.normal(size=200)
>>> est = HierarchicalRegression(l2_reg=1e-3).fit(X, y, g)
>>> est.predict(X[:2], g[:2]).shape
(2,)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from ..formula.blocks import DesignBlocks, RandomBlock
from ..formula.grouping import Grouping
from .fit import binary_response, fit_regularized_blocks


def _groups_frame(groups: Any, n: int) -> pd.DataFrame:
    """Any accepted shape of ``groups`` -> DataFrame with one column per grouping."""
    if groups is None:
        return pd.DataFrame({"group": np.zeros(n, dtype=np.int64)})
    if isinstance(groups, pd.DataFrame):
        frame = groups.reset_index(drop=True)
    elif isinstance(groups, pd.Series):
        frame = groups.reset_index(drop=True).to_frame(name=groups.name or "group0")
    else:
        arr = np.asarray(groups)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(f"groups must be 1-d or 2-d, got shape {arr.shape}")
        frame = pd.DataFrame(arr, columns=[f"group{j}" for j in range(arr.shape[1])])
        if arr.dtype == object:  # e.g. a mixed 2-d array: numbers stay numbers
            frame = frame.infer_objects()
    if len(frame) != n:
        raise ValueError(f"groups has {len(frame)} rows, X has {n}")
    frame.columns = [f"group{j}" for j in range(frame.shape[1])]
    return frame


class HierarchicalRegression(RegressorMixin, BaseEstimator):
    """Linear model with penalized group deviations (hierreg's interface).

    Parameters
    ----------
    l2_reg:
        Penalty on the deviations (hierreg's ``l2_reg``); ``"cv"`` (default) or
        ``"reml"`` choose it from the data.
    l1_reg, linf_reg, main_l2_reg:
        hierreg's extra penalties (``l1``/``linf`` use cvxpy).
    problem:
        ``"regression"`` or ``"classification"`` (logistic).
    fit_intercept:
        Add an intercept column (with its own deviations).
    weight_by_nobs:
        hierreg's ``1/n_k`` weighting of the deviations.
    loss:
        ``"squared"`` (fast linear solve) or ``"norm"`` (hierreg's cvxpy objective).
    group_cols:
        Columns of ``X`` holding the groups, used when ``groups`` is not given.
    cv, random_state:
        Folds and seed for ``l2_reg="cv"``.
    """

    def __init__(
        self,
        l2_reg: float | str = "cv",
        l1_reg: float = 0.0,
        linf_reg: float = 0.0,
        main_l2_reg: float = 0.0,
        problem: str = "regression",
        fit_intercept: bool = True,
        weight_by_nobs: bool = True,
        loss: str = "squared",
        group_cols: Any = None,
        cv: int = 5,
        random_state: int = 0,
    ) -> None:
        self.l2_reg = l2_reg
        self.l1_reg = l1_reg
        self.linf_reg = linf_reg
        self.main_l2_reg = main_l2_reg
        self.problem = problem
        self.fit_intercept = fit_intercept
        self.weight_by_nobs = weight_by_nobs
        self.loss = loss
        self.group_cols = group_cols
        self.cv = cv
        self.random_state = random_state

    # -------------------------------------------------------------- helpers
    def _split(self, X: Any, groups: Any) -> tuple[np.ndarray, pd.DataFrame | None, list[str]]:
        if groups is None and self.group_cols is not None:
            cols = (
                self.group_cols if isinstance(self.group_cols, (list, tuple)) else [self.group_cols]
            )
            if isinstance(X, pd.DataFrame):
                names = [X.columns[c] if isinstance(c, (int, np.integer)) else c for c in cols]
                groups = X[names]
                X = X.drop(columns=names)
            else:
                arr = np.asarray(X, dtype=object)
                idx = [int(c) for c in cols]
                groups = arr[:, idx]
                X = np.delete(arr, idx, axis=1)
        names = [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else None
        Xa = check_array(X, dtype=float, ensure_min_samples=1)
        if names is None:
            names = [f"x{j}" for j in range(Xa.shape[1])]
        return Xa, groups, names

    def _design(self, Xa: np.ndarray) -> np.ndarray:
        return np.column_stack([np.ones(len(Xa)), Xa]) if self.fit_intercept else Xa

    # ------------------------------------------------------------------ API
    def fit(self, X: Any, y: Any, groups: Any = None) -> HierarchicalRegression:
        """Fit ``w`` and the deviations of every group level."""
        Xa, groups, names = self._split(X, groups)
        n = len(Xa)
        if n < 2:
            raise ValueError(f"need at least 2 samples, got n_samples = {n}")
        self.n_features_in_ = Xa.shape[1]
        if isinstance(X, pd.DataFrame) and self.group_cols is None:
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        y = pd.Series(
            column_or_1d(
                np.asarray(y, dtype=object) if self.problem == "classification" else y, warn=True
            )
        )
        if len(y) != n:
            raise ValueError(f"y has {len(y)} rows, X has {n}")
        family = "binomial" if self.problem == "classification" else "gaussian"
        labels = None
        if family == "binomial":
            yv, labels = binary_response(y, "y")
            self.classes_ = np.asarray(labels)
        else:
            yv = y.to_numpy(dtype=float)
            if not np.isfinite(yv).all():
                raise ValueError("y contains NaN or infinite values")
        G = _groups_frame(groups, n)
        Xd = self._design(Xa)
        x_names = (["Intercept"] if self.fit_intercept else []) + names
        self._groupings = []
        blocks = []
        for col in G.columns:
            grouping, codes = Grouping.fit_codes(G, (col,))
            self._groupings.append(grouping)
            blocks.append(RandomBlock(col, codes, grouping.levels, Xd, x_names))
        design = DesignBlocks(
            y=yv, y_name="y", X=Xd, x_names=x_names, random=blocks, index=pd.RangeIndex(n)
        )
        res = fit_regularized_blocks(
            "",
            design,
            alpha=self.l2_reg,
            loss=self.loss,
            l1=self.l1_reg,
            linf=self.linf_reg,
            main_l2=self.main_l2_reg,
            weight_by_nobs=self.weight_by_nobs,
            family=family,
            cv=self.cv,
            random_state=self.random_state,
            labels=labels,
        )
        keep = [x_names.index(c) for c in res.exog_names]
        coef = np.zeros(len(x_names))
        coef[keep] = res.params.to_numpy()
        self.coef_ = coef
        self._v = [bt for bt in res._b]
        self.alpha_ = res.alpha
        self.cv_results_ = res.cv_results_
        self.deviations_ = list(res.random_effects.values())
        self.result_ = res
        return self

    def _eta(self, X: Any, groups: Any) -> np.ndarray:
        check_is_fitted(self, "coef_")
        Xa, groups, _ = self._split(X, groups)
        if Xa.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {Xa.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        Xd = self._design(Xa)
        eta = Xd @ self.coef_
        G = _groups_frame(groups, len(Xa))
        if G.shape[1] != len(self._groupings):
            raise ValueError(f"groups has {G.shape[1]} columns, fitted with {len(self._groupings)}")
        for col, grouping, v in zip(G.columns, self._groupings, self._v, strict=True):
            codes = grouping.codes(G.rename(columns={col: grouping.name}))
            seen = codes >= 0
            eta = eta + np.where(seen, np.einsum("nk,nk->n", Xd, v[np.where(seen, codes, 0)]), 0.0)
        return eta

    def predict(self, X: Any, groups: Any = None) -> np.ndarray:
        """Predictions; unseen groups get only the shared coefficients."""
        eta = self._eta(X, groups)
        if self.problem == "classification":
            return np.where(eta >= 0, self.classes_[1], self.classes_[0])
        return eta


class HierarchicalClassifier(ClassifierMixin, HierarchicalRegression):
    """:class:`HierarchicalRegression` with ``problem="classification"`` (logistic)."""

    def __init__(
        self,
        l2_reg: float | str = "cv",
        l1_reg: float = 0.0,
        linf_reg: float = 0.0,
        main_l2_reg: float = 0.0,
        problem: str = "classification",
        fit_intercept: bool = True,
        weight_by_nobs: bool = True,
        loss: str = "squared",
        group_cols: Any = None,
        cv: int = 5,
        random_state: int = 0,
    ) -> None:
        super().__init__(
            l2_reg,
            l1_reg,
            linf_reg,
            main_l2_reg,
            problem,
            fit_intercept,
            weight_by_nobs,
            loss,
            group_cols,
            cv,
            random_state,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False  # logistic: exactly two labels
        return tags

    def fit(self, X: Any, y: Any, groups: Any = None) -> HierarchicalClassifier:
        """Fit the logistic model; ``y`` must have exactly two labels."""
        if y is not None:
            check_classification_targets(
                column_or_1d(np.asarray(y, dtype=object) if np.asarray(y).dtype == object else y)
            )
            nlab = len(np.unique(np.asarray(y)))
            if nlab < 2:
                raise ValueError("Classifier can't train when only one class is present.")
            if nlab > 2:
                raise ValueError(
                    f"Only binary classification is supported (logistic loss); y has {nlab} labels"
                )
        return super().fit(X, y, groups)

    def predict_proba(self, X: Any, groups: Any = None) -> np.ndarray:
        """Class probabilities ``(n, 2)`` in the order of ``classes_``."""
        p = 1.0 / (1.0 + np.exp(-self._eta(X, groups)))
        return np.column_stack([1.0 - p, p])

    def decision_function(self, X: Any, groups: Any = None) -> np.ndarray:
        """The linear predictor (log-odds of ``classes_[1]``)."""
        return self._eta(X, groups)


class FormulaHierarchicalRegression(RegressorMixin, BaseEstimator):
    """Formula-based estimator: ``fit(df)`` / ``predict(df)`` with any ``method``.

    >>> import hierreg_formula as hierreg
    >>> df = hierreg.load_dataset("sleepstudy")
    >>> est = FormulaHierarchicalRegression("Reaction ~ Days + (Days | Subject)", method="reml")
    >>> est.fit(df).predict(df.head(2)).shape
    (2,)
    """

    def __init__(
        self,
        formula: str = "",
        method: str = "regularized",
        alpha: float | str = "cv",
        loss: str = "squared",
    ) -> None:
        self.formula = formula
        self.method = method
        self.alpha = alpha
        self.loss = loss

    def fit(self, X: pd.DataFrame, y: Any = None) -> FormulaHierarchicalRegression:
        from ..api import fit as _fit

        kw = {"alpha": self.alpha, "loss": self.loss} if self.method == "regularized" else {}
        self.result_ = _fit(self.formula, X, method=self.method, **kw)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "result_")
        return self.result_.predict(X).to_numpy()

    def score(self, X: pd.DataFrame, y: Any = None, sample_weight: Any = None) -> float:
        """R^2 of the predictions of the formula's response on ``X``."""
        from sklearn.metrics import r2_score

        check_is_fitted(self, "result_")
        yv = X[self.result_.endog_name] if y is None else y
        return float(r2_score(yv, self.predict(X), sample_weight=sample_weight))
