"""Convolutions: Conv1D/2D, their transposes, depthwise and separable
convolutions."""
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


def _conv(cls, n_spatial, options):
    """Conversion function of Keras' Conv1D (``n_spatial=1``) or Conv2D;
    ``options(config, name)`` gives the deeplift layer's arguments."""
    def convert(config, name, verbose, nonlinear_mxts_mode, conv_mxts_mode,
                **kwargs):
        check_groups(config, name)
        kernel, bias = kernel_and_bias(config, name, n_spatial + 2,
                                       "filters")
        _check_kernel_size(config, name, kernel, n_spatial)
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
            lambda lname: cls(
                kernel=kernel, bias=bias,
                strides=config.get("strides", 1),
                padding=padding(config, name),
                data_format=data_format(config),
                dilation_rate=config.get("dilation_rate", 1),
                conv_mxts_mode=conv_mxts_mode, name=lname,
                verbose=verbose, **options),
            **kwargs)
    convert.__name__ = "%s_conversion" % cls.__name__.lower()
    return convert


conv1dtranspose_conversion = _spatial_conv(layers.Conv1DTranspose,
                                           ("output_padding",))
conv2dtranspose_conversion = _spatial_conv(layers.Conv2DTranspose,
                                           ("output_padding",))
depthwiseconv1d_conversion = _spatial_conv(layers.DepthwiseConv1D)
depthwiseconv2d_conversion = _spatial_conv(layers.DepthwiseConv2D)


def _separable_conv(cls, options):
    """Conversion function of a separable convolution; ``options(config,
    name)`` gives the deeplift layer's stride/padding/dilation arguments
    (those of the plain convolution of the same rank)."""
    def convert(config, name, nonlinear_mxts_mode, conv_mxts_mode,
                verbose=True, **kwargs):
        layer_options = options(config, name)
        (depthwise, pointwise), bias = kernels_and_bias(config, name, 2)
        return with_activation(
            config, name, verbose, nonlinear_mxts_mode,
            lambda lname: cls(
                depthwise_kernel=depthwise, pointwise_kernel=pointwise,
                bias=bias, conv_mxts_mode=conv_mxts_mode, name=lname,
                verbose=verbose, **layer_options),
            **kwargs)
    convert.__name__ = "%s_conversion" % cls.__name__.lower()
    return convert


separableconv1d_conversion = _separable_conv(layers.SeparableConv1D,
                                             conv1d_options)
separableconv2d_conversion = _separable_conv(layers.SeparableConv2D,
                                             conv2d_options)
