"""Merge layers (Keras' merging layers): Concat (defined in
:mod:`deeplift.layers.core`, where 0.6.13 had it), and the elementwise
Add, Subtract, Average, Multiply, Maximum, Minimum.

All take a list of input layers (``ListInputMixin``) and broadcast as
Keras' merge layers do: an input of lower rank first gets size-1 axes
inserted right after the batch axis (Keras' ``Merge.call`` expands it at
axis 1 until the ranks agree: a ``(N, C)`` gate times a ``(N, L, C)``
feature map is ``(N, 1, C) * (N, L, C)``), then size-1 axes broadcast.
Multipliers sent back to a broadcast input are summed over the broadcast
axes and reshaped to the input's shape.

* ``Add``, ``Average``: linear with non-negative coefficients
  (``StructuralLayer``).
* ``Subtract``: ``a - b``; ``b``'s positive contributions become negative
  ones of the output and vice versa.
* ``Multiply``: the Shapley rule for a product (exact for two factors),
  chained pairwise for more (see :class:`Multiply`).
* ``Maximum`` / ``Minimum``: the whole output difference is credited to
  one input, chosen so that contributions sum to the output difference
  (the same idea as max pooling's ``summation_to_delta`` mode).

Under the ``Gradient``, ``GuidedBackprop``, ``DeconvNet`` and
``PassThrough`` modes, ``Multiply``, ``Maximum`` and ``Minimum`` send back
the gradient instead.
"""
import functools

import tensorflow as tf

from deeplift.graph import vjp
from deeplift.layers.core import (ListInputMixin, Node, StructuralLayer,
                                  Merge, Concat,  # noqa: F401 (merges)
                                  NonlinearMxtsMode, check_mode,
                                  positive_part, negative_part,
                                  select_by_sign)
from deeplift.layers.pooling import safe_ratio

#: modes under which Multiply / Maximum / Minimum send back the gradient
GRADIENT_LIKE_MODES = frozenset([NonlinearMxtsMode.Gradient,
                                 NonlinearMxtsMode.GuidedBackprop,
                                 NonlinearMxtsMode.DeconvNet,
                                 NonlinearMxtsMode.PassThrough])


def expand_to_rank(t, rank):
    """``t`` with size-1 axes inserted after the batch axis up to ``rank``
    axes (Keras' merge-layer rank alignment)."""
    for _ in range(rank - len(t.shape)):
        t = tf.expand_dims(t, 1)
    return t


def align_ranks(ts):
    """The tensors ``ts`` brought to their largest rank by
    :func:`expand_to_rank`."""
    rank = max(len(t.shape) for t in ts)
    return [expand_to_rank(t, rank) for t in ts]


def _same_static_shape(a, b):
    sa, sb = a.shape, b.shape
    if sa.rank is None or sb.rank is None or sa.rank != sb.rank:
        return False
    return all(x is not None and x == y
               for x, y in zip(sa.as_list()[1:], sb.as_list()[1:]))


def unbroadcast(t, like):
    """``t`` (the broadcast output's shape) summed down to ``like``'s
    shape (the transpose of broadcasting)."""
    if _same_static_shape(t, like):
        return t
    rank = len(t.shape)
    return vjp(lambda xs: tf.broadcast_to(expand_to_rank(xs[0], rank),
                                          tf.shape(t)), [like], t)[0]


def broadcast_shape(layer, input_shapes):
    """Output shape of an elementwise merge of ``input_shapes``: lower
    ranks padded with size-1 axes after the batch axis, then size-1 axes
    broadcast (as Keras)."""
    rank = max(len(s) for s in input_shapes)
    input_shapes = [tuple(s[:1]) + (1,) * (rank - len(s)) + tuple(s[1:])
                    for s in input_shapes]
    out = []
    for dims in zip(*input_shapes):
        sizes = set(d for d in dims if d != 1)
        if len(sizes - {None}) > 1:
            raise ValueError("layer %r cannot broadcast input shapes %s"
                             % (layer.name, input_shapes))
        known = sizes - {None}
        out.append(known.pop() if known else (None if None in sizes else 1))
    return tuple(out)


def _sum(ts):
    return functools.reduce(tf.add, align_ranks(ts))


def _unbroadcast_pair(pos_mxts, neg_mxts, like):
    """:func:`unbroadcast` of both multipliers (once if they are one)."""
    pos = unbroadcast(pos_mxts, like)
    return pos, (pos if neg_mxts is pos_mxts else unbroadcast(neg_mxts, like))


def _prefix_products(ts):
    """``[None, ts[0], ts[0]*ts[1], ...]``: the product of the factors
    before each one (None for none)."""
    out = [None]
    for t in ts[:-1]:
        out.append(t if out[-1] is None else out[-1] * t)
    return out


