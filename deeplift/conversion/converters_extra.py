"""Converters for merge, reshaping, extra convolution and activation
layers.

``EXTRA_CONVERTERS`` maps Keras class names to conversion functions (the
contract of ``deeplift.conversion.errors.CONVERSION_FUNCTION_CONTRACT``);
``EXTRA_ACTIVATIONS`` maps Keras activation names to activation
conversion functions (same form as ``registry.ACTIVATIONS``), and
``EXTRA_MULTI_INPUT_CLASSES`` lists the classes whose layer takes a list
of inputs.
"""
from deeplift.conversion.helpers import (
    ACTIVATIONS, activation_conversion, check_groups, conv1d_options,
    conv2d_options, data_format, kernels_and_bias, layer_err, padding,
    weights, with_activation)
from deeplift.layers import activations as A
from deeplift.layers import convolutional as CX
from deeplift.layers import embedding as E
from deeplift.layers import merge as M
from deeplift.layers import reshaping as R

#: the deeplift layers (none or one) of a layer config's ``activation``
activation_layers = activation_conversion


# --------------------------------------------------------------------------
# merges
# --------------------------------------------------------------------------

def _linear_merge(cls):
    def convert(name, verbose=True, **kwargs):
        return [cls(name=name, verbose=verbose)]
    convert.__name__ = "%s_conversion" % cls.__name__.lower()
    return convert


def _nonlinear_merge(cls):
    def convert(name, nonlinear_mxts_mode, verbose=True, **kwargs):
        return [cls(name=name, verbose=verbose,
                    nonlinear_mxts_mode=nonlinear_mxts_mode)]
    convert.__name__ = "%s_conversion" % cls.__name__.lower()
    return convert


add_conversion = _linear_merge(M.Add)
subtract_conversion = _linear_merge(M.Subtract)
average_conversion = _linear_merge(M.Average)
multiply_conversion = _nonlinear_merge(M.Multiply)
maximum_conversion = _nonlinear_merge(M.Maximum)
minimum_conversion = _nonlinear_merge(M.Minimum)


# --------------------------------------------------------------------------
# reshaping
# --------------------------------------------------------------------------

def reshape_conversion(config, name, verbose=True, **kwargs):
    return [R.Reshape(target_shape=config["target_shape"], name=name,
                      verbose=verbose)]


def permute_conversion(config, name, verbose=True, **kwargs):
    return [R.Permute(dims=config["dims"], name=name, verbose=verbose)]


def cropping1d_conversion(config, name, verbose=True, **kwargs):
    return [R.Cropping1D(cropping=config.get("cropping", (1, 1)), name=name,
                         verbose=verbose)]


def cropping2d_conversion(config, name, verbose=True, **kwargs):
    return [R.Cropping2D(cropping=config.get("cropping", ((0, 0), (0, 0))),
                         data_format=data_format(config), name=name,
                         verbose=verbose)]


def zeropadding1d_conversion(config, name, verbose=True, **kwargs):
    return [R.ZeroPadding1D(padding=config.get("padding", 1),
                            data_format=data_format(config), name=name,
                            verbose=verbose)]


def zeropadding2d_conversion(config, name, verbose=True, **kwargs):
    return [R.ZeroPadding2D(padding=config.get("padding", (1, 1)),
                            data_format=data_format(config), name=name,
                            verbose=verbose)]


def upsampling1d_conversion(config, name, verbose=True, **kwargs):
    size = config.get("size", config.get("length", 2))
    if isinstance(size, (list, tuple)):
        size = size[0]
    return [R.UpSampling1D(size=size, name=name, verbose=verbose)]


def upsampling2d_conversion(config, name, verbose=True, **kwargs):
    interpolation = config.get("interpolation", "nearest")
    if str(interpolation).lower() != "nearest":
        raise layer_err(name, config, "UpSampling2D interpolation '%s' is "
                        "not supported (only 'nearest')" % interpolation)
    return [R.UpSampling2D(size=config.get("size", (2, 2)),
                           data_format=data_format(config), name=name,
                           verbose=verbose)]


def repeatvector_conversion(config, name, verbose=True, **kwargs):
    return [R.RepeatVector(n=config["n"], name=name, verbose=verbose)]


# --------------------------------------------------------------------------
# convolutions
# --------------------------------------------------------------------------

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


conv1dtranspose_conversion = _spatial_conv(CX.Conv1DTranspose,
                                           ("output_padding",))
conv2dtranspose_conversion = _spatial_conv(CX.Conv2DTranspose,
                                           ("output_padding",))
depthwiseconv1d_conversion = _spatial_conv(CX.DepthwiseConv1D)
depthwiseconv2d_conversion = _spatial_conv(CX.DepthwiseConv2D)


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


