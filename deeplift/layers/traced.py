"""Layers of op-level conversion: a Keras layer traced into TensorFlow ops
(:mod:`deeplift.conversion.tracing`) becomes a :class:`TracedLayer`, whose
inner graph has one node per op that depends on the layer's inputs.

The nodes run the traced op itself (:class:`OpCall`: the op type, its
attributes and its operands, the constant ones captured), in the dtype of
the data.  Values that are bool or integer in TensorFlow (masks, indices)
travel between nodes as floats (0/1) and are cast back where an op reads
them.  One class per rule family:

* :class:`LinearOp`: affine in what varies (MatMul / Einsum /
  convolutions with a constant operand, Add, Sub, Neg, BiasAdd, Mul and
  RealDiv by a constant, sums and means, and the structural ops: reshape,
  transpose, slice, gather, concat, pad, tile...). DeepLIFT's Linear rule:
  the output difference is the op's linear part applied to the input
  differences; positive and negative parts split by the sign of the
  coefficients (the op with the absolute value of its constant
  coefficients, Sub read as Add, Neg as Identity).
* :class:`ElementwiseOp`: an elementwise function of one varying input
  (Relu, Exp, Log, Erf, Rsqrt, Pow by a constant, a comparison with a
  constant, ...): an :class:`~deeplift.layers.activations.Activation`, so
  every rule of :mod:`deeplift.rules.activation` applies; its derivative
  is the op's own (automatic differentiation; 0 for bool-valued ops).
* :class:`ElementwiseShapley`: an elementwise function of several varying
  inputs (``where(c, x, y)``, ``(x - y)**2``, ``x / y``, logical ops):
  each input gets its exact Shapley share of the output difference
  (mean over the orders in which the inputs move from reference to
  actual value), so contributions sum to the difference exactly.
* :class:`SoftmaxOp`: softmax (or log-softmax) over one axis as exp
  of the logits shifted by a constant shared by input and reference, a
  sum, a reciprocal (log) and a Shapley product (difference) -- exact.
* :class:`MaxOp`: max reductions and max pooling with the max-pooling rule
  of :mod:`deeplift.rules.maxpool` (``summation_to_delta``: exact).
* bilinear contractions of two varying operands (``q @ k^T``):
  :class:`deeplift.layers.bilinear.Bilinear`; elementwise products,
  maxima and minima of varying tensors: :mod:`deeplift.layers.merge`.
"""
import itertools
import logging
import math

import numpy as np
import tensorflow as tf

from deeplift.graph import (topological_order, forward_sweep,
                            backward_sweep, vjp)
from deeplift.layers.activations import Activation
from deeplift.layers.arithmetic import Reduce
from deeplift.layers.composite import Composite, Port
from deeplift.layers.core import (ListInputMixin, SingleInputMixin, Node,
                                  NonlinearMxtsMode, MaxPoolDeepLiftMode,
                                  check_mode, captured, zero_multipliers)
from deeplift.layers.merge import (Subtract, GRADIENT_LIKE_MODES,
                                   unbroadcast)
from deeplift.layers.pooling import MaxPoolMixin
from deeplift.rules.ops import (positive_part, negative_part,
                                select_by_sign)
from deeplift.modes import NEAR_ZERO_THRESHOLD

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------
# running a traced op
# --------------------------------------------------------------------------

class Varying(object):
    """Operand ``index`` of the node's inputs; ``dtype``: its TensorFlow
    dtype in the trace (bool/int values travel as floats)."""

    def __init__(self, index, dtype):
        self.index = int(index)
        self.dtype = tf.as_dtype(dtype)


class Fixed(object):
    """An operand that does not vary with the input: ``value`` a numpy
    array (a folded constant) or ``fn(batch_size) -> tensor`` (a value
    computed from the batch size only, e.g. ``tf.shape(x)``); ``role``:
    ``"coef"`` (a multiplicative coefficient: its absolute value gives the
    op's |L|), ``"offset"`` (additive: zero in the op's linear part) or
    ``"other"`` (shapes, axes, indices)."""

    def __init__(self, value, role="other", dtype=None):
        self.value = value
        self.role = role
        self.dtype = tf.as_dtype(dtype if dtype is not None else
                                 np.asarray(value).dtype)


