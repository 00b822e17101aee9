"""Rules of elementwise activations, in registries keyed by mode.

A rule is ``rule(layer, state, pos_mxts, neg_mxts) -> (pos_mxts_in,
neg_mxts_in)``, registered in ``MXTS_RULES``; the contributions of a mode
that splits them its own way (RevealCancel) come from ``CONTRIB_RULES``
(``contribs(layer, state) -> (pos, neg)``), every other mode scales the
input contributions by Rescale's factor.  ``layer`` is any activation:
the rules use only its ``f`` (the function), ``gradient`` (its
derivative) and ``exact_under_xla``.  Adding a rule: a function here and
one :func:`register` call (plus its name in
:data:`deeplift.modes.NonlinearMxtsMode`).
"""
import logging

import tensorflow as tf

from deeplift.modes import NEAR_ZERO_THRESHOLD, NonlinearMxtsMode
from deeplift.rules.ops import (fused, pseudocount_near_zero,  # noqa: F401
                                shapley_pair, FUSE_MIN_ELEMENTS)

logger = logging.getLogger(__name__)


def rescale_factor(layer, state):
    """Delta-out / delta-in, or the gradient at the reference where the
    input difference is below NEAR_ZERO_THRESHOLD."""
    if "rescale" not in state.cache:
        math = rescale_math(layer.gradient)
        state.cache["rescale"] = fused(layer, "rescale", math, state)(
            state.input.act, state.input.ref, state.act, state.ref)
    return state.cache["rescale"]


def rescale_math(gradient):
    """``math(act_in, ref_in, act_out, ref_out)`` -> Rescale's factor:
    (act_out - ref_out) / (act_in - ref_in), or ``gradient(ref_in)`` where
    ``|act_in - ref_in| < NEAR_ZERO_THRESHOLD``.

    One select: the ratio is taken over the raw difference and the
    near-zero positions (where it may be inf or NaN) are replaced, instead
    of first replacing the denominator there by 1 (a second full-size
    select).  Every selected value is the same division of the same
    operands, so the factor is bit for bit the former one.  ``tf.where``
    broadcasts: the gradient at a (possibly shared) reference is never
    tiled to the batch."""
    def math(act_in, ref_in, act_out, ref_out):
        in_diff = act_in - ref_in
        return tf.where(tf.abs(in_diff) < NEAR_ZERO_THRESHOLD,
                        gradient(ref_in), (act_out - ref_out) / in_diff)
    return math


def _scaled(pos_mxts, neg_mxts, pos_scale, neg_scale=None):
    if neg_scale is None and neg_mxts is pos_mxts:
        out = pos_scale * pos_mxts
        return out, out
    return (pos_scale * pos_mxts,
            (pos_scale if neg_scale is None else neg_scale) * neg_mxts)


def rescale_rule(layer, state, pos_mxts, neg_mxts):
    return _scaled(pos_mxts, neg_mxts, rescale_factor(layer, state))


def gradient_rule(layer, state, pos_mxts, neg_mxts):
    return _scaled(pos_mxts, neg_mxts, layer.gradient(state.input.act))


def guided_backprop_rule(layer, state, pos_mxts, neg_mxts):
    scale = layer.gradient(state.input.act) * tf.cast(pos_mxts > 0,
                                                      pos_mxts.dtype)
    return _scaled(pos_mxts, neg_mxts, scale)


def guided_backprop_rescale_rule(layer, state, pos_mxts, neg_mxts):
    scale = rescale_factor(layer, state)
    return (scale * tf.cast(pos_mxts > 0, pos_mxts.dtype) * pos_mxts,
            scale * tf.cast(neg_mxts > 0, neg_mxts.dtype) * neg_mxts)


def deconvnet_rule(layer, state, pos_mxts, neg_mxts):
    pos = layer.f(pos_mxts)
    return pos, (pos if neg_mxts is pos_mxts else layer.f(neg_mxts))


def pass_through_rule(layer, state, pos_mxts, neg_mxts):
    return pos_mxts, neg_mxts


def _reveal_cancel_math(f, exact_f):
    """``math(ref, pos_in, neg_in)`` -> ``(pos_out, neg_out, pos_scale,
    neg_scale)``: the output parts and the multiplier scales (output part /
    input part; where an input part is (near) zero, the original's finite
    difference with a NEAR_ZERO_THRESHOLD pseudocount)."""
    def math(ref, pos_in, neg_in):
        if not exact_f:
            # the reference is broadcast to the batch so that f is
            # evaluated exactly as the original does (the finite difference
            # at near-zero parts is sensitive to the last bits of f, which
            # vectorised kernels compute differently from scalar tails);
            # the ReLU family is exact anyway
            ref = ref + tf.zeros_like(pos_in)
        pos_out, neg_out = shapley_pair(f, ref, pos_in, neg_in)
        pc_pos, pc_neg = (pseudocount_near_zero(pos_in),
                          pseudocount_near_zero(neg_in))
        pc_pos_out, pc_neg_out = shapley_pair(f, ref, pc_pos, pc_neg)
        near_pos = tf.abs(pos_in) < 0.5 * NEAR_ZERO_THRESHOLD
        near_neg = tf.abs(neg_in) < 0.5 * NEAR_ZERO_THRESHOLD
        return (pos_out, neg_out,
                tf.where(near_pos, pc_pos_out / pc_pos,
                         pos_out / tf.where(near_pos, pc_pos, pos_in)),
                tf.where(near_neg, pc_neg_out / pc_neg,
                         neg_out / tf.where(near_neg, pc_neg, neg_in)))
    return math


