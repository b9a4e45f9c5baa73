"""Plots render with Agg and draw what they should."""

from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import hierreg_formula as hierreg  # noqa: E402
from hierreg_formula import plots  # noqa: E402


@pytest.fixture(scope="module")
def sleep():
    return hierreg.load_dataset("sleepstudy")


@pytest.fixture(scope="module")
def res(sleep):
    return hierreg.fit("Reaction ~ Days + (Days | Subject)", sleep)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _errorbar_segments(ax) -> int:
    return sum(len(c.get_segments()) for c in ax.collections)


def test_caterpillar(res):
    fig = res.plot_random_effects()
    assert len(fig.axes) == 2  # intercept and slope panels
    modes, sds = res.random_effects["Subject"], res.random_effects_sd["Subject"]
    for ax, col in zip(fig.axes, ["Intercept", "Days"], strict=True):
        line = ax.lines[0]  # the points
        x = np.asarray(line.get_xdata())
        assert len(x) == 18
        np.testing.assert_allclose(x, np.sort(modes[col]))  # sorted modes
        assert np.array_equal(np.asarray(line.get_ydata()), np.arange(18))
        assert _errorbar_segments(ax) == 18  # one interval per level
        seg = ax.collections[0].get_segments()
        widths = np.array([s[1, 0] - s[0, 0] for s in seg])
        order = np.argsort(modes[col].to_numpy(), kind="stable")
        np.testing.assert_allclose(widths, 2 * 1.96 * sds[col].to_numpy()[order])
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert labels == [str(v) for v in modes.index[order]]
        assert ax.get_title() == f"Subject: {col}"


def test_caterpillar_on_given_axes_and_one_column():
    res = hierreg.fit("Yield ~ 1 + (1 | Batch)", hierreg.load_dataset("Dyestuff"))
    fig, ax = plt.subplots()
    out = plots.plot_random_effects(res, ax=ax, z=1.0)
    assert out is fig and len(fig.axes) == 1
    assert len(ax.lines[0].get_xdata()) == 6 and _errorbar_segments(ax) == 6
    _, axes = plt.subplots(1, 3)
    with pytest.raises(hierreg.HierregError, match="pass 1 Axes"):
        plots.plot_random_effects(res, ax=axes)
    with pytest.raises(hierreg.HierregError, match="not a grouping factor"):
        plots.plot_random_effects(res, group="Sample")


def test_caterpillar_of_many_levels_skips_labels():
    res = hierreg.fit("log_radon ~ floor + (1 | county)", hierreg.load_dataset("radon"))
    fig = res.plot_random_effects()
    ax = fig.axes[0]
    assert len(ax.lines[0].get_xdata()) == 85 and len(ax.get_yticks()) == 0


def test_caterpillar_of_a_second_factor():
    res = hierreg.fit(
        "diameter ~ 1 + (1 | plate) + (1 | sample)", hierreg.load_dataset("Penicillin")
    )
    fig = res.plot_random_effects(group="sample")
    assert len(fig.axes[0].lines[0].get_xdata()) == 6


def test_shrinkage(res):
    ax = res.plot_shrinkage(column="Days")
    points = [c for c in ax.collections if c.get_offsets().shape[0] == 18]
    assert len(points) == 2  # no pooling and partial pooling
    assert len([a for a in ax.texts if hasattr(a, "arrow_patch")]) == 18
    assert ax.get_ylabel() == "Days"
    coef = res.coef()["Subject"]["Days"]
    np.testing.assert_allclose(np.sort(points[1].get_offsets()[:, 1]), np.sort(coef))
    assert [ln.get_ydata()[0] for ln in ax.lines] == pytest.approx([10.467286], rel=1e-6)


def test_fit_lines(res, sleep):
    ax = res.plot_fit(levels=["308", "309", "310"])
    assert len(ax.lines) == 3 and len(ax.collections) == 3
    assert all(len(c.get_offsets()) == 10 for c in ax.collections)
    assert ax.get_xlabel() == "Days" and ax.get_ylabel() == "Reaction"
    # the points are the observations, the line the fitted values of that subject
    rows = (sleep["Subject"].astype(str) == "309").to_numpy()
    np.testing.assert_allclose(
        np.sort(ax.collections[1].get_offsets()[:, 1]), np.sort(sleep.loc[rows, "Reaction"])
    )
    np.testing.assert_allclose(
        ax.lines[1].get_ydata(), res.fittedvalues.to_numpy()[rows][np.argsort(sleep["Days"][rows])]
    )
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["308", "309", "310"]


def test_fit_default_levels_and_errors(res):
    ax = res.plot_fit()
    assert len(ax.lines) == plots.MAX_FIT_LEVELS == 12
    with pytest.raises(hierreg.HierregError, match="not levels"):
        res.plot_fit(levels=["999"])
    with pytest.raises(hierreg.HierregError, match="x='nope'"):
        res.plot_fit(x="nope")


def test_fit_against_a_data_column_and_without_covariate():
    df = hierreg.load_dataset("radon")
    res = hierreg.fit("log_radon ~ 1 + (1 | county)", df)
    ax = res.plot_fit(x="Uppm", levels=["AITKIN", "ANOKA"])
    assert ax.get_xlabel() == "Uppm" and len(ax.lines) == 2
    assert len(ax.collections[1].get_offsets()) == 52  # ANOKA's homes
    # intercept-only: points per level and a horizontal fitted segment each
    ax = res.plot_fit(levels=["AITKIN", "ANOKA", "BECKER"])
    assert len(ax.collections) == 3 and len(ax.lines) == 3
    assert all(ln.get_ydata()[0] == ln.get_ydata()[1] for ln in ax.lines)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["AITKIN", "ANOKA", "BECKER"]


def test_clear_error_without_matplotlib(res, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"hierreg-formula\[plot\]"):
        res.plot_random_effects()
