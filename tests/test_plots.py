"""Plots render with Agg and draw what they should."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import hierreg_formula as hierreg  # noqa: E402


@pytest.fixture(scope="module")
def res():
    return hierreg.fit("Reaction ~ Days + (Days | Subject)", hierreg.load_dataset("sleepstudy"))


def test_caterpillar(res):
    fig = res.plot_random_effects()
    assert len(fig.axes) == 2  # intercept and slope panels
    for ax in fig.axes:
        # one errorbar container with 18 points
        line = ax.lines[0]
        assert len(line.get_xdata()) == 18
        assert len(ax.get_yticklabels()) == 18
    plt.close(fig)


def test_shrinkage(res):
    ax = res.plot_shrinkage(column="Days")
    points = [c for c in ax.collections if c.get_offsets().shape[0] == 18]
    assert len(points) == 2  # no pooling and partial pooling
    assert len([a for a in ax.texts if hasattr(a, "arrow_patch")]) == 18
    assert ax.get_ylabel() == "Days"
    plt.close(ax.figure)


def test_fit_lines(res):
    ax = res.plot_fit(levels=["308", "309", "310"])
    assert len(ax.lines) == 3 and len(ax.collections) == 3
    assert all(len(c.get_offsets()) == 10 for c in ax.collections)
    plt.close(ax.figure)
