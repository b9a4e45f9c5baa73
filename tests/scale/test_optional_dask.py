"""Dask is an optional extra: the package imports and fits in memory without it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCK = textwrap.dedent(
    """
    import sys

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name in ("dask", "distributed") or name.startswith(("dask.", "distributed.")):
                raise ImportError(f"No module named {name!r} (blocked)")
            return None

    sys.meta_path.insert(0, Block())
    """
)


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCK + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_and_in_memory_fit_without_dask():
    out = run(
        """
        import hierreg_formula as hierreg
        from hierreg_formula.scale import SufficientStats, is_out_of_core
        res = hierreg.fit("Yield ~ 1 + (1 | Batch)", hierreg.load_dataset("Dyestuff"))
        assert "dask" not in sys.modules
        print(round(res.sigma, 3), is_out_of_core("d/*.parquet"))
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["49.51", "True"]


def test_parquet_without_dask_says_what_to_install():
    out = run(
        """
        import hierreg_formula as hierreg
        try:
            hierreg.fit("y ~ x + (1 | g)", "data/*.parquet")
        except ImportError as err:
            print(err)
        """
    )
    assert out.returncode == 0, out.stderr
    assert "pip install 'hierreg-formula[dask]'" in out.stdout
