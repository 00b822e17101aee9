"""Convolutions (cross-correlations, as TensorFlow and Keras): ordinary,
transposed, depthwise and separable.

Every convolution is a :class:`LinearLayer` subclass defining
``apply_kernel``.  A separable convolution (depthwise, then a 1x1
pointwise convolution) is one linear map; it is converted to the
equivalent ordinary convolution with the combined kernel
``K[..., c, o] = sum_m D[..., c, m] * P[c * depth_multiplier + m, o]``,
so the Linear rule sees the whole map at once and contributions sum
exactly.
"""
import numpy as np
import tensorflow as tf

from deeplift.modes import PaddingMode, DataFormat, PoolMode  # noqa: F401
# 0.6.13's module re-exported every name of core (``from .core import *``)
from deeplift.layers.core import (  # noqa: F401
    ActivationNames, Concat, ConvMxtsMode, Dense, DenseMxtsMode, Flatten,
    Input, Layer, ListInputMixin, MaxPoolDeepLiftMode, Merge, NoOp, Node,
    NonlinearMxtsMode, OneDimOutputMixin, ScoringMode, SingleInputMixin)
from deeplift.layers.core import (LinearLayer, check_mode,
                                  as_float_array)


def _padding(padding):
    value = str(padding).upper()
    if value not in PaddingMode.vals:
        raise ValueError("unsupported padding %r; valid: 'SAME', 'VALID'"
                         % (padding,))
    return value


def _ints(value, n, what):
    if np.ndim(value) == 0:
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise ValueError("%s must have %d entries, got %s" % (what, n, value))
    return value


class Conv(LinearLayer):
    """Base of convolution layers (the Linear rule, bias per channel)."""

    def __init__(self, conv_mxts_mode=ConvMxtsMode.Linear, **kwargs):
        """``conv_mxts_mode``: accepted for 0.6.13 compatibility (its only
        value is Linear); nothing reads it.  ``kwargs``: ``kernel``,
        ``bias`` and the Layer arguments."""
        super(Conv, self).__init__(**kwargs)
        self.conv_mxts_mode = check_mode(conv_mxts_mode, ConvMxtsMode,
                                         "conv_mxts_mode")


