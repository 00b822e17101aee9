"""Targets other than one output unit: weights on a whole target layer.

Multi-bin, multi-track outputs (Enformer / Borzoi)
--------------------------------------------------
Models such as CREsted's Enformer and Borzoi predict (N, bins, tracks).
:func:`track_target` explains one track summed over all bins or over the
central K bins: weights 1 on those (bin, track) entries, 0 elsewhere, so
the explained scalar is ``sum_b y[b, track]`` over the chosen bins (the
central K bins of B start at bin ``(B - K) // 2``).  From
:func:`deeplift.genomics.score_sequences` and the CLI it is the target
``"track:3"`` (all bins) or ``"track:3:central:4"`` (CLI: ``--target
track:3 --bins central:4``), explained on the model's output before its
final activation (e.g. the logits under Enformer's softplus), as every
DeepLIFT target.


DeepLIFT explains one scalar, ``sum(weights * target)``.  A task index
makes the weights one-hot; the functions here make weights from the
target's own activations, for every (example, reference) pair, inside the
compiled function of :class:`deeplift.multiref.MultiRefScorer`.

ChromBPNet / BPNet profile head
-------------------------------
Those models explain their profile logits ``l`` (L positions, optionally
several channels, e.g. strands) through the scalar
``sum(stop_gradient(softmax(l) - 1/L) * l)`` (softmax over positions).
Two conventions turn that into per-pair weights on ``l``:

* ``"shap"`` (the default): ``0.5 * (w(x) + w(ref))`` with ``w = softmax(l)
  - 1/L``, i.e. ``0.5 * (softmax(l(x)) + softmax(l(ref))) - 1/L``.  shap's
  DeepExplainer, which ChromBPNet runs, treats the product of the two
  factors with its two-input (Shapley) rule, so the stopped factor enters
  as the mean of its values on the example and on the reference.  This
  reproduces ChromBPNet's DeepSHAP numbers.
* ``"fixed"``: weights fixed at ``softmax(l(x)) - 1/L``, the example's
  own, as the gradient of the scalar at ``x`` uses them.

Use::

    from deeplift.multiref import MultiRefScorer
    from deeplift.targets import profile_target

    scorer = MultiRefScorer(model, target_layer="profile_logits")
    result = scorer.run(onehot, references, target_weights=profile_target(),
                        hypothetical=True)

``deeplift.genomics.score_sequences`` passes its ``target_weights=``
keyword through to :meth:`MultiRefScorer.run` (give ``target_layer`` the
profile logits layer; ``task_idx`` is then unused), so the same call works
there: ``score_sequences(model, onehot, target_layer="profile_logits",
target_weights=profile_target("shap"))``.

:func:`profile_target` returns the same function object for the same
convention, so the compiled function is traced once per convention.
"""
import numpy as np
import tensorflow as tf

__all__ = ["PROFILE_CONVENTIONS", "profile_target", "profile_weights",
           "track_target", "track_weights", "parse_bins",
           "parse_track_target", "is_track_target"]

#: the accepted ``convention`` values; the first is the default
PROFILE_CONVENTIONS = ("shap", "fixed")


def _check_convention(convention):
    if convention not in PROFILE_CONVENTIONS:
        raise ValueError("convention must be one of %s, got %r"
                         % (", ".join(repr(c) for c in PROFILE_CONVENTIONS),
                            convention))
    return convention


def _centred_softmax(logits):
    """``softmax(logits) - 1/L`` over axis 1 (the L positions), in TF."""
    length = tf.cast(tf.shape(logits)[1], logits.dtype)
    return tf.nn.softmax(logits, axis=1) - 1.0 / length


def _shap_weights(target_x, target_ref):
    """``0.5 * (softmax(l(x)) + softmax(l(ref))) - 1/L`` per pair."""
    return 0.5 * (_centred_softmax(target_x) + _centred_softmax(target_ref))


def _fixed_weights(target_x, target_ref):
    """``softmax(l(x)) - 1/L`` per pair (the reference is not used)."""
    del target_ref
    return _centred_softmax(target_x)


_PROFILE_FUNCTIONS = {"shap": _shap_weights, "fixed": _fixed_weights}


def profile_target(convention="shap"):
    """Target weights of ChromBPNet's profile target, for
    ``MultiRefScorer.run(..., target_weights=profile_target())`` with
    ``target_layer`` the profile logits, shape (None, L) or (None, L, C)
    (softmax over the L positions of each channel).

    ``convention``: ``"shap"`` (default; reproduces ChromBPNet's DeepSHAP
    numbers) or ``"fixed"`` (see the module docstring).  Returns a
    TF-traceable ``fn(target_x, target_ref) -> weights``, all (P,) +
    target shape; the same object for the same convention.
    """
    return _PROFILE_FUNCTIONS[_check_convention(convention)]


