"""Elementwise nonlinearities and the multiplier rules of every
``NonlinearMxtsMode``.

An activation class defines only its function ``f`` and derivative
``gradient``; the rules below are shared by all of them.  A rule is
``rule(layer, state, pos_mxts, neg_mxts) -> (pos_mxts_in, neg_mxts_in)``
and lives in ``MXTS_RULES``; contributions (needed by RevealCancel
downstream) come from ``CONTRIB_RULES``.
"""
import logging
import os

import tensorflow as tf

from deeplift.util import NEAR_ZERO_THRESHOLD
from deeplift.layers.core import (SingleInputMixin, Node, NonlinearMxtsMode,
                                  check_mode, NoOp, as_float_array)

logger = logging.getLogger(__name__)


def pseudocount_near_zero(t):
    """Push values with |t| < NEAR_ZERO_THRESHOLD/2 away from zero by
    NEAR_ZERO_THRESHOLD (sign kept, zero counts as positive)."""
    near = tf.abs(t) < 0.5 * NEAR_ZERO_THRESHOLD
    return tf.where(near, tf.where(t >= 0, t + NEAR_ZERO_THRESHOLD,
                                   t - NEAR_ZERO_THRESHOLD), t)


# The elementwise rule math of a layer (Rescale's ratio, RevealCancel's
# Shapley split and pseudocounts) can run as one XLA-compiled kernel: fused
# loops instead of a dozen full-size temporaries.  It does when the scoring
# call asks for it (``state.fuse``; by default, calls with many examples,
# see deeplift.scoring.FUSE_MIN_EXAMPLES: each new batch shape costs a
# compilation of about 0.2 s per layer), the layer's ``f`` is evaluated by
# XLA bit for bit like TensorFlow's own kernels (``exact_under_xla``: the
# ReLU family; transcendental functions differ in the last bits, which
# RevealCancel's pseudocounts would amplify) and the layer is large enough
# to gain.  DEEPLIFT_NO_XLA=1 turns it off everywhere.
FUSE_MIN_ELEMENTS = 4096


