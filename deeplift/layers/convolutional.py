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

    def _dilated_pads(self):
        """(left, right) input padding when the convolution runs as one
        matrix product per kernel tap (dilation > 1, stride 1), else
        None."""
        if self.dilation == 1 or self.stride != 1:
            return None
        total = (self.kernel.shape[0] - 1) * self.dilation
        if self.padding == PaddingMode.valid:
            return (0, 0)
        return (total // 2, total - total // 2)

    def apply_kernel(self, x, kernel):
        pads = self._dilated_pads()
        if pads is not None:
            # sum over the taps t of x[t*d : t*d + L_out] @ kernel[t]:
            # on CPU several times faster than the space-to-batch
            # formulation that tf.nn.convolution uses for dilation (and
            # equal to it up to rounding); bench/PROFILE.md, workload (e)
            if pads != (0, 0):
                x = tf.pad(x, [[0, 0], list(pads), [0, 0]])
            width, d = self.kernel.shape[0], self.dilation
            out_len = tf.shape(x)[1] - (width - 1) * d
            return tf.add_n([
                tf.einsum("blc,cd->bld", x[:, t * d:t * d + out_len],
                          kernel[t]) for t in range(width)])
        # tf.nn.convolution handles dilation on every device and dtype
        # (conv1d's CPU gradient does not)
        return tf.nn.convolution(x, kernel, strides=self.stride,
                                 padding=self.padding,
                                 dilations=self.dilation)

    def transpose(self, state, mxts, kernel):
        pads = self._dilated_pads()
        if pads is None:
            return super(Conv1D, self).transpose(state, mxts, kernel)
        # the transpose of apply_kernel's taps: each tap's product with
        # the kernel transposed, zero-padded back to its place
        width, d = self.kernel.shape[0], self.dilation
        total = tf.add_n([
            tf.pad(tf.einsum("bld,cd->blc", mxts, kernel[t]),
                   [[0, 0], [t * d, (width - 1 - t) * d], [0, 0]])
            for t in range(width)])
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