def profile_weights(logits_x, logits_ref=None, convention="fixed"):
    """The same weights from NumPy logits (for checks and for callers that
    hold the logits already): ``logits_x`` (N, L) or (N, L, C); with
    ``convention="shap"`` also ``logits_ref``, the logits of each
    example's reference, same shape.  Returns float arrays of that
    shape."""
    _check_convention(convention)
    logits_x = np.asarray(logits_x, dtype=np.float64)
    if logits_x.ndim < 2:
        raise ValueError("logits must be (N, L) or (N, L, C); got shape %s"
                         % (logits_x.shape,))

    def centred(l):
        e = np.exp(l - l.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True) - 1.0 / l.shape[1]

    if convention == "fixed":
        return centred(logits_x)
    if logits_ref is None:
        raise ValueError("convention='shap' needs the references' logits "
                         "(logits_ref)")
    logits_ref = np.asarray(logits_ref, dtype=np.float64)
    if logits_ref.shape != logits_x.shape:
        raise ValueError("logits_ref has shape %s but logits_x %s"
                         % (logits_ref.shape, logits_x.shape))
    return 0.5 * (centred(logits_x) + centred(logits_ref))


# --------------------------------------------------------------------------
# multi-bin, multi-track outputs
# --------------------------------------------------------------------------

def parse_bins(bins):
    """``"all"`` (or None) -> None; ``"central:K"`` (or an int K) -> K
    (K >= 1).  ValueError otherwise."""
    if bins is None or bins == "all":
        return None
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        count = int(bins)
    else:
        text = str(bins)
        if not text.startswith("central:") or not \
                text[len("central:"):].isdigit():
            raise ValueError("bins must be 'all' or 'central:K' (K a "
                             "positive number of bins), got %r" % (bins,))
        count = int(text[len("central:"):])
    if count < 1:
        raise ValueError("bins 'central:K' needs K >= 1, got %r" % (bins,))
    return count


def _bin_range(num_bins, central):
    """(start, stop) of the chosen bins of ``num_bins``."""
    if central is None:
        return 0, num_bins
    if central > num_bins:
        raise ValueError("central:%d bins asked of an output with %d bins"
                         % (central, num_bins))
    start = (num_bins - central) // 2
    return start, start + central


_TRACK_FUNCTIONS = {}


def track_target(track, bins="all"):
    """Target weights for ``MultiRefScorer.run(..., target_weights=...)``
    on a (None, bins, tracks) target layer: 1 on track ``track`` (an int
    >= 0) over all bins (``bins="all"``) or the central K bins
    (``bins="central:K"`` or K), 0 elsewhere.  Returns a TF-traceable
    ``fn(target_x, target_ref) -> weights`` (the target's shape; the same
    object for the same arguments, so it is traced once).  The scorer
    raises if the target layer is not 3-D or has too few tracks or bins."""
    if isinstance(track, bool) or not isinstance(track, (int, np.integer)) \
            or track < 0:
        raise ValueError("track must be an int >= 0, got %r" % (track,))
    key = (int(track), parse_bins(bins))
    if key not in _TRACK_FUNCTIONS:
        track_index, central = key

        def weights(target_x, target_ref):
            del target_ref
            shape = target_x.shape
            if len(shape) != 3:
                raise ValueError("a track target needs a (None, bins, "
                                 "tracks) target layer, got shape %s"
                                 % (tuple(shape),))
            num_bins, num_tracks = int(shape[1]), int(shape[2])
            if track_index >= num_tracks:
                raise ValueError("track %d asked of an output with %d tracks"
                                 % (track_index, num_tracks))
            start, stop = _bin_range(num_bins, central)
            mask = np.zeros((num_bins, num_tracks))
            mask[start:stop, track_index] = 1.0
            return tf.broadcast_to(tf.constant(mask, target_x.dtype),
                                   tf.shape(target_x))
        weights.__name__ = "track_%d_%s" % (
            track_index, "all" if central is None else "central_%d" % central)
        _TRACK_FUNCTIONS[key] = weights
    return _TRACK_FUNCTIONS[key]


def track_weights(shape, track, bins="all"):
    """The same weights as a NumPy array of ``shape`` (N, bins, tracks)."""
    if len(shape) != 3:
        raise ValueError("shape must be (N, bins, tracks), got %s"
                         % (tuple(shape),))
    start, stop = _bin_range(shape[1], parse_bins(bins))
    if not 0 <= track < shape[2]:
        raise ValueError("track %d asked of an output with %d tracks"
                         % (track, shape[2]))
    out = np.zeros(shape)
    out[:, start:stop, track] = 1.0
    return out


def is_track_target(target):
    """Whether ``target`` is a track target string (``"track:..."``)."""
    return isinstance(target, str) and target.startswith("track:")


def parse_track_target(target):
    """``"track:T"`` -> (T, "all"); ``"track:T:central:K"`` -> (T,
    "central:K").  ValueError naming the forms otherwise."""
    parts = str(target).split(":")
    ok = (len(parts) in (2, 4) and parts[0] == "track" and parts[1].isdigit()
          and (len(parts) == 2 or (parts[2] == "central"
                                   and parts[3].isdigit())))
    if not ok:
        raise ValueError("a track target is 'track:T' (track T summed over "
                         "all bins) or 'track:T:central:K' (over the central "
                         "K bins), got %r" % (target,))
    bins = "all" if len(parts) == 2 else "central:%s" % parts[3]
    parse_bins(bins)
    return int(parts[1]), bins
