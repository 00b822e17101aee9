"""Converters for merge, reshaping, extra convolution and activation
layers.

``EXTRA_CONVERTERS`` maps Keras class names to conversion functions (the
contract of ``deeplift.conversion.errors.CONVERSION_FUNCTION_CONTRACT``);
``EXTRA_ACTIVATIONS`` maps Keras activation names to activation
conversion functions (same form as ``registry.ACTIVATIONS``), and
``EXTRA_MULTI_INPUT_CLASSES`` lists the classes whose layer takes a list
of inputs.
"""
import numpy as np

from deeplift.conversion.errors import ConversionError, WeightsMismatchError
from deeplift.layers import activations_extra as A
from deeplift.layers import convolutional_extra as CX
from deeplift.layers import merge as M
from deeplift.layers import reshaping as R


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def _err(name, config, message, cls=ConversionError):
    keras_name = config.get("name", name) if isinstance(config, dict) \
        else name
    return cls("Layer '%s' (deeplift name '%s'): %s"
               % (keras_name, name, message))


def _weights(config, name, expected):
    weights = config.get("weights")
    if weights is None:
        raise _err(name, config, "no weights were found for this layer",
                   WeightsMismatchError)
    weights = [np.asarray(w) for w in weights]
    if len(weights) != expected:
        raise _err(name, config, "expected %d weight array(s), found %d"
                   % (expected, len(weights)), WeightsMismatchError)
    return weights


def _padding(config, name):
    padding = str(config.get("padding", "valid")).lower()
    if padding not in ("valid", "same"):
        raise _err(name, config, "padding '%s' is not supported (only "
                   "'valid' and 'same')" % padding)
    return padding.upper()


def _data_format(config):
    return config.get("data_format") or "channels_last"


def _activation_name(config):
    act = config.get("activation", "linear")
    if act is None:
        return "linear"
    if isinstance(act, dict):
        inner = act.get("config")
        if isinstance(inner, str):
            act = inner
        elif isinstance(inner, dict) and isinstance(inner.get("name"), str):
            act = inner["name"]
        else:
            act = act.get("registered_name") or act.get("class_name")
    return str(act).lower()


def activation_layers(config, name, verbose, nonlinear_mxts_mode):
    """The deeplift layers (0 or 1) of a layer's ``activation``."""
    act = _activation_name(config)
    factory = A.ACTIVATION_BY_NAME.get(act)
    if factory is None:
        raise _err(name, config, "activation '%s' is not supported; "
                   "supported activations are: %s"
                   % (act, ", ".join(sorted(A.ACTIVATION_BY_NAME))))
    layer = factory(nonlinear_mxts_mode, name=name, verbose=verbose)
    return [] if layer is None else [layer]


def _with_activation(config, name, verbose, nonlinear_mxts_mode, build):
    act = activation_layers(config, name, verbose, nonlinear_mxts_mode)
    main = build(("preact_" if act else "") + name)
    chain = [main] + act
    for prev, layer in zip(chain[:-1], chain[1:]):
        layer.set_inputs(prev)
    return chain


def _kernel_bias(config, name, n_kernels=1):
    use_bias = config.get("use_bias", True)
    weights = _weights(config, name, n_kernels + int(bool(use_bias)))
    bias = weights[n_kernels] if use_bias else None
    return weights[:n_kernels], bias


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
                         data_format=_data_format(config), name=name,
                         verbose=verbose)]


def zeropadding1d_conversion(config, name, verbose=True, **kwargs):
    return [R.ZeroPadding1D(padding=config.get("padding", 1),
                            data_format=_data_format(config), name=name,
                            verbose=verbose)]


def zeropadding2d_conversion(config, name, verbose=True, **kwargs):
    return [R.ZeroPadding2D(padding=config.get("padding", (1, 1)),
                            data_format=_data_format(config), name=name,
                            verbose=verbose)]


def upsampling1d_conversion(config, name, verbose=True, **kwargs):
    size = config.get("size", config.get("length", 2))
    if isinstance(size, (list, tuple)):
        size = size[0]
    return [R.UpSampling1D(size=size, name=name, verbose=verbose)]


def upsampling2d_conversion(config, name, verbose=True, **kwargs):
    interpolation = config.get("interpolation", "nearest")
    if str(interpolation).lower() != "nearest":
        raise _err(name, config, "UpSampling2D interpolation '%s' is not "
                   "supported (only 'nearest')" % interpolation)
    return [R.UpSampling2D(size=config.get("size", (2, 2)),
                           data_format=_data_format(config), name=name,
                           verbose=verbose)]


def repeatvector_conversion(config, name, verbose=True, **kwargs):
    return [R.RepeatVector(n=config["n"], name=name, verbose=verbose)]


# --------------------------------------------------------------------------
# convolutions
# --------------------------------------------------------------------------

def _no_groups(config, name):
    if int(config.get("groups", 1) or 1) != 1:
        raise _err(name, config, "grouped convolutions are not supported")


