"""lme4's order and names of the variance parameters (``.sig01, ..., .sigma``).

lme4 (``mkReTrms``) reorders the random terms by decreasing number of levels when
the formula's order is not already non-increasing; its order is ``rev(order(nl))``,
i.e. ties end up in the *reverse* of the formula's order.  Within a term the
standard deviations and correlations follow the lower triangle of the covariance
matrix column by column (``sd`` on the diagonal, ``cor`` below it), as ``theta``
does.  ``confint()`` and ``profile()`` name them ``.sig01, .sig02, ...`` then
``.sigma``, followed by the fixed effects; the readable names are
``sd_<col>|<group>``, ``cor_<row>.<col>|<group>`` and ``sigma``.

Example
-------
>>> lme4_term_order([5, 10, 5])
[1, 2, 0]
>>> vp = varpar_names(["Subject"], [["(Intercept)", "Days"]], [18])
>>> vp.sig_names, vp.readable
(['.sig01', '.sig02', '.sig03', '.sigma'], ['sd_(Intercept)|Subject', 'cor_Days.(Intercept)|Subject', 'sd_Days|Subject', 'sigma'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def lme4_term_order(nlevels: Sequence[int]) -> list[int]:
    """lme4's order of the random terms: ``rev(order(nl))`` if some ``diff(nl) > 0``.

    (The same rule as :func:`hierreg_formula.models.prepare.lme4_term_order`, which this
    layer does not import; for terms already in that order it is the identity.)
    """
    nl = np.asarray(nlevels)
    if nl.size < 2 or not np.any(np.diff(nl) > 0):
        return list(range(nl.size))
    asc = np.argsort(nl, kind="stable")  # R's order() is stable
    return [int(i) for i in asc[::-1]]


@dataclass(frozen=True)
class VarParNames:
    """Names of the variance parameters in lme4's order.

    ``entries[i] = (term, r, c)``: the caller's term index and the position in its
    covariance matrix (``r == c`` a standard deviation, else a correlation); the
    residual SD is the last entry with ``term = -1``.
    """

    sig_names: list[str]
    readable: list[str]
    entries: list[tuple[int, int, int]]


def varpar_names(
    groups: Sequence[str], columns: Sequence[Sequence[str]], nlevels: Sequence[int]
) -> VarParNames:
    """``.sigNN`` and readable names for terms given in the caller's order."""
    order = lme4_term_order(nlevels)
    sig, read, entries = [], [], []
    for a in order:
        names = list(columns[a])
        k = len(names)
        cols, rows = np.triu_indices(k)
        for r, c in zip(rows, cols, strict=True):
            entries.append((a, int(r), int(c)))
            if r == c:
                read.append(f"sd_{names[r]}|{groups[a]}")
            else:
                read.append(f"cor_{names[r]}.{names[c]}|{groups[a]}")
            sig.append(f".sig{len(sig) + 1:02d}")
    sig.append(".sigma")
    read.append("sigma")
    entries.append((-1, 0, 0))
    return VarParNames(sig, read, entries)
