"""Sequence logos of per-base scores (e.g. DeepLIFT contribution scores).

Each position of an L x 4 array of scores (columns A, C, G, T) is drawn as a
stack of letters whose heights are the scores: positive scores are stacked
upwards from zero, negative ones downwards (upside-down letters), the
letter with the largest magnitude outermost.  Boxes can highlight ranges of
positions.

The public functions have the names and arguments of
``deeplift.visualization.viz_sequence`` in deeplift 0.6.13.  In addition,
:func:`plot_weights` returns its figure and can write it to a file
(``save_path``) instead of showing it, for scripts and headless machines.

matplotlib is an optional dependency (``pip install deeplift[viz]``); it is
imported only when a plotting function is called.
"""
import logging

import numpy as np

from deeplift.visualization.matplotlib_helpers import (
    finish_figure, require_matplotlib)

logger = logging.getLogger(__name__)

__all__ = ["plot_a", "plot_c", "plot_g", "plot_t", "plot_weights_given_ax",
           "plot_weights", "plot_logos", "plot_logo_windows", "logo_ylim",
           "add_base_legend",
           "default_colors", "default_plot_funcs", "default_letters"]


# ---------------------------------------------------------------------------
# Letter shapes: polygons in the unit square, x from the letter's left edge
# and y from its base, each letter one path (outlines plus holes).
# ---------------------------------------------------------------------------

def _arc(cx, cy, rx, ry, start_deg, end_deg, num=48):
    """Points of an elliptical arc, including its extreme points."""
    low, high = sorted((start_deg, end_deg))
    degrees = np.union1d(np.linspace(low, high, num),
                         [a for a in range(0, 361, 90) if low < a < high])
    if end_deg < start_deg:
        degrees = degrees[::-1]
    theta = np.deg2rad(degrees)
    return np.stack([cx + rx * np.cos(theta), cy + ry * np.sin(theta)], 1)


def _signed_area(poly):
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)


def _oriented(poly, counter_clockwise):
    """Orient outlines counter-clockwise and holes clockwise, so that the
    holes stay empty under both the nonzero and the even-odd fill rules."""
    poly = np.asarray(poly, dtype=float)
    if (_signed_area(poly) > 0) != counter_clockwise:
        poly = poly[::-1]
    return poly


def _glyph(outlines, holes=()):
    return ([_oriented(p, True) for p in outlines]
            + [_oriented(p, False) for p in holes])


# A: two slanted legs and a crossbar, with a triangular hole under the apex.
_A_GLYPH = _glyph(
    outlines=[[(0.0, 0.0), (0.22, 0.0), (0.3133, 0.25), (0.6867, 0.25),
               (0.78, 0.0), (1.0, 0.0), (0.6, 1.0), (0.4, 1.0)]],
    holes=[[(0.3693, 0.4), (0.5, 0.75), (0.6307, 0.4)]])

# C: an elliptical band open on the right.
_C_GLYPH = _glyph(outlines=[np.concatenate([
    _arc(0.5, 0.5, 0.5, 0.5, 45, 315),
    _arc(0.5, 0.5, 0.3, 0.32, 315, 45)])])

# G: a band open at the top right, ending in a bar pointing inwards.
_G_GLYPH = _glyph(outlines=[np.concatenate([
    _arc(0.5, 0.5, 0.5, 0.5, 45, 360),
    [(1.0, 0.64), (0.55, 0.64), (0.55, 0.5)],
    _arc(0.5, 0.5, 0.3, 0.32, 360, 45)])])

# T: a top bar and a stem.
_T_GLYPH = _glyph(outlines=[[
    (0.0, 1.0), (0.0, 0.8), (0.4, 0.8), (0.4, 0.0), (0.6, 0.0), (0.6, 0.8),
    (1.0, 0.8), (1.0, 1.0)]])


