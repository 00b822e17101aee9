"""Normalization layers: batch normalization (inference form: a
per-channel affine map), and layer and group normalization (composites of
exact pieces, see :func:`normalized`)."""
import numpy as np
import tensorflow as tf

from deeplift.layers.core import (SingleInputMixin, Node, StructuralLayer,
                                  LinearLayer, as_float_array)
from deeplift.rules.ops import scaled_contribs, scaled_multipliers
from deeplift.layers.activations import Activation
from deeplift.layers.composite import Composite, ElementwiseAffine
from deeplift.layers.merge import Multiply
from deeplift.layers.reshaping import Reshape


class BatchNormalization(SingleInputMixin, Node):
    """``gamma * (x - mean) / sqrt(var + epsilon) + beta`` along ``axis``.

    Contributions and multipliers scale by ``gamma / std``; a negative
    ``gamma`` swaps the positive and negative parts.
    """

    def __init__(self, gamma, beta, axis, mean, var, epsilon, **kwargs):
        super(BatchNormalization, self).__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise ValueError("BatchNormalization over several axes %s is "
                                 "not supported" % (axis,))
            axis = axis[0]
        self.axis = int(axis)
        self.mean = as_float_array(mean)
        self.var = as_float_array(var)
        self.gamma = (np.ones_like(self.mean) if gamma is None
                      else as_float_array(gamma))
        self.beta = (np.zeros_like(self.mean) if beta is None
                     else as_float_array(beta))
        self.epsilon = float(epsilon)
        for label, arr in (("mean", self.mean), ("var", self.var),
                           ("gamma", self.gamma), ("beta", self.beta)):
            if arr.ndim != 1:
                raise ValueError("BatchNormalization %s must be 1-D, got "
                                 "shape %s" % (label, arr.shape))

    def _compute_shape(self, input_shapes):
        return tuple(input_shapes[0])

    def _reshaped(self, array, ndim, dtype):
        axis = self.axis % ndim
        shape = [1] * ndim
        shape[axis] = array.shape[0]
        return tf.constant(array.reshape(shape), dtype=dtype)

    def _scale_and_offset(self, ndim, dtype):
        """``gamma / sqrt(var + epsilon)`` and ``beta - mean * scale`` in
        ``dtype``, computed with the ops (and in the order) of
        ``tf.nn.batch_normalization``, as 0.6.13 did: RevealCancel's
        pseudocount finite differences downstream turn last-bit changes of
        the reference into multiplier changes (tests/reference/README.md,
        "RevealCancel and the last bits")."""
        np_dtype = np.dtype(dtype.as_numpy_dtype)
        var = self._reshaped(self.var.astype(np_dtype)
                             + np_dtype.type(self.epsilon), ndim, dtype)
        inv = tf.math.rsqrt(var) * self._reshaped(self.gamma, ndim, dtype)
        offset = (self._reshaped(self.beta, ndim, dtype)
                  - self._reshaped(self.mean, ndim, dtype) * inv)
        return inv, offset

    def forward(self, xs):
        x = xs[0]
        scale, offset = self._scale_and_offset(len(x.shape), x.dtype)
        return x * scale + offset

    def contribs(self, state):
        pos_in, neg_in = state.input.contribs
        scale, _ = self._scale_and_offset(len(pos_in.shape), pos_in.dtype)
        return scaled_contribs(pos_in, neg_in, scale)

    def backward(self, state, pos_mxts, neg_mxts):
        scale, _ = self._scale_and_offset(len(pos_mxts.shape),
                                          pos_mxts.dtype)
        return [scaled_multipliers(pos_mxts, neg_mxts, scale)]


# --------------------------------------------------------------------------
# layer and group normalization: composites of exact pieces
# --------------------------------------------------------------------------

def _axes(axis, ndim):
    """Sorted non-negative axes from an int or a list (never the batch
    axis)."""
    axes = sorted(set(int(a) % ndim for a in np.atleast_1d(axis)))
    if 0 in axes:
        raise ValueError("normalization over the batch axis is not "
                         "supported")
    return axes


def _known_axes(layer, port):
    """``_axes`` of ``layer.axis`` for ``port``; a ValueError where the size
    of one of them is not known."""
    shape = port.get_shape()
    axes = _axes(layer.axis, len(shape))
    if any(shape[a] is None for a in axes):
        raise ValueError("layer %r normalizes over axes %s whose size is "
                         "not known" % (layer.name, axes))
    return axes


