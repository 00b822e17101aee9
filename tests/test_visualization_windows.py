"""plot_logo_windows (the demo's figure: the whole sequence as a line and
wide logos of motif windows) and the demo's windows and AUROC errors."""
import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib  # noqa: E402
matplotlib.use("Agg")

from deeplift.visualization import viz_sequence  # noqa: E402


def _scores(seed, length=60, scale=1.0):
    rng = np.random.RandomState(seed)
    return rng.randn(length, 4) * scale


def test_rows_windows_lines_and_scales(tmp_path):
    small, large = _scores(0, scale=0.1), _scores(1, scale=3.0)
    path = tmp_path / "w.png"
    fig = viz_sequence.plot_logo_windows(
        [small, large], [(10, 20), (40, 55)], titles=["small", "large"],
        highlight={"gold": [(12, 18)]}, note="a note", save_path=str(path),
        window_titles=["w1", "w2"])
    assert path.stat().st_size > 10000
    axes = np.array(fig.axes[:6]).reshape(2, 3)
    # the line is each position's sum over the bases
    line = axes[1, 0].get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), large.sum(1))
    # each row its own scale, shared by its line and its windows
    assert axes[0, 0].get_ylim() == axes[0, 1].get_ylim() == \
        axes[0, 2].get_ylim()
    assert axes[1, 0].get_ylim()[1] > 5 * axes[0, 0].get_ylim()[1]
    # windows keep the sequence's positions on their axis
    assert [t.get_text() for t in axes[1, 2].get_xticklabels()][:2] == \
        ["40", "45"]
    assert axes[0, 1].get_title() == "w1" and axes[0, 0].get_title(
        loc="left") == "small"
    # the logo of a window has exactly the letters of that window: one
    # patch per nonzero score, plus the highlight box
    assert len(axes[0, 1].patches) == 10 * 4 + 1
    assert fig.legends and fig.legends[0].get_texts()[0].get_fontsize() >= 12
    shared = viz_sequence.plot_logo_windows([small, large], [(10, 20)],
                                            share_y=True, show=False)
    a = np.array(shared.axes[:4]).reshape(2, 2)
    assert a[0, 0].get_ylim() == a[1, 0].get_ylim() == a[1, 1].get_ylim()


def test_rows_without_a_line():
    fig = viz_sequence.plot_logo_windows(
        [_scores(0), _scores(1)], [(0, 8)], tracks=[None, np.arange(60.0)],
        show=False)
    assert not fig.axes[0].axison and fig.axes[2].get_lines()


@pytest.mark.parametrize("kwargs, message", [
    ({"windows": []}, "at least one window"),
    ({"windows": [(5, 70)]}, r"window \(5, 70\) is not within"),
    ({"windows": [(5, "x")]}, "position pairs"),
    ({"windows": [(0, 5)], "tracks": [None]}, "1 tracks for 2 arrays"),
    ({"windows": [(0, 5)], "tracks": "mean"}, "'sum' or a list"),
    ({"windows": [(0, 5)], "titles": ["a"]}, "1 titles for 2 arrays"),
])
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        viz_sequence.plot_logo_windows([_scores(0), _scores(1)], **kwargs)
    with pytest.raises(ValueError, match="same length"):
        viz_sequence.plot_logo_windows([_scores(0), _scores(1, 50)],
                                       [(0, 5)])


def test_demo_windows_and_standard_errors():
    from deeplift.cli.demo import _auroc_and_se, _windows
    from deeplift.genomics import motif_mask_auroc
    mask = np.zeros((3, 100), bool)
    mask[1, 10:20] = mask[1, 60:70] = mask[2, 30:46] = True
    mask[0] = mask[1] | mask[2]
    assert _windows(mask, 0) == [(7, 23), (27, 49)]     # first of each
    assert _windows(mask, 1) == [(7, 23), (57, 73)]     # GATA only
    assert _windows(mask, 2) == [(27, 49)]
    scores = np.zeros((100, 4))
    scores[62, 0] = -1.0           # the second GATA instance scores most
    assert _windows(mask, 0, scores) == [(27, 49), (57, 73)]
    assert _windows(mask, 1, scores) == [(7, 23), (57, 73)]
    mask[2, 21:25] = True          # a TAL1 run close to GATA: merged
    assert _windows(mask, 0) == [(7, 28)]
    rng = np.random.RandomState(0)
    contribs = rng.randn(5, 100, 4)
    masks = np.tile(mask[1], (5, 1))
    mean, se = _auroc_and_se(contribs, masks)
    assert mean == pytest.approx(motif_mask_auroc(contribs, masks), abs=1e-12)
    each = [motif_mask_auroc(c[None], m[None])
            for c, m in zip(contribs, masks)]
    assert se == pytest.approx(np.std(each, ddof=1) / np.sqrt(5), abs=1e-12)
