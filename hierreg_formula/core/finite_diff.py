"""Central finite-difference gradient and Hessian (lme4's ``deriv12`` scheme).

lme4 takes the default standard errors of a GLMM from the Hessian of the
deviance in ``(theta, beta)`` by central differences with step ``delta = 1e-4``
(``2 / H`` restricted to ``beta``); a coordinate at a lower bound is stepped
only inside the feasible region, the difference quotient then using the actual
step.  The same formulas are used here:

    H_ii = (f(x + d e_i) - 2 f(x) + f(x - d e_i)) / d^2
    H_ij = (f(x + d e_i + d e_j) - f(x + d e_i - d e_j)
            - f(x - d e_i + d e_j) + f(x - d e_i - d e_j)) / (4 d^2)

so ``1 + 2 m + 2 m (m - 1)`` evaluations for ``m`` parameters.

Example
-------
>>> import numpy as np
>>> g, H = fd_gradient_hessian(lambda x: x[0] ** 2 + 3 * x[0] * x[1], np.array([1.0, 2.0]))
>>> g.round(6).tolist(), H.round(6).tolist()
([8.0, 3.0], [[2.0, 3.0], [3.0, 0.0]])
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: lme4's step (``deriv12``'s ``delta``)
DELTA = 1e-4


def fd_gradient_hessian(
    fun: Callable[[np.ndarray], float],
    x: np.ndarray,
    delta: float = DELTA,
    lower: np.ndarray | None = None,
    fx: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian of ``fun`` at ``x`` by central differences."""
    x = np.asarray(x, dtype=float)
    m = len(x)
    lo = np.full(m, -np.inf) if lower is None else np.asarray(lower, dtype=float)
    f0 = float(fun(x)) if fx is None else float(fx)
    up = x + delta
    dn = np.maximum(x - delta, lo)
    g = np.empty(m)
    H = np.empty((m, m))
    for i in range(m):  # loops over the few parameters
        xa, xs = x.copy(), x.copy()
        xa[i], xs[i] = up[i], dn[i]
        fa, fs = float(fun(xa)), float(fun(xs))
        h = (up[i] - dn[i]) / 2.0
        H[i, i] = (fa - 2.0 * f0 + fs) / (h * h)
        g[i] = (fa - fs) / (up[i] - dn[i])
        for j in range(i):
            pts = []
            for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                xx = x.copy()
                xx[i] = x[i] + si * delta
                xx[j] = x[j] + sj * delta
                pts.append(float(fun(np.maximum(xx, lo))))
            H[i, j] = H[j, i] = (pts[0] - pts[1] - pts[2] + pts[3]) / (4.0 * delta * delta)
    return g, H


def fd_hessian_from_gradient(
    grad: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    delta: float = DELTA,
    lower: np.ndarray | None = None,
    gx: np.ndarray | None = None,
) -> np.ndarray:
    """Hessian by central differences of an analytic gradient (``2 m`` evaluations),
    forward differences for a coordinate within ``delta`` of its lower bound; symmetrised.

    >>> H = fd_hessian_from_gradient(lambda x: np.array([2 * x[0] + 3 * x[1], 3 * x[0]]),
    ...                              np.array([1.0, 2.0]))
    >>> H.round(6).tolist()
    [[2.0, 3.0], [3.0, 0.0]]
    """
    x = np.asarray(x, dtype=float)
    m = len(x)
    lo = np.full(m, -np.inf) if lower is None else np.asarray(lower, dtype=float)
    H = np.empty((m, m))
    for i in range(m):  # loops over the few parameters
        xa = x.copy()
        xa[i] += delta
        ga = np.asarray(grad(xa), dtype=float)
        if x[i] - delta >= lo[i]:
            xs = x.copy()
            xs[i] -= delta
            H[:, i] = (ga - np.asarray(grad(xs), dtype=float)) / (2.0 * delta)
        else:
            g0 = np.asarray(grad(x), dtype=float) if gx is None else gx
            H[:, i] = (ga - g0) / delta
    return 0.5 * (H + H.T)
