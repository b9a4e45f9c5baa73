"""The covariance parameter vector ``theta`` and the per-term factors it encodes.

As in lme4 (Bates et al. 2015, sec. 2.2), the relative covariance factor of term
``i`` is a lower-triangular ``k_i x k_i`` matrix ``T_i`` with
``Sigma_i / sigma^2 = T_i T_i'``; ``theta`` holds, term after term, the lower
triangle of each ``T_i`` in column-major order.  Diagonal elements are bounded
below by zero, off-diagonal ones are free.

Example
-------
>>> tm = ThetaMap([2])
>>> tm.factors(np.array([1.0, 0.5, 2.0]))[0].tolist()
[[1.0, 0.0], [0.5, 2.0]]
>>> tm.lower.tolist()
[0.0, -inf, 0.0]
"""

from __future__ import annotations

import numpy as np


class ThetaMap:
    """Map ``theta`` <-> list of lower-triangular factors, one per term."""

    def __init__(self, ks: list[int]) -> None:
        self.ks = list(ks)
        self._idx = []
        lower = []
        start = 0
        for k in self.ks:
            cols, rows = np.triu_indices(k)  # column-major lower triangle: (row>=col)
            rr, cc = rows, cols
            self._idx.append((start, rr, cc))
            lower.extend(np.where(rr == cc, 0.0, -np.inf))
            start += len(rr)
        self.size = start
        self.lower = np.asarray(lower)

    def initial(self) -> np.ndarray:
        """lme4's starting value: identity factors."""
        th = np.zeros(self.size)
        for start, rr, cc in self._idx:
            th[start : start + len(rr)][rr == cc] = 1.0
        return th

    def factors(self, theta: np.ndarray) -> list[np.ndarray]:
        """The lower-triangular ``T_i`` for each term."""
        out = []
        for k, (start, rr, cc) in zip(self.ks, self._idx, strict=True):
            T = np.zeros((k, k))
            T[rr, cc] = theta[start : start + len(rr)]
            out.append(T)
        return out

    def theta_of(self, factors: list[np.ndarray]) -> np.ndarray:
        """Inverse of :meth:`factors`."""
        th = np.empty(self.size)
        for T, (start, rr, cc) in zip(factors, self._idx, strict=True):
            th[start : start + len(rr)] = T[rr, cc]
        return th

    def layout(self) -> list[tuple[int, int, int]]:
        """``(term, row, col)`` of every element of ``theta``, in order.

        >>> ThetaMap([1, 2]).layout()
        [(0, 0, 0), (1, 0, 0), (1, 1, 0), (1, 1, 1)]
        """
        return [
            (i, int(r), int(c))
            for i, (_, rr, cc) in enumerate(self._idx)
            for r, c in zip(rr, cc, strict=True)
        ]