def _add_glyph(ax, glyph, base, left_edge, height, color):
    """Add one letter as a single PathPatch scaled to ``height``."""
    require_matplotlib()
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path

    vertices, codes = [], []
    for poly in glyph:
        pts = np.empty((len(poly) + 1, 2))
        pts[:-1, 0] = left_edge + poly[:, 0]
        pts[:-1, 1] = base + height * poly[:, 1]
        pts[-1] = pts[0]
        vertices.append(pts)
        codes.extend([Path.MOVETO] + [Path.LINETO] * (len(poly) - 1)
                     + [Path.CLOSEPOLY])
    patch = PathPatch(Path(np.concatenate(vertices), codes),
                      facecolor=color, edgecolor=color, linewidth=0.5)
    ax.add_patch(patch)
    return patch


def plot_a(ax, base, left_edge, height, color):
    """Draw an "A" from (left_edge, base), one unit wide and ``height``
    high (negative heights draw it upside down, below ``base``)."""
    return _add_glyph(ax, _A_GLYPH, base, left_edge, height, color)


def plot_c(ax, base, left_edge, height, color):
    """Draw a "C"; same arguments as :func:`plot_a`."""
    return _add_glyph(ax, _C_GLYPH, base, left_edge, height, color)


def plot_g(ax, base, left_edge, height, color):
    """Draw a "G"; same arguments as :func:`plot_a`."""
    return _add_glyph(ax, _G_GLYPH, base, left_edge, height, color)


def plot_t(ax, base, left_edge, height, color):
    """Draw a "T"; same arguments as :func:`plot_a`."""
    return _add_glyph(ax, _T_GLYPH, base, left_edge, height, color)


default_colors = {0: 'green', 1: 'blue', 2: 'orange', 3: 'red'}
default_plot_funcs = {0: plot_a, 1: plot_c, 2: plot_g, 3: plot_t}
#: the letter each column stands for (legend labels)
default_letters = {0: "A", 1: "C", 2: "G", 3: "T"}


# ---------------------------------------------------------------------------
# Logos
# ---------------------------------------------------------------------------

def _as_logo_array(array, num_letters):
    """Return ``array`` as a float (L, num_letters) array, or raise.

    Singleton axes beyond two are dropped, e.g. (1, L, 4) -> (L, 4); a
    (4, L) array is transposed, as in deeplift 0.6.13.
    """
    try:
        arr = np.asarray(array, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError("array must be numeric, got %r" % (array,)) from exc
    while arr.ndim > 2:
        singleton = [axis for axis, size in enumerate(arr.shape) if size == 1]
        if not singleton:
            break
        arr = arr.squeeze(axis=singleton[0])
    if (arr.ndim == 2 and arr.shape[1] != num_letters
            and arr.shape[0] == num_letters):
        arr = arr.T
    if arr.ndim != 2 or arr.shape[1] != num_letters or arr.shape[0] == 0:
        raise ValueError(
            "array must have shape (L, %d) (one row of scores per position; "
            "(1, L, %d) and (%d, L) are accepted too), got shape %s"
            % (num_letters, num_letters, num_letters, np.shape(array)))
    if not np.all(np.isfinite(arr)):
        raise ValueError("array contains NaN or infinite scores")
    return arr


def _stack_extent(arr):
    """(largest stack above zero, lowest stack below zero) of an (L, D)
    array."""
    return (float(np.clip(arr, 0, None).sum(axis=1).max()),
            float(np.clip(arr, None, 0).sum(axis=1).min()))


def logo_ylim(arrays, height_padding_factor=0.2, num_letters=4):
    """The y-limits ``(low, high)`` that fit every logo of ``arrays`` (a
    list of (L, 4) score arrays) with the padding of
    :func:`plot_weights_given_ax`: use it to give several logos one
    y-scale."""
    highs, lows = zip(*[_stack_extent(_as_logo_array(a, num_letters))
                        for a in arrays])
    high, low = max(highs), min(lows)
    padding = max(abs(low), abs(high)) * height_padding_factor
    if high - low <= 0:  # all scores zero
        return -1.0, 1.0
    return low - padding, high + padding


def add_base_legend(target, colors=default_colors, letters=default_letters,
                    num_letters=None, **legend_kwargs):
    """A legend of the base colours (A green, C blue, G orange, T red by
    default) on ``target``, a matplotlib axes or figure; ``num_letters``
    columns (default: those of ``letters``; a column without a letter is
    labelled by its index).  Returns the legend."""
    require_matplotlib()
    from matplotlib.patches import Patch

    def label(i):
        try:
            return letters[i]
        except (KeyError, IndexError, TypeError):
            return str(i)
    count = len(letters) if num_letters is None else num_letters
    handles = [Patch(facecolor=colors[i], label=label(i))
               for i in range(count)]
    options = {"loc": "upper right", "ncol": len(handles), "fontsize": 9,
               "frameon": False}
    options.update(legend_kwargs)
    return target.legend(handles=handles, **options)


def _check_highlight(highlight, length):
    """Validate ``{color: [(start, end), ...]}`` and return it as a list."""
    if highlight is None:
        return []
    if not hasattr(highlight, "items"):
        raise ValueError("highlight must be a dict mapping a color to a list "
                         "of (start, end) position ranges, got %r"
                         % (highlight,))
    boxes = []
    for color, ranges in highlight.items():
        for item in ranges:
            try:
                start, end = item
                start, end = int(start), int(end)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    "highlight ranges must be (start, end) pairs of "
                    "positions, got %r for color %r" % (item, color)) from exc
            if not 0 <= start < end <= length:
                raise ValueError(
                    "highlight range (%d, %d) for color %r is not within "
                    "0 <= start < end <= %d" % (start, end, color, length))
            boxes.append((color, start, end))
    return boxes


