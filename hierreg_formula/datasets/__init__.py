"""Built-in example datasets (copies of the classic lme4 / Gelman-Hill data).

Grouping columns are returned as pandas categoricals with sorted levels
(numeric order for integer-like labels), as the lme4 reference fits use them.

Example
-------
>>> import hierreg_formula as hierreg
>>> df = hierreg.load_dataset("sleepstudy")
>>> df.shape
(180, 3)
>>> list(df["Subject"].cat.categories[:3])
['308', '309', '310']
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from ..exceptions import DataError

# name -> (file name, factor columns)
_DATASETS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "sleepstudy": (
        "sleepstudy.csv",
        ("Subject",),
        "Reaction times under sleep deprivation (Belenky et al. 2003); 180 rows.",
    ),
    "Dyestuff": ("Dyestuff.csv", ("Batch",), "Dyestuff yield by batch (Davies 1972); 30 rows."),
    "Penicillin": (
        "Penicillin.csv",
        ("plate", "sample"),
        "Penicillin assay, crossed plate x sample (Davies 1972); 144 rows.",
    ),
    "Pastes": (
        "Pastes.csv",
        ("batch", "cask", "sample"),
        "Paste strength, cask nested in batch (Davies 1972); 60 rows.",
    ),
    "InstEval": (
        "InstEval.csv.gz",
        ("s", "d", "studage", "lectage", "service", "dept"),
        "ETH Zurich lecture evaluations, crossed students x lecturers; 73,421 rows.",
    ),
    "cbpp": (
        "cbpp.csv",
        ("herd", "period"),
        "Contagious bovine pleuropneumonia incidence by herd (Lesnoff 2004); 56 rows.",
    ),
    "grouseticks": (
        "grouseticks.csv",
        ("INDEX", "BROOD", "YEAR", "LOCATION"),
        "Ticks on red grouse chicks (Elston et al. 2001); 403 rows.",
    ),
    "cake": (
        "cake.csv",
        ("replicate", "recipe", "temperature"),
        "Breakage angle of chocolate cakes (Cook 1938); 270 rows.",
    ),
    "radon": (
        "radon.csv",
        ("county",),
        "Minnesota household radon (Gelman & Hill 2007, PyMC copy); 919 rows.",
    ),
}


def _sorted_levels(values: pd.Series) -> list[str]:
    labels = pd.unique(values.dropna().astype(str))
    try:
        return sorted(labels, key=lambda s: (float(s), s))
    except ValueError:
        return sorted(labels)


def list_datasets() -> pd.DataFrame:
    """Names, sizes and descriptions of the built-in datasets.

    >>> "sleepstudy" in list_datasets().index
    True
    """
    rows = [
        {"name": name, "file": spec[0], "factors": ", ".join(spec[1]), "description": spec[2]}
        for name, spec in _DATASETS.items()
    ]
    return pd.DataFrame(rows).set_index("name")


def load_dataset(name: str) -> pd.DataFrame:
    """Load a built-in dataset as a DataFrame with categorical grouping columns.

    Parameters
    ----------
    name:
        One of :func:`list_datasets` (case-insensitive).

    >>> load_dataset("Dyestuff")["Batch"].cat.categories.tolist()
    ['A', 'B', 'C', 'D', 'E', 'F']
    """
    lookup = {k.lower(): k for k in _DATASETS}
    key = lookup.get(str(name).lower())
    if key is None:
        raise DataError(
            f"unknown dataset {name!r}; built-in datasets are: {', '.join(sorted(_DATASETS))}"
        )
    fname, factors, _ = _DATASETS[key]
    path = resources.files(__package__).joinpath("data", fname)
    with resources.as_file(path) as p:
        df = pd.read_csv(p, dtype={c: str for c in factors})
    if key == "radon" and "Unnamed: 0" in df.columns:
        df = df.drop(columns="Unnamed: 0")
    for col in factors:
        df[col] = pd.Categorical(df[col], categories=_sorted_levels(df[col]))
    return df