def _suffix_products(ts):
    """The product of the factors after each one (None for none)."""
    out = [None] * len(ts)
    for i in range(len(ts) - 2, -1, -1):
        out[i] = ts[i + 1] if out[i + 1] is None else out[i + 1] * ts[i + 1]
    return out


class Add(ListInputMixin, StructuralLayer):
    """Elementwise sum of the inputs."""

    _compute_shape = broadcast_shape

    def forward(self, xs):
        return _sum(xs)

    def backward(self, state, pos_mxts, neg_mxts):
        return [_unbroadcast_pair(pos_mxts, neg_mxts, s.act)
                for s in state.inputs]


class Average(Add):
    """Elementwise mean of the inputs."""

    def forward(self, xs):
        return _sum(xs) / tf.cast(len(xs), xs[0].dtype)

    def backward(self, state, pos_mxts, neg_mxts):
        n = tf.cast(len(state.inputs), pos_mxts.dtype)
        pos = pos_mxts / n
        neg = pos if neg_mxts is pos_mxts else neg_mxts / n
        return Add.backward(self, state, pos, neg)


class Subtract(ListInputMixin, StructuralLayer):
    """``a - b`` (exactly two inputs).

    Contributions: ``pos = pos_a - neg_b``, ``neg = neg_a - pos_b``.
    Multipliers: ``a`` gets ``(pos_m, neg_m)``, ``b`` gets
    ``(-neg_m, -pos_m)``, so ``pos_m * pos + neg_m * neg`` equals the sum
    over the inputs of multiplier times contribution.
    """

    min_inputs = 2
    max_inputs = 2
    _compute_shape = broadcast_shape

    def forward(self, xs):
        a, b = align_ranks(xs)
        return a - b

    def contribs(self, state):
        (pos_a, neg_a), (pos_b, neg_b) = [s.contribs for s in state.inputs]
        pos_a, neg_a, pos_b, neg_b = align_ranks([pos_a, neg_a, pos_b, neg_b])
        return pos_a - neg_b, neg_a - pos_b

    def backward(self, state, pos_mxts, neg_mxts):
        a, b = state.inputs
        b_pos, b_neg = _unbroadcast_pair(pos_mxts, neg_mxts, b.act)
        neg_b = -b_pos
        pos_b = neg_b if b_neg is b_pos else -b_neg
        return [_unbroadcast_pair(pos_mxts, neg_mxts, a.act), (pos_b, neg_b)]


class _NonlinearMerge(ListInputMixin, Node):
    """Base of Multiply / Maximum / Minimum (they take a
    ``nonlinear_mxts_mode``)."""

    def __init__(self, nonlinear_mxts_mode=NonlinearMxtsMode.Rescale,
                 **kwargs):
        super(_NonlinearMerge, self).__init__(**kwargs)
        self.nonlinear_mxts_mode = check_mode(
            nonlinear_mxts_mode, NonlinearMxtsMode, "nonlinear_mxts_mode")

    _compute_shape = broadcast_shape

    def _gradient_like(self):
        return self.nonlinear_mxts_mode in GRADIENT_LIKE_MODES