def plot_weights_given_ax(ax, array, height_padding_factor=0.2,
                          length_padding=1.0, subticks_frequency=1.0,
                          highlight=None, colors=default_colors,
                          plot_funcs=default_plot_funcs, ylim=None,
                          xlabel="position", ylabel="contribution",
                          legend=False, letters=default_letters):
    """Draw a sequence logo of ``array`` on the matplotlib axes ``ax``.

    Arguments:
        ax: matplotlib axes to draw on.
        array: (L, 4) scores (columns in the order of ``plot_funcs``, by
            default A, C, G, T); (1, L, 4) and (4, L) arrays are accepted.
        height_padding_factor: vertical margin, as a fraction of the tallest
            stack (above or below zero).
        length_padding: horizontal margin, in positions.
        subticks_frequency: spacing of the x-axis ticks, in positions.
        highlight: dict mapping a matplotlib color to a list of
            (start, end) position ranges (end exclusive) to box.
        colors, plot_funcs: dicts (or sequences) mapping a column index to
            the letter's color and drawing function
            ``func(ax, base, left_edge, height, color)``.
        ylim: ``(low, high)`` y-limits, e.g. :func:`logo_ylim` of several
            arrays for one scale; None fits this array.
        xlabel, ylabel: axis labels (None: none).
        legend: add a legend of the letters' colours (``letters`` names
            the columns).

    Letters with a score of exactly zero are not drawn.  Returns ``ax``.
    """
    require_matplotlib()
    from matplotlib.patches import Rectangle

    num_letters = len(plot_funcs)
    arr = _as_logo_array(array, num_letters)
    for letter in range(num_letters):
        for name, table in (("plot_funcs", plot_funcs), ("colors", colors)):
            try:
                table[letter]
            except (KeyError, IndexError):
                raise ValueError("%s has no entry for column %d"
                                 % (name, letter)) from None
    length = arr.shape[0]
    boxes = _check_highlight(highlight, length)

    # Stack the letters of each position from the smallest magnitude up.
    heights = np.zeros(length)
    depths = np.zeros(length)
    order = np.argsort(np.abs(arr), axis=1, kind="stable")
    for i in range(length):
        for letter in order[i].tolist():
            value = float(arr[i, letter])
            if value > 0:
                base = heights[i]
                heights[i] += value
            elif value < 0:
                base = depths[i]
                depths[i] += value
            else:
                continue
            plot_funcs[letter](ax=ax, base=base, left_edge=i, height=value,
                               color=colors[letter])

    for color, start, end in boxes:
        min_depth = depths[start:end].min()
        max_height = heights[start:end].max()
        ax.add_patch(Rectangle(xy=(start, min_depth), width=end - start,
                               height=max_height - min_depth,
                               edgecolor=color, fill=False))

    ax.set_xlim(-length_padding, length + length_padding)
    ax.xaxis.set_ticks(np.arange(0.0, length + 1, subticks_frequency))
    if ylim is None:
        ylim = logo_ylim([arr], height_padding_factor, num_letters)
    ax.set_ylim(*ylim)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if legend:
        add_base_legend(ax, colors=colors, letters=letters,
                        num_letters=num_letters)
    return ax


