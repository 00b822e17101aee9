"""Token heatmaps: one coloured cell per token, labelled with the token,
coloured by its score (e.g. :func:`deeplift.tokens.score_tokens`' scores).

matplotlib is an optional dependency (``pip install deeplift[viz]``),
imported when :func:`plot_token_scores` is called.
"""
import numpy as np

from deeplift.visualization.matplotlib_helpers import (
    finish_figure, require_matplotlib)

__all__ = ["plot_token_scores"]


def plot_token_scores(tokens, scores, cmap="RdBu_r", vmax=None,
                      title=None, wrap=20, figsize=None, save_path=None,
                      show=None):
    """A heatmap of token scores; returns the matplotlib Figure.

    ``tokens``: a sequence of T strings (or ids), or N such sequences;
    ``scores``: (T,) or (N, T) numbers, one per token.  Each sequence is
    drawn as rows of at most ``wrap`` cells; the colour scale is symmetric
    around 0 (``vmax``: its end, default the largest absolute score), red
    positive and blue negative with the default ``cmap``.  With
    ``save_path`` the figure is saved there and closed; ``show`` as in
    :func:`deeplift.visualization.matplotlib_helpers.finish_figure`.
    """
    scores = np.asarray(scores, dtype=float)
    if scores.ndim == 1:
        scores, tokens = scores[None], [list(tokens)]
    else:
        tokens = [list(t) for t in tokens]
    if scores.ndim != 2 or len(tokens) != len(scores) or any(
            len(t) != s.shape[0] for t, s in zip(tokens, scores)):
        raise ValueError("tokens and scores must match: T tokens with (T,) "
                         "scores, or N sequences of T with (N, T) scores; "
                         "got %d sequence(s) for scores of shape %s"
                         % (len(tokens), scores.shape))
    if wrap is None or wrap < 1:
        wrap = scores.shape[1]
    rows_per = max(1, -(-scores.shape[1] // wrap))
    plt = require_matplotlib()
    from matplotlib.colors import Normalize
    limit = float(vmax) if vmax is not None else float(
        np.max(np.abs(scores)) or 1.0)
    norm = Normalize(-limit, limit)
    colormap = plt.get_cmap(cmap)
    ncols = min(wrap, scores.shape[1])
    nrows = rows_per * len(scores)
    if figsize is None:
        figsize = (max(4.0, 0.9 * ncols + 1.2), 0.5 * nrows + 0.8)
    fig, ax = plt.subplots(figsize=figsize)
    for n, (seq, row) in enumerate(zip(tokens, scores)):
        for t, (token, value) in enumerate(zip(seq, row)):
            r, c = n * rows_per + t // wrap, t % wrap
            rgba = colormap(norm(value))
            ax.add_patch(plt.Rectangle((c, -r - 1), 1, 1, facecolor=rgba,
                                       edgecolor="white"))
            dark = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2] < 0.5
            ax.text(c + 0.5, -r - 0.5, str(token), ha="center",
                    va="center", fontsize=9,
                    color="white" if dark else "black")
    ax.set_xlim(0, ncols)
    ax.set_ylim(-nrows, 0)
    ax.set_axis_off()
    mappable = plt.cm.ScalarMappable(norm=norm, cmap=colormap)
    mappable.set_array([])
    fig.colorbar(mappable, ax=ax, fraction=0.03, pad=0.02, label="score")
    if title:
        ax.set_title(title)
    return finish_figure(fig, save_path=save_path, show=show)