class Conv1D(Conv):
    """1-D convolution over (batch, length, channels); ``kernel`` is
    (width, in_channels, out_channels)."""

    def __init__(self, kernel, bias, stride, padding,
                 conv_mxts_mode=ConvMxtsMode.Linear, dilation=1, **kwargs):
        super(Conv1D, self).__init__(kernel=kernel, bias=bias,
                                     conv_mxts_mode=conv_mxts_mode, **kwargs)
        if self.kernel.ndim != 3:
            raise ValueError("Conv1D kernel must be (width, in, out); got "
                             "shape %s" % (self.kernel.shape,))
        self.stride = _ints(stride, 1, "stride")[0]
        self.dilation = _ints(dilation, 1, "dilation")[0]
        self.padding = _padding(padding)

    def _dilated_pads(self):
        """(left, right) input padding when the convolution runs as a
        VALID dilated convolution of the padded input (dilation > 1,
        stride 1), else None."""
        if self.dilation == 1 or self.stride != 1:
            return None
        total = (self.kernel.shape[0] - 1) * self.dilation
        if self.padding == PaddingMode.valid:
            return (0, 0)
        return (total // 2, total - total // 2)

    def apply_kernel(self, x, kernel):
        pads = self._dilated_pads()
        if pads is not None:
            # conv1d's own dilation (oneDNN, Eigen and cuDNN run it
            # natively): on CPU faster than the space-to-batch formulation
            # that tf.nn.convolution uses for dilation, and than one
            # matrix product per kernel tap; bench/PROFILE.md, workload (e)
            if pads != (0, 0):
                x = tf.pad(x, [[0, 0], list(pads), [0, 0]])
            return tf.nn.conv1d(x, kernel, stride=1, padding="VALID",
                                dilations=self.dilation)
        # tf.nn.convolution handles dilation on every device and dtype
        # (conv1d's CPU gradient does not)
        return tf.nn.convolution(x, kernel, strides=self.stride,
                                 padding=self.padding,
                                 dilations=self.dilation)

    def transpose(self, state, mxts, kernel):
        pads = self._dilated_pads()
        if pads is None:
            return super(Conv1D, self).transpose(state, mxts, kernel)
        # the transpose of a VALID dilated convolution is the VALID dilated
        # convolution of the multipliers, zero-padded by (width - 1) * d on
        # both sides, with the kernel flipped along its taps and its
        # channels swapped: a forward convolution, which every device and
        # dtype runs natively (the CPU's Conv2DBackpropInput has no
        # dilation outside oneDNN float32)
        width, d = self.kernel.shape[0], self.dilation
        reach = (width - 1) * d
        flipped = tf.transpose(kernel[::-1], (0, 2, 1))
        total = tf.nn.conv1d(
            tf.pad(mxts, [[0, 0], [reach, reach], [0, 0]]), flipped,
            stride=1, padding="VALID", dilations=d)
        if pads != (0, 0):
            total = total[:, pads[0]:tf.shape(total)[1] - pads[1]]
        return total


class Conv2D(Conv):
    """2-D convolution; ``kernel`` is (rows, cols, in, out)."""

    def __init__(self, kernel, bias, strides, padding,
                 data_format=DataFormat.channels_last,
                 conv_mxts_mode=ConvMxtsMode.Linear, dilation_rate=(1, 1),
                 **kwargs):
        super(Conv2D, self).__init__(kernel=kernel, bias=bias,
                                     conv_mxts_mode=conv_mxts_mode, **kwargs)
        if self.kernel.ndim != 4:
            raise ValueError("Conv2D kernel must be (rows, cols, in, out); "
                             "got shape %s" % (self.kernel.shape,))
        self.strides = _ints(strides, 2, "strides")
        self.dilation_rate = _ints(dilation_rate, 2, "dilation_rate")
        self.padding = _padding(padding)
        self.data_format = check_mode(data_format, DataFormat, "data_format")

    def apply_kernel(self, x, kernel):
        if self.data_format == DataFormat.channels_first:
            x = tf.transpose(x, (0, 2, 3, 1))
        y = tf.nn.convolution(x, kernel, strides=self.strides,
                              padding=self.padding,
                              dilations=self.dilation_rate)
        if self.data_format == DataFormat.channels_first:
            y = tf.transpose(y, (0, 3, 1, 2))
        return y

    def add_bias(self, y, bias):
        if self.data_format == DataFormat.channels_first:
            return y + tf.reshape(bias, (1, -1, 1, 1))
        return y + bias


def _to_channels_last(x, data_format):
    if data_format == DataFormat.channels_first:
        ndim = len(x.shape)
        return tf.transpose(x, (0,) + tuple(range(2, ndim)) + (1,))
    return x


def _from_channels_last(y, data_format):
    if data_format == DataFormat.channels_first:
        ndim = len(y.shape)
        return tf.transpose(y, (0, ndim - 1) + tuple(range(1, ndim - 1)))
    return y


def _bias_for(y, bias, data_format):
    if data_format == DataFormat.channels_first:
        return y + tf.reshape(bias, (1, -1) + (1,) * (len(y.shape) - 2))
    return y + bias


def transposed_length(size, kernel, stride, padding, output_padding,
                      dilation):
    """Output length of a transposed convolution, as Keras computes it."""
    kernel = (kernel - 1) * dilation + 1
    if padding == "VALID":
        if output_padding is None:
            output_padding = max(kernel, stride) - kernel
        return (size - 1) * stride + kernel + output_padding
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + kernel % 2 + output_padding


class _SpatialConv(Conv):
    """Base of the transposed and depthwise convolutions: ``n_spatial``
    spatial axes, either data format, a kernel ``kernel_size + (a, b)``
    (``kernel_layout`` names ``a, b``).  Subclasses define
    ``_num_outputs(kernel)`` (the size of the default zero bias) and
    ``_apply_channels_last(x, kernel)``."""

    n_spatial = None
    kernel_layout = None

    def __init__(self, kernel, bias, strides, padding,
                 data_format=DataFormat.channels_last, dilation_rate=1,
                 conv_mxts_mode=ConvMxtsMode.Linear, **kwargs):
        kernel = as_float_array(kernel)
        n = self.n_spatial
        if kernel.ndim != n + 2:
            raise ValueError("%s kernel must have %d dimensions "
                             "(kernel_size..., %s); got shape %s"
                             % (type(self).__name__, n + 2,
                                self.kernel_layout, kernel.shape))
        if bias is None:
            bias = np.zeros(self._num_outputs(kernel), dtype=kernel.dtype)
        super(_SpatialConv, self).__init__(kernel=kernel, bias=bias,
                                           conv_mxts_mode=conv_mxts_mode,
                                           **kwargs)
        self.strides = _ints(strides, n, "strides")
        self.dilation_rate = _ints(dilation_rate, n, "dilation_rate")
        self._check_geometry()
        self.padding = _padding(padding)
        self.data_format = check_mode(data_format or
                                      DataFormat.channels_last, DataFormat,
                                      "data_format")

    def _check_geometry(self):
        """Hook: check strides and dilation together."""

    def apply_kernel(self, x, kernel):
        y = self._apply_channels_last(_to_channels_last(x, self.data_format),
                                      kernel)
        return _from_channels_last(y, self.data_format)

    def add_bias(self, y, bias):
        return _bias_for(y, bias, self.data_format)


class _ConvTranspose(_SpatialConv):
    """Transposed convolution; ``kernel`` is ``kernel_size + (filters,
    in_channels)`` (Keras' layout)."""

    kernel_layout = "filters, in_channels"

    def __init__(self, kernel, bias, strides, padding, output_padding=None,
                 data_format=DataFormat.channels_last, dilation_rate=1,
                 conv_mxts_mode=ConvMxtsMode.Linear, **kwargs):
        super(_ConvTranspose, self).__init__(
            kernel=kernel, bias=bias, strides=strides, padding=padding,
            data_format=data_format, dilation_rate=dilation_rate,
            conv_mxts_mode=conv_mxts_mode, **kwargs)
        self.output_padding = (None if output_padding is None else
                               _ints(output_padding, self.n_spatial,
                                     "output_padding"))

    @staticmethod
    def _num_outputs(kernel):
        return kernel.shape[-2]

    def _apply_channels_last(self, x, kernel):
        sizes = []
        for i in range(self.n_spatial):
            size = x.shape[1 + i]
            size = tf.shape(x)[1 + i] if size is None else int(size)
            sizes.append(transposed_length(
                size, int(self.kernel.shape[i]), self.strides[i],
                self.padding, None if self.output_padding is None
                else self.output_padding[i], self.dilation_rate[i]))
        output_shape = tf.stack([tf.shape(x)[0]] + sizes
                                + [int(self.kernel.shape[-2])])
        return tf.nn.conv_transpose(x, kernel, output_shape, self.strides,
                                    padding=self.padding,
                                    dilations=self.dilation_rate)


class Conv1DTranspose(_ConvTranspose):
    """1-D transposed convolution (Keras ``Conv1DTranspose``)."""
    n_spatial = 1


class Conv2DTranspose(_ConvTranspose):
    """2-D transposed convolution (Keras ``Conv2DTranspose``)."""
    n_spatial = 2


class _DepthwiseConv(_SpatialConv):
    """Depthwise convolution; ``kernel`` is ``kernel_size + (in_channels,
    depth_multiplier)``, output channel ``c * depth_multiplier + m``."""

    kernel_layout = "in_channels, depth_multiplier"

    @staticmethod
    def _num_outputs(kernel):
        return kernel.shape[-2] * kernel.shape[-1]

    def _check_geometry(self):
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError("%s with both strides > 1 and dilation_rate > 1 "
                             "is not supported" % type(self).__name__)

    def _apply_channels_last(self, x, kernel):
        strides, dilations = self.strides, self.dilation_rate
        if self.n_spatial == 1:
            # a 1-row image; its row stride is that of the columns: with
            # one row and a one-row kernel, the row stride changes nothing
            # (one output row, no row padding), and TensorFlow's Eigen CPU
            # kernels run only equal row and column strides
            x = tf.expand_dims(x, 1)
            kernel = tf.expand_dims(kernel, 0)
            strides, dilations = strides[:1] + strides, (1,) + dilations
        if strides[0] != strides[1]:
            y = _depthwise_unequal_strides(x, kernel, strides, dilations,
                                           self.padding)
        else:
            y = tf.nn.depthwise_conv2d(x, kernel, (1,) + strides + (1,),
                                       self.padding, dilations=dilations)
        return tf.squeeze(y, 1) if self.n_spatial == 1 else y


def _depthwise_unequal_strides(x, kernel, strides, dilations, padding):
    """``tf.nn.depthwise_conv2d`` with row stride != column stride (NHWC),
    which TensorFlow's Eigen CPU kernels refuse: the padding that SAME
    would use for these strides made explicit, the stride-1 VALID
    convolution, then every ``stride``-th output (the same sums)."""
    if padding == "SAME":
        pads = [[0, 0]]
        for axis in (1, 2):
            size = x.shape[axis]
            size = tf.shape(x)[axis] if size is None else int(size)
            span = (int(kernel.shape[axis - 1]) - 1) * dilations[axis - 1] + 1
            out = -(-size // strides[axis - 1])
            total = tf.maximum((out - 1) * strides[axis - 1] + span - size, 0)
            pads.append([total // 2, total - total // 2])
        x = tf.pad(x, pads + [[0, 0]])
    y = tf.nn.depthwise_conv2d(x, kernel, (1, 1, 1, 1), "VALID",
                               dilations=dilations)
    return y[:, ::strides[0], ::strides[1], :]


class DepthwiseConv1D(_DepthwiseConv):
    """Depthwise 1-D convolution of (batch, length, channels) input."""
    n_spatial = 1


class DepthwiseConv2D(_DepthwiseConv):
    """Depthwise 2-D convolution of (batch, rows, cols, channels) input."""
    n_spatial = 2


def separable_kernel(depthwise_kernel, pointwise_kernel):
    """The ordinary convolution kernel ``kernel_size + (in, out)`` equal to
    a depthwise kernel ``kernel_size + (in, depth_multiplier)`` followed by
    a pointwise kernel ``(1,)*n + (in * depth_multiplier, out)``."""
    d = np.asarray(depthwise_kernel)
    p = np.asarray(pointwise_kernel)
    in_ch, mult = d.shape[-2], d.shape[-1]
    p = p.reshape(in_ch, mult, p.shape[-1])
    dtype = np.float64 if np.float64 in (d.dtype, p.dtype) else np.float32
    k = np.einsum("...cm,cmo->...co", d.astype(np.float64),
                  p.astype(np.float64))
    return k.astype(dtype)


class SeparableConv1D(Conv1D):
    """Separable 1-D convolution, computed as the equivalent ordinary
    convolution (see :func:`separable_kernel`); Conv1D's options.
    Only channels_last (as Conv1D)."""

    def __init__(self, depthwise_kernel, pointwise_kernel, bias, stride,
                 padding, dilation=1, conv_mxts_mode=ConvMxtsMode.Linear,
                 **kwargs):
        # a None bias becomes LinearLayer's zeros (one per output channel)
        super(SeparableConv1D, self).__init__(
            kernel=separable_kernel(depthwise_kernel, pointwise_kernel),
            bias=bias, stride=stride, padding=padding,
            dilation=dilation, conv_mxts_mode=conv_mxts_mode, **kwargs)


class SeparableConv2D(Conv2D):
    """Separable 2-D convolution, computed as the equivalent ordinary
    convolution (see :func:`separable_kernel`); Conv2D's options."""

    def __init__(self, depthwise_kernel, pointwise_kernel, bias, strides,
                 padding, data_format=DataFormat.channels_last,
                 dilation_rate=(1, 1), conv_mxts_mode=ConvMxtsMode.Linear,
                 **kwargs):
        super(SeparableConv2D, self).__init__(
            kernel=separable_kernel(depthwise_kernel, pointwise_kernel),
            bias=bias, strides=strides, padding=padding,
            data_format=data_format or DataFormat.channels_last,
            dilation_rate=dilation_rate, conv_mxts_mode=conv_mxts_mode,
            **kwargs)