class OpCall(object):
    """One TensorFlow op with its operands (:class:`Varying` or
    :class:`Fixed`, in the op's flat input order).

    ``op_type``: e.g. ``"Einsum"``; ``arg_sizes``: ``[(input argument name,
    number of tensors or None for a single one)]`` from the op's
    definition; ``attrs``: the attributes ``tf.raw_ops.<op_type>`` takes;
    ``out_index``: which output; ``trace_dtype``: the float dtype of the
    trace (floats of that dtype, and attributes naming it, follow the
    data's dtype)."""

    def __init__(self, op_type, arg_sizes, attrs, operands, out_index=0,
                 out_dtype=tf.float32, trace_dtype=tf.float32,
                 batch_index=None):
        #: the input whose axis 0 is the batch axis (a port of the traced
        #: layer), for operands computed from the batch size
        self.batch_index = batch_index
        self.op_type = op_type
        self.arg_sizes = list(arg_sizes)
        self.attrs = dict(attrs)
        self.operands = list(operands)
        self.out_index = int(out_index)
        self.out_dtype = tf.as_dtype(out_dtype)
        self.trace_dtype = tf.as_dtype(trace_dtype)

    def _dtype_of(self, traced, dtype):
        if traced == self.trace_dtype or (traced.is_floating
                                          and self.trace_dtype.is_floating
                                          and traced == dtype):
            return dtype
        return traced

    def fixed_value(self, operand, dtype, batch):
        """The tensor of a :class:`Fixed` operand for data of ``dtype``
        and batch size ``batch`` (a scalar tensor or None)."""
        target = self._dtype_of(operand.dtype, dtype)
        if callable(operand.value):
            return tf.cast(operand.value(batch), target)
        return captured(self, id(operand), operand.value, target) \
            if target.is_floating else tf.constant(operand.value, target)

    def __call__(self, xs, variant=None):
        """The op on ``xs`` (the varying operands, floats of one dtype).
        ``variant``: None for the op itself, ``"linear"`` for its linear
        part (offsets zeroed), ``"abs"`` for its linear part with the
        absolute value of its coefficients."""
        dtype = xs[0].dtype
        batch = None
        flat = []
        for operand in self.operands:
            if isinstance(operand, Varying):
                x = xs[operand.index]
                target = self._dtype_of(operand.dtype, dtype)
                flat.append(x if target == x.dtype else tf.cast(x, target))
                continue
            if callable(operand.value) and batch is None:
                batch = tf.shape(xs[self.batch_index])[0]
            value = self.fixed_value(operand, dtype, batch)
            if variant is not None and operand.role == "offset":
                value = tf.zeros_like(value)
            elif variant == "abs" and operand.role == "coef":
                value = tf.abs(value)
            flat.append(value)
        op_type = self.op_type
        if variant == "abs":
            op_type = ABS_VARIANTS.get(op_type, op_type)
        out = run_raw_op(op_type, self.arg_sizes, self.attrs, flat,
                         {k: self._dtype_of(v, dtype) for k, v in
                          self.attrs.items() if isinstance(v, tf.DType)})
        if isinstance(out, (list, tuple)):
            out = out[self.out_index]
        if not out.dtype.is_floating or out.dtype != dtype:
            out = tf.cast(out, dtype)
        return out


#: the op |L| of an op whose coefficients have fixed signs (Sub's second
#: operand, Neg)
ABS_VARIANTS = {"Sub": "AddV2", "Neg": "Identity"}


def run_raw_op(op_type, arg_sizes, attrs, flat, dtype_attrs=None):
    """``tf.raw_ops.<op_type>`` on the flat operand list ``flat`` grouped
    by ``arg_sizes``, with ``attrs`` (``dtype_attrs`` overriding dtype
    attributes)."""
    kwargs = dict(attrs)
    if dtype_attrs:
        kwargs.update(dtype_attrs)
    position = 0
    for name, size in arg_sizes:
        if size is None:
            kwargs[name] = flat[position]
            position += 1
        else:
            kwargs[name] = list(flat[position:position + size])
            position += size
    if op_type == "Identity" and "input" not in kwargs:
        # the |L| of Neg (an Identity of Neg's operand ``x``)
        kwargs = {"input": kwargs.pop("x")}
    return getattr(tf.raw_ops, op_type)(**kwargs)


def _static(shape):
    return tuple(None if d is None else int(d) for d in shape)


# --------------------------------------------------------------------------
# rule families
# --------------------------------------------------------------------------

class _OpNode(Node):
    """A node running ``call`` (an :class:`OpCall` or a function of the
    input list) with a known output shape (batch axis None)."""

    def __init__(self, call, shape, **kwargs):
        super(_OpNode, self).__init__(**kwargs)
        self.call = call
        self.shape = _static(shape)

    def forward(self, xs):
        """The op on the input list ``xs``."""
        return self.call(list(xs))

    def _compute_shape(self, input_shapes):
        return self.shape


class LinearOp(ListInputMixin, _OpNode):
    """An op affine in its varying inputs (see the module docstring).
    ``signed``: its coefficients may be negative (a constant coefficient
    operand, Sub of a varying operand, Neg); otherwise the op is
    structural (contributions map through its linear part, multipliers
    through its transpose)."""

    def __init__(self, call, shape, signed, **kwargs):
        super(LinearOp, self).__init__(call, shape, **kwargs)
        self.signed = bool(signed)

    def _linear(self, xs):
        return self.call(list(xs), "linear")

    def _abs(self, xs):
        return self.call(list(xs), "abs")

    def contribs(self, state):
        """Structural: the input contributions mapped through the linear
        part (as :class:`~deeplift.layers.core.StructuralLayer`). Signed:
        split by the signs of the input differences and of the
        coefficients, ``pos - neg = |L| |dx|`` (as :class:`~deeplift.
        layers.core.LinearLayer`, so a traced Dense or convolution gives
        the native layer's numbers)."""
        if not self.signed:
            return (self._linear([s.contribs[0] for s in state.inputs]),
                    self._linear([s.contribs[1] for s in state.inputs]))
        total = self._linear([s.diff for s in state.inputs])
        spread = self._abs([tf.abs(s.diff) for s in state.inputs])
        return 0.5 * (total + spread), 0.5 * (total - spread)

    def backward(self, state, pos_mxts, neg_mxts):
        """One increment per input: the multipliers through the transpose
        of the linear part (vector-Jacobian product); signed ops with
        distinct positive and negative multipliers choose by the sign of
        each input's difference (DeepLIFT's Linear rule)."""
        xs = _distinct([s.act for s in state.inputs])
        if not self.signed:
            pos = self._vjp(self._linear, xs, pos_mxts)
            neg = pos if neg_mxts is pos_mxts else self._vjp(
                self._linear, xs, neg_mxts)
            return list(zip(pos, neg))
        if neg_mxts is pos_mxts:
            return [(g, g) for g in self._vjp(self._linear, xs, pos_mxts)]
        total = self._vjp(self._linear, xs, pos_mxts + neg_mxts)
        spread = self._vjp(self._abs, xs, pos_mxts - neg_mxts)
        out = []
        for i, (s, t, d) in enumerate(zip(state.inputs, total, spread)):
            if i == self._batch_input():
                out.append((t, t))
                continue
            inc = 0.5 * (t + tf.sign(s.diff) * d)
            out.append((inc, inc))
        return out

    def _batch_input(self):
        """The index of the input that only gives the batch size (see
        :class:`OpCall`), or None."""
        return getattr(self.call, "batch_index", None)

    def _vjp(self, fn, xs, output_gradient):
        """:func:`~deeplift.graph.vjp` of ``fn`` with respect to the data
        inputs; the input that only gives the batch size gets a scalar 0
        (no tensor of zeros of its shape to fill and add; a port's
        multipliers are broadcast to its shape by
        :meth:`TracedLayer.backward`)."""
        batch = self._batch_input()
        if batch is None:
            return vjp(fn, xs, output_gradient)
        keep = [i for i in range(len(xs)) if i != batch]

        def data_fn(ys):
            full = list(xs)
            for i, y in zip(keep, ys):
                full[i] = y
            return fn(full)
        grads = vjp(data_fn, [xs[i] for i in keep], output_gradient)
        # (in the input's dtype, as every node's zero multipliers: integer
        # token ids read for their batch size get integer zeros, which add
        # up with their lookup's)
        out = [zero_multipliers(xs[batch], scalar=True)] * len(xs)
        for i, g in zip(keep, grads):
            out[i] = g
        return out


