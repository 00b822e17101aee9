"""Small matplotlib helpers (matplotlib is an optional dependency).

Nothing here imports matplotlib at module import time; the functions import
it when called and raise an ImportError explaining how to install it
(``pip install deeplift[viz]``) when it is missing.
"""
import logging
import warnings

logger = logging.getLogger(__name__)

__all__ = ["plot_hist", "require_matplotlib", "finish_figure"]

_NON_INTERACTIVE_BACKENDS = {"agg", "cairo", "pdf", "pgf", "ps", "svg",
                             "template"}


def require_matplotlib():
    """Import and return ``matplotlib.pyplot``, or raise a helpful error."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "deeplift.visualization needs matplotlib, which is not "
            "installed; install it with `pip install deeplift[viz]` (or "
            "`pip install matplotlib`)") from exc
    return plt


def finish_figure(fig, save_path=None, show=None, dpi=None, close=True):
    """Save and/or show a figure made by one of the plotting functions.

    With ``save_path``, the figure is written there (the format follows the
    file extension, e.g. ``.png``) and, if ``close``, closed, so that
    non-interactive use does not accumulate open figures.  ``show`` defaults
    to True when there is no ``save_path``; it calls ``plt.show()``, except
    with a non-interactive backend such as Agg, where that would only warn.
    Returns ``fig``.
    """
    plt = require_matplotlib()
    if save_path is not None:
        fig.savefig(save_path, dpi=dpi, bbox_inches="tight")
        logger.debug("saved figure to %s", save_path)
    if show is None:
        show = save_path is None
    if show:
        backend = plt.get_backend().lower()
        if backend not in _NON_INTERACTIVE_BACKENDS:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*non-interactive")
                plt.show()
    if save_path is not None and close:
        plt.close(fig)
    return fig


def plot_hist(data, bins=None, figsize=(7, 7), title="", save_path=None,
              show=None, **kwargs):
    """Plot a histogram of ``data`` in a new figure and return the figure.

    ``bins`` defaults to one bin per data point (as in deeplift 0.6.13);
    other keyword arguments go to ``plt.hist``.  With ``save_path`` the
    figure is saved there and closed; otherwise it is shown (see
    :func:`finish_figure`).
    """
    plt = require_matplotlib()
    if bins is None:
        bins = max(len(data), 1)
    fig = plt.figure(figsize=figsize)
    ax = fig.add_subplot(111)
    ax.hist(data, bins=bins, **kwargs)
    ax.set_title(title)
    return finish_figure(fig, save_path=save_path, show=show)
