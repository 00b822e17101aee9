"""Heatmaps of image attributions (e.g. DeepLIFT scores of an image's pixels).

matplotlib is an optional dependency (``pip install deeplift[viz]``); it is
imported only when :func:`plot_heatmap` is called.
"""
import logging

import numpy as np

from deeplift.visualization.matplotlib_helpers import (
    finish_figure, require_matplotlib)

logger = logging.getLogger(__name__)

__all__ = ["plot_heatmap"]

_LUMINANCE = np.array([0.299, 0.587, 0.114])


def _float_image(value, what):
    """``value`` as a float array, leading size-1 axes dropped (down to
    2-D); a ValueError naming ``what`` if it is not numeric."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError("%s must be numeric" % what) from exc
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    return arr


def _scores_2d(scores):
    """(H, W) or channels-last (H, W, C) scores -> (H, W), summing over C."""
    arr = _float_image(scores, "scores")
    if arr.ndim == 3:
        arr = arr.sum(axis=-1)
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(
            "scores must have shape (H, W) or (H, W, C) (channels last; a "
            "leading batch axis of size 1 is allowed), got shape %s"
            % (np.shape(scores),))
    if not np.all(np.isfinite(arr)):
        raise ValueError("scores contain NaN or infinite values")
    return arr


def _grayscale(image, shape):
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) image -> (H, W) in [0, 1]."""
    img = _float_image(image, "image")
    if img.ndim == 3:
        channels = img.shape[-1]
        if channels == 1:
            img = img[..., 0]
        elif channels in (3, 4):
            img = img[..., :3] @ _LUMINANCE
        else:
            raise ValueError("image must have 1, 3 or 4 channels (channels "
                             "last), got shape %s" % (np.shape(image),))
    if img.shape != shape:
        raise ValueError("image has shape %s but the scores are %s"
                         % (np.shape(image), shape))
    low, high = np.nanmin(img), np.nanmax(img)
    if high > low:
        img = (img - low) / (high - low)
    else:
        img = np.zeros_like(img)
    return img


def plot_heatmap(scores, image=None, ax=None, cmap='RdBu_r', symmetric=True,
                 save_path=None, alpha=None, colorbar=True, title=None,
                 show=None):
    """Plot attribution scores of an image as a heatmap.

    Arguments:
        scores: (H, W) scores, or (H, W, C) channels-last scores, which are
            summed over the channels; a leading axis of size 1 is dropped.
        image: optional (H, W) or (H, W, C) image (C = 1, 3 or 4) shown in
            grayscale under the heatmap.
        ax: matplotlib axes to draw on; None creates a new figure.
        cmap: colormap of the scores (default: red positive, blue negative).
        symmetric: center the color scale on zero (from -max|s| to
            +max|s|); otherwise it spans the scores' min to max.
        save_path: if given, the figure is written to this file (format from
            the extension, e.g. ``.png``); a figure created here is then
            closed instead of shown.
        alpha: opacity of the heatmap (default 0.6 over an image, else 1).
        colorbar: add a colorbar.
        title: optional axes title.
        show: whether to call ``plt.show()`` (default: when a new figure is
            created and there is no ``save_path``).

    Returns the matplotlib figure.
    """
    plt = require_matplotlib()
    arr = _scores_2d(scores)
    gray = _grayscale(image, arr.shape) if image is not None else None
    if symmetric:
        vmax = float(np.max(np.abs(arr)))
        vmax = vmax if vmax > 0 else 1.0
        vmin = -vmax
    else:
        vmin, vmax = float(arr.min()), float(arr.max())
        if vmax <= vmin:
            vmin, vmax = vmin - 1.0, vmax + 1.0
    if alpha is None:
        alpha = 0.6 if gray is not None else 1.0

    created = ax is None
    if created:
        fig, ax = plt.subplots()
    else:
        fig = ax.figure
    if gray is not None:
        ax.imshow(gray, cmap="gray", vmin=0.0, vmax=1.0,
                  interpolation="nearest")
    heat = ax.imshow(arr, cmap=cmap, vmin=vmin, vmax=vmax, alpha=alpha,
                     interpolation="nearest")
    if colorbar:
        fig.colorbar(heat, ax=ax)
    if title is not None:
        ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    if show is None:
        show = created and save_path is None
    return finish_figure(fig, save_path=save_path, show=show, close=created)
