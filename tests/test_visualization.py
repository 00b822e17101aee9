"""Tests for deeplift.visualization (sequence logos, heatmaps, helpers)."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import PathPatch, Rectangle
    HAVE_MPL = True
except ImportError:  # pragma: no cover - depends on the environment
    HAVE_MPL = False

needs_mpl = pytest.mark.skipif(not HAVE_MPL, reason="matplotlib not installed")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def close_figures():
    yield
    if HAVE_MPL:
        plt.close("all")


def letter_patches(ax):
    return [p for p in ax.patches if isinstance(p, PathPatch)]


def box_patches(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def random_scores(seed=0, length=30, zero_frac=0.3):
    rng = np.random.RandomState(seed)
    scores = rng.randn(length, 4)
    scores[rng.rand(length, 4) < zero_frac] = 0.0
    return scores


# ---------------------------------------------------------------------------
# Optional dependency
# ---------------------------------------------------------------------------

def test_import_without_matplotlib():
    code = textwrap.dedent("""
        import sys
        sys.modules["matplotlib"] = None  # makes "import matplotlib" fail
        sys.modules["matplotlib.pyplot"] = None
        import numpy as np
        import deeplift.visualization.viz_sequence as viz
        import deeplift.visualization.heatmap as heatmap
        import deeplift.visualization.matplotlib_helpers as helpers
        for func, args in [(viz.plot_weights, (np.ones((3, 4)),)),
                           (heatmap.plot_heatmap, (np.ones((3, 3)),)),
                           (helpers.plot_hist, ([1, 2, 3],))]:
            try:
                func(*args)
            except ImportError as exc:
                assert "pip install deeplift[viz]" in str(exc), str(exc)
            else:
                raise AssertionError("no ImportError")
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# ---------------------------------------------------------------------------
# Sequence logos
# ---------------------------------------------------------------------------

@needs_mpl
def test_plot_weights_writes_png(tmp_path):
    from deeplift.visualization import viz_sequence
    path = tmp_path / "logo.png"
    fig = viz_sequence.plot_weights(random_scores(), save_path=str(path))
    assert path.exists() and path.stat().st_size > 1000
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    # The figure is returned and closed after saving.
    assert fig is not None
    assert not plt.fignum_exists(fig.number)


@needs_mpl
def test_one_letter_patch_per_nonzero_score():
    from deeplift.visualization import viz_sequence
    scores = random_scores(seed=1)
    fig = viz_sequence.plot_weights(scores, show=False)
    ax = fig.axes[0]
    assert len(letter_patches(ax)) == np.count_nonzero(scores)
    assert len(box_patches(ax)) == 0
    assert len(ax.patches) == np.count_nonzero(scores)


@needs_mpl
def test_letter_colors_heights_and_stacking():
    from deeplift.visualization import viz_sequence
    scores = np.array([[0.5, 0.0, 0.0, 0.0],
                       [0.0, 0.0, 0.0, -1.0],
                       [0.2, 0.1, 1.0, -0.3]])
    fig, ax = plt.subplots()
    viz_sequence.plot_weights_given_ax(ax, scores, 0.2, 1.0, 1.0, {})
    patches = letter_patches(ax)
    assert len(patches) == 6
    colors = [matplotlib.colors.to_hex(p.get_facecolor()) for p in patches]
    # Position 2 is drawn from the smallest magnitude up: C, A, T, G.
    expected = ["green", "red", "blue", "green", "red", "orange"]
    assert colors == [matplotlib.colors.to_hex(c) for c in expected]
    extents = [p.get_path().get_extents() for p in patches]
    # A at position 0: from 0 to 0.5.
    assert np.allclose([extents[0].y0, extents[0].y1], [0.0, 0.5])
    assert np.allclose([extents[0].x0, extents[0].x1], [0.0, 1.0])
    # T at position 1 is below the axis, from -1 to 0.
    assert np.allclose([extents[1].y0, extents[1].y1], [-1.0, 0.0])
    assert np.allclose([extents[1].x0, extents[1].x1], [1.0, 2.0])
    # Stacking at position 2: C [0, .1], A [.1, .3], G [.3, 1.3]; T below.
    assert np.allclose([extents[2].y0, extents[2].y1], [0.0, 0.1])
    assert np.allclose([extents[3].y0, extents[3].y1], [0.1, 0.3])
    assert np.allclose([extents[4].y0, extents[4].y1], [-0.3, 0.0])
    assert np.allclose([extents[5].y0, extents[5].y1], [0.3, 1.3])
    # Axis limits follow the padding arguments.
    assert np.allclose(ax.get_xlim(), (-1.0, 4.0))
    assert np.allclose(ax.get_ylim(), (-1.0 - 0.26, 1.3 + 0.26))


