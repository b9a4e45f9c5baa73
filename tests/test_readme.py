"""The README's Python code blocks run as written, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def blocks() -> list[str]:
    return BLOCK.findall(README.read_text())


def test_readme_has_python_blocks():
    assert len(blocks()) >= 3


def test_readme_blocks_run():
    import matplotlib.pyplot as plt

    namespace: dict = {"__name__": "readme"}
    for i, code in enumerate(blocks()):
        try:
            exec(compile(code, f"README.md block {i + 1}", "exec"), namespace)
        except Exception as err:  # pragma: no cover - the message is the point
            pytest.fail(f"README.md python block {i + 1} failed: {type(err).__name__}: {err}")
        finally:
            plt.close("all")
