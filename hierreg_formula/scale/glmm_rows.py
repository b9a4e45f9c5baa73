"""What a GLMM row pass does to one partition (plain numpy in, mergeable sums out).

The out-of-core GLMM (:mod:`.glmm`) materializes every partition's design once
(:func:`make_bundle`: ``X``, ``y``, the binomial trials, the offset and the
level codes of every term, as the in-memory fit builds them) and keeps the
bundles on the workers.  A *row pass* (:func:`row_pass`) then takes the current
parameters (``beta`` and the random effects ``b`` of every term) and returns,
for its partition, the sums the client's PIRLS step needs at the linear
predictor ``eta = offset + X beta + Z b``:

- always the deviance (:meth:`~hierreg_formula.core.working.Response.state`),
  the number of fitted probabilities numerically 0 or 1 and ``max |eta - offset|``;
- ``"single"`` (one random-effects term): the level sums ``sum W z z'`` and
  ``sum r z`` of :func:`~hierreg_formula.core.single.newton_step_from_sums`, and
  with ``gradient`` the sums of the analytic Laplace gradient
  (:class:`~hierreg_formula.core.single.GradientSums` and the third moments
  that give ``a_i = z_i' B z_i W'_i`` for any ``B``);
- ``"modes"``: the :class:`~hierreg_formula.scale.stats.SufficientStats` of the
  random-effects columns with the working response ``Z b + (y - mu)/mu'`` and
  weights ``W`` (PIRLS for ``u`` with several terms);
- ``"joint"``: the same with ``X`` and the working response
  ``eta - offset + (y - mu)/mu'`` (PIRLS for ``(u, beta)``);
- ``"state"``: the same with ``X`` and ``eta`` (the factor at the modes).

Every summary adds with ``+`` (maxima take the maximum), so the partitions'
sums reduce in any order.  Nothing here imports Dask.

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core.families import get_family
>>> from hierreg_formula.core.structure import TermArrays
>>> g = np.array([0, 0, 1, 1]); y = np.array([0.0, 1.0, 1.0, 1.0])
>>> bundle = RowBundle(np.ones((4, 1)), y, None, None, (TermArrays(g, 2, np.ones((4, 1))),),
...                    get_family("binomial"))
>>> s = row_pass(bundle, RowRequest(np.zeros(1), (np.zeros((2, 1)),), "single"))
>>> round(s.dev, 6), s.arrays["M"][:, 0, 0].tolist()
(5.545177, [0.5, 0.5])
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core.families import Family
from ..core.glmm import SEPARATION_EPS
from ..core.single import SingleTerm
from ..core.structure import TermArrays, random_part
from ..core.working import Response, WorkingState
from ..exceptions import DataError
from ..formula import DesignSpec
from .design import missing_rows, normalize_frame
from .stats import SufficientStats

PRODUCTS = ("none", "single", "modes", "joint", "state")


@dataclass(frozen=True)
class BundlePlan:
    """What a partition needs to materialize its GLMM arrays.

    Attributes
    ----------
    used, dtypes:
        Used columns (the offset column included) and their common dtypes.
    spec:
        The final design recipe (all levels, terms in lme4's order).
    keep:
        Kept fixed-effects columns (``None``: all).
    family:
        The core's family.
    offset:
        The offset column, or ``None``.
    """

    used: tuple[str, ...]
    dtypes: Mapping[str, Any]
    spec: DesignSpec
    keep: np.ndarray | None
    family: Family
    offset: str | None = None


@dataclass(eq=False)
class RowBundle:
    """One partition's GLMM arrays, kept on a worker for the whole fit.

    ``weights`` are the binomial trials of a ``cbind`` response (``y`` then the
    proportions), ``offset`` the known part of ``eta`` (``None``: ones, zeros).
    """

    X: np.ndarray
    y: np.ndarray
    weights: np.ndarray | None
    offset: np.ndarray | None
    terms: tuple[TermArrays, ...]
    family: Family

    def __post_init__(self) -> None:
        self.X = np.asfortranarray(self.X, dtype=float)

    @property
    def n(self) -> int:
        return len(self.y)

    @functools.cached_property
    def response(self) -> Response:
        return Response(self.family, self.y, self.weights)

    @functools.cached_property
    def single(self) -> SingleTerm | None:
        return SingleTerm(self.terms[0]) if len(self.terms) == 1 else None

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (bytes)."""
        arrays = [self.X, self.y, self.weights, self.offset]
        arrays += [a for t in self.terms for a in (t.codes, t.Xz)]
        return int(sum(a.nbytes for a in arrays if a is not None))


def make_bundle(part: pd.DataFrame, plan: BundlePlan) -> RowBundle | None:
    """The partition's arrays (``None`` without rows after dropping missing values).

    Raises :class:`~hierreg_formula.DataError` for a response the family cannot
    have (as the in-memory fit's check).
    """
    df = normalize_frame(part, plan.used, plan.dtypes)
    bad, _ = missing_rows(df)
    if bad.any():
        df = df.loc[~bad]
    if len(df) == 0:
        return None
    blocks = plan.spec.rebuild(df, response=True)
    X = blocks.X if plan.keep is None else blocks.X[:, plan.keep]
    terms = []
    for blk in blocks.random:
        if len(blk.codes) and blk.codes.min() < 0:  # pragma: no cover - levels from pass 1
            raise DataError(
                f"a level of {blk.group!r} was not seen in the first pass (did the data "
                "change between the passes?)"
            )
        terms.append(TermArrays(blk.codes, blk.nlevels, blk.X))
    offset = None
    if plan.offset is not None:
        offset = df[plan.offset].to_numpy(dtype=float)
        if not np.isfinite(offset).all():
            raise DataError("offset has non-finite values (NaN or inf)")
    plan.family.validate(blocks.y, blocks.trials)
    return RowBundle(X, blocks.y, blocks.trials, offset, tuple(terms), plan.family)


@dataclass(frozen=True, eq=False)
class PassSums:
    """The reduced output of a row pass (see the module docstring).

    ``arrays`` add element-wise; ``maxima`` take the maximum; ``stats`` add as
    :class:`~hierreg_formula.scale.stats.SufficientStats`.
    """

    n: int = 0
    dev: float = 0.0
    n_boundary: int = 0
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    maxima: dict[str, float] = field(default_factory=dict)
    stats: SufficientStats | None = None
    seconds: float = 0.0

    def __add__(self, other: PassSums) -> PassSums:
        arrays = dict(self.arrays)
        for k, v in other.arrays.items():
            arrays[k] = v if k not in arrays else arrays[k] + v
        maxima = dict(self.maxima)
        for k, v in other.maxima.items():
            maxima[k] = max(maxima.get(k, -np.inf), v)
        if self.stats is None or other.stats is None:
            stats = self.stats if other.stats is None else other.stats
        else:
            stats = self.stats + other.stats
        return PassSums(
            n=self.n + other.n,
            dev=self.dev + other.dev,
            n_boundary=self.n_boundary + other.n_boundary,
            arrays=arrays,
            maxima=maxima,
            stats=stats,
            seconds=self.seconds + other.seconds,
        )


def bundle_summary(bundle: RowBundle | None) -> PassSums:
    """Rows, the saturated model's ``-2 log L`` (``"const"``), ``sum x^2`` per column
    (``"xsq"``), the rows per level of term ``i`` (``"count<i>"``) and the bytes of the
    arrays (``"nbytes"``) of one partition."""
    if bundle is None:
        return PassSums()
    fam = bundle.family
    const = fam.saturated_constant(bundle.y, bundle.weights) if fam.additive_constants else 0.0
    X = bundle.X
    arrays = {
        "const": np.array(const),
        "xsq": np.einsum("ij,ij->j", X, X),
        "nbytes": np.array(float(bundle.nbytes)),
    }
    for i, t in enumerate(bundle.terms):
        arrays[f"count{i}"] = np.bincount(t.codes, minlength=t.nlevels).astype(float)
    return PassSums(n=bundle.n, arrays=arrays)


@dataclass(frozen=True)
class RowRequest:
    """The parameters of one row pass and what it returns.

    ``beta`` ``None``: the family's starting means (R's ``mustart``) instead of a
    linear predictor (the first PIRLS step of the fixed-effects GLM).  ``b``: the
    random effects per term, ``(L_i, k_i)``.  ``products``: one of ``"none"``,
    ``"single"``, ``"modes"``, ``"joint"``, ``"state"`` (module docstring).
    """

    beta: np.ndarray | None
    b: Sequence[np.ndarray]
    products: str = "none"
    gradient: bool = False


def _eta(bundle: RowBundle, req: RowRequest) -> tuple[np.ndarray, np.ndarray]:
    """``eta`` and its fixed part ``offset + X beta`` (as :class:`~..core.pirls.GLMMData`)."""
    X = bundle.X
    fixed = X @ req.beta if X.shape[1] else np.zeros(bundle.n)
    if bundle.offset is not None:
        fixed = fixed + bundle.offset
    one = bundle.single
    if one is not None:
        return fixed + one.zb(np.asarray(req.b[0], dtype=float)), fixed
    return fixed + random_part(bundle.terms, req.b), fixed


def _gradient_sums(bundle: RowBundle, st: WorkingState) -> dict[str, np.ndarray]:
    """One term: the sums of :class:`~..core.single.GradientSums` and the moments
    ``S3 = sum W' z_a z_b z_c`` ``(L, k, k, k)`` and ``SX = sum W' z_a z_b x`` ``(L, k, k, p)``
    (``sum a z = einsum(B, S3)``, ``sum a x = einsum(B, SX)``)."""
    one, X = bundle.single, bundle.X
    w_eta, w_obs = bundle.response.derivatives(st)
    L, k, p = one.L, one.k, X.shape[1]
    out = {"rX": st.r @ X, "ZoX": one.zxsum(w_obs, X)}
    if w_obs is not st.w:
        out["Mo"] = one.zzsum(w_obs)
    S3 = np.empty((L, k, k, k))
    SX = np.empty((L, k, k, p))
    for a in range(k):  # loops over the few columns of the term
        for b in range(a + 1):
            v = w_eta if one.ones else w_eta * one.Z[:, a] * one.Z[:, b]
            S3[:, a, b, :] = S3[:, b, a, :] = one.zsum(v)
            for c in range(p):
                SX[:, a, b, c] = SX[:, b, a, c] = one.level_sum(v * X[:, c])
    out["S3"], out["SX"] = S3, SX
    return out


def row_pass(bundle: RowBundle | None, req: RowRequest) -> PassSums:
    """The sums of one partition at the parameters of ``req``."""
    if bundle is None:
        return PassSums()
    t0 = time.perf_counter()
    resp = bundle.response
    if req.beta is None:
        fam = bundle.family
        eta = fam.link.linkfun(fam.mustart(bundle.y, bundle.weights))
        fixed = np.zeros(bundle.n) if bundle.offset is None else bundle.offset
    else:
        eta, fixed = _eta(bundle, req)
    st = resp.state(eta)
    off = 0.0 if bundle.offset is None else bundle.offset
    nb = 0
    if bundle.family.name == "binomial":
        nb = int(np.count_nonzero((st.mu <= SEPARATION_EPS) | (st.mu >= 1.0 - SEPARATION_EPS)))
    arrays: dict[str, np.ndarray] = {}
    stats = None
    kind = req.products
    if kind == "single":
        one = bundle.single
        arrays = {"M": one.zzsum(st.w), "rz": one.zsum(st.r)}
        if req.gradient:
            arrays.update(_gradient_sums(bundle, st))
    elif kind in ("modes", "joint", "state"):
        if kind == "modes":
            X, y = np.empty((bundle.n, 0)), (st.eta - fixed) + st.wres
        elif kind == "joint":
            X, y = bundle.X, (st.eta - off) + st.wres
        else:
            X, y = bundle.X, st.eta
        stats = SufficientStats.from_arrays(X, y, bundle.terms, weights=st.w)
    elif kind != "none":
        raise ValueError(f"products must be one of {PRODUCTS}, got {kind!r}")
    return PassSums(
        n=bundle.n,
        dev=st.dev,
        n_boundary=nb,
        arrays=arrays,
        maxima={"eta": float(np.max(np.abs(st.eta - off), initial=0.0))},
        stats=stats,
        seconds=time.perf_counter() - t0,
    )
