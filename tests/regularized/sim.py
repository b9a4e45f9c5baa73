"""Simulated data with known group deviations for the regularized-mode tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

TRUE_W = np.array([1.0, 2.0])


def simulate(
    seed: int = 0, G: int = 30, n: int = 1500, sd_dev: tuple[float, float] = (0.8, 0.5)
) -> tuple[pd.DataFrame, np.ndarray]:
    """``y = 1 + 2 x + dev[g, 0] + dev[g, 1] x + N(0, 1)``; returns the frame and ``dev``."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, G, n)
    x = rng.normal(size=n)
    dev = rng.normal(size=(G, 2)) * np.asarray(sd_dev)
    y = TRUE_W[0] + TRUE_W[1] * x + dev[g, 0] + dev[g, 1] * x + rng.normal(size=n)
    df = pd.DataFrame({"y": y, "x": x, "g": [f"s{i:02d}" for i in g]})
    return df, dev


def dense_squared_solution(X, y, Zs, d, alpha, main_l2=0.0):
    """Closed-form minimiser of ``(1/n)||y - Xw - Zv||^2 + alpha ||d v||^2 + main_l2 ||w||^2``
    with dense ``Z`` (tiny problems only: an independent check of the PLS solve)."""
    n, p = X.shape
    A = np.hstack([X, *Zs])
    pen = np.concatenate([np.full(p, main_l2), alpha * d**2])
    theta = np.linalg.solve(A.T @ A / n + np.diag(pen), A.T @ y / n)
    return theta[:p], theta[p:]
