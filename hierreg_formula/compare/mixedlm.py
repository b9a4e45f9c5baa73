"""Side by side with statsmodels' MixedLM.

The fitted formula is translated into ``smf.mixedlm`` form: random terms on one
grouping factor become ``groups=`` + ``re_formula=`` (uncorrelated ``||`` columns
become variance components within the group); several grouping factors (crossed
or nested) become variance components on a single all-rows group, which
statsmodels can express for scalar terms only.

Example
-------
>>> import hierreg_formula as hierreg
>>> cmp = hierreg.compare_mixedlm("Yield ~ 1 + (1 | Batch)", hierreg.load_dataset("Dyestuff"))
>>> list(cmp.fixed_effects.columns)
['hierreg', 'mixedlm', 'difference']
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import HierregError


class NotExpressibleError(HierregError):
    """statsmodels' MixedLM cannot express this random-effects structure."""


_ALL_ROWS = "__all_rows__"


def translate(res: Any) -> dict[str, Any]:
    """``smf.mixedlm`` arguments equivalent to the fitted model."""
    parsed = res.model_blocks.spec.parsed
    fixed = f"{parsed.response} ~ {parsed.fixed}"
    terms = parsed.random
    groups = list(dict.fromkeys(t.group for t in terms))
    if len(groups) == 1 and len(terms[0].factors) == 1:
        g = groups[0]
        correlated = [t for t in terms if t.correlated]
        if len(correlated) > 1:
            raise NotExpressibleError(
                f"two correlated random terms on {g!r}: statsmodels has one re_formula per group"
            )
        first, rest = (
            (correlated[0], [t for t in terms if not t.correlated])
            if correlated
            else (terms[0], terms[1:])
        )
        vc = {}
        for t in rest:
            if t.intercept:
                raise NotExpressibleError(
                    f"an uncorrelated random intercept besides {first.expr!r} on {g!r}"
                )
            name = t.expr.replace("0 + ", "")
            vc[name] = t.expr
        return {"formula": fixed, "groups": g, "re_formula": first.expr, "vc_formula": vc or None}
    vc = {}
    for t in terms:
        if t.expr != "1":
            if t.intercept or t.correlated and "+" in t.expr:
                raise NotExpressibleError(
                    f"the term ({t.expr} | {t.group}): with several grouping factors statsmodels "
                    "expresses only scalar terms (variance components on one all-rows group)"
                )
        dummies = ":".join(f"C({f})" for f in t.factors)
        if t.expr == "1":
            vc[t.group] = f"0 + {dummies}"
        else:
            x = t.expr.replace("0 + ", "")
            vc[f"{t.group}:{x}"] = f"0 + {dummies}:{x}"
    return {"formula": fixed, "groups": _ALL_ROWS, "re_formula": "0", "vc_formula": vc}


def _fit_statsmodels(res: Any, spec: dict[str, Any]):
    import statsmodels.formula.api as smf

    data = res.model_data
    if data is None:
        raise HierregError("the results do not keep their data; pass data= to compare_mixedlm")
    data = data.copy()
    if spec["groups"] == _ALL_ROWS:
        data[_ALL_ROWS] = 1
    model = smf.mixedlm(
        spec["formula"],
        data,
        groups=data[spec["groups"]],
        re_formula=spec["re_formula"],
        vc_formula=spec["vc_formula"],
    )
    reml = res.method == "REML"
    caught: list[str] = []
    fitted = None
    for method in (["lbfgs"], ["bfgs"], ["powell", "lbfgs"]):
        with warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter("always")
            try:
                fitted = model.fit(reml=reml, method=method)
            except (np.linalg.LinAlgError, ValueError) as err:
                caught.append(f"{method}: {err}")
                continue
        caught.extend(str(w.message) for w in ws)
        if fitted.converged:
            break
    if fitted is None:
        raise HierregError(f"statsmodels MixedLM failed: {caught}")
    return fitted, caught


_LEVEL = re.compile(r"C\([^)]*\)\[([^\]]*)\]")


def _sm_random_effects(res: Any, fitted: Any, spec: dict[str, Any]) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    if spec["groups"] != _ALL_ROWS:
        g = spec["groups"]
        frame = pd.DataFrame(fitted.random_effects).T
        frame = frame.rename(columns=lambda c: "Intercept" if c == "Group" else c.split("[")[0])
        frame.index = frame.index.map(str)
        out[g] = frame
        return out
    # variance components on one all-rows group are named "<component>[C(a)[lev]...]",
    # where the component is "<group>" (intercept) or "<group>:<column>" (slope)
    series = next(iter(fitted.random_effects.values()))
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for name, value in series.items():
        comp = name.split("[", 1)[0]
        level = ":".join(_LEVEL.findall(name))
        if comp in res.ngroups:
            group, col = comp, "Intercept"
        else:
            group = max((g for g in res.ngroups if comp.startswith(g + ":")), key=len)
            col = comp[len(group) + 1 :]
        rows.setdefault(group, {}).setdefault(level, {})[col] = value
    for g, levels in rows.items():
        out[g] = pd.DataFrame(levels).T
    return out