class Multiply(_NonlinearMerge):
    """Elementwise product of the inputs.

    DeepLIFT modes (Rescale, RevealCancel, ...): for two factors,
    ``a*b - a0*b0 == (a - a0) * (b + b0)/2 + (b - b0) * (a + a0)/2``
    exactly (the Shapley values of the two factors), so each factor's
    coefficient is the mean of the other factor's actual and reference
    values.  With ``n > 2`` factors the product is taken as the chain
    ``((x1*x2)*x3)*...`` and the two-factor rule applied at each step,
    which gives factor ``i`` the coefficient
    ``(P[i-1] + P0[i-1])/2 * prod_{j>i} (x_j + x0_j)/2`` with ``P[k]``
    (``P0[k]``) the product of the first ``k`` actual (reference) factors
    (``P[0] = P0[0] = 1``); contributions still sum to the output's
    difference exactly, but depend on the order of the inputs.

    The layer then acts like a linear layer with these coefficients
    (DeepLIFT's Linear rule: contributions split by the sign of the input
    differences and of the coefficients).  Gradient-like modes use the
    gradient ``prod_{j != i} x_j`` as coefficient.
    """

    def forward(self, xs):
        return functools.reduce(tf.multiply, align_ranks(xs))

    def coefficients(self, state):
        """Per input i, the factor its difference from reference is
        multiplied by: ``0.5 (prod_{j<i} a_j + prod_{j<i} r_j) *
        prod_{j>i} 0.5 (a_j + r_j)`` (a = input, r = reference; for two
        inputs, the Shapley product rule), and the product of the other
        inputs in gradient-like modes; broadcast to the output's shape.
        ``state`` is the layer's :class:`~deeplift.graph.LayerState`;
        returns a list of tensors, cached in ``state.cache``."""
        if "coefficients" in state.cache:
            return state.cache["coefficients"]
        rank = len(state.act.shape)
        acts = [expand_to_rank(s.act, rank) for s in state.inputs]
        if self._gradient_like():
            before = _prefix_products(acts)
            after = _suffix_products(acts)
        else:
            refs = [expand_to_rank(s.ref, rank) for s in state.inputs]
            before = [None if a is None else 0.5 * (a + r) for a, r in
                      zip(_prefix_products(acts), _prefix_products(refs))]
            after = _suffix_products([0.5 * (a + r)
                                      for a, r in zip(acts, refs)])
        shape = tf.shape(state.act)
        coefs = []
        for act, b, a in zip(acts, before, after):
            parts = [p for p in (b, a) if p is not None]
            coef = (functools.reduce(tf.multiply, parts) if parts
                    else tf.ones_like(act))
            coefs.append(tf.broadcast_to(coef, shape))
        state.cache["coefficients"] = coefs
        return coefs

    def contribs(self, state):
        pos_terms, neg_terms = [], []
        rank = len(state.act.shape)
        for s, coef in zip(state.inputs, self.coefficients(state)):
            diff = expand_to_rank(s.diff, rank)
            dpos, dneg = positive_part(diff), negative_part(diff)
            cpos, cneg = positive_part(coef), negative_part(coef)
            pos_terms.append(dpos * cpos + dneg * cneg)
            neg_terms.append(dneg * cpos + dpos * cneg)
        return _sum(pos_terms), _sum(neg_terms)

    def backward(self, state, pos_mxts, neg_mxts):
        out = []
        rank = len(state.act.shape)
        for s, coef in zip(state.inputs, self.coefficients(state)):
            if neg_mxts is pos_mxts:
                inc = pos_mxts * coef
            else:
                cpos, cneg = positive_part(coef), negative_part(coef)
                inc = select_by_sign(expand_to_rank(s.diff, rank)
                                     + tf.zeros_like(coef),
                                      pos_mxts * cpos + neg_mxts * cneg,
                                      pos_mxts * cneg + neg_mxts * cpos)
            inc = unbroadcast(inc, s.act)
            out.append((inc, inc))
        return out


class Maximum(_NonlinearMerge):
    """Elementwise maximum of the inputs.

    With ``a`` the input holding the maximum of the actual values, ``b``
    the one holding the maximum of the references (first one on ties),
    ``dx = x - x0`` and ``dy = max(x) - max(x0)``: ``dx[b] <= dy <=
    dx[a]``.  The whole ``dy`` is credited to ``a`` when ``dy >= 0``
    (multiplier ``m * dy / dx[a]``) and to ``b`` otherwise, so
    contributions sum to the output difference for any reference.
    Gradient-like modes send ``m`` to ``a``.
    """

    sign = 1.0

    def forward(self, xs):
        return functools.reduce(tf.maximum, align_ranks(xs))

    def _weights(self, state):
        """(n,) + output shape weights: the multiplier ratio sent to each
        input."""
        if "weights" in state.cache:
            return state.cache["weights"]
        shape = tf.shape(state.act)
        rank = len(state.act.shape)
        n = len(state.inputs)
        xs = tf.stack([tf.broadcast_to(expand_to_rank(s.act, rank), shape)
                       for s in state.inputs], 0)
        dtype = xs.dtype
        a = tf.one_hot(tf.argmax(self.sign * xs, axis=0), n, axis=0,
                       dtype=dtype)
        if self._gradient_like():
            weights = a
        else:
            x0s = tf.stack([tf.broadcast_to(expand_to_rank(s.ref, rank),
                                            shape)
                            for s in state.inputs], 0)
            b = tf.one_hot(tf.argmax(self.sign * x0s, axis=0), n, axis=0,
                           dtype=dtype)
            dxs = xs - x0s
            dy = state.diff
            dx_a = tf.reduce_sum(a * dxs, axis=0)
            dx_b = tf.reduce_sum(b * dxs, axis=0)
            weights = tf.where(self.sign * dy >= 0,
                               a * safe_ratio(dy, dx_a),
                               b * safe_ratio(dy, dx_b))
        state.cache["weights"] = weights
        return weights

    def backward(self, state, pos_mxts, neg_mxts):
        m = select_by_sign(state.diff, pos_mxts, neg_mxts)
        weights = self._weights(state)
        out = []
        for i, s in enumerate(state.inputs):
            inc = unbroadcast(weights[i] * m, s.act)
            out.append((inc, inc))
        return out


class Minimum(Maximum):
    """Elementwise minimum: the rule of :class:`Maximum` applied to the
    negated inputs (``min(x) == -max(-x)``): ``dy`` goes to the actual
    values' argmin when ``dy <= 0``, to the references' argmin
    otherwise."""

    sign = -1.0

    def forward(self, xs):
        return functools.reduce(tf.minimum, align_ranks(xs))