@needs_mpl
def test_highlight_adds_rectangles():
    from deeplift.visualization import viz_sequence
    scores = random_scores(seed=2, length=20)
    fig = viz_sequence.plot_weights(
        scores, highlight={"red": [(0, 5), (10, 12)], "blue": [(3, 20)]},
        show=False)
    ax = fig.axes[0]
    boxes = box_patches(ax)
    assert len(boxes) == 3
    assert len(letter_patches(ax)) == np.count_nonzero(scores)
    red = [b for b in boxes
           if np.allclose(b.get_edgecolor(), matplotlib.colors.to_rgba("red"))]
    assert sorted((b.get_x(), b.get_width()) for b in red) == [(0, 5), (10, 2)]
    first = [b for b in red if b.get_x() == 0][0]
    pos = np.where(scores > 0, scores, 0).sum(1)
    neg = np.where(scores < 0, scores, 0).sum(1)
    assert np.isclose(first.get_y(), neg[:5].min())
    assert np.isclose(first.get_y() + first.get_height(), pos[:5].max())


@needs_mpl
def test_accepted_shapes():
    from deeplift.visualization import viz_sequence
    scores = random_scores(seed=3, length=7, zero_frac=0.0)
    for arr in [scores, scores[None], scores.T, scores[:, None, :],
                scores.tolist()]:
        fig = viz_sequence.plot_weights(arr, show=False)
        assert len(letter_patches(fig.axes[0])) == 28
    single = viz_sequence.plot_weights(np.array([[[1.0, 0, 0, -1]]]),
                                       show=False)
    assert len(letter_patches(single.axes[0])) == 2


@needs_mpl
@pytest.mark.parametrize("bad", [
    np.ones(4), np.ones((5, 3)), np.ones((2, 5, 4)), np.ones((0, 4)),
    np.full((3, 4), np.nan), [["a", "b", "c", "d"]]])
def test_bad_shapes_raise(bad):
    from deeplift.visualization import viz_sequence
    before = plt.get_fignums()
    with pytest.raises(ValueError):
        viz_sequence.plot_weights(bad, show=False)
    assert plt.get_fignums() == before
    fig, ax = plt.subplots()
    with pytest.raises(ValueError):
        viz_sequence.plot_weights_given_ax(ax, bad, 0.2, 1.0, 1.0, {})


@needs_mpl
@pytest.mark.parametrize("highlight", [
    {"red": [(0, 11)]}, {"red": [(-1, 3)]}, {"red": [(4, 4)]},
    {"red": [(1,)]}, [(0, 3)]])
def test_bad_highlight_raises(highlight):
    from deeplift.visualization import viz_sequence
    with pytest.raises(ValueError):
        viz_sequence.plot_weights(np.ones((10, 4)), highlight=highlight,
                                  show=False)


