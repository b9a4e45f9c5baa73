"""Side by side with statsmodels' MixedLM.

The fitted model is translated into ``smf.mixedlm`` form (:func:`translate`):

- one grouping factor: ``groups=`` that factor, ``re_formula=`` its multi-column
  (correlated) term or its random intercept, and every other single-column term
  on it (the ``||`` columns) as a variance component within the group;
- a grouping factor ``g`` in which every other one is nested (``(1 | a/b)``,
  ``(x | g) + (1 | g:h)``): as above with ``groups=g``, and the terms of the
  nested factors as variance components ``"0 + C(h)"`` / ``"0 + C(h):x"``
  within the groups of ``g``; only the terms on ``g`` may have several columns;
- crossed grouping factors with single-column terms only: variance components
  ``"0 + C(a)"``, ``"0 + C(a):C(b)"``, ``"0 + C(a):x"`` on one all-rows group.

Anything else (two multi-column terms, a multi-column term with a crossed
factor, a multi-column ``||`` factor term) raises :class:`NotExpressibleError`
naming the term.  statsmodels is then fitted with the same REML/ML choice,
trying the optimizers ``lbfgs``, ``bfgs`` and ``powell`` until one converges
(a "converged" stop below our log-likelihood counts as an early stop), and :class:`MixedLMComparison` lines the two fits up.

Example
-------
>>> import hierreg_formula as hierreg
>>> cmp = hierreg.compare_mixedlm("Yield ~ 1 + (1 | Batch)", hierreg.load_dataset("Dyestuff"))
>>> list(cmp.fixed_effects.columns)
['hierreg', 'mixedlm', 'difference']
>>> cmp.max_rel_diff()["variance_components"] < 1e-3
True
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import HierregError
from ..formula.blocks import group_blocks

__all__ = [
    "MixedLMComparison",
    "MixedLMSpec",
    "NotExpressibleError",
    "compare_results",
    "translate",
]

#: optimizers tried in turn (statsmodels' advice for hard MixedLM fits)
DEFAULT_METHODS: tuple[str, ...] = ("lbfgs", "bfgs", "powell")


class NotExpressibleError(HierregError):
    """statsmodels' MixedLM cannot express this random-effects structure."""


@dataclass(frozen=True)
class _Component:
    """How one random block of our fit appears in statsmodels.

    ``kind`` is ``"re"`` (the columns of ``re_formula``), ``"vc_group"`` (a
    variance component with one column per group of ``groups=``) or
    ``"vc_levels"`` (a variance component with one column per level of the
    block's own grouping factor, inside the groups of ``groups=``).
    """

    block: int
    kind: str
    key: str | None = None
    inner: tuple[str, ...] = ()


@dataclass(frozen=True)
class MixedLMSpec:
    """An ``smf.mixedlm`` call equivalent to a fitted model.

    Attributes
    ----------
    formula:
        The fixed part, ``"<response> ~ <fixed>"``.
    groups:
        Name of the grouping factor passed as ``groups=`` (its level labels are
        passed as an array), or ``None`` for one all-rows group.
    re_formula:
        statsmodels' ``re_formula`` (``"0"`` when there is no per-group block).
    vc_formula:
        statsmodels' ``vc_formula`` (``None`` when empty).

    Examples
    --------
    >>> import hierreg_formula as hierreg
    >>> res = hierreg.fit("Reaction ~ Days + (Days || Subject)",
    ...                   hierreg.load_dataset("sleepstudy"))
    >>> spec = translate(res)
    >>> spec.groups, spec.re_formula, spec.vc_formula
    ('Subject', '1', {'Days': '0 + Days'})
    """

    formula: str
    groups: str | None
    re_formula: str
    vc_formula: dict[str, str] | None
    components: tuple[_Component, ...] = field(repr=False, default=())

    @property
    def call(self) -> dict[str, Any]:
        """The keyword arguments of ``smf.mixedlm`` as text (for display)."""
        out: dict[str, Any] = {
            "formula": self.formula,
            "groups": self.groups if self.groups is not None else "np.ones(n)",
            "re_formula": self.re_formula,
        }
        if self.vc_formula:
            out["vc_formula"] = dict(self.vc_formula)
        return out

    def __str__(self) -> str:
        return "smf.mixedlm(" + ", ".join(f"{k}={v!r}" for k, v in self.call.items()) + ")"