def _reveal_cancel(layer, state):
    """RevealCancel's four tensors at ``layer`` (``pos_out, neg_out,
    pos_scale, neg_scale``), computed once per state.

    Units where any of the four is not finite (``f`` evaluated outside its
    domain or past overflow at ``ref + pos`` / ``ref + neg``: see
    :func:`reveal_cancel_contribs`) take Rescale's split instead: both
    parts scaled by :func:`rescale_factor`.  Skipped for layers whose
    ``f`` is finite on every real (``finite_everywhere``, by default the
    ReLU family's ``exact_under_xla``)."""
    if "reveal_cancel" not in state.cache:
        pos_in, neg_in = state.input.contribs
        math = fused(layer, "reveal_cancel", _reveal_cancel_math(
            layer.f, getattr(layer, "exact_under_xla", False)), state)
        parts = math(state.input.ref, pos_in, neg_in)
        if not getattr(layer, "finite_everywhere",
                       getattr(layer, "exact_under_xla", False)):
            parts = _outside_domain_as_rescale(layer, state, parts)
        state.cache["reveal_cancel"] = parts
    return state.cache["reveal_cancel"]


def _outside_domain_as_rescale(layer, state, parts):
    """``parts`` (RevealCancel's four tensors) with Rescale's on the units
    where one of them is not finite."""
    pos_out, neg_out, pos_scale, neg_scale = parts
    ok = (tf.math.is_finite(pos_out) & tf.math.is_finite(neg_out)
          & tf.math.is_finite(pos_scale) & tf.math.is_finite(neg_scale))
    if tf.executing_eagerly():
        # (in a tf.function both splits are computed and selected)
        outside = int(tf.size(ok)) - int(tf.reduce_sum(tf.cast(ok,
                                                               tf.int64)))
        if not outside:
            return parts
        logger.debug("RevealCancel at %s: %d of %d units evaluate f "
                     "outside its domain; Rescale on those",
                     layer.get_name(), outside, int(tf.size(ok)))
    pos_in, neg_in = state.input.contribs
    scale = rescale_factor(layer, state)
    return (tf.where(ok, pos_out, pos_in * scale),
            tf.where(ok, neg_out, neg_in * scale),
            tf.where(ok, pos_scale, scale + tf.zeros_like(pos_scale)),
            tf.where(ok, neg_scale, scale + tf.zeros_like(neg_scale)))


def reveal_cancel_rule(layer, state, pos_mxts, neg_mxts):
    _, _, pos_scale, neg_scale = _reveal_cancel(layer, state)
    return pos_scale * pos_mxts, neg_scale * neg_mxts


def rescale_contribs(layer, state):
    pos_in, neg_in = state.input.contribs
    scale = rescale_factor(layer, state)
    return pos_in * scale, neg_in * scale


def reveal_cancel_contribs(layer, state):
    """RevealCancel: the positive and negative input contributions are
    propagated separately, each getting the average of its effect when
    added first and when added after the other (the two-player Shapley
    value), so that pos + neg == f(x) - f(ref) exactly.

    The split evaluates ``f`` at ``ref + pos`` and ``ref + neg``, points the
    unit never takes.  Where ``f`` is not finite at one of them (outside
    its domain: log, sqrt, rsqrt, fractional powers of a negative number,
    1/0; or past overflow: exp), that unit takes Rescale's split, ``(pos,
    neg) * (f(x) - f(ref)) / (x - ref)`` (``f'(ref)`` where ``x - ref`` is
    below NEAR_ZERO_THRESHOLD), which also sums to the difference; every
    other unit keeps the formula's numbers.  Never the gradient.  (A
    function finite past a pole, 1/z across 0, is not detected: its split
    still sums to the difference.)  The units taking Rescale are logged at
    DEBUG level in eager runs."""
    pos_out, neg_out, _, _ = _reveal_cancel(layer, state)
    return pos_out, neg_out


MXTS_RULES = {
    NonlinearMxtsMode.Rescale: rescale_rule,
    NonlinearMxtsMode.Gradient: gradient_rule,
    NonlinearMxtsMode.GuidedBackprop: guided_backprop_rule,
    NonlinearMxtsMode.GuidedBackpropRescale: guided_backprop_rescale_rule,
    NonlinearMxtsMode.DeconvNet: deconvnet_rule,
    NonlinearMxtsMode.PassThrough: pass_through_rule,
    NonlinearMxtsMode.RevealCancel: reveal_cancel_rule,
}

CONTRIB_RULES = {
    NonlinearMxtsMode.RevealCancel: reveal_cancel_contribs,
}




def register(mode, mxts_rule, contribs_rule=None):
    """Make ``mode`` use ``mxts_rule`` (and ``contribs_rule`` for its
    contributions, if it has its own) in every activation layer."""
    MXTS_RULES[mode] = mxts_rule
    if contribs_rule is not None:
        CONTRIB_RULES[mode] = contribs_rule


def mxts_rule(mode):
    """The multiplier rule of ``mode`` (a ValueError names the valid
    modes)."""
    try:
        return MXTS_RULES[mode]
    except KeyError:
        raise ValueError("no activation rule for mode %r; modes with one: %s"
                         % (mode, ", ".join(sorted(MXTS_RULES))))


def contribs_rule(mode):
    """The contributions rule of ``mode`` (Rescale's unless it has its
    own)."""
    return CONTRIB_RULES.get(mode, rescale_contribs)