@needs_mpl
def test_custom_colors_and_plot_funcs():
    from deeplift.visualization import viz_sequence
    calls = []

    def record(ax, base, left_edge, height, color):
        calls.append((left_edge, height, color))

    funcs = {0: record, 1: record}
    viz_sequence.plot_weights(np.array([[1.0, -2.0], [0.0, 3.0]]),
                              colors={0: "k", 1: "m"}, plot_funcs=funcs,
                              show=False)
    assert sorted(calls) == [(0, -2.0, "m"), (0, 1.0, "k"), (1, 3.0, "m")]
    with pytest.raises(ValueError, match="colors"):
        viz_sequence.plot_weights(np.ones((2, 4)), colors={0: "k"},
                                  show=False)


@needs_mpl
def test_all_zero_scores_and_letter_functions():
    from deeplift.visualization import viz_sequence
    fig = viz_sequence.plot_weights(np.zeros((5, 4)), show=False)
    ax = fig.axes[0]
    assert len(ax.patches) == 0
    assert ax.get_ylim()[0] < ax.get_ylim()[1]
    for func in (viz_sequence.plot_a, viz_sequence.plot_c,
                 viz_sequence.plot_g, viz_sequence.plot_t):
        patch = func(ax=ax, base=0.5, left_edge=2, height=2.0, color="k")
        ext = patch.get_path().get_extents()
        assert np.allclose([ext.x0, ext.y0, ext.y1], [2, 0.5, 2.5])
        assert 2.8 < ext.x1 <= 3.0 + 1e-9
    assert len(ax.patches) == 4


@needs_mpl
def test_show_with_agg_backend_does_not_warn(recwarn):
    from deeplift.visualization import viz_sequence
    fig = viz_sequence.plot_weights(np.ones((3, 4)))
    assert fig is not None
    assert not [w for w in recwarn if "non-interactive" in str(w.message)]


# ---------------------------------------------------------------------------
# Heatmaps
# ---------------------------------------------------------------------------

@needs_mpl
def test_heatmap_with_image(tmp_path):
    from deeplift.visualization.heatmap import plot_heatmap
    rng = np.random.RandomState(0)
    scores = rng.randn(16, 12, 3)
    image = rng.rand(16, 12, 3)
    path = tmp_path / "heat.png"
    fig = plot_heatmap(scores, image=image, save_path=str(path))
    assert path.exists() and path.stat().st_size > 500
    assert not plt.fignum_exists(fig.number)
    ax = fig.axes[0]
    images = ax.get_images()
    assert len(images) == 2
    np.testing.assert_allclose(images[1].get_array(), scores.sum(-1))
    vmin, vmax = images[1].get_clim()
    assert np.isclose(-vmin, vmax)
    assert np.isclose(vmax, np.abs(scores.sum(-1)).max())
    gray = np.asarray(images[0].get_array())
    assert gray.shape == (16, 12)
    assert np.isclose(gray.min(), 0) and np.isclose(gray.max(), 1)


@needs_mpl
def test_heatmap_on_given_axes_and_options():
    from deeplift.visualization.heatmap import plot_heatmap
    scores = np.arange(12.0).reshape(1, 3, 4)
    fig, ax = plt.subplots()
    returned = plot_heatmap(scores, ax=ax, symmetric=False, colorbar=False,
                            cmap="viridis")
    assert returned is fig
    images = ax.get_images()
    assert len(images) == 1
    assert images[0].get_clim() == (0.0, 11.0)
    assert images[0].get_cmap().name == "viridis"
    # Grayscale (H, W, 1) image and (H, W) scores; a constant image is
    # drawn black, and the heatmap is translucent over it.
    plot_heatmap(np.ones((3, 4)), image=np.full((3, 4, 1), 7.0), ax=ax,
                 colorbar=False)
    gray, heat = ax.get_images()[1:]
    np.testing.assert_array_equal(gray.get_array(), np.zeros((3, 4)))
    assert gray.get_cmap().name == "gray"
    np.testing.assert_array_equal(heat.get_array(), np.ones((3, 4)))
    assert heat.get_alpha() == 0.6
    assert heat.get_clim() == (-1.0, 1.0)


