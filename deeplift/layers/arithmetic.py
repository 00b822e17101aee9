"""Arithmetic on tensors: elementwise affine maps, weighted sums, axis
reductions and the elementwise functions of Keras' ``ops`` (square, sqrt,
abs, clip).

These are what Keras 3 op nodes (``x + 3.0``, ``x * (1/6)``,
``ops.mean(x, axis)``), ``Rescaling``, ``Normalization`` and per-channel
scaling layers (ConvNeXt's ``LayerScale``) convert to.

* :class:`Affine`: ``((x - center) / divisor) * scale + offset``; each
  parameter optional and broadcast like numpy against the input (the batch
  axis included, so a per-channel parameter is a 1-D array over the last
  axis). The forward pass applies only the given parameters, in this order
  and in the input's dtype, so it rounds as Keras does (``x / 255.0`` is
  not ``x * (1 / 255.0)`` in float32). Contributions and multipliers scale
  by ``scale / divisor``; a negative factor swaps the positive and
  negative parts (as BatchNormalization).
* :class:`WeightedSum`: ``sum_i w_i x_i`` of same-shaped inputs.
* :class:`Reduce`: mean or sum over axes (a linear map with non-negative
  coefficients).
* :class:`Square`, :class:`Sqrt`, :class:`Abs`, :class:`Clip`:
  elementwise nonlinearities; every ``NonlinearMxtsMode`` rule comes from
  :class:`deeplift.layers.activations.Activation`.
"""
import numpy as np
import tensorflow as tf

from deeplift.layers.activations import Activation
from deeplift.layers.core import (ListInputMixin, Node, SingleInputMixin,
                                  StructuralLayer, as_float_array, captured)
from deeplift.rules.ops import scaled_contribs, scaled_multipliers


def _param(value, what):
    if value is None:
        return None
    array = as_float_array(value)
    if not np.all(np.isfinite(array)):
        raise ValueError("Affine %s has non-finite values" % what)
    return array


def _broadcast_shape(param_shape, input_shape, name, what):
    """Check that a parameter broadcasts against the input (batch axis
    included) without changing its shape."""
    if len(param_shape) > len(input_shape):
        raise ValueError("layer %r: %s of shape %s has more axes than its "
                         "input %s" % (name, what, param_shape, input_shape))
    for p, d in zip(param_shape[::-1], input_shape[::-1]):
        if p != 1 and d is not None and p != d:
            raise ValueError("layer %r: %s of shape %s does not broadcast "
                             "against its input %s"
                             % (name, what, param_shape, input_shape))
    if len(param_shape) == len(input_shape) and param_shape and \
            param_shape[0] != 1:
        raise ValueError("layer %r: %s of shape %s would broadcast over the "
                         "batch axis" % (name, what, param_shape))


class Affine(SingleInputMixin, Node):
    """``((x - center) / divisor) * scale + offset`` elementwise (see the
    module docstring); parameters are scalars or arrays, None to skip."""

    def __init__(self, scale=None, offset=None, center=None, divisor=None,
                 **kwargs):
        super(Affine, self).__init__(**kwargs)
        self.scale = _param(scale, "scale")
        self.offset = _param(offset, "offset")
        self.center = _param(center, "center")
        self.divisor = _param(divisor, "divisor")
        if self.divisor is not None and np.any(self.divisor == 0):
            raise ValueError("Affine layer %r: divisor has zeros" % self.name)
        factor = np.ones((), dtype=np.float64)
        if self.scale is not None:
            factor = factor * self.scale.astype(np.float64)
        if self.divisor is not None:
            factor = factor / self.divisor.astype(np.float64)
        #: the derivative ``scale / divisor`` (float64)
        self.factor = factor

    def _params(self):
        return (("center", self.center), ("divisor", self.divisor),
                ("scale", self.scale), ("offset", self.offset))

    def _compute_shape(self, input_shapes):
        shape = tuple(input_shapes[0])
        for what, param in self._params():
            if param is not None:
                _broadcast_shape(param.shape, shape, self.name, what)
        return shape

    def forward(self, xs):
        y = xs[0]
        dtype = y.dtype
        if self.center is not None:
            y = y - captured(self, "center", self.center, dtype)
        if self.divisor is not None:
            y = y / captured(self, "divisor", self.divisor, dtype)
        if self.scale is not None:
            y = y * captured(self, "scale", self.scale, dtype)
        if self.offset is not None:
            y = y + captured(self, "offset", self.offset, dtype)
        return y

    def _factor(self, dtype):
        return captured(self, "factor", self.factor, dtype)

    def contribs(self, state):
        pos_in, neg_in = state.input.contribs
        factor = self._factor(pos_in.dtype)
        return scaled_contribs(pos_in, neg_in, factor)

    def backward(self, state, pos_mxts, neg_mxts):
        factor = self._factor(pos_mxts.dtype)
        return [scaled_multipliers(pos_mxts, neg_mxts, factor)]


