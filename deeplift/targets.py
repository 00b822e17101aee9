"""Targets other than one output unit: weights on a whole target layer.

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

__all__ = ["PROFILE_CONVENTIONS", "profile_target", "profile_weights"]

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