@dataclass
class MixedLMComparison:
    """Tables comparing this package's fit with statsmodels' MixedLM."""

    fixed_effects: pd.DataFrame
    std_errors: pd.DataFrame
    variance_components: pd.DataFrame
    random_effects: dict[str, pd.DataFrame]
    fit_info: pd.DataFrame
    statsmodels_call: dict[str, Any]
    statsmodels_result: Any = field(repr=False, default=None)
    warnings: list[str] = field(default_factory=list)

    def max_abs_diff(self) -> dict[str, float]:
        """Largest absolute difference in each table."""
        out = {
            "fixed_effects": float(self.fixed_effects["difference"].abs().max()),
            "std_errors": float(self.std_errors["difference"].abs().max()),
            "variance_components": float(self.variance_components["difference"].abs().max()),
        }
        for g, t in self.random_effects.items():
            out[f"random_effects[{g}]"] = float(
                t.xs("difference", axis=1, level=1).abs().max().max()
            )
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
        return "\n".join(parts)

    __repr__ = __str__


def _table(ours: np.ndarray, theirs: np.ndarray, index: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"hierreg": ours, "mixedlm": theirs, "difference": np.asarray(ours) - np.asarray(theirs)},
        index=index,
    )


def compare_results(res: Any) -> MixedLMComparison:
    """Fit the model of ``res`` with statsmodels and compare (see module docstring)."""
    spec = translate(res)
    fitted, caught = _fit_statsmodels(res, spec)
    names = res.exog_names
    fe = _table(res.params.to_numpy(), fitted.fe_params.to_numpy()[: len(names)], names)
    se = _table(res.bse.to_numpy(), fitted.bse_fe.to_numpy()[: len(names)], names)
    vc = res.varcorr()
    rows, ours, theirs = [], [], []
    if spec["groups"] != _ALL_ROWS:
        g = spec["groups"]
        cov = fitted.cov_re.rename(
            index=lambda c: "Intercept" if c == "Group" else c,
            columns=lambda c: "Intercept" if c == "Group" else c,
        )
        vnames = (
            dict(zip(fitted.model.exog_vc.names, fitted.vcomp, strict=False))
            if spec["vc_formula"]
            else {}
        )
        for _, r in vc[vc["group"] == g].iterrows():
            if pd.isna(r["var2"]):
                v = (
                    cov.loc[r["var1"], r["var1"]]
                    if r["var1"] in cov.index
                    else vnames.get(r["var1"], np.nan)
                )
                rows.append(f"{g} {r['var1']} Var")
            else:
                v = cov.loc[r["var1"], r["var2"]] if r["var2"] in cov.index else np.nan
                rows.append(f"{g} {r['var1']} x {r['var2']} Cov")
            ours.append(r["variance"])
            theirs.append(v)
    else:
        vcomp = dict(zip(fitted.model.exog_vc.names, fitted.vcomp, strict=True))
        for _, r in vc[vc["group"] != "Residual"].iterrows():
            key = r["group"] if r["var1"] == "Intercept" else f"{r['group']}:{r['var1']}"
            rows.append(f"{r['group']} {r['var1']} Var")
            ours.append(r["variance"])
            theirs.append(vcomp.get(key, np.nan))
    rows.append("Residual")
    ours.append(res.scale)
    theirs.append(fitted.scale)
    vct = _table(np.array(ours), np.array(theirs), rows)
    sm_re = _sm_random_effects(res, fitted, spec)
    re_tables = {}
    for g, mine in res.random_effects.items():
        if g not in sm_re:
            continue
        other = sm_re[g].reindex(index=[str(i) for i in mine.index])
        cols = {}
        for c in mine.columns:
            o = other[c].to_numpy(dtype=float) if c in other.columns else np.full(len(mine), np.nan)
            cols[(c, "hierreg")] = mine[c].to_numpy()
            cols[(c, "mixedlm")] = o
            cols[(c, "difference")] = mine[c].to_numpy() - o
        re_tables[g] = pd.DataFrame(cols, index=mine.index)
    info = pd.DataFrame(
        {
            "hierreg": [res.llf, res.converged, res.method],
            "mixedlm": [
                float(fitted.llf),
                bool(fitted.converged),
                "REML" if fitted.method == "REML" else "ML",
            ],
        },
        index=["log-likelihood", "converged", "method"],
    )
    call = {k: v for k, v in spec.items() if v is not None}
    return MixedLMComparison(fe, se, vct, re_tables, info, call, fitted, caught)


def compare_mixedlm(
    formula: str, data: pd.DataFrame, method: str = "reml", **fit_kwargs: Any
) -> MixedLMComparison:
    """Fit ``formula`` with this package and with statsmodels' MixedLM, and compare."""
    from ..api import fit

    return compare_results(fit(formula, data, method=method, **fit_kwargs))
