"""Max and average pooling, local and global."""
import tensorflow as tf

from deeplift.layers.core import (StructuralLayer, check_mode)
from deeplift.layers.convolutional import DataFormat, _padding, _ints
from deeplift.graph import vjp, jvp  # noqa: F401 (jvp re-exported)
from deeplift.rules.maxpool import maxpool_rule
from deeplift.rules.ops import safe_ratio  # noqa: F401 (re-exported)
# 0.6.13's module re-exported every name of core (``from .core import *``)
from deeplift.layers.core import (  # noqa: F401
    ActivationNames, Concat, ConvMxtsMode, Dense, DenseMxtsMode, Flatten,
    Input, Layer, ListInputMixin, MaxPoolDeepLiftMode, Merge, NoOp, Node,
    NonlinearMxtsMode, OneDimOutputMixin, ScoringMode, SingleInputMixin)


class MaxPoolMixin(object):
    """Max pooling; its rules are in :mod:`deeplift.rules.maxpool`
    (``gradient``, the original's default, and ``summation_to_delta``)."""

    def _init_maxpool(self, maxpool_deeplift_mode):
        self.maxpool_deeplift_mode = check_mode(
            maxpool_deeplift_mode, MaxPoolDeepLiftMode,
            "maxpool_deeplift_mode")

    def gradient_route(self, state, mxts):
        """The gradient of the max applied to ``mxts``."""
        return vjp(self.forward, [state.input.act], mxts)[0]

    def backward(self, state, pos_mxts, neg_mxts):
        return maxpool_rule(self.maxpool_deeplift_mode)(
            self, state, pos_mxts, neg_mxts)


class Pool1D(SingleInputMixin, Node):
    """Base of 1-D pooling: ``pool_length``, ``stride``, ``padding``
    ('SAME'/'VALID', any case)."""

    def __init__(self, pool_length, stride, padding, **kwargs):
        super(Pool1D, self).__init__(**kwargs)
        self.pool_length = _ints(pool_length, 1, "pool_length")[0]
        self.stride = _ints(stride, 1, "stride")[0]
        self.padding = _padding(padding)


class MaxPool1D(MaxPoolMixin, Pool1D):
    """1-D max pooling (0.6.13's arguments); ``maxpool_deeplift_mode``:
    ``gradient`` (the default) or ``summation_to_delta``."""
    def __init__(self, pool_length, stride, padding,
                 maxpool_deeplift_mode=MaxPoolDeepLiftMode.gradient,
                 **kwargs):
        super(MaxPool1D, self).__init__(pool_length=pool_length,
                                        stride=stride, padding=padding,
                                        **kwargs)
        self._init_maxpool(maxpool_deeplift_mode)

    def forward(self, xs):
        return tf.nn.max_pool1d(xs[0], self.pool_length, self.stride,
                                self.padding)


class AvgPool1D(Pool1D, StructuralLayer):
    """1-D average pooling (a linear op: contributions map through it)."""
    def forward(self, xs):
        return tf.nn.avg_pool1d(xs[0], self.pool_length, self.stride,
                                self.padding)


class Pool2D(SingleInputMixin, Node):
    """Base of 2-D pooling: ``pool_size``, ``strides`` (None: the pool
    size), ``padding``, ``data_format``."""

    def __init__(self, pool_size, strides, padding,
                 data_format=DataFormat.channels_last, **kwargs):
        super(Pool2D, self).__init__(**kwargs)
        self.pool_size = _ints(pool_size, 2, "pool_size")
        self.strides = _ints(strides if strides is not None else pool_size,
                             2, "strides")
        self.padding = _padding(padding)
        self.data_format = check_mode(data_format, DataFormat, "data_format")

    def _pool(self, op, x):
        if self.data_format == DataFormat.channels_first:
            x = tf.transpose(x, (0, 2, 3, 1))
        y = op(x, self.pool_size, self.strides, self.padding)
        if self.data_format == DataFormat.channels_first:
            y = tf.transpose(y, (0, 3, 1, 2))
        return y


class MaxPool2D(MaxPoolMixin, Pool2D):
    """2-D max pooling (0.6.13's arguments); ``maxpool_deeplift_mode``:
    ``gradient`` (the default) or ``summation_to_delta``."""
    def __init__(self, pool_size, strides, padding,
                 data_format=DataFormat.channels_last,
                 maxpool_deeplift_mode=MaxPoolDeepLiftMode.gradient,
                 **kwargs):
        super(MaxPool2D, self).__init__(pool_size=pool_size, strides=strides,
                                        padding=padding,
                                        data_format=data_format, **kwargs)
        self._init_maxpool(maxpool_deeplift_mode)

    def forward(self, xs):
        return self._pool(tf.nn.max_pool2d, xs[0])


class AvgPool2D(Pool2D, StructuralLayer):
    """2-D average pooling (a linear op: contributions map through it)."""
    def forward(self, xs):
        return self._pool(tf.nn.avg_pool2d, xs[0])


def _spatial_axes(ndim, data_format):
    if data_format == DataFormat.channels_first:
        return list(range(2, ndim))
    return list(range(1, ndim - 1))


class _GlobalPool(SingleInputMixin, Node):
    """Reduction over the spatial axes; ``keepdims=True`` keeps them with
    size 1 (Keras' ``keepdims``)."""

    def __init__(self, data_format=DataFormat.channels_last, keepdims=False,
                 **kwargs):
        super(_GlobalPool, self).__init__(**kwargs)
        self.data_format = check_mode(data_format, DataFormat, "data_format")
        self.keepdims = bool(keepdims)

    def _axes(self, x):
        return _spatial_axes(len(x.shape), self.data_format)


class GlobalAvgPool1D(_GlobalPool, StructuralLayer):
    """Mean over the spatial axes."""

    def forward(self, xs):
        return tf.reduce_mean(xs[0], axis=self._axes(xs[0]),
                              keepdims=self.keepdims)


class GlobalAvgPool2D(GlobalAvgPool1D):
    """Mean over the spatial axes (the same op as :class:`GlobalAvgPool1D`)."""
    pass


class GlobalMaxPool1D(MaxPoolMixin, _GlobalPool):
    """Max over the spatial axes.  In ``gradient`` mode the multiplier goes
    to every position equal to the max (ties all receive it, as in the
    original)."""

    def __init__(self, maxpool_deeplift_mode=MaxPoolDeepLiftMode.gradient,
                 **kwargs):
        super(GlobalMaxPool1D, self).__init__(**kwargs)
        self._init_maxpool(maxpool_deeplift_mode)

    def forward(self, xs):
        return tf.reduce_max(xs[0], axis=self._axes(xs[0]),
                             keepdims=self.keepdims)

    def gradient_route(self, state, mxts):
        x = state.input.act
        axes = self._axes(x)
        mask = tf.cast(tf.equal(x, tf.reduce_max(x, axis=axes,
                                                 keepdims=True)), x.dtype)
        if not self.keepdims:
            for axis in axes:
                mxts = tf.expand_dims(mxts, axis)
        return mxts * mask


class GlobalMaxPool2D(GlobalMaxPool1D):
    """Max over the spatial axes (the same op as :class:`GlobalMaxPool1D`)."""
    pass