class Centre(LinearLayer):
    """``x - mean(x)`` over ``axes`` (keeping them): the linear map with
    coefficient ``1 - 1/n`` on the diagonal and ``-1/n`` elsewhere, ``n``
    the number of elements averaged.  Its kernel is those two
    coefficients, so the Linear rule splits them by sign exactly as it
    would the full matrix."""

    def __init__(self, axes, size, **kwargs):
        n = float(size)
        super(Centre, self).__init__(kernel=np.array([1 - 1 / n, -1 / n]),
                                     bias=None, **kwargs)
        self.axes = list(axes)

    def _sum(self, x):
        return tf.reduce_sum(x, axis=self.axes, keepdims=True)

    def apply_kernel(self, x, kernel):
        return kernel[0] * x + kernel[1] * (self._sum(x) - x)

    def add_bias(self, y, bias):
        return y

    def forward(self, xs):
        x = xs[0]
        return x - tf.reduce_mean(x, axis=self.axes, keepdims=True)

    def _compute_shape(self, input_shapes):
        return tuple(input_shapes[0])


class Mean(SingleInputMixin, StructuralLayer):
    """Mean over ``axes``, keeping them with size 1."""

    def __init__(self, axes, **kwargs):
        super(Mean, self).__init__(**kwargs)
        self.axes = list(axes)

    def forward(self, xs):
        return tf.reduce_mean(xs[0], axis=self.axes, keepdims=True)

    def _compute_shape(self, input_shapes):
        return tuple(1 if i in self.axes else d
                     for i, d in enumerate(input_shapes[0]))


class Square(Activation):
    """``x * x`` (elementwise; any rule)."""

    def f(self, x):
        return tf.square(x)

    def gradient(self, x):
        return 2 * x


class InverseSqrt(Activation):
    """``1 / sqrt(x + epsilon)`` (elementwise; any rule)."""

    def __init__(self, epsilon, **kwargs):
        super(InverseSqrt, self).__init__(**kwargs)
        self.epsilon = float(epsilon)

    def f(self, x):
        return tf.math.rsqrt(x + tf.constant(self.epsilon, x.dtype))

    def gradient(self, x):
        y = self.f(x)
        return -0.5 * y * y * y


def _broadcast_to_axes(array, axes, ndim):
    """``array`` (the sizes of ``axes``) reshaped to broadcast over a
    rank-``ndim`` tensor."""
    array = np.asarray(array)
    if array.ndim == 1 and axes == [ndim - 1]:
        return array
    shape = [1] * ndim
    for a in axes:
        shape[a] = None
    sizes = list(array.shape)
    if len(sizes) == 1 and len(axes) > 1:
        raise ValueError("weights of shape %s do not match the normalized "
                         "axes %s" % (array.shape, axes))
    for a, size in zip(axes, sizes):
        shape[a] = size
    return array.reshape(shape)


def normalized(layer, x, axes, epsilon, centre=True, scaled=None):
    """Wire ``(x - mean) / sqrt(var + epsilon)`` over ``axes`` from the
    layer ``x`` inside the composite ``layer``: centring (linear), square
    (elementwise), mean (linear), inverse square root (elementwise), and
    the Shapley product of the centred input (or ``scaled``, a layer to
    scale instead) with it.  Returns the product layer."""
    mode = layer.nonlinear_mxts_mode
    shape = x.get_shape()
    size = int(np.prod([shape[a] for a in axes]))
    c = layer.add("centred", Centre(axes, size), x) if centre else x
    sq = layer.add("square", Square(nonlinear_mxts_mode=mode), c)
    var = layer.add("variance", Mean(axes), sq)
    inv = layer.add("inverse_std",
                    InverseSqrt(epsilon, nonlinear_mxts_mode=mode), var)
    return layer.add("normalized", Multiply(nonlinear_mxts_mode=mode),
                     [c if scaled is None else scaled, inv])


