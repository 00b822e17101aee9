"""Convolutions (cross-correlations, as TensorFlow and Keras)."""
import numpy as np
import tensorflow as tf

from deeplift.util import enum
from deeplift.layers.core import LinearLayer, ConvMxtsMode, check_mode

PaddingMode = enum(same='SAME', valid='VALID')
DataFormat = enum(channels_first='channels_first',
                  channels_last='channels_last')


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

    def __init__(self, kernel, bias, conv_mxts_mode=ConvMxtsMode.Linear,
                 **kwargs):
        super(Conv, self).__init__(kernel=kernel, bias=bias, **kwargs)
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

    def apply_kernel(self, x, kernel):
        # tf.nn.convolution handles dilation on every device and dtype
        # (conv1d's CPU gradient does not)
        return tf.nn.convolution(x, kernel, strides=self.stride,
                                 padding=self.padding,
                                 dilations=self.dilation)


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
