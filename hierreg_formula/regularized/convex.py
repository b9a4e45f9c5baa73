"""hierreg's un-squared norms and l1 / l-infinity penalties with cvxpy + Clarabel.

These objectives are not linear systems, so they go through a conic solver
(hierreg's own default path).  ``Z`` is kept sparse (``scipy.sparse``, never a
dense ``n x q`` matrix), but an interior-point method on ``n`` residuals is still
one to two orders of magnitude slower than the squared loss's single
factorization (see ``benchmarks/bench_regularized.py``).

Example
-------
>>> import numpy as np
>>> from hierreg_formula.core import TermArrays
>>> rng = np.random.default_rng(0)
>>> g = rng.integers(0, 3, 60); X = np.column_stack([np.ones(60), rng.normal(size=60)])
>>> y = X @ [1.0, 2.0] + rng.normal(size=60)
>>> w, v, obj = solve_cvxpy(X, y, [TermArrays(g, 3, X)], alpha=0.1)
>>> w.shape, v[0].shape
((2,), (3, 2))
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import scipy.sparse as sp

from ..core import TermArrays
from ..core.structure import z_matrix
from ..exceptions import ConvergenceWarning, EstimationError, warn
from .penalty import group_weights

#: Clarabel settings for an accurate optimum (its defaults stop at gaps of 1e-8)
CLARABEL_TIGHT = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}


def solve_cvxpy(
    X: np.ndarray,
    y: np.ndarray,
    terms: Sequence[TermArrays],
    alpha: float,
    l1: float = 0.0,
    linf: float = 0.0,
    main_l2: float = 0.0,
    weight_by_nobs: bool = True,
    loss: str = "norm",
    family: str = "gaussian",
    groups: Sequence[Hashable] | None = None,
    solver: str = "CLARABEL",
    solver_opts: dict | None = None,
) -> tuple[np.ndarray, list[np.ndarray], float]:
    """hierreg's objective with cvxpy (un-squared norms by default).

    ``loss="norm"``: ``||r||_2 / sqrt(n) + alpha ||d v||_2 + l1 ||d v||_1 +
    linf ||v||_inf + main_l2 ||w||_2``; ``loss="squared"`` squares the data and
    the two l2 terms (``(1/n)||r||^2``).  ``family="binomial"`` replaces the data
    term by the mean logistic loss (``y`` in ``{0, 1}``).

    ``solver_opts`` go to ``Problem.solve``; for Clarabel the default is
    :data:`CLARABEL_TIGHT` (gaps and feasibility 1e-10 instead of 1e-8, a few
    more iterations) so that the solution is accurate to about 1e-6, not 1e-4.

    Returns
    -------
    tuple
        ``w``, the deviations per term (each ``(L, k)``) and the minimum.
    """
    import cvxpy as cvx

    if solver_opts is None:
        solver_opts = dict(CLARABEL_TIGHT) if solver.upper() == "CLARABEL" else {}

    n, p = X.shape
    Z = sp.hstack([z_matrix(t) for t in terms], format="csr")
    d = np.concatenate(
        [
            np.repeat(wt, t.k)
            for wt, t in zip(group_weights(terms, weight_by_nobs, groups), terms, strict=True)
        ]
    )
    w = cvx.Variable(p)
    v = cvx.Variable(Z.shape[1])
    eta = X @ w + Z @ v
    dv = cvx.multiply(d, v)
    if family == "binomial":
        data = cvx.sum(cvx.logistic(eta) - cvx.multiply(y, eta)) / n
    elif loss == "norm":
        data = cvx.norm(y - eta, 2) / np.sqrt(n)
    else:
        data = cvx.sum_squares(y - eta) / n
    pen = 0.0
    if alpha > 0:
        pen = alpha * (cvx.norm(dv, 2) if loss == "norm" else cvx.sum_squares(dv))
    if main_l2 > 0:
        pen = pen + main_l2 * (cvx.norm(w, 2) if loss == "norm" else cvx.sum_squares(w))
    if l1 > 0:
        pen = pen + l1 * cvx.norm(dv, 1)
    if linf > 0:
        pen = pen + linf * cvx.norm(v, "inf")
    prob = cvx.Problem(cvx.Minimize(data + pen))
    try:
        prob.solve(solver=solver, **solver_opts)
    except cvx.error.SolverError as err:
        raise EstimationError(f"cvxpy ({solver}) failed: {err}") from err
    if w.value is None or prob.status not in ("optimal", "optimal_inaccurate"):
        raise EstimationError(f"cvxpy could not solve the problem (status {prob.status})")
    if prob.status == "optimal_inaccurate":
        warn(f"cvxpy ({solver}) stopped at an inaccurate optimum", ConvergenceWarning)
    vv = np.asarray(v.value)
    offs = np.concatenate([[0], np.cumsum([t.q for t in terms])])
    v_terms = [vv[offs[i] : offs[i + 1]].reshape(t.nlevels, t.k) for i, t in enumerate(terms)]
    return np.asarray(w.value), v_terms, float(prob.value)