class LayerNormalization(Composite):
    """Keras' ``LayerNormalization``: ``(x - mean) / sqrt(var + epsilon) *
    gamma + beta`` over ``axis`` (an int or a list); ``gamma`` / ``beta``
    None for ``scale=False`` / ``center=False``.  ``rms_scaling=True``
    (Keras' deprecated option) scales ``x`` itself by the inverse standard
    deviation, times ``gamma``.

    Exact summation to delta: the centring and the mean are linear, the
    square and the inverse square root elementwise (any rule), the
    normalisation a two-factor Shapley product, gamma and beta affine.
    """

    def __init__(self, gamma, beta, axis=-1, epsilon=1e-3, rms_scaling=False,
                 **kwargs):
        super(LayerNormalization, self).__init__(**kwargs)
        self.gamma = None if gamma is None else as_float_array(gamma)
        self.beta = None if beta is None else as_float_array(beta)
        self.axis = axis
        self.epsilon = float(epsilon)
        self.rms_scaling = bool(rms_scaling)

    def build_inner(self, port):
        ndim = len(port.get_shape())
        axes = _known_axes(self, port)
        y = normalized(self, port, axes, self.epsilon,
                       scaled=port if self.rms_scaling else None)
        if self.gamma is None and self.beta is None:
            return y
        scale = (np.ones(1, dtype=np.float32) if self.gamma is None
                 else _broadcast_to_axes(self.gamma, axes, ndim))
        offset = (np.zeros(1, dtype=np.float32) if self.beta is None
                  else _broadcast_to_axes(self.beta, axes, ndim))
        scale, offset = np.broadcast_arrays(scale, offset)
        return self.add("affine", ElementwiseAffine(scale, offset), y)


class GroupNormalization(Composite):
    """Keras' ``GroupNormalization`` over the last (channel) axis:
    channels split into ``groups``, each normalized over the spatial axes
    and its channels, then per-channel ``gamma`` / ``beta``.  Built as
    :class:`LayerNormalization`'s pieces between two reshapes."""

    def __init__(self, groups, gamma, beta, axis=-1, epsilon=1e-3,
                 **kwargs):
        super(GroupNormalization, self).__init__(**kwargs)
        self.groups = int(groups)
        self.gamma = None if gamma is None else as_float_array(gamma)
        self.beta = None if beta is None else as_float_array(beta)
        self.axis = axis
        self.epsilon = float(epsilon)

    def build_inner(self, port):
        shape = port.get_shape()
        ndim = len(shape)
        if int(self.axis) % ndim != ndim - 1:
            raise ValueError("GroupNormalization layer %r: only the last "
                             "axis (channels_last) is supported, got axis=%s"
                             % (self.name, self.axis))
        if any(d is None for d in shape[1:]):
            raise ValueError("GroupNormalization layer %r needs a fully "
                             "known input shape, got %s" % (self.name, shape))
        channels = shape[-1]
        if channels % self.groups:
            raise ValueError("GroupNormalization layer %r: %d channels do not "
                             "split into %d groups"
                             % (self.name, channels, self.groups))
        grouped = self.add("grouped", Reshape(tuple(shape[1:-1]) + (
            self.groups, channels // self.groups)), port)
        axes = [a for a in range(1, ndim + 1) if a != ndim - 1]
        y = normalized(self, grouped, axes, self.epsilon)
        y = self.add("ungrouped", Reshape(tuple(shape[1:])), y)
        if self.gamma is None and self.beta is None:
            return y
        scale = (np.ones(channels, np.float32) if self.gamma is None
                 else self.gamma)
        offset = (np.zeros(channels, np.float32) if self.beta is None
                  else self.beta)
        return self.add("affine", ElementwiseAffine(scale, offset), y)


class RMSNormalization(Composite):
    """Keras' ``RMSNormalization``: ``x / sqrt(mean(x ** 2) + epsilon) *
    scale`` over ``axis`` (an int or a list): :func:`normalized` without
    the centring, then the per-feature ``scale`` (None for none)."""

    def __init__(self, scale=None, axis=-1, epsilon=1e-6, **kwargs):
        super(RMSNormalization, self).__init__(**kwargs)
        self.scale = None if scale is None else as_float_array(scale)
        self.axis = axis
        self.epsilon = float(epsilon)

    def build_inner(self, port):
        ndim = len(port.get_shape())
        axes = _known_axes(self, port)
        y = normalized(self, port, axes, self.epsilon, centre=False)
        if self.scale is None:
            return y
        return self.add("scale", ElementwiseAffine(
            _broadcast_to_axes(self.scale, axes, ndim)), y)
