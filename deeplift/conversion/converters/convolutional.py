"""Convolutions: Conv1D/2D, their transposes, depthwise and separable
convolutions."""
import numpy as np

from deeplift import layers
from deeplift.conversion.converters.activations import with_activation
from deeplift.conversion.converters.common import (
    check_groups, data_format, ints, kernel_and_bias, kernels_and_bias,
    layer_err, padding, require_channels_last)
from deeplift.conversion.errors import WeightsMismatchError


def conv1d_options(config, name):
    """Keyword arguments of deeplift's Conv1D (and SeparableConv1D) from a
    Keras 1-D convolution config (channels_last only)."""
    require_channels_last(config, name)
    return dict(
        stride=ints(config.get("strides", 1), 1, name, "strides")[0],
        padding=padding(config, name),
        dilation=ints(config.get("dilation_rate", 1), 1, name,
                      "dilation_rate")[0])


def conv2d_options(config, name):
    """Keyword arguments of deeplift's Conv2D (and SeparableConv2D) from a
    Keras 2-D convolution config."""
    return dict(
        strides=ints(config.get("strides", 1), 2, name, "strides"),
        padding=padding(config, name),
        data_format=data_format(config),
        dilation_rate=ints(config.get("dilation_rate", 1), 2, name,
                           "dilation_rate"))


def _check_kernel_size(config, name, kernel, n):
    size = config.get("kernel_size")
    if size is not None and tuple(kernel.shape[:n]) != ints(
            size, n, name, "kernel_size"):
        raise layer_err(name, config, "kernel has shape %s but the config "
                        "says kernel_size=%s" % (kernel.shape, size),
                        WeightsMismatchError)


#: largest dense kernel a grouped convolution is expanded to
MAX_GROUPED_KERNEL_BYTES = 64 * 2 ** 20


def block_diagonal_kernel(kernel, groups, name, config):
    """The ordinary kernel ``(..., in, out)`` of a grouped convolution with
    kernel ``(..., in / groups, out)``: block diagonal (output channel o of
    group o // (out / groups) reads that group's input channels), zeros
    elsewhere. TensorFlow's grouped convolution has no gradient on CPU, and
    the zeros add nothing to any contribution, so scores are those of the
    grouped layer; the kernel is ``groups`` times larger (refused above
    MAX_GROUPED_KERNEL_BYTES)."""
    per_group_in, out = kernel.shape[-2], kernel.shape[-1]
    if out % groups:
        raise layer_err(name, config, "filters %d is not a multiple of "
                        "groups %d" % (out, groups), WeightsMismatchError)
    size = kernel.size * groups * kernel.itemsize
    if size > MAX_GROUPED_KERNEL_BYTES:
        raise layer_err(name, config, "grouped convolution (groups=%d) "
                        "would need a %.0f MiB dense kernel"
                        % (groups, size / 2.0 ** 20))
    dense = np.zeros(kernel.shape[:-2] + (per_group_in * groups, out),
                     dtype=kernel.dtype)
    per_group_out = out // groups
    for g in range(groups):
        dense[..., g * per_group_in:(g + 1) * per_group_in,
              g * per_group_out:(g + 1) * per_group_out] = \
            kernel[..., g * per_group_out:(g + 1) * per_group_out]
    return dense


def _spatial_layer(cls, kernel, bias, config, name, conv_mxts_mode,
                   verbose, **options):
    """``lname -> cls(...)``: the layer factory of a convolution with the
    config's strides, padding, data format and dilation (plus ``options``)."""
    return lambda lname: cls(
        kernel=kernel, bias=bias,
        strides=config.get("strides", 1),
        padding=padding(config, name),
        data_format=data_format(config),
        dilation_rate=config.get("dilation_rate", 1),
        conv_mxts_mode=conv_mxts_mode, name=lname,
        verbose=verbose, **options)