def plot_weights(array, figsize=(20, 2), height_padding_factor=0.2,
                 length_padding=1.0, subticks_frequency=1.0,
                 colors=default_colors, plot_funcs=default_plot_funcs,
                 highlight=None, save_path=None, show=None, dpi=None,
                 title=None, xlabel="position", ylabel="contribution",
                 legend=True):
    """Plot a sequence logo of ``array`` in a new figure.

    Arguments are as in :func:`plot_weights_given_ax`, plus the following.

    Arguments:
        figsize: the figure size in inches.
        save_path: if given, the figure is written to this file (format
            from the extension, e.g. ``.png``) and closed instead of shown.
        show: whether to call ``plt.show()``; defaults to True without
            ``save_path`` (ignored with non-interactive backends like Agg).
        dpi: resolution of the saved file (matplotlib's default if None).
        title: optional axes title.
        xlabel, ylabel, legend: as in :func:`plot_weights_given_ax` (the
            legend of base colours is on by default here).

    Returns the matplotlib figure (in a notebook, end the line with ``;``
    to keep the returned figure from being displayed a second time).
    """
    plt = require_matplotlib()
    # Validate before creating a figure, so that errors leave nothing open.
    num_letters = len(plot_funcs)
    _check_highlight(highlight, _as_logo_array(array, num_letters).shape[0])
    fig = plt.figure(figsize=figsize)
    try:
        ax = fig.add_subplot(111)
        plot_weights_given_ax(ax=ax, array=array,
                              height_padding_factor=height_padding_factor,
                              length_padding=length_padding,
                              subticks_frequency=subticks_frequency,
                              colors=colors, plot_funcs=plot_funcs,
                              highlight=highlight, xlabel=xlabel,
                              ylabel=ylabel, legend=legend)
        if title is not None:
            ax.set_title(title)
    except Exception:
        plt.close(fig)
        raise
    return finish_figure(fig, save_path=save_path, show=show, dpi=dpi)


def plot_logos(arrays, titles=None, figsize=None, height_padding_factor=0.2,
               subticks_frequency=10, highlight=None, share_y=True,
               colors=default_colors, plot_funcs=default_plot_funcs,
               letters=default_letters, suptitle=None, save_path=None,
               show=None, dpi=None, xlabel="position",
               ylabel="contribution"):
    """Several logos in one figure, one row each, on one y-scale.

    ``arrays``: a list of (L, 4) score arrays; ``titles``: one per array
    (or None); ``share_y``: the same y-limits for every row
    (:func:`logo_ylim`), so rows compare by height; one legend of the
    base colours for the figure; the x label on the bottom row only.
    Other arguments as in :func:`plot_weights`.  Returns the figure.
    """
    plt = require_matplotlib()
    arrays = list(arrays)
    if not arrays:
        raise ValueError("plot_logos needs at least one array")
    num_letters = len(plot_funcs)
    checked = [_as_logo_array(a, num_letters) for a in arrays]
    if titles is not None and len(titles) != len(arrays):
        raise ValueError("%d titles for %d arrays" % (len(titles),
                                                      len(arrays)))
    for arr in checked:
        _check_highlight(highlight, arr.shape[0])
    ylim = (logo_ylim(checked, height_padding_factor, num_letters)
            if share_y else None)
    if figsize is None:
        figsize = (20, 2.2 * len(arrays) + 0.4)
    fig, axes = plt.subplots(len(arrays), 1, figsize=figsize, squeeze=False)
    try:
        for i, (ax, arr) in enumerate(zip(axes[:, 0], checked)):
            plot_weights_given_ax(
                ax, arr, height_padding_factor=height_padding_factor,
                subticks_frequency=subticks_frequency, highlight=highlight,
                colors=colors, plot_funcs=plot_funcs, ylim=ylim,
                xlabel=xlabel if i == len(arrays) - 1 else None,
                ylabel=ylabel)
            if titles is not None and titles[i] is not None:
                ax.set_title(titles[i], fontsize=11, loc="left")
        add_base_legend(fig, colors=colors, letters=letters,
                        num_letters=num_letters, loc="upper right")
        if suptitle is not None:
            fig.suptitle(suptitle, fontsize=12, x=0.01, ha="left")
        fig.tight_layout(rect=(0, 0, 1, 0.97))
    except Exception:
        plt.close(fig)
        raise
    return finish_figure(fig, save_path=save_path, show=show, dpi=dpi)


