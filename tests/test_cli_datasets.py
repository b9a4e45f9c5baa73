"""The console script and the shipped datasets."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

import hierreg_formula as hierreg
from hierreg_formula.cli import main
from tests.conftest import SHARED


@pytest.mark.parametrize(
    "name,shape,factors",
    [
        ("sleepstudy", (180, 3), ["Subject"]),
        ("Dyestuff", (30, 2), ["Batch"]),
        ("Penicillin", (144, 3), ["plate", "sample"]),
        ("Pastes", (60, 4), ["batch", "cask", "sample"]),
        ("InstEval", (73421, 7), ["s", "d", "studage", "lectage", "service", "dept"]),
        ("cbpp", (56, 5), ["herd", "period"]),
        ("grouseticks", (403, 7), ["INDEX", "BROOD", "YEAR", "LOCATION"]),
        ("cake", (270, 5), ["replicate", "recipe", "temperature"]),
        ("radon", (919, 29), ["county"]),
    ],
)
def test_load_dataset(name, shape, factors):
    df = hierreg.load_dataset(name)
    assert df.shape == shape
    for col in factors:
        assert isinstance(df[col].dtype, pd.CategoricalDtype)
    src = SHARED / "data" / f"{name}.csv"
    if src.exists():  # same values as the shared copy
        ref = pd.read_csv(src)
        num = [c for c in ref.columns if c in df.columns and c not in factors]
        pd.testing.assert_frame_equal(df[num].reset_index(drop=True), ref[num], check_dtype=False)


def test_levels_sorted_numerically_for_integer_labels():
    levels = list(hierreg.load_dataset("InstEval")["d"].cat.categories[:4])
    assert levels == ["1", "6", "7", "8"]


def test_unknown_dataset():
    with pytest.raises(hierreg.DataError, match="unknown dataset 'nope'"):
        hierreg.load_dataset("nope")


def test_cli_fit_prints_summary(capsys):
    assert main(["fit", "Reaction ~ Days + (Days | Subject)", "--data", "sleepstudy"]) == 0
    out = capsys.readouterr().out
    assert "Linear Mixed Model Regression Results" in out
    assert "251.405" in out and "Subject Intercept Var" in out


def test_cli_csv_and_errors(tmp_path, capsys):
    path = tmp_path / "d.csv"
    hierreg.load_dataset("Dyestuff").to_csv(path, index=False)
    assert main(["fit", "Yield ~ 1 + (1 | Batch)", "--data", str(path), "--method", "ml"]) == 0
    assert "ML" in capsys.readouterr().out
    assert main(["fit", "Yield ~ 1 + (1 | Nope)", "--data", str(path)]) == 2
    assert "'Nope'" in capsys.readouterr().err
    assert main(["fit", "Yield ~ 1", "--data", "no/such.csv"]) == 2


def test_cli_datasets_and_module_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "hierreg_formula", "datasets"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "sleepstudy" in out and "InstEval" in out


def test_cli_fits_a_glmm(capsys):
    code = main(
        ["fit", "TICKS ~ YEAR + (1 | LOCATION)", "--data", "grouseticks", "--family", "poisson"]
    )
    out = capsys.readouterr()
    assert code == 0 and "poisson/log" in out.out and "Generalized Linear Mixed" in out.out


def test_cli_notes_a_count_response_fitted_as_gaussian(capsys):
    code = main(["fit", "TICKS ~ YEAR + (1 | LOCATION)", "--data", "grouseticks"])
    err = capsys.readouterr().err
    assert code == 0 and "--family poisson" in err


def test_cli_nagq_needs_a_family(capsys):
    assert main(["fit", "y ~ 1 + (1 | g)", "--data", "sleepstudy", "--nagq", "5"]) == 2
    assert "--nagq is for GLMMs" in capsys.readouterr().err
