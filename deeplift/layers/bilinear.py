"""Bilinear ops of two varying operands: ``q @ k^T``, ``weights @ v``,
einsum contractions (any ``f(a, b)`` linear in each operand).

For bilinear ``f``, exactly (the Shapley values of the two operands)::

    f(a, b) - f(a0, b0) == f(a - a0, (b + b0)/2) + f((a + a0)/2, b - b0)

so operand ``a`` acts as the input of the linear map ``f(., b_mean)`` and
``b`` as that of ``f(a_mean, .)``: DeepLIFT's Linear rule applies to each
(contributions split by the sign of the input differences and of the
coefficients; multipliers through the transposed map, i.e. a
vector-Jacobian product).  The elementwise product is the case
``f(a, b) = a * b`` (:class:`deeplift.layers.merge.Multiply`, which gives
the same numbers).  Gradient-like modes use the actual value of the other
operand (the gradient).
"""
import tensorflow as tf

from deeplift.graph import vjp
from deeplift.layers.core import (ListInputMixin, Node, NonlinearMxtsMode,
                                  check_mode)
from deeplift.layers.merge import GRADIENT_LIKE_MODES


class Bilinear(ListInputMixin, Node):
    """``f(a, b)`` bilinear (``fn([a, b])``, e.g. an einsum), with output
    shape ``shape`` (batch axis None).  Exactly two input layers (they may
    be the same layer)."""

    min_inputs = 2
    max_inputs = 2

    def __init__(self, fn, shape, nonlinear_mxts_mode=NonlinearMxtsMode.
                 Rescale, **kwargs):
        super(Bilinear, self).__init__(**kwargs)
        self.fn = fn
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.nonlinear_mxts_mode = check_mode(
            nonlinear_mxts_mode, NonlinearMxtsMode, "nonlinear_mxts_mode")

    def _compute_shape(self, input_shapes):
        return self.shape

    def forward(self, xs):
        """``f(a, b)`` of the list ``xs = [a, b]``."""
        return self.fn(list(xs))

    def _means(self, state):
        """The coefficients of each operand: the mean of the other one's
        actual and reference values (its actual value under gradient-like
        modes)."""
        if "means" not in state.cache:
            a, b = state.inputs
            if self.nonlinear_mxts_mode in GRADIENT_LIKE_MODES:
                state.cache["means"] = (a.act, b.act)
            else:
                state.cache["means"] = (0.5 * (a.act + a.ref),
                                        0.5 * (b.act + b.ref))
        return state.cache["means"]

    def _map(self, i, other):
        """The linear map of operand ``i`` with the other one fixed to
        ``other``."""
        if i == 0:
            return lambda xs: self.fn([xs[0], other])
        return lambda xs: self.fn([other, xs[0]])

    def contribs(self, state):
        """``(pos, neg)``: ``f(da, b_mean) + f(a_mean, db)`` split by the
        signs of the differences and of the coefficients."""
        a, b = state.inputs
        a_mean, b_mean = self._means(state)
        total = (self.fn([a.diff, b_mean]) + self.fn([a_mean, b.diff]))
        spread = (self.fn([tf.abs(a.diff), tf.abs(b_mean)])
                  + self.fn([tf.abs(a_mean), tf.abs(b.diff)]))
        return 0.5 * (total + spread), 0.5 * (total - spread)

    def backward(self, state, pos_mxts, neg_mxts):
        """One ``(m, m)`` increment per operand: the multipliers sent
        through ``f``'s transpose in that operand, the other fixed at its
        mean (split by the sign of the operand's difference when the
        positive and negative multipliers differ)."""
        a_mean, b_mean = self._means(state)
        others = (b_mean, a_mean)
        out = []
        for i, s in enumerate(state.inputs):
            if neg_mxts is pos_mxts:
                inc = vjp(self._map(i, others[i]), [s.act], pos_mxts)[0]
            else:
                total = vjp(self._map(i, others[i]), [s.act],
                            pos_mxts + neg_mxts)[0]
                spread = vjp(self._map(i, tf.abs(others[i])), [s.act],
                             pos_mxts - neg_mxts)[0]
                inc = 0.5 * (total + tf.sign(s.diff) * spread)
            out.append((inc, inc))
        return out