def _distinct(xs):
    """``xs`` with each repeated tensor replaced by an identity of it: a
    node may take one value twice (the data operand and the source of the
    batch size of a reshape of a port), and a tape watching one tensor
    twice would give each the gradient of both uses."""
    seen, out = set(), []
    for x in xs:
        if id(x) in seen:
            x = tf.identity(x)
        seen.add(id(x))
        out.append(x)
    return out


class ElementwiseOp(Activation):
    """``f(x)`` elementwise (``call``: the op on ``[x]``); its derivative
    by automatic differentiation of the op (zero where it has none, as
    for comparisons and casts to bool)."""

    def __init__(self, call, op_type="?", **kwargs):
        super(ElementwiseOp, self).__init__(**kwargs)
        self.call = call
        self.op_type = op_type

    def f(self, x):
        """The op on ``x`` (elementwise)."""
        return self.call([x])

    def gradient(self, x):
        derivative = getattr(self.call, "derivative", None)
        if derivative is not None:
            return derivative(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = self.call([x])
        return tape.gradient(y, x,
                             unconnected_gradients=tf.UnconnectedGradients.ZERO)


class ElementwiseShapley(ListInputMixin, _OpNode):
    """An elementwise op of k >= 2 varying inputs of the output's shape.

    Input i gets the Shapley value of the k players (each moving from its
    reference to its actual value), ``C_i = sum_S w(|S|) (g(S + i) -
    g(S))`` with ``w(s) = s! (k-1-s)! / k!``: ``sum_i C_i == g(x) -
    g(x0)`` exactly.  Its coefficient ``C_i / dx_i`` acts as a linear
    coefficient (contributions split by sign, as in
    :class:`~deeplift.layers.merge.Multiply`); where ``|dx_i|`` is below
    NEAR_ZERO_THRESHOLD (and under the gradient-like modes) the partial
    derivative at the actual point is used."""

    def __init__(self, call, shape, nonlinear_mxts_mode=NonlinearMxtsMode.
                 Rescale, players=None, **kwargs):
        super(ElementwiseShapley, self).__init__(call, shape, **kwargs)
        self.nonlinear_mxts_mode = check_mode(
            nonlinear_mxts_mode, NonlinearMxtsMode, "nonlinear_mxts_mode")
        #: the first ``players`` inputs are the op's operands; an input
        #: after them only gives the batch size (OpCall.batch_index)
        self.players = players

    def _players(self, state):
        return state.inputs[:self.players or len(state.inputs)]

    def _extra(self, state):
        return [s.act for s in state.inputs[self.players or
                                            len(state.inputs):]]

    def _gradients(self, xs, extra):
        with tf.GradientTape() as tape:
            for x in xs:
                tape.watch(x)
            y = self.call(list(xs) + extra)
        return tape.gradient(y, list(xs),
                             unconnected_gradients=tf.UnconnectedGradients.ZERO)

    def coefficients(self, state):
        """One tensor per operand (the output's shape): its Shapley share
        over its difference (or the partial derivative, see the class
        docstring); computed once per state."""
        if "coefficients" in state.cache:
            return state.cache["coefficients"]
        shape = tf.shape(state.act)
        players, extra = self._players(state), self._extra(state)
        acts = [tf.broadcast_to(s.act, shape) for s in players]
        grads = self._gradients(acts, extra)
        if self.nonlinear_mxts_mode in GRADIENT_LIKE_MODES:
            state.cache["coefficients"] = grads
            return grads
        refs = [tf.broadcast_to(s.ref, shape) for s in players]
        k = len(acts)
        values = {}

        def g(subset):  # the inputs in ``subset`` at their actual value
            if subset not in values:
                values[subset] = self.call([a if i in subset else r
                                            for i, (a, r) in
                                            enumerate(zip(acts, refs))]
                                           + extra)
            return values[subset]
        coefs = []
        for i in range(k):
            others = [j for j in range(k) if j != i]
            share = 0
            for size in range(k):
                weight = (math.factorial(size) * math.factorial(k - 1 - size)
                          / math.factorial(k))
                for subset in itertools.combinations(others, size):
                    s = frozenset(subset)
                    share = share + weight * (g(s | {i}) - g(s))
            dx = acts[i] - refs[i]
            near = tf.abs(dx) < NEAR_ZERO_THRESHOLD
            coefs.append(tf.where(near, grads[i],
                                  share / tf.where(near, tf.ones_like(dx),
                                                   dx)))
        state.cache["coefficients"] = coefs
        return coefs

    def contribs(self, state):
        """``(pos, neg)``: each operand's difference times its coefficient,
        split by the signs of both."""
        pos, neg = 0, 0
        for s, coef in zip(self._players(state), self.coefficients(state)):
            dpos, dneg = positive_part(s.diff), negative_part(s.diff)
            cpos, cneg = positive_part(coef), negative_part(coef)
            pos = pos + dpos * cpos + dneg * cneg
            neg = neg + dneg * cpos + dpos * cneg
        return pos, neg

    def backward(self, state, pos_mxts, neg_mxts):
        """One increment per input: the output multipliers times each
        operand's coefficient (summed over broadcast axes); zero for the
        batch-size input."""
        out = []
        for s, coef in zip(self._players(state), self.coefficients(state)):
            if neg_mxts is pos_mxts:
                inc = pos_mxts * coef
            else:
                cpos, cneg = positive_part(coef), negative_part(coef)
                inc = select_by_sign(s.diff + tf.zeros_like(coef),
                                     pos_mxts * cpos + neg_mxts * cneg,
                                     pos_mxts * cneg + neg_mxts * cpos)
            inc = unbroadcast(inc, s.act)
            out.append((inc, inc))
        for s in state.inputs[len(out):]:
            zeros = zero_multipliers(s.act)
            out.append((zeros, zeros))
        return out


class MaxOp(MaxPoolMixin, SingleInputMixin, _OpNode):
    """A max over windows or axes of one varying input (``call``: the op;
    reduce_max, MaxPool), with the max-pooling rule of
    ``maxpool_deeplift_mode`` (:mod:`deeplift.rules.maxpool`)."""

    def __init__(self, call, shape, maxpool_deeplift_mode=MaxPoolDeepLiftMode.
                 summation_to_delta, **kwargs):
        super(MaxOp, self).__init__(call, shape, **kwargs)
        self._init_maxpool(maxpool_deeplift_mode)


class _Function(object):
    """A plain elementwise function as a node's call; ``derivative``
    (optional): its derivative, used instead of automatic differentiation
    (which would also fill a tensor of ones and multiply by it)."""

    def __init__(self, fn, derivative=None):
        self.fn = fn
        self.derivative = derivative

    def __call__(self, xs, variant=None):
        return self.fn(xs[0])


#: modes whose multipliers through the softmax's inner exp and log are their
#: derivatives at the actual logits (GuidedBackprop also masks by sign);
#: formed in the input's own frame where the reference holds the common
#: maximum (see SoftmaxOp)
_AT_ACTUAL_MODES = frozenset([NonlinearMxtsMode.Gradient,
                              NonlinearMxtsMode.GuidedBackprop])

#: why a traced softmax refuses DeconvNet (also raised by the tracer)
SOFTMAX_DECONVNET_ERROR = (
    "DeconvNet has no rule through a softmax (%s): DeconvNet applies each "
    "nonlinearity to the multipliers themselves (a ReLU's rule: relu of the "
    "backward signal), which for the softmax's exp and log of a sum of "
    "multipliers means nothing (exp(0) = 1, the log of a negative sum is "
    "NaN). Choose GuidedBackprop, Gradient or Rescale for this layer: "
    "layer_overrides={<layer name>: {'nonlinear_mxts_mode': ...}}")


def _row_max(z, axis):
    """The maximum of ``z`` along ``axis`` (kept); 0 where it is not
    finite (a row of -inf), so that ``z - max`` stays -inf there."""
    m = tf.reduce_max(z, axis=axis, keepdims=True)
    return tf.where(tf.math.is_finite(m), m, tf.zeros_like(m))


def _own_frame(port, axis):
    """The actual logits less their own row maximum, ``u = x - max x``,
    from the unshifted logits :meth:`SoftmaxOp.inner_states` leaves in the
    port state's cache (``"logits"``): one rounding, as in the input's own
    softmax (from the shifted ``z = x - s`` it would carry the rounding of
    ``x - s``, ~2^-24 |s|, whatever the input).  Not cached: it is made
    inside a ``tf.cond`` branch, out of scope of the other nodes' in a
    traced function."""
    x = port.cache["logits"]
    return x - _row_max(x, axis)


class _AtActualMixin(object):
    """An exp or log of :class:`SoftmaxOp`'s chain; its last input is the
    composite's port (the logits: no rule reaches it through this node).

    Under the modes of ``_AT_ACTUAL_MODES`` the multiplier factor is the
    node's derivative at its actual input (as
    :mod:`deeplift.rules.activation`'s rules, GuidedBackprop's mask on the
    sign of the incoming multipliers included), except on the rows where
    the reference holds the common maximum (the port state's
    ``"ref_higher"``): there it is ``own_frame_derivative(port)``, the
    same chain's factor in the input's own frame.  Other modes keep the
    activation's rule."""

    def backward(self, state, pos_mxts, neg_mxts):
        mode = self.nonlinear_mxts_mode
        if mode not in _AT_ACTUAL_MODES:
            return super(_AtActualMixin, self).backward(state, pos_mxts,
                                                        neg_mxts)
        port = state.inputs[-1]
        higher = port.cache.get("ref_higher")
        if higher is None:   # (swept without SoftmaxOp.inner_states)
            scale = self.gradient(state.input.act)
        else:
            scale = tf.cond(
                tf.reduce_any(higher),
                lambda: tf.where(higher, self.own_frame_derivative(port),
                                 self.gradient(state.input.act)),
                lambda: self.gradient(state.input.act))
        if mode == NonlinearMxtsMode.GuidedBackprop:
            # (as rules.activation.guided_backprop_rule)
            scale = scale * tf.cast(pos_mxts > 0, pos_mxts.dtype)
        pos = scale * pos_mxts
        return [(pos, pos if neg_mxts is pos_mxts else scale * neg_mxts)]


class _SoftmaxExp(_AtActualMixin, ElementwiseOp):
    """``e = exp(z)`` of the shifted logits ``z`` (its one input, the
    port) inside :class:`SoftmaxOp`; ``axis``: the softmax axis.  Its
    factor in the input's own frame: ``exp(u)`` (``e`` divided by
    ``exp(max z)``, by which :class:`_SoftmaxLog` multiplies its own)."""

    def __init__(self, axis, **kwargs):
        super(_SoftmaxExp, self).__init__(_Function(tf.exp, tf.exp), "Exp",
                                          **kwargs)
        self.axis = int(axis)

    def own_frame_derivative(self, port):
        """``exp(u)``, ``u`` the logits less their row maximum."""
        return tf.exp(_own_frame(port, self.axis))


class _SoftmaxLog(_AtActualMixin, ListInputMixin, ElementwiseOp):
    """``L = log(S)`` of the sum ``S = sum(exp(z))`` inside
    :class:`SoftmaxOp`, computed in log space where ``S`` underflows.

    Inputs: ``[S, z]`` (the sum node and the port); ``S`` is its input for
    every rule (contributions and multipliers go to it only), ``z`` gives
    the value where ``S`` is below the smallest normal number of its
    dtype (0 or subnormal, so ``log(S)`` is -inf or has lost digits):
    there ``L = m + log(sum(exp(z - m)))`` with ``m = max z``.  Elsewhere
    ``L = log(S)`` bit for bit as before.  Computed for the actual logits
    and for the reference separately (each on its own values).  Its
    factor in the input's own frame: ``1 / sum(exp(u))``."""

    min_inputs = max_inputs = 2

    def __init__(self, axis, **kwargs):
        super(_SoftmaxLog, self).__init__(
            _Function(tf.math.log, tf.math.reciprocal), "Log", **kwargs)
        self.axis = int(axis)

    def forward(self, xs):
        """``log(S)``; log space on the rows where ``S`` underflows."""
        total, z = xs
        tiny = np.finfo(total.dtype.as_numpy_dtype).tiny
        small = total < tiny

        def log_space():
            m = _row_max(z, self.axis)
            lse = m + tf.math.log(tf.reduce_sum(tf.exp(z - m),
                                                axis=self.axis,
                                                keepdims=True))
            return tf.where(small, lse, tf.math.log(total))
        return tf.cond(tf.reduce_any(small), log_space,
                       lambda: tf.math.log(total))

    def own_frame_derivative(self, port):
        """``1 / sum(exp(u))`` (in [1/n, 1])."""
        return tf.math.reciprocal(tf.reduce_sum(
            tf.exp(_own_frame(port, self.axis)), axis=self.axis,
            keepdims=True))


class _SoftmaxOut(_AtActualMixin, ListInputMixin, ElementwiseOp):
    """``y = exp(l)`` of the log-softmax ``l`` inside :class:`SoftmaxOp`
    (inputs ``[l, z]``: the log-softmax node and the port, which only
    gives the cache).  Its factor in the input's own frame: the softmax of
    the input as the composite's forward computes it (the port state's
    ``"softmax"``), not ``exp(z - L)``, whose ``z`` and ``L`` both carry
    the rounding of ``x - s``."""

    min_inputs = max_inputs = 2

    def __init__(self, **kwargs):
        super(_SoftmaxOut, self).__init__(_Function(tf.exp, tf.exp), "Exp",
                                          **kwargs)

    def forward(self, xs):
        """``exp(l)``."""
        return tf.exp(xs[0])

    def own_frame_derivative(self, port):
        """The input's softmax."""
        return port.cache["softmax"]


class SoftmaxOp(Composite):
    """Softmax (``log=False``) or log-softmax (``log=True``) over ``axis``
    (the last by default; any non-batch axis, as the tracer maps
    TensorFlow's transpose / softmax / transpose of ``softmax(x, axis=k)``
    to one node without the transposes), exact: with ``s`` the largest
    logit of the row in the input and in its reference (one constant for
    both, so it cancels), ``z = x - s``, ``e = exp(z)``, ``S = sum(e)``
    (along the axis), ``L = log(S)``, log-softmax ``= z - L`` and softmax
    ``= exp(log-softmax)``.  The exponentials and the logarithm follow
    ``nonlinear_mxts_mode`` (Rescale under RevealCancel, below; DeconvNet
    raises a ValueError: it has no meaning here).

    This is the split of ``y = e * (1/S)`` in log space that tangermeme
    1.6 uses (``tests/test_tangermeme_twin.py``).  The Shapley split of
    that product (``Δy = Δe·(1/S + 1/S0)/2 + (e + e0)/2·Δ(1/S)``) is exact
    too but ill-conditioned: when the reference's logits lie far below the
    input's, ``1/S0`` is huge and the two terms cancel, giving scores of
    1e13 that sum to the difference only in exact arithmetic; in log space
    every factor is bounded (``Δy/Δlog y`` lies between ``y`` and ``y0``).

    Range (``n`` terms per row; ``tiny``: the dtype's smallest normal
    number).  The common shift is the common factor ``exp(-s)`` of
    every exponential: ``z, z0 <= 0`` with one of them 0, so ``e, e0`` lie
    in [0, 1], ``S, S0`` in [0, n] and ``max(S, S0) >= 1``: nothing
    overflows.  The side whose logits lie more than ~87 (float32; ~708
    float64) below ``s`` underflows: its ``S`` is 0 or subnormal and
    ``log(S)`` -inf (NaN scores) or short of digits.  There ``L`` is
    taken in log space, ``m + log(sum(exp(z - m)))`` with ``m = max z``
    (``_SoftmaxLog``, for the input and the reference separately);
    where ``S >= tiny`` it is ``log(S)`` bit for bit, so every case that
    was finite keeps its numbers.  With ``L`` finite the Rescale
    multipliers are the same formulas and stay bounded:

    * exp: ``(e_i - e0_i) / (z_i - z0_i)``, between ``e_i`` and ``e0_i``:
      in [0, 1];
    * log: ``(L - L0) / (S - S0) = 1/ξ`` for a ``ξ`` between ``S0`` and
      ``S``; as ``max(S, S0) >= 1``, ``|S - S0| >= 1/2`` unless both are
      above 1/2, so it is at most ``2 max(1, |L - L0|)`` and at least
      ``1/n``.  An underflowed ``S0`` (or ``S``) is below ``tiny`` while
      the other is >= 1, so ``S - S0`` is the other to the dtype's
      precision;
    * their product along the chain, ``exp -> sum -> log``, is at most
      ``2 max(1, |L - L0|)``: no intermediate overflows; as the secant
      of exp is at least ``max(e_i, e0_i) / (1 + |Δz_i|)``, it underflows
      only where ``e_i`` and ``e0_i`` are both below about ``n·tiny·(1 +
      |Δz_i|)``: the contribution through ``L`` lost there is some
      ``tiny`` times ``|Δz_i|·|L - L0|``, far below any output's
      precision;
    * the outer exp: ``(y_i - y0_i) / (l_i - l0_i)``, in [0, 1] (the
      log-softmax ``l = z - L <= 0``).

    The secant of log could be written from ``L, L0`` alone, ``(L - L0) /
    (exp(L) - exp(L0))`` with the common factor ``exp(-max(L, L0))`` and
    ``expm1``: in this frame ``max(L, L0)`` is already in [0, log n], so
    the factor is 1 and the only gain would be rounding where ``S ~ S0``,
    at the cost of Rescale's identity ``multiplier * Δin == Δout`` on the
    computed values (which keeps the contributions summing to the
    difference); the formula is kept.  The shifted values carry the
    rounding of ``x - s`` (about 2^-24 abs(s)), which for Rescale is the
    precision of the logits themselves (its multipliers depend on
    differences of logits of that size): float32 scores equal float64's
    to about 2^-24 max abs(x) of their scale (tests/test_softmax_stable.py).

    Under the gradient-like modes (Gradient, GuidedBackprop) the factors
    are derivatives at the actual logits, ``e_i``, ``1/S`` and ``y_i``:
    on a row where the *reference* holds the common maximum ~87 above the
    input's, ``1/S`` overflows and ``e_i`` underflows (``inf·0``: NaN),
    already wrong where ``e_i`` underflows and ``S`` does not, and ``z``,
    ``L`` carry the rounding of ``x - s`` (about 2^-24 abs(s), however small the
    input's logits).  On those rows they are formed in the input's own
    frame from the unshifted logits, ``exp(u_i)``, ``1 / sum(exp(u))``
    (``u = x - max x``; the factor ``exp(max x - s)`` between them cancels,
    as the exp's only consumer is the sum and the sum's the log) and the
    forward's softmax ``y_i``: all in [0, 1], exact to the input's own
    precision (``_AtActualMixin``).  Rows where the input holds the
    maximum keep the former factors bit for bit.  GuidedBackprop's masks
    see only signs, which positive factors keep.

    Under RevealCancel the inner exponentials and logarithm use Rescale
    (the softmax is exact under either): RevealCancel would evaluate them at
    ``ref + Δ⁺`` and ``ref + Δ⁻`` of the logits, whose parts (sums of
    bilinear ``q·k`` terms) are far larger than their difference.  On
    Borzoi's attention the exp was evaluated at up to e^19 (parts of ±1e8
    cancelling to differences below 3), which summed put the logarithm's
    ``S0 + ΔS⁻`` at -1.2e8 (NaN); on a small traced attention block the
    finite cases left contributions of 1e22 that sum to the difference
    only in exact arithmetic."""

    def __init__(self, log=False, axis=-1, **kwargs):
        super(SoftmaxOp, self).__init__(**kwargs)
        self.log = bool(log)
        self.axis = int(axis)

    def _axis(self, ndim):
        """The softmax axis as a non-negative index (never the batch)."""
        axis = self.axis % ndim
        if axis == 0:
            raise ValueError("SoftmaxOp %r: a softmax over the batch axis "
                             "is not supported" % self.name)
        return axis

    def build_inner(self, port):
        """exp -> sum -> log -> difference (log-softmax), then exp
        (softmax), from ``port``; returns the output node.  DeconvNet
        raises a ValueError (``SOFTMAX_DECONVNET_ERROR``)."""
        mode = self.nonlinear_mxts_mode
        if mode == NonlinearMxtsMode.DeconvNet:
            raise ValueError(SOFTMAX_DECONVNET_ERROR
                             % ("traced softmax %r" % self.name))
        if mode == NonlinearMxtsMode.RevealCancel:
            mode = NonlinearMxtsMode.Rescale   # see the class docstring
        axis = self._axis(len(port.get_shape()))
        e = self.add("exp", _SoftmaxExp(axis, nonlinear_mxts_mode=mode),
                     port)
        total = self.add("sum", Reduce(axis=axis, op="sum", keepdims=True),
                         e)
        log = self.add("log", _SoftmaxLog(axis, nonlinear_mxts_mode=mode),
                       [total, port])
        log_softmax = self.add("log_softmax", Subtract(), [port, log])
        if self.log:
            return log_softmax
        return self.add("softmax", _SoftmaxOut(nonlinear_mxts_mode=mode),
                        [log_softmax, port])

    def forward(self, xs):
        """The softmax / log-softmax of ``xs[0]`` over the axis:
        TensorFlow's over the last axis; over another, ``exp(x - m) /
        sum(exp(x - m))`` with ``m`` the row maximum (reductions along the
        axis: no transposes, and not TensorFlow's Softmax kernel, slow on
        the short rows of attention pooling)."""
        x = xs[0]
        axis = self._axis(len(x.shape))
        if axis == len(x.shape) - 1:
            return tf.nn.log_softmax(x) if self.log else tf.nn.softmax(x)
        z = x - tf.reduce_max(x, axis=axis, keepdims=True)
        e = tf.exp(z)
        total = tf.reduce_sum(e, axis=axis, keepdims=True)
        if self.log:
            return z - tf.math.log(total)
        return e / total

    def inner_states(self, state):
        """The inner graph's states on the logits and references shifted
        by their common row maximum (computed once per state)."""
        if "inner" not in state.cache:
            x, x0 = state.input.act, state.input.ref
            axis = self._axis(len(x.shape))
            top = tf.reduce_max(x, axis=axis, keepdims=True)
            top0 = tf.reduce_max(x0, axis=axis, keepdims=True)
            shift = tf.stop_gradient(tf.maximum(top, top0))
            states = forward_sweep(self._order, {self._port: x - shift},
                                   {self._port: x0 - shift},
                                   fuse=state.fuse)
            port = states[id(self._port)]
            port.cache["outer_contribs"] = state.input.contribs
            # for the gradient modes' factors in the input's own frame
            # (_AtActualMixin): the rows where the reference holds the
            # maximum, the unshifted logits and the input's softmax
            port.cache["ref_higher"] = top < top0
            port.cache["logits"] = x
            if not self.log:
                port.cache["softmax"] = state.act
            state.cache["inner"] = states
        return state.cache["inner"]


# --------------------------------------------------------------------------
# the traced layer
# --------------------------------------------------------------------------

class TracedLayer(ListInputMixin, Node):
    """A Keras layer converted op by op: an inner graph of the nodes above,
    fed by one :class:`~deeplift.layers.composite.Port` per input.

    Built by :func:`deeplift.conversion.tracing.trace_layer`, which gives
    the ports, the inner output node and ``op_counts`` (TensorFlow op type
    -> number of nodes made from it).  Contributions and multipliers are
    those of the inner graph (as :class:`~deeplift.layers.composite.
    Composite`); inputs that do not reach the output get zero
    multipliers.

    ``mixes_batch``: some inner node is not computed example by example
    (a reshape folding the batch into another axis, a transpose moving
    it, a reduction over it); set by the tracer
    (:func:`deeplift.conversion.tracing.mixes_batch`).  Such a layer runs
    its inner references at the batch size of its inputs (a batch-1
    reference is broadcast at its entrance), as folding a batch-1
    reference would not line up with the folded inputs; any other layer
    keeps the batch-1 reference.  ``full_batch_reference``: the layer's
    output itself mixes the examples (an op over the batch axis), so its
    own reference is computed at the batch size too (see
    :mod:`deeplift.graph`); False for a layer computed example by example
    as a whole (CREsted's attention, whose folds are undone inside)."""

    has_inner_graph = True
    min_inputs = 1

    def __init__(self, ports, output, op_counts=None, keras_class=None,
                 mixes_batch=False, full_batch_reference=False,
                 **kwargs):
        super(TracedLayer, self).__init__(**kwargs)
        self._ports = list(ports)
        self._out = output
        self._out.build_fwd_pass_vars()
        self._order = topological_order([self._out])
        self.op_counts = dict(op_counts or {})
        self.keras_class = keras_class
        self.mixes_batch = bool(mixes_batch)
        self.full_batch_reference = bool(full_batch_reference)

    def _check_inputs(self):
        if not isinstance(self.inputs, (list, tuple)):
            self.inputs = [self.inputs]
        ListInputMixin._check_inputs(self)
        if len(self.inputs) != len(self._ports):
            raise ValueError("traced layer %r takes %d inputs, got %d"
                             % (self.name, len(self._ports),
                                len(self.inputs)))

    def inner_layers(self):
        """The inner nodes, inputs first (ports included)."""
        return list(self._order)

    def _compute_shape(self, input_shapes):
        return tuple(self._out.get_shape())

    def _feeds(self, xs, like=None):
        """{port: input}; with several inputs of batch sizes 1 and N (a
        shared reference beside per-example masks) the batch-1 ones are
        broadcast to N, as the layer's own ops (an einsum) need one
        batch size.  ``like`` (the activations, for references): when
        given, the inputs are broadcast to its batch size too."""
        xs = list(xs)
        if len(xs) > 1 or like is not None:
            sizes = [tf.shape(x)[0] for x in list(xs) + list(like or [])]
            batch = tf.reduce_max(tf.stack(sizes))
            xs = [tf.broadcast_to(x, tf.concat([[batch], tf.shape(x)[1:]],
                                               0)) for x in xs]
        return {port: x for port, x in zip(self._ports, xs)
                if any(port is l for l in self._order)}

    def forward(self, xs):
        """The inner graph on the inputs ``xs``; its output."""
        states = forward_sweep(self._order, self._feeds(xs))
        return states[id(self._out)].act

    def batch_mixing_nodes(self, xs, rtol=1e-4):
        """Names of the inner nodes not computed example by example on the
        inputs ``xs`` (a list of arrays, one per input, of batch size >=
        2): their output on the batch is not, row by row, their output on
        each example alone (within ``rtol`` of the node's largest
        value: a node that mixes examples differs by O(1), rounding by
        ~1e-7), or does not have the batch as its first axis."""
        def sweep(inputs):
            return forward_sweep(self._order, self._feeds(
                [tf.constant(x) for x in inputs]))
        batch = sweep(xs)
        singles = [sweep([x[i:i + 1] for x in xs])
                   for i in range(len(xs[0]))]
        names = []
        for node in self._order:
            got = batch[id(node)].act.numpy()
            rows = [s[id(node)].act.numpy() for s in singles]
            if rows[0].shape[:1] != (1,) or got.shape != (
                    (len(rows),) + rows[0].shape[1:]):
                names.append(node.get_name())
                continue
            finite = np.abs(got[np.isfinite(got)])
            tol = rtol * (finite.max() if finite.size else 1.0)
            if not all(np.allclose(got[i], row[0], rtol=rtol, atol=tol,
                                   equal_nan=True)
                       for i, row in enumerate(rows)):
                names.append(node.get_name())
        return names

    def sweep_inner(self, parents, fuse, pair_example=None, examples=None):
        """The inner graph's states on the inputs' activations and
        references, and its output's state: the outer forward sweep's
        evaluation of this layer (:func:`deeplift.graph.forward_sweep`),
        whose states :meth:`inner_states` then uses; in the outer sweep's
        pair mode (``pair_example``, ``examples``: the inputs' per-example
        activations) the inner sweep runs in it too.  None with
        ``mixes_batch`` (its references run at the inputs' batch size,
        see :meth:`inner_states`)."""
        if self.mixes_batch:
            return None
        feeds = [p.act for p in parents] if examples is None else examples
        states = forward_sweep(self._order, self._feeds(feeds),
                               self._feeds([p.ref for p in parents]),
                               fuse=fuse, pair_example=pair_example)
        return states, states[id(self._out)]

    def inner_states(self, state):
        """The inner graph's states for the outer ``state`` (computed once
        per state: by the outer forward sweep, see :meth:`sweep_inner`, or
        here); with ``mixes_batch``, on references broadcast to the
        inputs' batch size."""
        if "inner" not in state.cache:
            acts = [s.act for s in state.inputs]
            # a layer that mixes the batch axis runs its references at the
            # inputs' batch size (a batch-1 reference folded or transposed
            # would not line up with the inputs); others keep batch 1
            states = state.cache.pop("inner_sweep", None)
            if states is None:
                states = forward_sweep(
                    self._order, self._feeds(acts),
                    self._feeds([s.ref for s in state.inputs],
                                like=acts if self.mixes_batch else None),
                    fuse=state.fuse)
            for port, s in zip(self._ports, state.inputs):
                if id(port) in states:
                    states[id(port)].cache["outer_contribs"] = s.contribs
            state.cache["inner"] = states
        return state.cache["inner"]

    def contribs(self, state):
        """The inner output's ``(pos, neg)`` contributions."""
        return self.inner_states(state)[id(self._out)].contribs

    def backward(self, state, pos_mxts, neg_mxts, override=None):
        """One ``(pos, neg)`` increment per input: the inner graph's
        backward sweep (with the outer sweep's ``override``) from the
        output's multipliers; zeros for inputs the output does not
        use."""
        mxts = backward_sweep(self._order, self.inner_states(state),
                              self._out, pos_mxts, override=override,
                              neg_seed=neg_mxts)
        out = []
        for port, s in zip(self._ports, state.inputs):
            if id(port) in mxts:
                pos, neg = mxts[id(port)]
                if pos.shape.rank == 0:
                    # only a batch size was read from this input (a scalar
                    # zero, see LinearOp._vjp)
                    same = neg is pos
                    pos = tf.broadcast_to(pos, tf.shape(s.act))
                    neg = pos if same else tf.broadcast_to(
                        neg, tf.shape(s.act))
                out.append((pos, neg))
            else:
                zeros = zero_multipliers(s.act)
                out.append((zeros, zeros))
        return out


__all__ = ["Varying", "Fixed", "OpCall", "LinearOp", "ElementwiseOp",
           "ElementwiseShapley", "MaxOp", "SoftmaxOp", "TracedLayer",
           "Port", "run_raw_op"]
