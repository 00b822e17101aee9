"""Converters from single Keras layers to deeplift layers.

``REGISTRY`` maps a Keras class name to its conversion function; adding
support for a layer class is one function plus one entry. Users can add
or override entries per call with ``custom_conversion_funcs``. The contract
of a conversion function (also for user-supplied ones) is appended below
(see ``deeplift.conversion.errors.CONVERSION_FUNCTION_CONTRACT``).
``ACTIVATIONS`` maps Keras activation names to their conversion functions
(see :mod:`deeplift.conversion.helpers`).
"""
import numpy as np

from deeplift import layers
from deeplift.conversion import normalization as normalization_converters
from deeplift.conversion import recurrent as recurrent_converters
from deeplift.conversion.converters_extra import (
    EXTRA_CONVERTERS, EXTRA_MULTI_INPUT_CLASSES)
from deeplift.conversion.errors import (CONVERSION_FUNCTION_CONTRACT,
                                        WeightsMismatchError)
from deeplift.conversion.helpers import (  # noqa: F401 (public names)
    ACTIVATIONS, activation_conversion, activation_name,
    activation_to_conversion_function, check_groups, conv1d_options,
    conv2d_options, data_format, ints, kernels_and_bias, layer_err, padding,
    require_channels_last, weights, with_activation)

__doc__ = __doc__ + "\n" + CONVERSION_FUNCTION_CONTRACT


# --------------------------------------------------------------------------
# activations (the conversions live in deeplift.conversion.helpers)
# --------------------------------------------------------------------------

def linear_conversion(**kwargs):
    return []


relu_conversion = ACTIVATIONS["relu"]
sigmoid_conversion = ACTIVATIONS["sigmoid"]
tanh_conversion = ACTIVATIONS["tanh"]
softmax_conversion = ACTIVATIONS["softmax"]


def softmax_layer_conversion(config, name, verbose, nonlinear_mxts_mode,
                             **kwargs):
    """keras.layers.Softmax over the last axis."""
    axis = config.get("axis", -1)
    if axis not in (-1, [-1], (-1,)):
        raise layer_err(name, config, "Softmax over axis %s is not "
                        "supported (only the last axis)" % (axis,))
    return softmax_conversion(name=name, verbose=verbose,
                              nonlinear_mxts_mode=nonlinear_mxts_mode)


def prelu_conversion(config, name, verbose, nonlinear_mxts_mode, **kwargs):
    (alpha,) = weights(config, name, 1)
    return [layers.PReLU(alpha=alpha, name=name, verbose=verbose,
                         nonlinear_mxts_mode=nonlinear_mxts_mode)]


# --------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------

def _kernel_and_bias(config, name, kernel_ndim, n_out_key):
    """Kernel and bias of a Dense/Conv layer, validated against config."""
    (kernel,), bias = kernels_and_bias(config, name)
    if kernel.ndim != kernel_ndim:
        raise layer_err(name, config, "kernel has shape %s; expected %d "
                        "dimensions" % (kernel.shape, kernel_ndim),
                        WeightsMismatchError)
    n_out = config.get(n_out_key)
    if n_out is not None and kernel.shape[-1] != int(n_out):
        raise layer_err(name, config, "kernel has shape %s but the config "
                        "says %s=%s" % (kernel.shape, n_out_key, n_out),
                        WeightsMismatchError)
    if bias is None:
        bias = np.zeros(kernel.shape[-1], dtype=kernel.dtype)
    elif bias.shape != (kernel.shape[-1],):
        raise layer_err(name, config, "bias has shape %s; expected (%d,)"
                        % (bias.shape, kernel.shape[-1]),
                        WeightsMismatchError)
    return kernel, bias


def _check_kernel_size(config, name, kernel, n):
    size = config.get("kernel_size")
    if size is not None and tuple(kernel.shape[:n]) != ints(
            size, n, name, "kernel_size"):
        raise layer_err(name, config, "kernel has shape %s but the config "
                        "says kernel_size=%s" % (kernel.shape, size),
                        WeightsMismatchError)


# --------------------------------------------------------------------------
# core layers
# --------------------------------------------------------------------------

def input_layer_conversion(config, name, **kwargs):
    shape = config.get("batch_input_shape", config.get("batch_shape"))
    if shape is None and config.get("shape") is not None:
        shape = [None] + list(config["shape"])
    if shape is None:
        raise layer_err(name, config, "InputLayer config has no "
                        "batch_input_shape/batch_shape")
    return [layers.Input(batch_shape=list(shape), name=name)]


def noop_conversion(name, verbose=True, **kwargs):
    return [layers.NoOp(name=name, verbose=verbose)]