class WeightedSum(ListInputMixin, Node):
    """``sum_i weights[i] * x_i`` of inputs of one shape (scalar weights).

    A negative weight swaps its input's positive and negative parts, so
    contributions keep summing to the output difference."""

    def __init__(self, weights, **kwargs):
        super(WeightedSum, self).__init__(**kwargs)
        self.weights = [float(w) for w in weights]

    def _check_inputs(self):
        ListInputMixin._check_inputs(self)
        if len(self.inputs) != len(self.weights):
            raise ValueError("WeightedSum %r has %d weights but %d inputs"
                             % (self.name, len(self.weights),
                                len(self.inputs)))

    def _compute_shape(self, input_shapes):
        shapes = [tuple(s) for s in input_shapes]
        if any(s != shapes[0] for s in shapes):
            raise ValueError("WeightedSum %r: inputs of different shapes %s"
                             % (self.name, shapes))
        return shapes[0]

    def forward(self, xs):
        out = None
        for x, w in zip(xs, self.weights):
            term = x if w == 1.0 else x * tf.constant(w, x.dtype)
            out = term if out is None else out + term
        return out

    def contribs(self, state):
        pos, neg = 0, 0
        for s, w in zip(state.inputs, self.weights):
            p, n = s.contribs
            if w >= 0:
                pos, neg = pos + w * p, neg + w * n
            else:
                pos, neg = pos + w * n, neg + w * p
        return pos, neg

    def backward(self, state, pos_mxts, neg_mxts):
        out = []
        for w in self.weights:
            if w >= 0:
                out.append((w * pos_mxts, w * neg_mxts))
            else:
                out.append((w * neg_mxts, w * pos_mxts))
        return out


class Reduce(SingleInputMixin, StructuralLayer):
    """Mean (``op="mean"``) or sum (``op="sum"``) over ``axis`` (an int or
    ints, never the batch axis), keeping the reduced axes when
    ``keepdims``."""

    OPS = {"mean": tf.reduce_mean, "sum": tf.reduce_sum}

    def __init__(self, axis, op="mean", keepdims=False, **kwargs):
        super(Reduce, self).__init__(**kwargs)
        if op not in self.OPS:
            raise ValueError("Reduce op must be one of %s, got %r"
                             % (sorted(self.OPS), op))
        axes = [axis] if np.ndim(axis) == 0 else list(axis)
        self.axis = [int(a) for a in axes]
        self.op = op
        self.keepdims = bool(keepdims)

    def _axes(self, ndim):
        axes = sorted(set(a % ndim for a in self.axis))
        if 0 in axes:
            raise ValueError("Reduce layer %r: reducing over the batch axis "
                             "is not supported" % self.name)
        return axes

    def _compute_shape(self, input_shapes):
        self._axes(len(input_shapes[0]))
        return super(Reduce, self)._compute_shape(input_shapes)

    def forward(self, xs):
        x = xs[0]
        return self.OPS[self.op](x, axis=self._axes(len(x.shape)),
                                 keepdims=self.keepdims)


def _c(value, x):
    return tf.constant(value, dtype=x.dtype)


class Square(Activation):
    """``x * x``."""

    def f(self, x):
        return tf.square(x)

    def gradient(self, x):
        return 2 * x


class Sqrt(Activation):
    """``sqrt(x)``; its derivative at 0 is taken at the smallest normal
    number of the dtype (finite)."""

    def f(self, x):
        return tf.sqrt(x)

    def gradient(self, x):
        tiny = _c(np.finfo(x.dtype.as_numpy_dtype).tiny, x)
        return 0.5 / tf.sqrt(tf.maximum(x, tiny))


class Abs(Activation):
    """``|x|`` (derivative 0 at 0)."""

    def f(self, x):
        return tf.abs(x)

    def gradient(self, x):
        return tf.sign(x)


class Clip(Activation):
    """``min(max(x, low), high)`` (Keras' ``ops.clip``)."""

    exact_under_xla = True

    def __init__(self, low, high, **kwargs):
        super(Clip, self).__init__(**kwargs)
        self.low = float(low)
        self.high = float(high)
        if self.low > self.high:
            raise ValueError("Clip %r: low %s > high %s"
                             % (self.name, self.low, self.high))

    def f(self, x):
        return tf.clip_by_value(x, _c(self.low, x), _c(self.high, x))

    def gradient(self, x):
        inside = tf.logical_and(x > _c(self.low, x), x < _c(self.high, x))
        return tf.cast(inside, x.dtype)


class AxisReshape(SingleInputMixin, StructuralLayer):
    """Keras' ``ops.expand_dims`` (``op="expand_dims"``) or
    ``ops.squeeze`` (``op="squeeze"``) at ``axis`` (never the batch
    axis)."""

    def __init__(self, op, axis, **kwargs):
        super(AxisReshape, self).__init__(**kwargs)
        if op not in ("expand_dims", "squeeze"):
            raise ValueError("AxisReshape op must be 'expand_dims' or "
                             "'squeeze', got %r" % (op,))
        self.op = op
        self.axis = [int(a) for a in ([axis] if np.ndim(axis) == 0
                                      else axis)]

    def forward(self, xs):
        x = xs[0]
        if self.op == "squeeze":
            ndim = len(x.shape)
            axes = [a % ndim for a in self.axis]
            if 0 in axes:
                raise ValueError("layer %r squeezes the batch axis"
                                 % self.name)
            return tf.squeeze(x, axis=axes)
        ndim = len(x.shape) + len(self.axis)
        axes = sorted(a % ndim for a in self.axis)
        if 0 in axes:
            raise ValueError("layer %r expands at the batch axis" % self.name)
        for a in axes:
            x = tf.expand_dims(x, a)
        return x