def _label(term: Any) -> str:
    return f"({term.expr} | {term.group})"


def _slope(expr: str) -> str:
    """The column expression of a single-column slope term ``"0 + x"``."""
    return expr[4:] if expr.startswith("0 + ") else expr


def _nested_in(inner: np.ndarray, outer: np.ndarray) -> bool:
    """Whether every level of the ``inner`` codes lies within one level of ``outer``."""
    n_outer = int(outer.max()) + 1
    pairs = np.unique(inner.astype(np.int64) * n_outer + outer)
    return len(np.unique(pairs // n_outer)) == len(pairs)


def _unique_key(name: str, used: set[str]) -> str:
    key = re.sub(r"[\[\]]", "_", name)
    base, i = key, 1
    while key in used:
        i += 1
        key = f"{base}.{i}"
    used.add(key)
    return key


def translate(res: Any) -> MixedLMSpec:
    """The ``smf.mixedlm`` call equivalent to the fitted model ``res``.

    Parameters
    ----------
    res:
        A REML/ML fit (:class:`~hierreg_formula.results.lmm.LMMResults`).

    Returns
    -------
    MixedLMSpec
        The fixed formula, ``groups``, ``re_formula`` and ``vc_formula``.

    Raises
    ------
    NotExpressibleError
        When statsmodels cannot express the random-effects structure; the
        message names the term(s) in question.

    Examples
    --------
    >>> import hierreg_formula as hierreg
    >>> res = hierreg.fit("diameter ~ 1 + (1 | plate) + (1 | sample)",
    ...                   hierreg.load_dataset("Penicillin"))
    >>> print(translate(res))  # doctest: +NORMALIZE_WHITESPACE
    smf.mixedlm(formula='diameter ~ 1', groups='np.ones(n)', re_formula='0',
                vc_formula={'plate': '0 + C(plate)', 'sample': '0 + C(sample)'})
    """
    blocks = res.model_blocks
    parsed = blocks.spec.parsed
    if blocks.offset is not None or getattr(res, "_offset_argument", False):
        raise NotExpressibleError(
            "statsmodels MixedLM has no offset: the model's offset cannot be translated"
        )
    if getattr(res, "weights", None) is not None:
        raise NotExpressibleError("statsmodels MixedLM has no prior weights")
    terms = list(parsed.random)
    if len(terms) != len(blocks.random):  # pragma: no cover - formula-layer contract
        raise HierregError("random terms and design blocks do not match")
    fixed = f"{parsed.response} ~ {parsed.fixed}"
    ncols = [blk.ncols for blk in blocks.random]
    vector = [i for i, k in enumerate(ncols) if k > 1]
    groups = list(dict.fromkeys(t.group for t in terms))

    if len(vector) > 1:
        a, b = terms[vector[0]], terms[vector[1]]
        where = f"on {a.group!r}" if a.group == b.group else "on different grouping factors"
        raise NotExpressibleError(
            f"statsmodels MixedLM cannot express {_label(a)} and {_label(b)}: two multi-column "
            f"random terms {where}, and MixedLM has a single correlated block (re_formula); "
            "its variance components are single columns"
        )
    if vector and not terms[vector[0]].correlated:
        t = terms[vector[0]]
        raise NotExpressibleError(
            f"statsmodels MixedLM cannot express {_label(t)} from ||: its {ncols[vector[0]]} "
            "columns have an unstructured covariance but are uncorrelated with the other terms"
            f" on {t.group!r}"
        )

    used: set[str] = set()
    comps: list[_Component] = []
    vc: dict[str, str] = {}
    first_block = {g: [t.group for t in terms].index(g) for g in groups}

    def holds_all(g: str) -> bool:
        outer = blocks.random[first_block[g]].codes
        return all(
            _nested_in(blocks.random[i].codes, outer) for i, t in enumerate(terms) if t.group != g
        )

    if vector:
        primary: str | None = terms[vector[0]].group
        for i, t in enumerate(terms):
            pcodes = blocks.random[first_block[primary]].codes
            if t.group != primary and not _nested_in(blocks.random[i].codes, pcodes):
                v = terms[vector[0]]
                raise NotExpressibleError(
                    f"statsmodels MixedLM cannot express {_label(v)} together with {_label(t)}: "
                    f"the multi-column term needs groups={primary!r}, and {t.group!r} is not "
                    f"nested in {primary!r} (crossed factors are variance components of one "
                    "all-rows group, which holds single-column terms only)"
                )
    else:
        primary = next((g for g in groups if holds_all(g)), None)
    if primary is not None:
        pfactors = set(terms[first_block[primary]].factors)
        own = [i for i, t in enumerate(terms) if t.group == primary]
        if vector:
            re_idx = vector[0]
        else:
            intercepts = [i for i in own if terms[i].intercept]
            re_idx = intercepts[0] if intercepts else own[0]
        re_formula = terms[re_idx].expr
        for i, t in enumerate(terms):
            if i == re_idx:
                comps.append(_Component(i, "re"))
                continue
            inner = tuple(f for f in t.factors if f not in pfactors)
            if t.group == primary or not inner:
                key = _unique_key(blocks.random[i].names[0], used)
                vc[key] = "1" if t.intercept else t.expr
                comps.append(_Component(i, "vc_group", key))
            else:
                key = _unique_key(
                    t.group if t.intercept else f"{t.group}:{blocks.random[i].names[0]}", used
                )
                dummies = ":".join(f"C({f})" for f in inner)
                vc[key] = f"0 + {dummies}" if t.intercept else f"0 + {dummies}:{_slope(t.expr)}"
                comps.append(_Component(i, "vc_levels", key, inner))
        return MixedLMSpec(fixed, primary, re_formula, vc or None, tuple(comps))

    for i, t in enumerate(terms):
        key = _unique_key(
            t.group if t.intercept else f"{t.group}:{blocks.random[i].names[0]}", used
        )
        dummies = ":".join(f"C({f})" for f in t.factors)
        vc[key] = f"0 + {dummies}" if t.intercept else f"0 + {dummies}:{_slope(t.expr)}"
        comps.append(_Component(i, "vc_levels", key, tuple(t.factors)))
    return MixedLMSpec(fixed, None, "0", vc, tuple(comps))


# ----------------------------------------------------------------- fitting


def _model_frame(res: Any, data: pd.DataFrame | None) -> pd.DataFrame:
    blocks = res.model_blocks
    if data is None:
        data = res.model_data
        if data is None:
            raise HierregError(
                "the results do not keep their data; pass data= (the fitting data frame)"
            )
    else:
        data = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
        if len(data) != blocks.nobs:
            data = data.loc[blocks.index]
    return data.reset_index(drop=True)


def _group_labels(res: Any, spec: MixedLMSpec) -> np.ndarray:
    blocks = res.model_blocks
    if spec.groups is None:
        return np.ones(blocks.nobs, dtype=np.int64)
    blk = next(b for b in blocks.random if b.group == spec.groups)
    return np.asarray(blk.levels, dtype=object)[blk.codes]


def _fit_statsmodels(
    spec: MixedLMSpec,
    data: pd.DataFrame,
    groups: np.ndarray,
    reml: bool,
    methods: Sequence[str],
    fit_kwargs: dict[str, Any],
    target_llf: float = np.inf,
) -> tuple[Any, list[str]]:
    """Fit with each optimizer in turn until one converges to a log-likelihood
    no worse than ``target_llf`` (ours) by more than 1e-6 relative; keep the
    best converged fit (statsmodels' lbfgs sometimes stops early but flags it as
    converged)."""
    import statsmodels.formula.api as smf

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = smf.mixedlm(
                spec.formula,
                data,
                groups=groups,
                re_formula=spec.re_formula,
                vc_formula=spec.vc_formula,
            )
    except Exception as err:  # patsy cannot read a formulaic construct, ...
        raise HierregError(f"statsmodels could not build {spec}: {err}") from err
    notes: list[str] = []
    best = None
    for method in methods:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fitted = model.fit(reml=reml, method=[method], **fit_kwargs)
            except (np.linalg.LinAlgError, ValueError, FloatingPointError) as err:
                notes.append(f"{method}: {type(err).__name__}: {err}")
                continue
        notes.extend(f"{method}: {w.message}" for w in caught)
        if not (np.isfinite(fitted.llf) and np.all(np.isfinite(fitted.fe_params))):
            notes.append(f"{method}: degenerate fit (log-likelihood {fitted.llf}); discarded")
            continue
        if best is None or (fitted.converged, fitted.llf) > (best.converged, best.llf):
            best = fitted
        if fitted.converged:
            if fitted.llf >= target_llf - 1e-6 * max(1.0, abs(target_llf)):
                break
            notes.append(
                f"{method}: converged at log-likelihood {fitted.llf:.6f}, below hierreg's "
                f"{target_llf:.6f}; trying the next optimizer"
            )
    if best is None:
        raise HierregError(f"statsmodels MixedLM failed with every optimizer: {notes}")
    return best, notes


# ------------------------------------------------------------------ tables


def _name_map(ours: list[str], theirs: list[str]) -> list[str | None]:
    """statsmodels' name of each of our columns: by name, else by position."""
    theirs = ["Intercept" if t == "Group" else t for t in theirs]
    if all(o in theirs for o in ours):
        return list(ours)
    if len(ours) == len(theirs):
        return list(theirs)
    return [o if o in theirs else None for o in ours]


def _aligned(ours: pd.Series, theirs: pd.Series) -> np.ndarray:
    names = _name_map(list(ours.index), list(theirs.index))
    theirs = theirs.rename(index=lambda c: "Intercept" if c == "Group" else c)
    return np.array([theirs.get(n, np.nan) if n is not None else np.nan for n in names])


def _table(ours: Any, theirs: Any, index: list[str]) -> pd.DataFrame:
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    return pd.DataFrame(
        {"hierreg": ours, "mixedlm": theirs, "difference": ours - theirs}, index=index
    )


_LEVEL = re.compile(r"C\(([^)]*)\)\[(.*?)\]")


def _level_lookup(
    data: pd.DataFrame, groups: np.ndarray, inner: tuple[str, ...], codes: np.ndarray
) -> dict[tuple[Any, str], int]:
    """(statsmodels group label, ``"lev1:lev2"``) -> our level code."""
    frame = pd.DataFrame(
        {
            "g": groups,
            "inner": data[list(inner)].astype(str).agg(":".join, axis=1).to_numpy(),
            "code": codes,
        }
    ).drop_duplicates(["g", "inner"])
    return {(g, s): int(c) for g, s, c in frame.itertuples(index=False)}


def _sm_block_effects(
    res: Any,
    fitted: Any,
    spec: MixedLMSpec,
    comp: _Component,
    data: pd.DataFrame,
    groups: np.ndarray,
) -> np.ndarray:
    """statsmodels' conditional modes of one of our blocks, ``(L, k)``, NaN if missing."""
    blk = res.model_blocks.random[comp.block]
    out = np.full((blk.nlevels, blk.ncols), np.nan)
    try:
        re_dict = fitted.random_effects
    except (ValueError, np.linalg.LinAlgError):  # singular covariance: statsmodels refuses
        return out
    if comp.kind == "re":
        names = _name_map(list(blk.names), list(fitted.model.data.exog_re_names))
        for j, lev in enumerate(blk.levels):
            s = re_dict.get(lev)
            if s is None:
                continue
            s = s.rename(index=lambda c: "Intercept" if c == "Group" else c)
            out[j] = [s.get(n, np.nan) if n is not None else np.nan for n in names]
        return out
    prefix = f"{comp.key}["
    if comp.kind == "vc_group":
        for j, lev in enumerate(blk.levels):
            s = re_dict.get(lev)
            if s is None:
                continue
            hit = [v for name, v in s.items() if str(name).startswith(prefix)]
            if len(hit) == 1:
                out[j, 0] = hit[0]
        return out
    lookup = _level_lookup(data, groups, comp.inner, blk.codes)
    for g, s in re_dict.items():
        for name, v in s.items():
            name = str(name)
            if not name.startswith(prefix):
                continue
            inner = ":".join(lev for _, lev in _LEVEL.findall(name[len(prefix) : -1]))
            code = lookup.get((g, inner))
            if code is not None:
                out[code, 0] = v
    return out


def _variance_rows(
    res: Any, fitted: Any, spec: MixedLMSpec
) -> tuple[list[str], list[float], list[float]]:
    blocks = res.model_blocks
    vc = res.varcorr()
    vcomp = dict(zip(fitted.model.exog_vc.names, np.atleast_1d(fitted.vcomp), strict=False))
    cov = fitted.cov_re.rename(
        index=lambda c: "Intercept" if c == "Group" else c,
        columns=lambda c: "Intercept" if c == "Group" else c,
    )
    labels: list[str] = []
    ours: list[float] = []
    theirs: list[float] = []
    pos = 0
    for comp in spec.components:  # in block order, as varcorr()
        blk = blocks.random[comp.block]
        k = blk.ncols
        nrows = k + k * (k - 1) // 2
        rows = vc.iloc[pos : pos + nrows]
        pos += nrows
        sm: dict[str, str | None] = {}
        if comp.kind == "re":
            names = _name_map(list(blk.names), list(cov.index))
            sm = {o: t for o, t in zip(blk.names, names, strict=True)}
        for _, r in rows.iterrows():
            if pd.isna(r["var2"]):
                labels.append(f"{r['group']} {r['var1']} Var")
                if comp.kind == "re":
                    a = sm[r["var1"]]
                    v = cov.loc[a, a] if a is not None else np.nan
                else:
                    v = vcomp.get(comp.key, np.nan)
            else:
                labels.append(f"{r['group']} {r['var1']} x {r['var2']} Cov")
                a, b = sm[r["var1"]], sm[r["var2"]]
                v = cov.loc[a, b] if a is not None and b is not None else np.nan
            ours.append(float(r["variance"]))
            theirs.append(float(v))
    labels.append("Residual")
    ours.append(float(res.scale))
    theirs.append(float(fitted.scale))
    return labels, ours, theirs


@dataclass
class MixedLMComparison:
    """This package's fit and statsmodels' MixedLM fit of the same model, side by side.

    Attributes
    ----------
    fixed_effects, std_errors:
        Per fixed-effects column: ``hierreg``, ``mixedlm``, ``difference``.
    variance_components:
        Per variance / covariance (lme4's ``VarCorr`` order) and ``Residual``:
        ``hierreg``, ``mixedlm``, ``difference``.
    random_effects:
        Per grouping factor, the conditional modes of every level: columns
        ``(column, "hierreg" | "mixedlm" | "difference")``.
    fit_info:
        Log-likelihood, convergence flag and method of both fits.
    spec:
        The translated statsmodels call (:class:`MixedLMSpec`).
    statsmodels_result:
        statsmodels' ``MixedLMResults``.
    warnings:
        Warnings and errors statsmodels raised while fitting (``"<optimizer>: ..."``).

    Examples
    --------
    >>> import hierreg_formula as hierreg
    >>> res = hierreg.fit("Reaction ~ Days + (Days | Subject)",
    ...                   hierreg.load_dataset("sleepstudy"))
    >>> cmp = res.compare_mixedlm()
    >>> cmp.variance_components.index.tolist()
    ['Subject Intercept Var', 'Subject Days Var', 'Subject Intercept x Days Cov', 'Residual']
    >>> bool(cmp.max_rel_diff()["fixed_effects"] < 1e-6)
    True
    """

    fixed_effects: pd.DataFrame
    std_errors: pd.DataFrame
    variance_components: pd.DataFrame
    random_effects: dict[str, pd.DataFrame]
    fit_info: pd.DataFrame
    spec: MixedLMSpec
    statsmodels_result: Any = field(repr=False, default=None)
    warnings: list[str] = field(default_factory=list)

    @property
    def statsmodels_call(self) -> dict[str, Any]:
        """The ``smf.mixedlm`` keyword arguments (``groups`` by name)."""
        return self.spec.call

    def _tables(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        out = {
            name: (t["hierreg"].to_numpy(float), t["mixedlm"].to_numpy(float))
            for name, t in [
                ("fixed_effects", self.fixed_effects),
                ("std_errors", self.std_errors),
                ("variance_components", self.variance_components),
            ]
        }
        for g, t in self.random_effects.items():
            out[f"random_effects[{g}]"] = (
                t.xs("hierreg", axis=1, level=1).to_numpy(float),
                t.xs("mixedlm", axis=1, level=1).to_numpy(float),
            )
        return out

    def max_abs_diff(self) -> dict[str, float]:
        """Largest absolute difference in each table (NaN where statsmodels has no value).

        Returns
        -------
        dict
            ``fixed_effects``, ``std_errors``, ``variance_components`` and
            ``random_effects[<group>]`` -> largest ``|hierreg - mixedlm|``.

        Examples
        --------
        >>> import hierreg_formula as hierreg
        >>> cmp = hierreg.compare_mixedlm("Yield ~ 1 + (1 | Batch)",
        ...                               hierreg.load_dataset("Dyestuff"))
        >>> sorted(cmp.max_abs_diff())
        ['fixed_effects', 'random_effects[Batch]', 'std_errors', 'variance_components']
        """
        out = {}
        for name, (a, b) in self._tables().items():
            d = np.abs(a - b)
            out[name] = float(np.nan if np.isnan(d).any() else d.max(initial=0.0))
        return out

    def max_rel_diff(self) -> dict[str, float]:
        """:meth:`max_abs_diff` divided by the largest absolute value in each table.

        A scale-relative measure: entries near zero do not blow it up (and a
        component estimated as zero by both fits gives a small number whatever
        its noise).

        Examples
        --------
        >>> import hierreg_formula as hierreg
        >>> cmp = hierreg.compare_mixedlm("Yield ~ 1 + (1 | Batch)",
        ...                               hierreg.load_dataset("Dyestuff"))
        >>> cmp.max_rel_diff()["random_effects[Batch]"] < 1e-3
        True
        """
        absd = self.max_abs_diff()
        out = {}
        for name, (a, b) in self._tables().items():
            scale = float(np.nanmax(np.abs(np.concatenate([a.ravel(), b.ravel()])), initial=0.0))
            out[name] = absd[name] / scale if scale > 0 else absd[name]
        return out

    def __str__(self) -> str:
        fmt = {"float_format": lambda v: f"{v:.6g}"}
        parts = [
            "Comparison with statsmodels MixedLM",
            "call: smf.mixedlm("
            + ", ".join(f"{k}={v!r}" for k, v in self.statsmodels_call.items())
            + ")",
            "",
            "Fixed effects",
            self.fixed_effects.to_string(**fmt),
            "",
            "Standard errors",
            self.std_errors.to_string(**fmt),
            "",
            "Variance components",
            self.variance_components.to_string(**fmt),
            "",
            "Fit",
            self.fit_info.to_string(),
        ]
        for g, t in self.random_effects.items():
            parts += [
                "",
                f"Random effects: {g} (first 5 levels of {len(t)})",
                t.head().to_string(**fmt),
            ]
        if self.warnings:
            parts += ["", "statsmodels warnings:"] + [f"  {w}" for w in self.warnings]
        return "\n".join(parts)

    __repr__ = __str__


def compare_results(
    res: Any,
    *,
    data: pd.DataFrame | None = None,
    methods: Sequence[str] = DEFAULT_METHODS,
    **fit_kwargs: Any,
) -> MixedLMComparison:
    """Fit the model of ``res`` with statsmodels' MixedLM and compare the two fits.

    Parameters
    ----------
    res:
        A REML or ML fit of this package.
    data:
        The fitting data; only needed when ``res`` does not keep it
        (``res.model_data is None``).
    methods:
        statsmodels optimizers tried in turn until one converges; a converged
        fit whose log-likelihood is below ours (by more than 1e-6 relative) is
        taken as an early stop and the next optimizer is tried.  The converged
        fit with the best log-likelihood is kept (the best unconverged one if
        none converges); ``warnings`` records what happened.
    **fit_kwargs:
        Passed to ``MixedLM.fit`` (``maxiter``, ``gtol``, ...).

    Returns
    -------
    MixedLMComparison

    Raises
    ------
    NotExpressibleError
        When statsmodels cannot express the random-effects structure.
    HierregError
        When ``res`` is not a REML/ML fit, or statsmodels fails.

    Examples
    --------
    >>> import hierreg_formula as hierreg
    >>> res = hierreg.fit("strength ~ 1 + (1 | batch/cask)", hierreg.load_dataset("Pastes"))
    >>> cmp = compare_results(res)
    >>> cmp.variance_components.index.tolist()
    ['batch:cask Intercept Var', 'batch Intercept Var', 'Residual']
    """
    if getattr(res, "method", None) not in ("REML", "ML"):
        raise HierregError(
            f"compare_mixedlm needs a REML or ML fit, not method={getattr(res, 'method', None)!r}"
        )
    spec = translate(res)
    frame = _model_frame(res, data)
    groups = _group_labels(res, spec)
    fitted, notes = _fit_statsmodels(
        spec, frame, groups, res.method == "REML", list(methods), fit_kwargs, float(res.llf)
    )

    names = res.exog_names
    fe = _table(res.params, _aligned(res.params, fitted.fe_params), names)
    se = _table(res.bse, _aligned(res.bse, fitted.bse_fe), names)
    labels, ours, theirs = _variance_rows(res, fitted, spec)
    vct = _table(ours, theirs, labels)

    blocks = res.model_blocks
    by_group = group_blocks(blocks)
    comp_of = {c.block: c for c in spec.components}
    mine_all = res.random_effects
    re_tables: dict[str, pd.DataFrame] = {}
    for g, idx in by_group.items():
        mine = mine_all[g]
        other = np.column_stack(
            [_sm_block_effects(res, fitted, spec, comp_of[i], frame, groups) for i in idx]
        )
        cols: dict[tuple[str, str], np.ndarray] = {}
        for j, c in enumerate(mine.columns):
            cols[(c, "hierreg")] = mine[c].to_numpy(float)
            cols[(c, "mixedlm")] = other[:, j]
            cols[(c, "difference")] = mine[c].to_numpy(float) - other[:, j]
        re_tables[g] = pd.DataFrame(cols, index=mine.index)

    try:
        _ = fitted.random_effects
    except (ValueError, np.linalg.LinAlgError) as err:
        notes.append(f"random effects: {err}")
    info = pd.DataFrame(
        {
            "hierreg": [float(res.llf), bool(res.converged), res.method],
            "mixedlm": [
                float(fitted.llf),
                bool(fitted.converged),
                "REML" if fitted.method == "REML" else "ML",
            ],
        },
        index=["log-likelihood", "converged", "method"],
    )
    return MixedLMComparison(fe, se, vct, re_tables, info, spec, fitted, notes)
