"""The rule math, in one place: elementwise tensor functions that the
rules of :mod:`deeplift.rules` are made of.

* signs: :func:`positive_part`, :func:`negative_part`,
  :func:`select_by_sign`;
* ratios: :func:`safe_ratio` (1 where the denominator is near zero),
  :func:`pseudocount_near_zero` (0.6.13's way to divide by near-zero
  parts);
* Shapley splits: :func:`shapley_pair` (two players through ``f``, as
  RevealCancel), :func:`shapley_product_coefficients` (two factors of a
  product);
* fused kernels: :func:`fused` (a rule's elementwise math as one
  XLA-compiled function).

Everything takes and returns tensors of one dtype; nothing here knows
about layers except :func:`fused`, which caches on the layer.
"""
import os

import tensorflow as tf

from deeplift.modes import NEAR_ZERO_THRESHOLD


def positive_part(t):
    """``t`` where > 0, else 0."""
    return tf.where(t > 0, t, tf.zeros_like(t))


def negative_part(t):
    """``t`` where < 0, else 0."""
    return tf.where(t < 0, t, tf.zeros_like(t))


def scaled_contribs(pos_in, neg_in, scale):
    """Positive and negative contributions of ``x * scale`` (``scale`` an
    elementwise factor of either sign, broadcast against the inputs): a
    negative factor swaps the parts."""
    spos, sneg = positive_part(scale), negative_part(scale)
    return pos_in * spos + neg_in * sneg, neg_in * spos + pos_in * sneg


def scaled_multipliers(pos_mxts, neg_mxts, scale):
    """``(pos, neg)`` multipliers of the input of ``x * scale`` from those
    of its output (the Linear rule of an elementwise factor)."""
    if neg_mxts is pos_mxts:
        out = pos_mxts * scale
        return out, out
    spos, sneg = positive_part(scale), negative_part(scale)
    return (pos_mxts * spos + neg_mxts * sneg,
            pos_mxts * sneg + neg_mxts * spos)


def select_by_sign(diff, pos_mxts, neg_mxts):
    """One multiplier from a (pos, neg) pair, chosen by the sign of
    ``diff``: the positive multiplier where diff > 0, the negative one
    where < 0, their mean at 0.  Used where a difference is credited as a
    whole (max pooling, merges)."""
    if neg_mxts is pos_mxts:
        return pos_mxts
    return tf.where(diff > 0, pos_mxts,
                    tf.where(diff < 0, neg_mxts,
                             0.5 * (pos_mxts + neg_mxts)))


def safe_ratio(num, den):
    """``num / den``, or 1 where ``|den| < NEAR_ZERO_THRESHOLD``."""
    near = tf.abs(den) < NEAR_ZERO_THRESHOLD
    return tf.where(near, tf.ones_like(num),
                    num / tf.where(near, tf.ones_like(den), den))


def pseudocount_near_zero(tensor):
    """Push values with ``|t| < NEAR_ZERO_THRESHOLD/2`` away from zero by
    NEAR_ZERO_THRESHOLD (sign kept, zero counts as positive), as 0.6.13's
    ``helper_functions.pseudocount_near_zero``."""
    near = tf.abs(tensor) < 0.5 * NEAR_ZERO_THRESHOLD
    return tf.where(near, tf.where(tensor >= 0, tensor + NEAR_ZERO_THRESHOLD,
                                   tensor - NEAR_ZERO_THRESHOLD), tensor)


def shapley_pair(f, ref, pos_in, neg_in):
    """Shapley split of ``f(ref + pos + neg) - f(ref)`` between the two
    players ``pos_in`` and ``neg_in``: each gets the mean of its effect
    added first and added second.  Returns ``(pos_out, neg_out)``; their
    sum is the total exactly up to rounding."""
    f_ref = f(ref)
    f_pos = f(ref + pos_in)
    f_neg = f(ref + neg_in)
    pos = 0.5 * ((f_pos - f_ref) + (f(ref + neg_in + pos_in) - f_neg))
    neg = 0.5 * ((f_neg - f_ref) + (f(ref + pos_in + neg_in) - f_pos))
    return pos, neg


def shapley_product_coefficients(a, a0, b, b0):
    """For ``a*b - a0*b0 == (a - a0) * cb + (b - b0) * ca`` exactly (the
    Shapley values of two factors): ``(ca, cb)`` with ``ca = (a + a0)/2``
    the coefficient of ``b``'s difference and ``cb = (b + b0)/2`` that of
    ``a``'s."""
    return 0.5 * (a + a0), 0.5 * (b + b0)


#: layers with at least this many units per example fuse their rule math
#: (see :func:`fused`).  XLA compiles each fused layer once per batch shape
#: for 0.06-0.08 s of CPU (its own log, Basset-like layers); fused, a layer
#: saves about 2 ns per unit and example of each call, so at the default
#: 512 examples per call a layer of 8192 units repays its compilation in
#: about 10 calls, one of 4096 in about 20.  Below 8192 units, one-off calls
#: of a few hundred examples lost more to compiling than they gained
#: (Basset-like first calls 1.20x the floor with its 4672-unit third layer
#: fused, 1.01-1.04x without: bench/PROFILE.md, sixth session).
FUSE_MIN_ELEMENTS = 8192


def fused(layer, name, math, state):
    """``math`` itself, or its XLA-compiled version when the rule math of
    ``layer`` in ``state`` is fused.

    Fused: the scoring call asks for it (``state.fuse``; by default, calls
    with many examples, see ``deeplift.scoring.FUSE_MIN_EXAMPLES``: each
    new batch shape costs a compilation of about 0.2 s per layer), the
    layer's ``f`` is evaluated by XLA bit for bit like TensorFlow's own
    kernels (``layer.exact_under_xla``: the ReLU family; transcendental
    functions differ in the last bits, which RevealCancel's pseudocounts
    would amplify) and the layer has at least FUSE_MIN_ELEMENTS units.
    ``DEEPLIFT_NO_XLA=1`` turns it off everywhere.  The compiled functions
    are kept on the layer, one per ``name``."""
    size = state.act.shape[1:].num_elements()
    if (not state.fuse or not getattr(layer, "exact_under_xla", False)
            or size is None or size < FUSE_MIN_ELEMENTS
            or os.environ.get("DEEPLIFT_NO_XLA")):
        return math
    cache = layer.__dict__.setdefault("_fused_math", {})
    if name not in cache:
        cache[name] = tf.function(math, jit_compile=True, autograph=False)
    return cache[name]


def _mask(condition, like):
    return tf.cast(condition, like.dtype if like.dtype.is_floating
                   else tf.float32)


def gt_mask(inp, val):
    """1.0 where ``inp > val``, else 0.0 (0.6.13's mask helpers; the
    float dtype of ``inp``)."""
    inp = tf.convert_to_tensor(inp)
    return _mask(inp > val, inp)


def lt_mask(inp, val):
    inp = tf.convert_to_tensor(inp)
    return _mask(inp < val, inp)


def gte_mask(inp, val):
    inp = tf.convert_to_tensor(inp)
    return _mask(inp >= val, inp)


def lte_mask(inp, val):
    inp = tf.convert_to_tensor(inp)
    return _mask(inp <= val, inp)


def eq_mask(inp, val):
    inp = tf.convert_to_tensor(inp)
    return _mask(tf.equal(inp, val), inp)