separableconv1d_conversion = _separable_conv(CX.SeparableConv1D,
                                             conv1d_options)
separableconv2d_conversion = _separable_conv(CX.SeparableConv2D,
                                             conv2d_options)


def embedding_conversion(config, name, verbose=True, **kwargs):
    """Scores of models starting with an Embedding are found at the
    embedding layer (see :class:`deeplift.layers.embedding.
    Embedding`)."""
    if config.get("mask_zero"):
        raise layer_err(name, config, "mask_zero=True is not supported "
                        "(masked time steps would change what the layers "
                        "after it compute)")
    (embeddings,) = weights(config, name, 1)
    return [E.Embedding(embeddings=embeddings, name=name, verbose=verbose)]


# --------------------------------------------------------------------------
# activation layers
# --------------------------------------------------------------------------

def leakyrelu_conversion(config, name, verbose, nonlinear_mxts_mode,
                         **kwargs):
    slope = config.get("negative_slope", config.get("alpha", 0.3))
    return [A.LeakyReLU(negative_slope=slope, name=name, verbose=verbose,
                        nonlinear_mxts_mode=nonlinear_mxts_mode)]


def elu_conversion(config, name, verbose, nonlinear_mxts_mode, **kwargs):
    return [A.ELU(alpha=config.get("alpha", 1.0), name=name, verbose=verbose,
                  nonlinear_mxts_mode=nonlinear_mxts_mode)]


def relu_layer_conversion(config, name, verbose, nonlinear_mxts_mode,
                          **kwargs):
    """keras.layers.ReLU with max_value / threshold / negative_slope (a
    plain ReLU when none is set)."""
    max_value = config.get("max_value")
    threshold = float(config.get("threshold", 0) or 0)
    slope = float(config.get("negative_slope", 0) or 0)
    if max_value is None and threshold == 0 and slope == 0:
        return ACTIVATIONS["relu"](name=name, verbose=verbose,
                                   nonlinear_mxts_mode=nonlinear_mxts_mode)
    return [A.ReLUGeneral(max_value=max_value, threshold=threshold,
                          negative_slope=slope, name=name, verbose=verbose,
                          nonlinear_mxts_mode=nonlinear_mxts_mode)]


def thresholdedrelu_conversion(config, name, verbose, nonlinear_mxts_mode,
                               **kwargs):
    """Keras 2's ThresholdedReLU: ``x`` if ``x > theta`` else 0."""
    return [A.ReLUGeneral(threshold=float(config.get("theta", 1.0)),
                          name=name, verbose=verbose,
                          nonlinear_mxts_mode=nonlinear_mxts_mode)]


#: Keras activation name -> activation conversion function (all of
#: ``registry.ACTIVATIONS``, the same dict)
EXTRA_ACTIVATIONS = ACTIVATIONS

#: Keras classes whose deeplift layer takes a list of inputs
EXTRA_MULTI_INPUT_CLASSES = frozenset(
    ["Add", "Subtract", "Average", "Multiply", "Maximum", "Minimum"])

EXTRA_CONVERTERS = {
    "Add": add_conversion,
    "Subtract": subtract_conversion,
    "Average": average_conversion,
    "Multiply": multiply_conversion,
    "Maximum": maximum_conversion,
    "Minimum": minimum_conversion,

    "Reshape": reshape_conversion,
    "Permute": permute_conversion,
    "Cropping1D": cropping1d_conversion,
    "Cropping2D": cropping2d_conversion,
    "ZeroPadding1D": zeropadding1d_conversion,
    "ZeroPadding2D": zeropadding2d_conversion,
    "UpSampling1D": upsampling1d_conversion,
    "UpSampling2D": upsampling2d_conversion,
    "RepeatVector": repeatvector_conversion,

    "Conv1DTranspose": conv1dtranspose_conversion,
    "Convolution1DTranspose": conv1dtranspose_conversion,
    "Conv2DTranspose": conv2dtranspose_conversion,
    "Convolution2DTranspose": conv2dtranspose_conversion,
    "DepthwiseConv1D": depthwiseconv1d_conversion,
    "DepthwiseConv2D": depthwiseconv2d_conversion,
    "SeparableConv1D": separableconv1d_conversion,
    "SeparableConvolution1D": separableconv1d_conversion,
    "SeparableConv2D": separableconv2d_conversion,
    "SeparableConvolution2D": separableconv2d_conversion,
    "Embedding": embedding_conversion,

    "Activation": activation_conversion,
    "LeakyReLU": leakyrelu_conversion,
    "ELU": elu_conversion,
    "ReLU": relu_layer_conversion,
    "ThresholdedReLU": thresholdedrelu_conversion,
}