def _conv_transpose(cls):
    def convert(config, name, nonlinear_mxts_mode, conv_mxts_mode,
                verbose=True, **kwargs):
        _no_groups(config, name)
        (kernel,), bias = _kernel_bias(config, name)
        return _with_activation(
            config, name, verbose, nonlinear_mxts_mode,
            lambda lname: cls(
                kernel=kernel, bias=bias,
                strides=config.get("strides", 1),
                padding=_padding(config, name),
                output_padding=config.get("output_padding"),
                data_format=_data_format(config),
                dilation_rate=config.get("dilation_rate", 1),
                conv_mxts_mode=conv_mxts_mode, name=lname,
                verbose=verbose))
    convert.__name__ = "%s_conversion" % cls.__name__.lower()
    return convert


conv1dtranspose_conversion = _conv_transpose(CX.Conv1DTranspose)
conv2dtranspose_conversion = _conv_transpose(CX.Conv2DTranspose)


def _depthwise(cls):
    def convert(config, name, nonlinear_mxts_mode, conv_mxts_mode,
                verbose=True, **kwargs):
        (kernel,), bias = _kernel_bias(config, name)
        return _with_activation(
            config, name, verbose, nonlinear_mxts_mode,
            lambda lname: cls(
                kernel=kernel, bias=bias,
                strides=config.get("strides", 1),
                padding=_padding(config, name),
                data_format=_data_format(config),
                dilation_rate=config.get("dilation_rate", 1),
                conv_mxts_mode=conv_mxts_mode, name=lname,
                verbose=verbose))
    convert.__name__ = "%s_conversion" % cls.__name__.lower()
    return convert


depthwiseconv1d_conversion = _depthwise(CX.DepthwiseConv1D)
depthwiseconv2d_conversion = _depthwise(CX.DepthwiseConv2D)


def separableconv1d_conversion(config, name, nonlinear_mxts_mode,
                               conv_mxts_mode, verbose=True, **kwargs):
    if _data_format(config) != "channels_last":
        raise _err(name, config, "SeparableConv1D with data_format '%s' is "
                   "not supported (only channels_last)"
                   % _data_format(config))
    (depthwise, pointwise), bias = _kernel_bias(config, name, 2)
    stride = config.get("strides", 1)
    dilation = config.get("dilation_rate", 1)
    return _with_activation(
        config, name, verbose, nonlinear_mxts_mode,
        lambda lname: CX.SeparableConv1D(
            depthwise_kernel=depthwise, pointwise_kernel=pointwise,
            bias=bias,
            stride=stride[0] if isinstance(stride, (list, tuple))
            else stride,
            padding=_padding(config, name),
            dilation=dilation[0] if isinstance(dilation, (list, tuple))
            else dilation,
            conv_mxts_mode=conv_mxts_mode, name=lname, verbose=verbose))


def separableconv2d_conversion(config, name, nonlinear_mxts_mode,
                               conv_mxts_mode, verbose=True, **kwargs):
    (depthwise, pointwise), bias = _kernel_bias(config, name, 2)
    return _with_activation(
        config, name, verbose, nonlinear_mxts_mode,
        lambda lname: CX.SeparableConv2D(
            depthwise_kernel=depthwise, pointwise_kernel=pointwise,
            bias=bias, strides=config.get("strides", 1),
            padding=_padding(config, name),
            data_format=_data_format(config),
            dilation_rate=config.get("dilation_rate", 1),
            conv_mxts_mode=conv_mxts_mode, name=lname, verbose=verbose))


def embedding_conversion(config, name, verbose=True, **kwargs):
    """Scores of models starting with an Embedding are found at the
    embedding layer (see :class:`deeplift.layers.convolutional_extra.
    Embedding`)."""
    (embeddings,) = _weights(config, name, 1)
    return [CX.Embedding(embeddings=embeddings, name=name, verbose=verbose)]


# --------------------------------------------------------------------------
# activations
# --------------------------------------------------------------------------

def activation_conversion(config, name, verbose, nonlinear_mxts_mode,
                          **kwargs):
    """keras.layers.Activation with any name of ACTIVATION_BY_NAME."""
    return activation_layers(config, name, verbose, nonlinear_mxts_mode)


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
        return [A.ACTIVATION_BY_NAME["relu"](nonlinear_mxts_mode,
                                             name=name, verbose=verbose)]
    return [A.ReLUGeneral(max_value=max_value, threshold=threshold,
                          negative_slope=slope, name=name, verbose=verbose,
                          nonlinear_mxts_mode=nonlinear_mxts_mode)]


def thresholdedrelu_conversion(config, name, verbose, nonlinear_mxts_mode,
                               **kwargs):
    """Keras 2's ThresholdedReLU: ``x`` if ``x > theta`` else 0."""
    return [A.ReLUGeneral(threshold=float(config.get("theta", 1.0)),
                          name=name, verbose=verbose,
                          nonlinear_mxts_mode=nonlinear_mxts_mode)]


def _named_activation(act):
    def convert(name, verbose, nonlinear_mxts_mode, **kwargs):
        layer = A.ACTIVATION_BY_NAME[act](nonlinear_mxts_mode, name=name,
                                          verbose=verbose)
        return [] if layer is None else [layer]
    convert.__name__ = "%s_conversion" % act
    return convert


#: Keras activation name -> activation conversion function (the form of
#: ``registry.ACTIVATIONS``)
EXTRA_ACTIVATIONS = {act: _named_activation(act)
                     for act in A.ACTIVATION_BY_NAME}

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