def dense_conversion(config, name, verbose, dense_mxts_mode,
                     nonlinear_mxts_mode, **kwargs):
    kernel, bias = _kernel_and_bias(config, name, 2,
                                    "units" if "units" in config
                                    else "output_dim")
    return with_activation(
        config, name, verbose, nonlinear_mxts_mode,
        lambda lname: layers.Dense(kernel=kernel, bias=bias, name=lname,
                                   verbose=verbose,
                                   dense_mxts_mode=dense_mxts_mode),
        **kwargs)


def flatten_conversion(config, name, verbose, **kwargs):
    if data_format(config) != "channels_last":
        raise layer_err(name, config, "Flatten with data_format='%s' "
                        "(which transposes the input) is not supported"
                        % config.get("data_format"))
    return [layers.Flatten(name=name, verbose=verbose)]


def concat_conversion(config, name, verbose, **kwargs):
    return [layers.Concat(axis=int(config.get("axis", -1)), name=name,
                          verbose=verbose)]


def batchnorm_conversion(config, name, verbose, **kwargs):
    axis = config.get("axis", -1)
    if isinstance(axis, (list, tuple)):
        if len(axis) != 1:
            raise layer_err(name, config, "BatchNormalization over several "
                            "axes %s is not supported" % (axis,))
        axis = axis[0]
    arrays = weights(config, name)
    scale = config.get("scale", True)
    center = config.get("center", True)
    expected = 2 + int(bool(scale)) + int(bool(center))
    if len(arrays) < expected:
        raise layer_err(name, config, "expected %d weight arrays "
                        "(%smoving mean, moving variance), found %d"
                        % (expected, ("gamma, " if scale else "")
                           + ("beta, " if center else ""), len(arrays)),
                        WeightsMismatchError)
    it = iter(arrays)
    gamma = next(it) if scale else None
    beta = next(it) if center else None
    mean = next(it)
    var = next(it)
    if gamma is None:
        gamma = np.ones_like(mean)
    if beta is None:
        beta = np.zeros_like(mean)
    if not (gamma.shape == beta.shape == mean.shape == var.shape):
        raise layer_err(name, config, "weight shapes differ: gamma %s, "
                        "beta %s, mean %s, var %s"
                        % (gamma.shape, beta.shape, mean.shape, var.shape),
                        WeightsMismatchError)
    return [layers.BatchNormalization(
        gamma=gamma, beta=beta, axis=int(axis), mean=mean, var=var,
        epsilon=float(config.get("epsilon", 1e-3)), name=name,
        verbose=verbose)]


# --------------------------------------------------------------------------
# convolutions
# --------------------------------------------------------------------------