def _check_windows(windows, length):
    checked = []
    for item in windows:
        try:
            start, end = (int(v) for v in item)
        except (TypeError, ValueError):
            raise ValueError("windows must be (start, end) position pairs, "
                             "got %r" % (item,)) from None
        if not 0 <= start < end <= length:
            raise ValueError("window (%d, %d) is not within 0 <= start < end "
                             "<= %d" % (start, end, length))
        checked.append((start, end))
    if not checked:
        raise ValueError("plot_logo_windows needs at least one window")
    return checked


def plot_logo_windows(arrays, windows, titles=None, tracks="sum",
                      highlight=None, share_y=False, colors=default_colors,
                      plot_funcs=default_plot_funcs, letters=default_letters,
                      suptitle=None, note=None, track_width=6.0,
                      inches_per_base=0.32, row_height=2.2, save_path=None,
                      show=None, dpi=None, ylabel="contribution",
                      window_titles=None):
    """Logos readable at a glance: one row per array, the whole sequence as
    a line on the left, and wide logos of a few windows beside it.

    ``arrays``: a list of (L, 4) score arrays (one row each, the same L);
    ``windows``: (start, end) position ranges (end exclusive) drawn as
    logos in every row, ``inches_per_base`` wide per position (0.32 in:
    letters about 30 px wide at 100 dpi); ``tracks``: ``"sum"`` (the
    line is each position's sum over the letters), or a list with, per
    row, a length-L vector or None (no line: e.g. for hypothetical
    contributions, whose sum over the letters is not a contribution);
    ``highlight``: ``{color: [(start, end), ...]}`` spans shaded on the
    line and boxed on the logos; ``share_y``: one y-scale for every row
    (False: each row its own scale, shared by its line and its windows,
    written on its y-axis); ``note``: a line of text under the figure.
    The base-colour legend is drawn large, above the logos.  Returns the
    figure (written to ``save_path`` and closed when given).
    """
    plt = require_matplotlib()
    arrays = [_as_logo_array(a, len(plot_funcs)) for a in arrays]
    if not arrays:
        raise ValueError("plot_logo_windows needs at least one array")
    length = arrays[0].shape[0]
    if any(a.shape[0] != length for a in arrays):
        raise ValueError("every array must have the same length, got %s"
                         % [a.shape[0] for a in arrays])
    if titles is not None and len(titles) != len(arrays):
        raise ValueError("%d titles for %d arrays" % (len(titles),
                                                      len(arrays)))
    windows = _check_windows(windows, length)
    boxes = _check_highlight(highlight, length)
    if isinstance(tracks, str):
        if tracks != "sum":
            raise ValueError("tracks must be 'sum' or a list, got %r"
                             % (tracks,))
        tracks = [a.sum(axis=1) for a in arrays]
    tracks = list(tracks)
    if len(tracks) != len(arrays):
        raise ValueError("%d tracks for %d arrays" % (len(tracks),
                                                      len(arrays)))
    tracks = [None if t is None else np.asarray(t, float).reshape(-1)
              for t in tracks]
    if any(t is not None and t.shape != (length,) for t in tracks):
        raise ValueError("each track must have length %d" % length)

    def row_ylim(i):
        parts = [a[s:e] for a in (arrays if share_y else [arrays[i]])
                 for s, e in windows]
        low, high = logo_ylim(parts)
        for t in (tracks if share_y else [tracks[i]]):
            if t is not None:
                pad = 0.1 * max(abs(t.min()), abs(t.max()), 1e-12)
                low, high = min(low, t.min() - pad), max(high, t.max() + pad)
        return low, high

    widths = [track_width] + [max(1.5, (e - s) * inches_per_base)
                              for s, e in windows]
    # inches above the rows: the title's lines, then the legend's band
    title_height = 0.1 + (0.25 * (suptitle.count("\n") + 1) if suptitle
                          else 0)
    head = title_height + 0.6
    figsize = (sum(widths) + 0.6 * len(widths),
               row_height * len(arrays) + head + 0.4 + (0.3 if note else 0))
    fig, axes = plt.subplots(len(arrays), len(widths), figsize=figsize,
                             squeeze=False,
                             gridspec_kw={"width_ratios": widths})
    try:
        for i, arr in enumerate(arrays):
            ylim = row_ylim(i)
            ax = axes[i, 0]
            if tracks[i] is None:
                ax.axis("off")
                ax.text(0.5, 0.5, "(no line: see the logos)",
                        transform=ax.transAxes, ha="center", va="center",
                        fontsize=10, color="0.4")
            else:
                for color, start, end in boxes:
                    ax.axvspan(start - 0.5, end - 0.5, color=color,
                               alpha=0.35, linewidth=0)
                ax.plot(np.arange(length), tracks[i], color="0.15",
                        linewidth=1.0)
                ax.axhline(0, color="0.6", linewidth=0.6)
                for start, end in windows:
                    ax.axvspan(start - 0.5, end - 0.5, fill=False,
                               edgecolor="0.3", linestyle=":",
                               linewidth=1.0)
                ax.set_xlim(-0.5, length - 0.5)
                ax.set_ylim(*ylim)
                ax.set_ylabel(ylabel + ("\n(sum over bases)"
                                        if i == 0 else ""))
                if i == len(arrays) - 1:
                    ax.set_xlabel("position (whole sequence)")
            if titles is not None and titles[i] is not None:
                ax.set_title(titles[i], fontsize=11, loc="left")
            for j, (start, end) in enumerate(windows):
                wax = axes[i, j + 1]
                inside = {}
                for color, s, e in boxes:
                    s, e = max(s, start), min(e, end)
                    if s < e:
                        inside.setdefault(color, []).append(
                            (s - start, e - start))
                plot_weights_given_ax(
                    wax, arr[start:end], subticks_frequency=5,
                    highlight=inside, colors=colors, plot_funcs=plot_funcs,
                    ylim=ylim, xlabel=None, ylabel=None, length_padding=0.5)
                ticks = np.arange(0, end - start + 1, 5)
                wax.set_xticks(ticks)
                wax.set_xticklabels([str(start + t) for t in ticks])
                if i == 0 and window_titles is not None:
                    wax.set_title(window_titles[j], fontsize=11)
                if i == len(arrays) - 1:
                    wax.set_xlabel("position")
        # the legend in its own band under the title, right-aligned
        legend_top = 1 - title_height / figsize[1]
        add_base_legend(fig, colors=colors, letters=letters,
                        num_letters=len(plot_funcs), loc="upper right",
                        fontsize=14, handlelength=1.2, handleheight=1.2,
                        title="bases", title_fontsize=12,
                        bbox_to_anchor=(1.0, legend_top))
        top = 1 - head / figsize[1]
        if suptitle is not None:
            fig.suptitle(suptitle, fontsize=13, x=0.01, y=0.995, ha="left",
                         va="top")
        bottom = 0.0
        if note:
            fig.text(0.01, 0.005, note, fontsize=10, ha="left",
                     va="bottom", color="0.25", wrap=True)
            bottom = 0.3 / figsize[1]
        fig.tight_layout(rect=(0, bottom, 1, top))
    except Exception:
        plt.close(fig)
        raise
    return finish_figure(fig, save_path=save_path, show=show, dpi=dpi)