def _conv(cls, n_spatial, options):
    """Conversion function of Keras' Conv1D (``n_spatial=1``) or Conv2D;
    ``options(config, name)`` gives the deeplift layer's arguments."""
    depthwise_cls = {1: layers.DepthwiseConv1D,
                     2: layers.DepthwiseConv2D}[n_spatial]

    def convert(config, name, verbose, nonlinear_mxts_mode, conv_mxts_mode,
                **kwargs):
        kernel, bias = kernel_and_bias(config, name, n_spatial + 2,
                                       "filters")
        _check_kernel_size(config, name, kernel, n_spatial)
        groups = int(config.get("groups", 1) or 1)
        if groups != 1 and kernel.shape[-2] == 1:
            # one input channel per group (ConvNeXt's "depthwise" Conv2D):
            # a depthwise convolution; output channel g * m + j reads input
            # channel g, as the depthwise layout
            depthwise = kernel.reshape(kernel.shape[:n_spatial]
                                       + (groups, kernel.shape[-1] // groups))
            return with_activation(
                config, name, verbose, nonlinear_mxts_mode,
                _spatial_layer(depthwise_cls, depthwise, bias, config, name,
                               conv_mxts_mode, verbose),
                **kwargs)
        if groups != 1:
            kernel = block_diagonal_kernel(kernel, groups, name, config)
        layer_options = options(config, name)
        return with_activation(
            config, name, verbose, nonlinear_mxts_mode,
            lambda lname: cls(kernel=kernel, bias=bias,
                              conv_mxts_mode=conv_mxts_mode, name=lname,
                              verbose=verbose, **layer_options),
            **kwargs)
    convert.__name__ = "%s_conversion" % cls.__name__.lower()
    return convert


conv1d_conversion = _conv(layers.Conv1D, 1, conv1d_options)
conv2d_conversion = _conv(layers.Conv2D, 2, conv2d_options)


def _spatial_conv(cls, extra_keys=()):
    """Conversion function of a transposed or depthwise convolution; the
    config's ``extra_keys`` are passed on to ``cls`` too."""
    def convert(config, name, nonlinear_mxts_mode, conv_mxts_mode,
                verbose=True, **kwargs):
        check_groups(config, name)
        (kernel,), bias = kernels_and_bias(config, name)
        options = {key: config.get(key) for key in extra_keys}
        return with_activation(
            config, name, verbose, nonlinear_mxts_mode,
            _spatial_layer(cls, kernel, bias, config, name, conv_mxts_mode,
                           verbose, **options),
            **kwargs)
    convert.__name__ = "%s_conversion" % cls.__name__.lower()
    return convert


conv1dtranspose_conversion = _spatial_conv(layers.Conv1DTranspose,
                                           ("output_padding",))
conv2dtranspose_conversion = _spatial_conv(layers.Conv2DTranspose,
                                           ("output_padding",))
depthwiseconv1d_conversion = _spatial_conv(layers.DepthwiseConv1D)
depthwiseconv2d_conversion = _spatial_conv(layers.DepthwiseConv2D)


def _separable_conv(depthwise_cls, pointwise_cls, n_spatial):
    """Conversion function of a separable convolution, as its two stages:
    the depthwise convolution (named ``depthwise_<name>``; the layer's
    strides, padding and dilation, no bias) then the pointwise 1x1
    convolution with the bias (and the activation). The dense kernel of
    the equivalent ordinary convolution (``kernel_size x in x out``) is
    never built.

    For the scores this means: Gradient, Rescale and every rule whose
    multipliers through a linear layer do not depend on the sign split are
    unchanged (the composition is linear either way); the positive and
    negative parts that RevealCancel receives are split by sign at each
    stage (the depthwise output difference is split again before the
    pointwise kernel), not once by the signs of the folded kernel, so they
    differ from the folded layer's where the depthwise terms of one output
    cancel. Contributions still sum to the output difference.
    """
    def convert(config, name, nonlinear_mxts_mode, conv_mxts_mode,
                verbose=True, **kwargs):
        check_groups(config, name)
        require = conv1d_options if n_spatial == 1 else conv2d_options
        require(config, name)  # validates strides / padding / dilation
        (depthwise, pointwise), bias = kernels_and_bias(config, name, 2)
        if bias is None:
            bias = np.zeros(pointwise.shape[-1], dtype=pointwise.dtype)
        if depthwise.ndim != n_spatial + 2 or pointwise.shape[:n_spatial] \
                != (1,) * n_spatial or pointwise.shape[-2] != \
                depthwise.shape[-2] * depthwise.shape[-1]:
            raise layer_err(name, config, "depthwise kernel %s and pointwise "
                            "kernel %s do not fit"
                            % (depthwise.shape, pointwise.shape),
                            WeightsMismatchError)
        stage1 = depthwise_cls(
            kernel=depthwise, bias=None, strides=config.get("strides", 1),
            padding=padding(config, name), data_format=data_format(config),
            dilation_rate=config.get("dilation_rate", 1),
            conv_mxts_mode=conv_mxts_mode, name="depthwise_" + name,
            verbose=verbose)
        if n_spatial == 1:
            options = dict(stride=1, padding="VALID", dilation=1)
        else:
            options = dict(strides=(1, 1), padding="VALID",
                           data_format=data_format(config),
                           dilation_rate=(1, 1))
        stage2 = with_activation(
            config, name, verbose, nonlinear_mxts_mode,
            lambda lname: pointwise_cls(
                kernel=pointwise, bias=bias, conv_mxts_mode=conv_mxts_mode,
                name=lname, verbose=verbose, **options),
            **kwargs)
        return [stage1] + stage2
    convert.__name__ = "separableconv%dd_conversion" % n_spatial
    return convert


separableconv1d_conversion = _separable_conv(layers.DepthwiseConv1D,
                                             layers.Conv1D, 1)
separableconv2d_conversion = _separable_conv(layers.DepthwiseConv2D,
                                             layers.Conv2D, 2)
