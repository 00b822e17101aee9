"""Max-pooling rules, in a registry keyed by ``MaxPoolDeepLiftMode``.

A rule is ``rule(layer, state, pos_mxts, neg_mxts) -> [(pos_in, neg_in)]``
for a max-pooling layer (local or global) that provides ``forward`` and
``gradient_route(state, mxts)`` (the gradient of its max: ties and all).

* ``gradient`` (the original's default): multipliers go to the argmax of
  the actual input, as the gradient does.
* ``summation_to_delta``: for each window, with ``a`` the argmax of the
  input and ``b`` that of the reference, ``dx = x - ref`` and ``dy =
  max(x) - max(ref)``, one has ``dx[b] <= dy <= dx[a]``.  The whole ``dy``
  is credited to ``a`` when ``dy >= 0`` (multiplier ``m * dy / dx[a]``) and
  to ``b`` otherwise, so contributions sum to the output difference for
  any reference, with multipliers scaled by a factor in [0, 1].
"""
import tensorflow as tf

from deeplift.graph import vjp, jvp
from deeplift.modes import MaxPoolDeepLiftMode
from deeplift.rules.ops import safe_ratio, select_by_sign


def gradient_rule(layer, state, pos_mxts, neg_mxts):
    pos = layer.gradient_route(state, pos_mxts)
    neg = (pos if neg_mxts is pos_mxts
           else layer.gradient_route(state, neg_mxts))
    return [(pos, neg)]


def summation_to_delta_route(layer, state, mxts):
    """Multipliers of the input for output multipliers ``mxts`` under
    ``summation_to_delta`` (see the module docstring)."""
    x = state.input.act
    x0 = state.input.ref + tf.zeros_like(x)
    dx = x - x0
    dy = state.diff
    dx_at_a = jvp(layer.forward, x, dx)
    dx_at_b = jvp(layer.forward, x0, dx)
    m_a = mxts * tf.where(dy >= 0, safe_ratio(dy, dx_at_a), 0.0)
    m_b = mxts * tf.where(dy < 0, safe_ratio(dy, dx_at_b), 0.0)
    return (vjp(layer.forward, [x], m_a)[0]
            + vjp(layer.forward, [x0], m_b)[0])


def summation_to_delta_rule(layer, state, pos_mxts, neg_mxts):
    # the output difference is credited as a whole: take the multiplier
    # of its sign and route it once
    inc = summation_to_delta_route(
        layer, state, select_by_sign(state.diff, pos_mxts, neg_mxts))
    return [(inc, inc)]


MAXPOOL_RULES = {
    MaxPoolDeepLiftMode.gradient: gradient_rule,
    MaxPoolDeepLiftMode.summation_to_delta: summation_to_delta_rule,
}


def register(mode, rule):
    """Make ``mode`` use ``rule`` in every max-pooling layer (``mode`` must
    be a value of :data:`deeplift.modes.MaxPoolDeepLiftMode`)."""
    MAXPOOL_RULES[mode] = rule


def maxpool_rule(mode):
    try:
        return MAXPOOL_RULES[mode]
    except KeyError:
        raise ValueError("no max-pooling rule for mode %r; modes: %s"
                         % (mode, ", ".join(sorted(MAXPOOL_RULES))))