@needs_mpl
@pytest.mark.parametrize("scores,image", [
    (np.ones(5), None), (np.ones((2, 3, 4, 5)), None),
    (np.ones((4, 4)), np.ones((5, 4))), (np.ones((4, 4)), np.ones((4, 4, 2))),
    (np.full((2, 2), np.inf), None), ([["a", "b"]], None),
    (np.ones((2, 2)), [["a", "b"], ["c", "d"]])])
def test_heatmap_bad_inputs(scores, image):
    from deeplift.visualization.heatmap import plot_heatmap
    before = plt.get_fignums()
    with pytest.raises(ValueError):
        plot_heatmap(scores, image=image, show=False)
    assert plt.get_fignums() == before


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

@needs_mpl
def test_plot_hist(tmp_path):
    from deeplift.visualization.matplotlib_helpers import plot_hist
    path = tmp_path / "hist.png"
    fig = plot_hist(np.random.RandomState(0).randn(50), bins=10,
                    title="scores", save_path=str(path))
    assert path.exists() and path.stat().st_size > 0
    assert fig.axes[0].get_title() == "scores"
    assert len(fig.axes[0].patches) == 10
    fig = plot_hist([1.0, 2.0, 3.0], show=False)
    assert len(fig.axes[0].patches) == 3


# ---------------------------------------------------------------------------
# Axis labels, base-colour legend, one y-scale per figure
# ---------------------------------------------------------------------------

@needs_mpl
def test_logo_has_axis_labels_and_base_legend():
    from deeplift.visualization import viz_sequence
    fig = viz_sequence.plot_weights(random_scores(1), show=False)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "position"
    assert ax.get_ylabel() == "contribution"
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["A", "C", "G", "T"]
    want = [matplotlib.colors.to_rgba(c) for c in
            ("green", "blue", "orange", "red")]
    got = [tuple(h.get_facecolor()) for h in legend.legend_handles]
    assert got == want
    # the 0.6.13 axes-level function keeps its plain look unless asked
    fig2, ax2 = plt.subplots()
    viz_sequence.plot_weights_given_ax(ax2, random_scores(1))
    assert ax2.get_legend() is None


@needs_mpl
def test_plot_logos_share_one_y_scale(tmp_path):
    from deeplift.visualization import viz_sequence
    small = random_scores(2) * 0.1
    large = random_scores(3) * 5.0
    path = tmp_path / "logos.png"
    fig = viz_sequence.plot_logos([small, large], titles=["small", "large"],
                                  save_path=str(path), show=False)
    assert path.stat().st_size > 0
    axes = fig.axes
    assert axes[0].get_ylim() == axes[1].get_ylim()
    low, high = axes[0].get_ylim()
    # the scale fits the larger logo's tallest stacks, padded by 20%
    top = np.clip(large, 0, None).sum(axis=1).max()
    bottom = np.clip(large, None, 0).sum(axis=1).min()
    pad = 0.2 * max(top, -bottom)
    np.testing.assert_allclose([low, high], [bottom - pad, top + pad])
    assert axes[0].get_xlabel() == "" and axes[1].get_xlabel() == "position"
    assert all(ax.get_ylabel() == "contribution" for ax in axes)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list("ACGT")
    # share_y=False: each its own scale
    fig = viz_sequence.plot_logos([small, large], share_y=False, show=False)
    assert fig.axes[0].get_ylim()[1] < fig.axes[1].get_ylim()[1]


@needs_mpl
def test_plot_logos_bad_input():
    from deeplift.visualization import viz_sequence
    with pytest.raises(ValueError, match="at least one"):
        viz_sequence.plot_logos([])
    with pytest.raises(ValueError, match="titles"):
        viz_sequence.plot_logos([random_scores(1)], titles=["a", "b"])
    with pytest.raises(ValueError, match="shape"):
        viz_sequence.plot_logos([np.zeros((5, 3))])
    assert plt.get_fignums() == []
