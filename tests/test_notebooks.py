"""Every teaching notebook in ``notebooks/`` runs from top to bottom (so none of them rots).

The notebooks run in a Jupyter kernel started with *this* interpreter (a kernel spec
named ``python3`` written to a temporary ``JUPYTER_PATH`` directory, which takes
precedence over any other ``python3`` spec on the machine), with the repository on
``PYTHONPATH`` and the non-interactive matplotlib backend.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
TIMEOUT = 120  # seconds, per notebook (and per cell)

pytestmark = pytest.mark.notebooks  # CI runs them: the README's test command has no -m filter

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")


@pytest.fixture
def kernel_env(tmp_path, monkeypatch):
    """A ``python3`` kernel spec running the current interpreter, found first."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", str(REPO), prepend=os.pathsep)
    return tmp_path


def test_notebooks_present():
    assert len(NOTEBOOKS) >= 6


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_clean(path):
    """Saved without outputs, kernel ``python3``, and self-contained (no shared/ files)."""
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    assert book.metadata["kernelspec"]["name"] == "python3"
    for cell in book.cells:
        if cell.cell_type == "code":
            assert not cell.get("outputs"), f"{path.name}: saved notebooks carry no outputs"
            assert cell.get("execution_count") is None
            assert "shared/" not in cell.source, f"{path.name} must run from the repository alone"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, kernel_env):
    book = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        book,
        timeout=TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(kernel_env)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell (or a timeout)
    errors = [
        out
        for cell in book.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors, f"{path.name}: cell errors {errors}"
