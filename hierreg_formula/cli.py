"""Command-line interface: ``hierreg fit FORMULA --data NAME_OR_CSV`` and ``hierreg datasets``.

``--data 'path/*.parquet'`` (a glob, file or directory of Parquet files) fits out of
core with Dask (:mod:`hierreg_formula.scale`).

Example
-------
>>> import contextlib, io
>>> out = io.StringIO()
>>> with contextlib.redirect_stdout(out):
...     code = main(["datasets"])
>>> code, "sleepstudy" in out.getvalue()
(0, True)
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .api import METHODS, fit
from .datasets import _DATASETS, list_datasets, load_dataset
from .exceptions import HierregError
from .scale.detect import is_parquet_source


def _read_data(spec: str) -> pd.DataFrame | str:
    if spec.lower() in {k.lower() for k in _DATASETS}:
        return load_dataset(spec)
    if is_parquet_source(spec):  # fitted out of core (hierreg_formula.scale, needs Dask)
        return spec
    path = Path(spec)
    if not path.exists():
        raise HierregError(
            f"--data {spec!r} is neither a built-in dataset ({', '.join(_DATASETS)}) "
            "nor an existing CSV file"
        )
    if path.is_dir():
        raise HierregError(f"--data {spec!r} is a directory, not a CSV file")
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError as err:
        raise HierregError(f"--data {spec!r} is empty (no header, no rows)") from err
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as err:
        raise HierregError(f"cannot read {spec!r} as a CSV file: {err}") from err
    if df.empty:
        raise HierregError(f"--data {spec!r} has a header but no rows")
    return df


def _alpha(value: str | None, method: str | None) -> dict[str, object]:
    """The regularized mode's penalty from ``--alpha`` (an error with any other method)."""
    if method != "regularized":
        if value is not None:
            raise HierregError(
                f"--alpha is the penalty of --method regularized; it has no meaning for "
                f"--method {method or 'reml'} (drop it, or add --method regularized)"
            )
        return {}
    alpha = value or "cv"
    if alpha in ("cv", "reml"):
        return {"alpha": alpha}
    try:
        num = float(alpha)
    except ValueError:
        raise HierregError(f"--alpha must be a number > 0, 'cv' or 'reml', got {alpha!r}") from None
    return {"alpha": num}


FAMILIES = ("gaussian", "binomial", "poisson", "negative_binomial", "gamma", "inverse_gaussian")


def _note_counts(res: object) -> None:
    """A Gaussian fit of a count response is usually a mistake at the command line."""
    y = getattr(res, "model_blocks", None)
    y = None if y is None else y.y
    if y is None or len(y) == 0 or np.isin(y, (0.0, 1.0)).all():
        return  # 0/1 responses get the package's ResponseWarning
    if (y >= 0).all() and np.array_equal(y, np.round(y)) and len(np.unique(y)) <= 50:
        print(
            "hierreg: note: the response takes non-negative whole values (counts?) and was "
            "fitted as Gaussian; for counts use --family poisson (or negative_binomial)",
            file=sys.stderr,
        )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hierreg", description="Hierarchical regression from lme4-style formulas."
    )
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fit", help="fit a model and print its summary")
    f.add_argument("formula", help='e.g. "Reaction ~ Days + (Days | Subject)"')
    f.add_argument(
        "--data",
        required=True,
        help="built-in dataset name, CSV path, or Parquet files ('path/*.parquet', fitted "
        "out of core with Dask)",
    )
    f.add_argument(
        "--method", default=None, choices=METHODS, help="reml (default for LMMs), ml, regularized"
    )
    f.add_argument(
        "--family",
        default=None,
        choices=FAMILIES,
        help="a GLMM family (binomial, poisson, negative_binomial, ...); default: Gaussian LMM",
    )
    f.add_argument(
        "--nagq", type=int, default=None, help="GLMM: 1 Laplace (default), 0, or 2-25 (AGQ)"
    )
    f.add_argument(
        "--alpha", default=None, help="regularized mode: penalty, 'cv' or 'reml' (default cv)"
    )
    f.add_argument("--missing", default="drop", choices=("drop", "raise"))
    sub.add_parser("datasets", help="list the built-in datasets")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    args = _parser().parse_args(argv)
    if args.command == "datasets":
        with pd.option_context("display.max_colwidth", 80, "display.width", 200):
            print(list_datasets().to_string())
        return 0
    try:
        kwargs = _alpha(args.alpha, args.method)
        if args.nagq is not None:
            if args.family in (None, "gaussian"):
                raise HierregError("--nagq is for GLMMs: give --family too")
            kwargs["nagq"] = args.nagq
        data = _read_data(args.data)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = fit(
                args.formula,
                data,
                method=args.method,
                family=args.family,
                missing=args.missing,
                **kwargs,
            )
        print(res.summary())
        for w in caught:
            print(f"warning: {w.message}", file=sys.stderr)
        if args.family is None and args.method != "regularized":
            _note_counts(res)
    except HierregError as err:
        print(f"hierreg: error: {err}", file=sys.stderr)
        return 2
    except ImportError as err:  # an optional extra, e.g. Dask for Parquet files
        print(f"hierreg: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