def _conv(cls, n_spatial, options):
    """Conversion function of Keras' Conv1D (``n_spatial=1``) or Conv2D;
    ``options(config, name)`` gives the deeplift layer's arguments."""
    def convert(config, name, verbose, nonlinear_mxts_mode, conv_mxts_mode,
                **kwargs):
        check_groups(config, name)
        kernel, bias = _kernel_and_bias(config, name, n_spatial + 2,
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


# --------------------------------------------------------------------------
# pooling
# --------------------------------------------------------------------------

def _pool1d_kwargs(config, name, verbose):
    require_channels_last(config, name)
    pool = ints(config.get("pool_size", 2), 1, name, "pool_size")[0]
    strides = config.get("strides")
    stride = pool if strides is None else ints(strides, 1, name,
                                               "strides")[0]
    return dict(pool_length=pool, stride=stride,
                padding=padding(config, name), name=name, verbose=verbose)


def _pool2d_kwargs(config, name, verbose):
    pool = ints(config.get("pool_size", 2), 2, name, "pool_size")
    strides = config.get("strides")
    strides = pool if strides is None else ints(strides, 2, name, "strides")
    return dict(pool_size=pool, strides=strides,
                padding=padding(config, name),
                data_format=data_format(config), name=name, verbose=verbose)


def maxpool1d_conversion(config, name, verbose, maxpool_deeplift_mode,
                         **kwargs):
    return [layers.MaxPool1D(maxpool_deeplift_mode=maxpool_deeplift_mode,
                             **_pool1d_kwargs(config, name, verbose))]


def avgpool1d_conversion(config, name, verbose, **kwargs):
    return [layers.AvgPool1D(**_pool1d_kwargs(config, name, verbose))]


def maxpool2d_conversion(config, name, verbose, maxpool_deeplift_mode,
                         **kwargs):
    return [layers.MaxPool2D(maxpool_deeplift_mode=maxpool_deeplift_mode,
                             **_pool2d_kwargs(config, name, verbose))]


def avgpool2d_conversion(config, name, verbose, **kwargs):
    return [layers.AvgPool2D(**_pool2d_kwargs(config, name, verbose))]


def _keepdims(config):
    return bool(config.get("keepdims", False))


def globalmaxpool1d_conversion(config, name, verbose, maxpool_deeplift_mode,
                               **kwargs):
    require_channels_last(config, name)
    return [layers.GlobalMaxPool1D(maxpool_deeplift_mode=maxpool_deeplift_mode,
                                   keepdims=_keepdims(config), name=name,
                                   verbose=verbose)]


def globalavgpool1d_conversion(config, name, verbose, **kwargs):
    require_channels_last(config, name)
    return [layers.GlobalAvgPool1D(keepdims=_keepdims(config), name=name,
                                   verbose=verbose)]


def globalmaxpool2d_conversion(config, name, verbose, maxpool_deeplift_mode,
                               **kwargs):
    return [layers.GlobalMaxPool2D(
        maxpool_deeplift_mode=maxpool_deeplift_mode,
        data_format=data_format(config), keepdims=_keepdims(config),
        name=name, verbose=verbose)]


def globalavgpool2d_conversion(config, name, verbose, **kwargs):
    return [layers.GlobalAvgPool2D(data_format=data_format(config),
                                   keepdims=_keepdims(config), name=name,
                                   verbose=verbose)]


# --------------------------------------------------------------------------
# the registry
# --------------------------------------------------------------------------

REGISTRY = {
    "InputLayer": input_layer_conversion,

    "Dense": dense_conversion,
    "Flatten": flatten_conversion,
    "Concatenate": concat_conversion,
    "BatchNormalization": batchnorm_conversion,
    "LayerNormalization": normalization_converters.layernorm_conversion,
    "GroupNormalization": normalization_converters.groupnorm_conversion,

    "Softmax": softmax_layer_conversion,
    "PReLU": prelu_conversion,

    "Conv1D": conv1d_conversion,
    "Convolution1D": conv1d_conversion,
    "Conv2D": conv2d_conversion,
    "Convolution2D": conv2d_conversion,

    "MaxPooling1D": maxpool1d_conversion,
    "MaxPool1D": maxpool1d_conversion,
    "AveragePooling1D": avgpool1d_conversion,
    "AvgPool1D": avgpool1d_conversion,
    "GlobalMaxPooling1D": globalmaxpool1d_conversion,
    "GlobalMaxPool1D": globalmaxpool1d_conversion,
    "GlobalAveragePooling1D": globalavgpool1d_conversion,
    "GlobalAvgPool1D": globalavgpool1d_conversion,

    "MaxPooling2D": maxpool2d_conversion,
    "MaxPool2D": maxpool2d_conversion,
    "AveragePooling2D": avgpool2d_conversion,
    "AvgPool2D": avgpool2d_conversion,
    "GlobalMaxPooling2D": globalmaxpool2d_conversion,
    "GlobalMaxPool2D": globalmaxpool2d_conversion,
    "GlobalAveragePooling2D": globalavgpool2d_conversion,
    "GlobalAvgPool2D": globalavgpool2d_conversion,

    # recurrent layers
    "SimpleRNN": recurrent_converters.simplernn_conversion,
    "LSTM": recurrent_converters.lstm_conversion,
    "GRU": recurrent_converters.gru_conversion,
    "Bidirectional": recurrent_converters.bidirectional_conversion,
    "Masking": recurrent_converters.masking_conversion,

    # identities at inference time
    "Dropout": noop_conversion,
    "SpatialDropout1D": noop_conversion,
    "SpatialDropout2D": noop_conversion,
    "SpatialDropout3D": noop_conversion,
    "GaussianNoise": noop_conversion,
    "GaussianDropout": noop_conversion,
    "AlphaDropout": noop_conversion,
    "ActivityRegularization": noop_conversion,

    # the layers beyond the original's set (merge, reshaping, transposed /
    # depthwise / separable convolutions, embedding, Activation and the
    # activation layers)
    **EXTRA_CONVERTERS,
}

# Layers whose first deeplift layer takes a list of inputs.
MULTI_INPUT_CLASSES = frozenset(["Concatenate"]) | EXTRA_MULTI_INPUT_CLASSES

_LOWER = {k.lower(): v for k, v in REGISTRY.items()}


def lookup(class_name, custom_conversion_funcs=None):
    """The conversion function for a Keras class name, or None.

    ``custom_conversion_funcs`` entries take precedence; built-in names are
    matched case-insensitively (older Keras versions varied the case).
    """
    if custom_conversion_funcs and class_name in custom_conversion_funcs:
        return custom_conversion_funcs[class_name]
    if class_name in REGISTRY:
        return REGISTRY[class_name]
    return _LOWER.get(str(class_name).lower())