def fused(layer, name, math, state):
    """``math`` itself, or its XLA-compiled version when the rule math of
    ``layer`` in ``state`` is fused (see above).  The compiled functions
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


def rescale_factor(layer, state):
    """Delta-out / delta-in, or the gradient at the reference where the
    input difference is below NEAR_ZERO_THRESHOLD."""
    if "rescale" not in state.cache:
        def math(act_in, ref_in, act_out, ref_out):
            # tf.where broadcasts: the constant and the gradient at the
            # (possibly shared) reference are never tiled to the batch
            in_diff = act_in - ref_in
            near_zero = tf.abs(in_diff) < NEAR_ZERO_THRESHOLD
            safe = tf.where(near_zero, tf.constant(1, in_diff.dtype),
                            in_diff)
            return tf.where(near_zero, layer.gradient(ref_in),
                            (act_out - ref_out) / safe)
        state.cache["rescale"] = fused(layer, "rescale", math, state)(
            state.input.act, state.input.ref, state.act, state.ref)
    return state.cache["rescale"]


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


def _reveal_cancel_parts(f, ref, pos_in, neg_in):
    """Shapley split of f(ref + pos + neg) - f(ref) between the positive
    and the negative input contributions."""
    f_ref = f(ref)
    f_pos = f(ref + pos_in)
    f_neg = f(ref + neg_in)
    pos = 0.5 * ((f_pos - f_ref) + (f(ref + neg_in + pos_in) - f_neg))
    neg = 0.5 * ((f_neg - f_ref) + (f(ref + pos_in + neg_in) - f_pos))
    return pos, neg


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
        pos_out, neg_out = _reveal_cancel_parts(f, ref, pos_in, neg_in)
        pc_pos, pc_neg = (pseudocount_near_zero(pos_in),
                          pseudocount_near_zero(neg_in))
        pc_pos_out, pc_neg_out = _reveal_cancel_parts(f, ref, pc_pos, pc_neg)
        near_pos = tf.abs(pos_in) < 0.5 * NEAR_ZERO_THRESHOLD
        near_neg = tf.abs(neg_in) < 0.5 * NEAR_ZERO_THRESHOLD
        return (pos_out, neg_out,
                tf.where(near_pos, pc_pos_out / pc_pos,
                         pos_out / tf.where(near_pos, pc_pos, pos_in)),
                tf.where(near_neg, pc_neg_out / pc_neg,
                         neg_out / tf.where(near_neg, pc_neg, neg_in)))
    return math


def _reveal_cancel(layer, state):
    """RevealCancel's four tensors at ``layer``, computed once per state."""
    if "reveal_cancel" not in state.cache:
        pos_in, neg_in = state.input.contribs
        math = fused(layer, "reveal_cancel", _reveal_cancel_math(
            layer.f, getattr(layer, "exact_under_xla", False)), state)
        state.cache["reveal_cancel"] = math(state.input.ref, pos_in, neg_in)
    return state.cache["reveal_cancel"]


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
    value), so that pos + neg == f(x) - f(ref) exactly."""
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


def resolve_genomics_default(layer):
    """DeepLIFT_GenomicsDefault: RevealCancel after a Dense layer, Rescale
    otherwise (after convolutions and anything else), looking through
    BatchNormalization and NoOp layers."""
    from deeplift.layers.normalization import BatchNormalization
    preceding = layer.inputs
    while isinstance(preceding, (BatchNormalization, NoOp)):
        preceding = preceding.inputs
    from deeplift.layers.core import Dense
    mode = (NonlinearMxtsMode.RevealCancel if isinstance(preceding, Dense)
            else NonlinearMxtsMode.Rescale)
    if layer.verbose:
        logger.info("For layer %s the preceding linear layer is %s of type "
                    "%s; in accordance with nonlinear_mxts_mode=%s we are "
                    "setting the NonlinearMxtsMode to %s", layer.get_name(),
                    preceding.get_name(), type(preceding).__name__,
                    NonlinearMxtsMode.DeepLIFT_GenomicsDefault, mode)
    return mode


class Activation(SingleInputMixin, Node):
    """Elementwise nonlinearity ``f`` with derivative ``gradient``."""

    def __init__(self, nonlinear_mxts_mode=NonlinearMxtsMode.Rescale,
                 **kwargs):
        super(Activation, self).__init__(**kwargs)
        self.nonlinear_mxts_mode = check_mode(
            nonlinear_mxts_mode, NonlinearMxtsMode, "nonlinear_mxts_mode")

    def f(self, x):
        raise NotImplementedError()

    def gradient(self, x):
        """Elementwise derivative of ``f`` at ``x``."""
        raise NotImplementedError()

    def forward(self, xs):
        return self.f(xs[0])

    def _compute_shape(self, input_shapes):
        return tuple(input_shapes[0])

    def _on_built(self):
        # graphs are always built before they are evaluated, so the
        # genomics default is resolved once here, from the layer's inputs
        if (self.nonlinear_mxts_mode
                == NonlinearMxtsMode.DeepLIFT_GenomicsDefault):
            self.nonlinear_mxts_mode = resolve_genomics_default(self)

    def contribs(self, state):
        rule = CONTRIB_RULES.get(self.nonlinear_mxts_mode, rescale_contribs)
        return rule(self, state)

    def backward(self, state, pos_mxts, neg_mxts):
        rule = MXTS_RULES[self.nonlinear_mxts_mode]
        return [rule(self, state, pos_mxts, neg_mxts)]


class PReLU(Activation):
    """``max(x, 0) + alpha * min(x, 0)``; ``alpha`` scalar or per-unit."""

    exact_under_xla = True

    def __init__(self, alpha=0.0, **kwargs):
        super(PReLU, self).__init__(**kwargs)
        self.alpha = as_float_array(alpha)

    def _alpha(self, dtype):
        return tf.constant(self.alpha, dtype=dtype)

    def f(self, x):
        return tf.where(x < 0, x * self._alpha(x.dtype), x)

    def gradient(self, x):
        ones = tf.ones_like(x)
        return tf.where(x > 0, ones, ones * self._alpha(x.dtype))


class ReLU(PReLU):
    def __init__(self, **kwargs):
        super(ReLU, self).__init__(alpha=0.0, **kwargs)

    def f(self, x):
        return tf.nn.relu(x)

    def gradient(self, x):
        return tf.cast(x > 0, x.dtype)


class Sigmoid(Activation):
    def f(self, x):
        return tf.nn.sigmoid(x)

    def gradient(self, x):
        y = tf.nn.sigmoid(x)
        return y * (1 - y)


class Tanh(Activation):
    def f(self, x):
        return tf.nn.tanh(x)

    def gradient(self, x):
        y = tf.nn.tanh(x)
        return 1 - y * y


class Softmax(Activation):
    """Softmax over the last axis.  It is not elementwise: only the
    Gradient rule (its exact vector-Jacobian product) goes through it;
    DeepLIFT targets are normally the layer *before* a softmax."""

    def f(self, x):
        return tf.nn.softmax(x)

    def gradient(self, x):
        raise NotImplementedError("softmax has no elementwise derivative")

    def contribs(self, state):
        return Node.contribs(self, state)

    def backward(self, state, pos_mxts, neg_mxts):
        if self.nonlinear_mxts_mode != NonlinearMxtsMode.Gradient:
            raise NotImplementedError(
                "multipliers cannot go back through softmax layer %r with "
                "nonlinear_mxts_mode=%s; target the layer before the "
                "softmax (its pre-activation) instead"
                % (self.get_name(), self.nonlinear_mxts_mode))
        y = state.act

        def vjp(m):
            return y * (m - tf.reduce_sum(m * y, axis=-1, keepdims=True))
        pos = vjp(pos_mxts)
        return [(pos, pos if neg_mxts is pos_mxts else vjp(neg_mxts))]
