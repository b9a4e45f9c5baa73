"""scikit-learn estimators for the regularized mode (optional ``sklearn`` extra).

:class:`HierarchicalRegression` keeps hierreg's constructor names and its
``fit(X, y, groups)`` / ``predict(X, groups)`` calls.  ``groups`` may be a
pandas Series or DataFrame (several grouping columns, each adding its own
deviations), a list, or a 1-d or 2-d numpy array; every shape gives the same
fit (hierreg 0.1 silently dropped all group effects for a 1-d array).  A missing
group value (NaN/None) means "in no group" for that column: the row gets no
deviation, as in hierreg's documentation.  Deviations are fitted on every column
of ``X`` and on the intercept, as in hierreg.

Pipelines and ``cross_val_score`` pass only ``X`` to ``fit``/``predict``/``score``:
set ``group_cols`` to the positions (e.g. ``-1`` for the last column) or names of
the columns of ``X`` that hold the groups; they are split off ``X`` in every
call.  Predicting for a model fitted with groups requires groups (or
``group_cols``); unseen levels get only the shared coefficients.  Without
groups at all (``groups=None``, ``group_cols=None``) every row is in one group
and the fit is a plain linear (or logistic) model.

Differences from hierreg 0.1: ``l2_reg="cv"`` (default) chooses the penalty by
cross-validation (hierreg's fixed default 100 sets every deviation to about zero
on typical data; pass ``l2_reg=100.0`` to get it); ``loss="squared"`` (default,
hierreg's ``solver_interface="casadi"`` objective) is one linear solve, and
``loss="norm"`` (``solver_interface="cvxpy"``) hierreg's default objective via
cvxpy + Clarabel; any two labels work for classification; ``standardize`` and
``reweight_deviations`` are not implemented.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 2)); g = rng.integers(0, 4, 200)
>>> y = X @ [1.0, -1.0] + 0.5 * g + rng.normal(size=200)
>>> est = HierarchicalRegression(l2_reg=1e-3).fit(X, y, g)
>>> est.predict(X[:2], g[:2]).shape, est.group_effects_.shape
((2,), (3, 4))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from .core.structure import TermArrays, random_part
from .exceptions import DataError
from .formula.blocks import DesignBlocks, RandomBlock
from .formula.grouping import Grouping
from .models.response import binary_response
from .regularized.fit import fit_regularized_blocks

__all__ = ["FormulaHierarchicalRegression", "HierarchicalClassifier", "HierarchicalRegression"]

SOLVER_INTERFACES = {"cvxpy": "norm", "casadi": "squared"}


# ---------------------------------------------------------------------- groups
def _group_columns(groups: Any, n: int) -> list[tuple[str, Any]]:
    """Any accepted shape of ``groups`` -> ``[(name, 1-d values), ...]``, one per grouping."""
    if isinstance(groups, pd.DataFrame):
        cols = [(str(c), groups.iloc[:, j]) for j, c in enumerate(groups.columns)]
    elif isinstance(groups, pd.Series):
        cols = [(str(groups.name) if groups.name is not None else "group", groups)]
    else:
        arr = np.asarray(groups)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(f"groups must be 1-d or 2-d, got an array of shape {arr.shape}")
        cols = [
            (f"group{j}" if arr.shape[1] > 1 else "group", arr[:, j]) for j in range(arr.shape[1])
        ]
    out, seen = [], set()
    for name, values in cols:
        if len(values) != n:
            raise ValueError(f"groups has {len(values)} rows, X has {n}")
        while name in seen:
            name = f"{name}_"
        seen.add(name)
        if isinstance(values, pd.Series):
            values = values.reset_index(drop=True)
            if values.dtype == object:
                values = values.infer_objects()
        elif values.dtype == object:  # e.g. a column of a mixed 2-d array: numbers stay numbers
            values = pd.Series(values).infer_objects()
        out.append((name, values))
    return out


def _int_values(values: Any) -> np.ndarray | None:
    """The values as an int64 array when they are integers, else ``None``."""
    arr = values.to_numpy() if isinstance(values, pd.Series) else values
    if isinstance(arr, np.ndarray) and arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    return None


def _fit_grouping(name: str, values: Any) -> tuple[Grouping, np.ndarray]:
    """Sorted observed levels and codes (-1 for missing values) of one grouping column."""
    ints = _int_values(values)
    n = len(values)
    if ints is not None and n and ints.min() >= 0 and ints.max() < 4 * n + 1024:
        present = np.bincount(ints) > 0  # small non-negative integers: no hashing, no sort
        levels = np.flatnonzero(present)
        codes = ints if present.all() else (np.cumsum(present) - 1)[ints]
        index = pd.Index(levels)
        return Grouping(name, (name,), (index,), np.arange(len(levels)), index), codes
    return Grouping.fit_codes(pd.DataFrame({name: values}), (name,))


def _codes(grouping: Grouping, values: Any) -> np.ndarray:
    """Codes of new values (-1 for unseen or missing)."""
    ints = _int_values(values)
    levels = grouping.levels
    if ints is not None and levels.dtype.kind in "iu" and len(levels):
        lv = levels.to_numpy()
        pos = np.minimum(np.searchsorted(lv, ints), len(lv) - 1)
        return np.where(lv[pos] == ints, pos, -1).astype(np.int64)
    return grouping.codes(pd.DataFrame({grouping.factors[0]: values}))


@dataclass(frozen=True)
class ArraySpec:
    """The recipe of an array-built design (the estimators'), to rebuild it on new data.

    ``est.result_.predict(newdata)`` reads the feature columns (``feature_names``:
    the DataFrame's names at fit time, else ``x0, x1, ...``) and the grouping
    columns (``est.result_.group_names``) of ``newdata`` by name.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 1)); g = rng.integers(0, 3, 60)
    >>> est = HierarchicalRegression(l2_reg=0.1).fit(X, X[:, 0] + g, g)
    >>> new = pd.DataFrame({"x0": X[:2, 0], "group": g[:2]})
    >>> np.allclose(est.result_.predict(new), est.predict(X[:2], g[:2]))
    True
    """

    feature_names: tuple[str, ...]
    fit_intercept: bool
    x_names: tuple[str, ...]
    groupings: tuple[Grouping, ...]

    def reordered(self, order: Sequence[int]) -> ArraySpec:
        return replace(self, groupings=tuple(self.groupings[i] for i in order))

    def design(self, Xa: np.ndarray, cols: list[tuple[str, Any]], index: pd.Index) -> DesignBlocks:
        Xd = _with_intercept(Xa) if self.fit_intercept else Xa
        blocks = [
            RandomBlock(g.name, _codes(g, values), g.levels, Xd, list(self.x_names))
            for g, (_, values) in zip(self.groupings, cols, strict=True)
        ]
        return DesignBlocks(
            y=None, y_name="y", X=Xd, x_names=list(self.x_names), random=blocks, index=index
        )

    def rebuild(self, data: pd.DataFrame | Mapping[str, Any], response: bool = False):
        df = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
        names = [g.name for g in self.groupings]
        missing = [c for c in (*self.feature_names, *names) if c not in df.columns]
        if missing:
            raise DataError(
                f"column(s) {', '.join(map(repr, missing))} not found in the new data; the "
                f"model reads the features {list(self.feature_names)} and the groups {names}"
            )
        Xa = df[list(self.feature_names)].to_numpy(dtype=np.float64)
        if not np.isfinite(Xa).all():
            raise DataError("the new data have non-finite feature values (NaN or inf)")
        cols = [(nm, df[nm].reset_index(drop=True)) for nm in names]
        return self.design(Xa, cols, df.index)


def _with_intercept(Xa: np.ndarray) -> np.ndarray:
    Xd = np.empty((Xa.shape[0], Xa.shape[1] + 1))
    Xd[:, 0] = 1.0
    Xd[:, 1:] = Xa
    return Xd


# ------------------------------------------------------------------ estimators
class HierarchicalRegression(RegressorMixin, BaseEstimator):
    """Linear model with penalized group deviations (hierreg's interface).

    Parameters
    ----------
    l2_reg:
        Penalty on the deviations (hierreg's ``l2_reg``); ``"cv"`` (default)
        chooses it by group-stratified cross-validation, ``"reml"`` uses the
        REML mixed model's variance ratio (regression, squared loss only).
    l1_reg, linf_reg, main_l2_reg:
        hierreg's other penalties (``l1_reg``/``linf_reg`` go through cvxpy).
    problem:
        ``"regression"`` or ``"classification"`` (logistic, two labels).  For
        scikit-learn tools prefer :class:`HierarchicalClassifier`, which is
        tagged as a classifier.
    fit_intercept:
        Add an intercept column (with its own deviations).
    weight_by_nobs:
        hierreg's ``1/n_k`` weighting of the deviations.
    loss:
        ``"squared"`` (hierreg's casadi objective; one linear solve) or ``"norm"``
        (hierreg's default cvxpy objective with un-squared norms; slower).
    solver_interface:
        hierreg's name for the same choice: ``"casadi"`` -> squared, ``"cvxpy"``
        -> norm; overrides ``loss`` when given.
    group_cols:
        Positions or names of the columns of ``X`` holding the groups, used when
        ``groups`` is not passed (pipelines, ``cross_val_score``).
    cv, random_state:
        Folds and seed for ``l2_reg="cv"``.

    Attributes
    ----------
    coef_:
        Shared coefficients ``w`` (intercept first), as hierreg.
    coef2_:
        Deviations as a flat array in hierreg's layout (variable-major: all
        levels of variable 0, then variable 1, ...; levels of every grouping).
    group_effects_:
        The deviations as a DataFrame, variables x levels (hierreg's layout).
    deviations_:
        Per grouping, a DataFrame levels x variables.
    alpha_, cv_results_, result_:
        The penalty used, the cross-validation curve (``l2_reg="cv"``) and the
        underlying :class:`~hierreg_formula.regularized.RegularizedResults`.
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
        solver_interface: str | None = None,
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
        self.solver_interface = solver_interface
        self.group_cols = group_cols
        self.cv = cv
        self.random_state = random_state

    # -------------------------------------------------------------- helpers
    def _group_col_list(self) -> list[Any]:
        gc = self.group_cols
        return list(gc) if isinstance(gc, (list, tuple, np.ndarray, pd.Index)) else [gc]

    def _split(
        self, X: Any, groups: Any, predicting: bool = False
    ) -> tuple[np.ndarray, Any, list[str], int]:
        """``X`` as floats without the group columns, the groups, names, columns passed."""
        if isinstance(X, pd.DataFrame):
            ncols = X.shape[1]
        else:
            if not sp.issparse(X):  # sparse X: check_array below says it is not supported
                X = np.asarray(X)
            ncols = X.shape[1] if X.ndim == 2 else None
        known = getattr(self, "feature_names_in_", None) if predicting else None
        if known is not None and isinstance(X, pd.DataFrame):
            given = [str(c) for c in X.columns]
            if given != [str(c) for c in known]:
                raise ValueError(
                    "the columns of X differ from those seen in fit (renamed, reordered, added "
                    f"or missing): fit {list(map(str, known))}, now {given}; predictions would "
                    "use the wrong columns"
                )
        if groups is None and self.group_cols is not None:
            cols = self._group_col_list()
            if isinstance(X, pd.DataFrame):
                names = [
                    X.columns[c] if isinstance(c, (int, np.integer)) and c not in X.columns else c
                    for c in cols
                ]
                groups = X[names]
                X = X.drop(columns=names)
            else:
                if any(isinstance(c, str) for c in cols):
                    raise ValueError("group_cols given by name need X as a pandas DataFrame")
                arr = np.asarray(X)
                if arr.ndim != 2:
                    raise ValueError(f"X must be 2-d, got shape {arr.shape}")
                idx = sorted({int(c) % arr.shape[1] for c in cols})
                groups = arr[:, idx]
                X = np.delete(arr, idx, axis=1)
        names = [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else None
        Xa = check_array(X, dtype=np.float64, ensure_min_samples=1)
        if names is None:
            names = [f"x{j}" for j in range(Xa.shape[1])]
        return Xa, groups, names, Xa.shape[1] if ncols is None else ncols

    def _design(self, Xa: np.ndarray) -> np.ndarray:
        return _with_intercept(Xa) if self.fit_intercept else Xa

    def _loss(self) -> str:
        if self.solver_interface is None:
            return self.loss
        if self.solver_interface not in SOLVER_INTERFACES:
            raise ValueError(
                f"solver_interface must be 'cvxpy' or 'casadi', got {self.solver_interface!r}"
            )
        return SOLVER_INTERFACES[self.solver_interface]

    def _is_classifier(self) -> bool:
        return self.problem == "classification"

    # ------------------------------------------------------------------ API
    def fit(self, X: Any, y: Any, groups: Any = None) -> HierarchicalRegression:
        """Fit ``w`` and the deviations of every group level.

        Parameters
        ----------
        X:
            Predictors (n, p) (plus the group columns when ``group_cols`` is set).
        y:
            Response; for classification any two labels.
        groups:
            Series, DataFrame, list, 1-d or 2-d array of group labels.
        """
        if self.problem not in ("regression", "classification"):
            raise ValueError(
                f"problem must be 'regression' or 'classification', got {self.problem!r}"
            )
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        Xa, groups, names, ncols = self._split(X, groups)
        n = len(Xa)
        if n < 2:
            raise ValueError(f"need at least 2 samples, got n_samples = {n}")
        self.n_features_in_ = ncols
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        yarr = np.asarray(y)
        labels = None
        if self._is_classifier():
            yobj = column_or_1d(yarr.astype(object) if yarr.dtype == object else yarr, warn=True)
            check_classification_targets(yobj)
            yv, labels = binary_response(pd.Series(yobj), "y")
            self.classes_ = np.asarray(labels)
        else:
            yv = column_or_1d(yarr, warn=True).astype(float)
            if not np.isfinite(yv).all():
                raise ValueError("y contains NaN or infinite values")
        if len(yv) != n:
            raise ValueError(f"y has {len(yv)} rows, X has {n}")
        self._with_groups = groups is not None
        cols = _group_columns(groups, n) if groups is not None else [("group", np.zeros(n, int))]
        x_names = (["Intercept"] if self.fit_intercept else []) + names
        self._groupings = [_fit_grouping(name, values)[0] for name, values in cols]
        spec = ArraySpec(
            tuple(names), bool(self.fit_intercept), tuple(x_names), tuple(self._groupings)
        )
        design = replace(spec.design(Xa, cols, pd.RangeIndex(n)), y=yv, spec=spec)
        res = fit_regularized_blocks(
            "",
            design,
            alpha=self.l2_reg,
            loss=self._loss(),
            l1=self.l1_reg,
            linf=self.linf_reg,
            main_l2=self.main_l2_reg,
            weight_by_nobs=self.weight_by_nobs,
            family="binomial" if self._is_classifier() else "gaussian",
            cv=self.cv,
            random_state=self.random_state,
            labels=labels,
        )
        kept = res.exog_names  # columns dropped as linearly dependent get 0
        coef = np.zeros(len(x_names))
        coef[[x_names.index(c) for c in kept]] = res._beta
        self.coef_ = coef
        effects = res.random_effects  # keyed by grouping (the fit may reorder them)
        self.v_ = [effects[g.name].to_numpy() for g in self._groupings]
        self._x_names = x_names
        self.alpha_ = res.alpha
        self.cv_results_ = res.cv_results_
        self.result_ = res
        return self

    @property
    def deviations_(self) -> list[pd.DataFrame]:
        """Per grouping, the deviations as a DataFrame levels x variables."""
        check_is_fitted(self, "coef_")
        return [
            pd.DataFrame(v, index=g.levels, columns=self._x_names)
            for v, g in zip(self.v_, self._groupings, strict=True)
        ]

    @property
    def group_effects_(self) -> pd.DataFrame:
        """hierreg's layout: variables x levels (``<grouping>_<level>`` with several groupings)."""
        check_is_fitted(self, "coef_")
        many = len(self._groupings) > 1
        labels = [f"{g.name}_{lv}" if many else str(lv) for g in self._groupings for lv in g.levels]
        V = np.concatenate(self.v_, axis=0).T
        return pd.DataFrame(V, index=self._x_names, columns=labels)

    @property
    def coef2_(self) -> np.ndarray:
        """hierreg's flat deviations: variable-major (all levels of variable 0 first)."""
        check_is_fitted(self, "coef_")
        return np.concatenate(self.v_, axis=0).T.ravel()

    def _eta(self, X: Any, groups: Any) -> np.ndarray:
        check_is_fitted(self, "coef_")
        Xa, groups, _, ncols = self._split(X, groups, predicting=True)
        if ncols != self.n_features_in_:
            raise ValueError(
                f"X has {ncols} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        Xd = self._design(Xa)
        if groups is None:
            if self._with_groups:
                raise ValueError(
                    "this model was fitted with groups: pass groups=... to predict (or set "
                    "group_cols so that X carries them)"
                )
            cols = [("group", np.zeros(len(Xa), int))]
        else:
            cols = _group_columns(groups, len(Xa))
        if len(cols) != len(self._groupings):
            raise ValueError(f"groups has {len(cols)} columns, fitted with {len(self._groupings)}")
        terms = [  # matched by position, as hierreg; unseen levels (code -1) add nothing
            TermArrays(_codes(grouping, values), grouping.levels.size, Xd)
            for (_, values), grouping in zip(cols, self._groupings, strict=True)
        ]
        return Xd @ self.coef_ + random_part(terms, self.v_)

    def predict(self, X: Any, groups: Any = None, prob: bool = False) -> np.ndarray:
        """Predictions; unseen groups get only the shared coefficients.

        For classification: labels, or with ``prob=True`` (hierreg's argument)
        the probability of ``classes_[1]``.
        """
        eta = self._eta(X, groups)
        if not self._is_classifier():
            return eta
        if prob:
            return 1.0 / (1.0 + np.exp(-eta))
        return np.where(eta >= 0, self.classes_[1], self.classes_[0])

    @available_if(_is_classifier)
    def predict_proba(self, X: Any, groups: Any = None) -> np.ndarray:
        """Class probabilities ``(n, 2)`` in the order of ``classes_``."""
        p = 1.0 / (1.0 + np.exp(-self._eta(X, groups)))
        return np.column_stack([1.0 - p, p])

    @available_if(_is_classifier)
    def decision_function(self, X: Any, groups: Any = None) -> np.ndarray:
        """The linear predictor (log-odds of ``classes_[1]``)."""
        return self._eta(X, groups)

    def score(self, X: Any, y: Any, sample_weight: Any = None, groups: Any = None) -> float:
        """R^2 (regression) or accuracy (classification) of ``predict(X, groups)``."""
        from sklearn.metrics import accuracy_score, r2_score

        pred = self.predict(X, groups)
        if self._is_classifier():
            return float(accuracy_score(y, pred, sample_weight=sample_weight))
        return float(r2_score(y, pred, sample_weight=sample_weight))


class HierarchicalClassifier(ClassifierMixin, HierarchicalRegression):
    """:class:`HierarchicalRegression` with ``problem="classification"`` (logistic).

    Tagged as a binary classifier for scikit-learn (scoring, stratified CV).

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(300, 1)); g = rng.integers(0, 3, 300)
    >>> y = np.where(X[:, 0] + 0.5 * g + rng.logistic(size=300) > 0.5, "yes", "no")
    >>> clf = HierarchicalClassifier(l2_reg=0.1).fit(X, y, g)
    >>> clf.classes_.tolist(), clf.predict_proba(X[:3], g[:3]).shape
    (['no', 'yes'], (3, 2))
    """

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
        solver_interface: str | None = None,
        group_cols: Any = None,
        cv: int = 5,
        random_state: int = 0,
    ) -> None:
        super().__init__(
            l2_reg=l2_reg,
            l1_reg=l1_reg,
            linf_reg=linf_reg,
            main_l2_reg=main_l2_reg,
            problem=problem,
            fit_intercept=fit_intercept,
            weight_by_nobs=weight_by_nobs,
            loss=loss,
            solver_interface=solver_interface,
            group_cols=group_cols,
            cv=cv,
            random_state=random_state,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False  # logistic: exactly two labels
        return tags

    def fit(self, X: Any, y: Any, groups: Any = None) -> HierarchicalClassifier:
        """Fit the logistic model; ``y`` must have exactly two labels."""
        if self.problem != "classification":
            raise ValueError("HierarchicalClassifier needs problem='classification'")
        if y is not None:
            yarr = np.asarray(y)
            check_classification_targets(yarr.astype(object) if yarr.dtype == object else yarr)
            kind = type_of_target(yarr.astype(object) if yarr.dtype == object else yarr)
            nlab = len(pd.unique(pd.Series(yarr.ravel()).dropna()))
            if nlab < 2:
                raise ValueError("Classifier can't train when only one class is present.")
            if kind != "binary":
                raise ValueError(
                    f"Only binary classification is supported (logistic loss); y has {nlab} labels"
                )
        return super().fit(X, y, groups)


class FormulaHierarchicalRegression(RegressorMixin, BaseEstimator):
    """Formula-based estimator: ``fit(df)`` / ``predict(df)`` with any ``method``.

    The formula names the response, so ``fit`` takes the whole DataFrame (``y`` is
    ignored) and ``score`` reads the response from it: this works as is in
    ``cross_val_score(est, df)`` and ``GridSearchCV(est, {"alpha": [...]})``.

    Parameters
    ----------
    formula:
        lme4-style formula, e.g. ``"y ~ x + (1 + x | g)"``.
    method:
        ``"regularized"`` (default), ``"reml"`` or ``"ml"``.
    alpha, loss, l1, linf, main_l2, weight_by_nobs, family, cv, random_state:
        Options of :func:`~hierreg_formula.regularized.fit_regularized` (used by
        ``method="regularized"`` only).
    missing:
        ``"drop"`` or ``"raise"``.

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
        l1: float = 0.0,
        linf: float = 0.0,
        main_l2: float = 0.0,
        weight_by_nobs: bool = True,
        family: str = "gaussian",
        cv: int = 5,
        random_state: int = 0,
        missing: str = "drop",
    ) -> None:
        self.formula = formula
        self.method = method
        self.alpha = alpha
        self.loss = loss
        self.l1 = l1
        self.linf = linf
        self.main_l2 = main_l2
        self.weight_by_nobs = weight_by_nobs
        self.family = family
        self.cv = cv
        self.random_state = random_state
        self.missing = missing

    def fit(self, X: pd.DataFrame, y: Any = None) -> FormulaHierarchicalRegression:
        """Fit the formula on the DataFrame ``X`` (which holds the response)."""
        from .api import fit as _fit

        kw: dict[str, Any] = {}
        if self.method == "regularized":
            kw = dict(
                alpha=self.alpha,
                loss=self.loss,
                l1=self.l1,
                linf=self.linf,
                main_l2=self.main_l2,
                weight_by_nobs=self.weight_by_nobs,
                family=self.family,
                cv=self.cv,
                random_state=self.random_state,
            )
        self.result_ = _fit(self.formula, X, method=self.method, missing=self.missing, **kw)
        return self

    def _binomial(self) -> bool:
        return getattr(self.result_, "family", "gaussian") == "binomial"

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predictions (probabilities of the positive label for ``family="binomial"``)."""
        check_is_fitted(self, "result_")
        return self.result_.predict(X).to_numpy()

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """``(n, 2)`` probabilities of ``result_.classes_`` (``family="binomial"`` only)."""
        check_is_fitted(self, "result_")
        if not self._binomial():
            raise ValueError("predict_proba needs family='binomial'")
        p = self.result_.predict(X, kind="prob").to_numpy()
        return np.column_stack([1.0 - p, p])

    def score(self, X: pd.DataFrame, y: Any = None, sample_weight: Any = None) -> float:
        """R^2 (gaussian) or accuracy (binomial) on the formula's response in ``X``."""
        from sklearn.metrics import accuracy_score, r2_score

        check_is_fitted(self, "result_")
        if y is not None:
            yv = y
        elif self.result_.endog_name in X.columns:
            yv = X[self.result_.endog_name]
        else:  # a response expression such as np.log(y)
            yv = self.result_.model_blocks.spec.rebuild(X, response=True).y
        if self._binomial():
            pred = self.result_.predict(X, kind="label")
            return float(
                accuracy_score(np.asarray(yv), pred.to_numpy(), sample_weight=sample_weight)
            )
        return float(r2_score(yv, self.predict(X), sample_weight=sample_weight))
