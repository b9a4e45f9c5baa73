"""The ```python blocks of docs/scaling.md run as written (the README's: tests/test_readme.py;
blocks fenced ```py need a cluster or files and are not run)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("dask.dataframe")

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


@pytest.mark.parametrize("name", ["scaling.md"])
def test_doc_blocks_run(name):
    import hierreg_formula as hierreg

    blocks = BLOCK.findall((DOCS / name).read_text())
    assert blocks
    namespace: dict = {"__name__": "docs", "hierreg": hierreg}
    for i, code in enumerate(blocks):
        exec(compile(code, f"{name} block {i + 1}", "exec"), namespace)
