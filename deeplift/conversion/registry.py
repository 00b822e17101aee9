"""Converters from single Keras layers to deeplift layers.

``REGISTRY`` maps a Keras class name to its conversion function; adding
support for a layer class is one function plus one entry. Users can add
or override entries per call with ``custom_conversion_funcs``. The contract
of a conversion function (also for user-supplied ones) is appended below
(see ``deeplift.conversion.errors.CONVERSION_FUNCTION_CONTRACT``).
"""
import logging

import numpy as np

from deeplift import layers
from deeplift.conversion.errors import (CONVERSION_FUNCTION_CONTRACT,
                                        ConversionError, WeightsMismatchError)

__doc__ = __doc__ + "\n" + CONVERSION_FUNCTION_CONTRACT

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def _layer_err(name, config, message, cls=ConversionError):
    keras_name = config.get("name", name) if isinstance(config, dict) \
        else name
    return cls("Layer '%s' (deeplift name '%s'): %s"
               % (keras_name, name, message))


def _ints(value, n, name, what):
    """Tuple of ``n`` ints from an int or a list/tuple of ints."""
    if value is None:
        return None
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise ConversionError("Layer '%s': expected %d value(s) for %s, got "
                              "%r" % (name, n, what, value))
    return value


def _weights(config, name):
    weights = config.get("weights")
    if weights is None:
        raise _layer_err(name, config, "no weights were found for this "
                         "layer", WeightsMismatchError)
    return [np.asarray(w) for w in weights]


def _kernel_and_bias(config, name, kernel_ndim, n_out_key):
    """Kernel and bias of a Dense/Conv layer, validated against config."""
    weights = _weights(config, name)
    use_bias = config.get("use_bias", True)
    expected = 2 if use_bias else 1
    if len(weights) != expected:
        raise _layer_err(name, config, "expected %d weight array(s) "
                         "(kernel%s) but found %d in the weights file"
                         % (expected, ", bias" if use_bias else "",
                            len(weights)), WeightsMismatchError)
    kernel = weights[0]
    if kernel.ndim != kernel_ndim:
        raise _layer_err(name, config, "kernel has shape %s; expected %d "
                         "dimensions" % (kernel.shape, kernel_ndim),
                         WeightsMismatchError)
    n_out = config.get(n_out_key)
    if n_out is not None and kernel.shape[-1] != int(n_out):
        raise _layer_err(name, config, "kernel has shape %s but the config "
                         "says %s=%s" % (kernel.shape, n_out_key, n_out),
                         WeightsMismatchError)
    if use_bias:
        bias = weights[1]
        if bias.shape != (kernel.shape[-1],):
            raise _layer_err(name, config, "bias has shape %s; expected "
                             "(%d,)" % (bias.shape, kernel.shape[-1]),
                             WeightsMismatchError)
    else:
        bias = np.zeros(kernel.shape[-1], dtype=kernel.dtype)
    return kernel, bias


def _check_kernel_size(config, name, kernel, n):
    size = config.get("kernel_size")
    if size is not None and tuple(kernel.shape[:n]) != _ints(
            size, n, name, "kernel_size"):
        raise _layer_err(name, config, "kernel has shape %s but the config "
                         "says kernel_size=%s" % (kernel.shape, size),
                         WeightsMismatchError)


def _padding(config, name):
    padding = str(config.get("padding", "valid")).lower()
    if padding not in ("valid", "same"):
        raise _layer_err(name, config, "padding '%s' is not supported "
                         "(only 'valid' and 'same')" % padding)
    return padding.upper()


def _require_channels_last(config, name):
    data_format = config.get("data_format") or "channels_last"
    if data_format != "channels_last":
        raise _layer_err(name, config, "data_format '%s' is not supported "
                         "for this layer type (only channels_last)"
                         % data_format)


def _check_groups(config, name):
    if int(config.get("groups", 1) or 1) != 1:
        raise _layer_err(name, config, "grouped convolutions (groups=%s) "
                         "are not supported" % config.get("groups"))


def _chain(layer_list):
    for prev, layer in zip(layer_list[:-1], layer_list[1:]):
        layer.set_inputs(prev)
    return layer_list


# --------------------------------------------------------------------------
# activations
# --------------------------------------------------------------------------

def _activation_layer(cls):
    def convert(name, verbose, nonlinear_mxts_mode, **kwargs):
        return [cls(name=name, verbose=verbose,
                    nonlinear_mxts_mode=nonlinear_mxts_mode)]
    convert.__name__ = "%s_conversion" % cls.__name__.lower()
    return convert


def linear_conversion(**kwargs):
    return []


relu_conversion = _activation_layer(layers.ReLU)
sigmoid_conversion = _activation_layer(layers.Sigmoid)
tanh_conversion = _activation_layer(layers.Tanh)
softmax_conversion = _activation_layer(layers.Softmax)

ACTIVATIONS = {
    "linear": linear_conversion,
    "relu": relu_conversion,
    "sigmoid": sigmoid_conversion,
    "tanh": tanh_conversion,
    "softmax": softmax_conversion,
}


def activation_name(config, name):
    """Name of the activation in a layer config (str or serialized)."""
    act = config.get("activation", "linear")
    if act is None:
        return "linear"
    if isinstance(act, dict):
        inner = act.get("config")
        if act.get("class_name") == "function" and isinstance(inner, str):
            act = inner
        elif isinstance(inner, dict) and isinstance(inner.get("name"), str) \
                and act.get("class_name") in ("function", None):
            act = inner["name"]
        else:
            act = str(act.get("class_name"))
    return str(act).lower()


def activation_to_conversion_function(act_name, layer_name="?"):
    try:
        return ACTIVATIONS[act_name.lower()]
    except KeyError:
        raise ConversionError(
            "Layer '%s': activation '%s' is not supported; supported "
            "activations are: %s" % (layer_name, act_name,
                                     ", ".join(sorted(ACTIVATIONS))))


def activation_conversion(config, name, verbose, nonlinear_mxts_mode,
                          **kwargs):
    act = activation_name(config, name)
    return activation_to_conversion_function(
        act, config.get("name", name))(
            config=config, name=name, verbose=verbose,
            nonlinear_mxts_mode=nonlinear_mxts_mode)


def _with_activation(config, name, verbose, nonlinear_mxts_mode, build):
    """``build(layer_name)`` makes the linear layer; append the activation
    (the linear layer then gets the ``preact_`` prefix)."""
    act_layers = activation_conversion(
        config=config, name=name, verbose=verbose,
        nonlinear_mxts_mode=nonlinear_mxts_mode)
    main = build(("preact_" if act_layers else "") + name)
    return _chain([main] + act_layers)


def relu_layer_conversion(config, name, verbose, nonlinear_mxts_mode,
                          **kwargs):
    """keras.layers.ReLU (plain ReLU only)."""
    if (config.get("max_value") is not None
            or float(config.get("negative_slope", 0) or 0) != 0
            or float(config.get("threshold", 0) or 0) != 0):
        raise _layer_err(name, config, "ReLU with max_value, negative_slope "
                         "or threshold is not supported")
    return relu_conversion(name=name, verbose=verbose,
                           nonlinear_mxts_mode=nonlinear_mxts_mode)


def softmax_layer_conversion(config, name, verbose, nonlinear_mxts_mode,
                             **kwargs):
    """keras.layers.Softmax over the last axis."""
    axis = config.get("axis", -1)
    if axis not in (-1, [-1], (-1,)):
        raise _layer_err(name, config, "Softmax over axis %s is not "
                         "supported (only the last axis)" % (axis,))
    return softmax_conversion(name=name, verbose=verbose,
                              nonlinear_mxts_mode=nonlinear_mxts_mode)


def prelu_conversion(config, name, verbose, nonlinear_mxts_mode, **kwargs):
    weights = _weights(config, name)
    if len(weights) != 1:
        raise _layer_err(name, config, "expected 1 weight array (alpha), "
                         "found %d" % len(weights), WeightsMismatchError)
    return [layers.PReLU(alpha=weights[0], name=name, verbose=verbose,
                         nonlinear_mxts_mode=nonlinear_mxts_mode)]


# --------------------------------------------------------------------------
# core layers
# --------------------------------------------------------------------------

def input_layer_conversion(config, name, **kwargs):
    shape = config.get("batch_input_shape", config.get("batch_shape"))
    if shape is None and config.get("shape") is not None:
        shape = [None] + list(config["shape"])
    if shape is None:
        raise _layer_err(name, config, "InputLayer config has no "
                         "batch_input_shape/batch_shape")
    return [layers.Input(batch_shape=list(shape), name=name)]


def noop_conversion(name, verbose=True, **kwargs):
    return [layers.NoOp(name=name, verbose=verbose)]


def dense_conversion(config, name, verbose, dense_mxts_mode,
                     nonlinear_mxts_mode, **kwargs):
    kernel, bias = _kernel_and_bias(config, name, 2,
                                    "units" if "units" in config
                                    else "output_dim")
    return _with_activation(
        config, name, verbose, nonlinear_mxts_mode,
        lambda lname: layers.Dense(kernel=kernel, bias=bias, name=lname,
                                   verbose=verbose,
                                   dense_mxts_mode=dense_mxts_mode))


def flatten_conversion(config, name, verbose, **kwargs):
    if (config.get("data_format") or "channels_last") != "channels_last":
        raise _layer_err(name, config, "Flatten with data_format='%s' "
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
            raise _layer_err(name, config, "BatchNormalization over several "
                             "axes %s is not supported" % (axis,))
        axis = axis[0]
    weights = _weights(config, name)
    scale = config.get("scale", True)
    center = config.get("center", True)
    expected = 2 + int(bool(scale)) + int(bool(center))
    if len(weights) < expected:
        raise _layer_err(name, config, "expected %d weight arrays "
                         "(%smoving mean, moving variance), found %d"
                         % (expected, ("gamma, " if scale else "")
                            + ("beta, " if center else ""), len(weights)),
                         WeightsMismatchError)
    it = iter(weights)
    gamma = next(it) if scale else None
    beta = next(it) if center else None
    mean = next(it)
    var = next(it)
    if gamma is None:
        gamma = np.ones_like(mean)
    if beta is None:
        beta = np.zeros_like(mean)
    if not (gamma.shape == beta.shape == mean.shape == var.shape):
        raise _layer_err(name, config, "weight shapes differ: gamma %s, "
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

def conv1d_conversion(config, name, verbose, nonlinear_mxts_mode,
                      conv_mxts_mode, **kwargs):
    _require_channels_last(config, name)
    _check_groups(config, name)
    kernel, bias = _kernel_and_bias(config, name, 3, "filters")
    _check_kernel_size(config, name, kernel, 1)
    stride = _ints(config.get("strides", 1), 1, name, "strides")[0]
    dilation = _ints(config.get("dilation_rate", 1), 1, name,
                     "dilation_rate")[0]
    padding = _padding(config, name)
    return _with_activation(
        config, name, verbose, nonlinear_mxts_mode,
        lambda lname: layers.Conv1D(kernel=kernel, bias=bias, stride=stride,
                                    padding=padding,
                                    conv_mxts_mode=conv_mxts_mode,
                                    dilation=dilation, name=lname,
                                    verbose=verbose))


def conv2d_conversion(config, name, verbose, nonlinear_mxts_mode,
                      conv_mxts_mode, **kwargs):
    _check_groups(config, name)
    kernel, bias = _kernel_and_bias(config, name, 4, "filters")
    _check_kernel_size(config, name, kernel, 2)
    strides = _ints(config.get("strides", 1), 2, name, "strides")
    dilation = _ints(config.get("dilation_rate", 1), 2, name,
                     "dilation_rate")
    padding = _padding(config, name)
    data_format = config.get("data_format") or "channels_last"
    return _with_activation(
        config, name, verbose, nonlinear_mxts_mode,
        lambda lname: layers.Conv2D(kernel=kernel, bias=bias,
                                    strides=strides, padding=padding,
                                    data_format=data_format,
                                    conv_mxts_mode=conv_mxts_mode,
                                    dilation_rate=dilation, name=lname,
                                    verbose=verbose))


# --------------------------------------------------------------------------
# pooling
# --------------------------------------------------------------------------

def _pool1d_kwargs(config, name, verbose):
    _require_channels_last(config, name)
    pool = _ints(config.get("pool_size", 2), 1, name, "pool_size")[0]
    strides = config.get("strides")
    stride = pool if strides is None else _ints(strides, 1, name,
                                                "strides")[0]
    return dict(pool_length=pool, stride=stride,
                padding=_padding(config, name), name=name, verbose=verbose)


def _pool2d_kwargs(config, name, verbose):
    pool = _ints(config.get("pool_size", 2), 2, name, "pool_size")
    strides = config.get("strides")
    strides = pool if strides is None else _ints(strides, 2, name,
                                                 "strides")
    return dict(pool_size=pool, strides=strides,
                padding=_padding(config, name),
                data_format=config.get("data_format") or "channels_last",
                name=name, verbose=verbose)


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


def _no_keepdims(config, name):
    if config.get("keepdims"):
        raise _layer_err(name, config, "global pooling with keepdims=True "
                         "is not supported")


def globalmaxpool1d_conversion(config, name, verbose, maxpool_deeplift_mode,
                               **kwargs):
    _require_channels_last(config, name)
    _no_keepdims(config, name)
    return [layers.GlobalMaxPool1D(maxpool_deeplift_mode=maxpool_deeplift_mode,
                                   name=name, verbose=verbose)]


def globalavgpool1d_conversion(config, name, verbose, **kwargs):
    _require_channels_last(config, name)
    _no_keepdims(config, name)
    return [layers.GlobalAvgPool1D(name=name, verbose=verbose)]


def globalmaxpool2d_conversion(config, name, verbose, maxpool_deeplift_mode,
                               **kwargs):
    _no_keepdims(config, name)
    return [layers.GlobalMaxPool2D(
        maxpool_deeplift_mode=maxpool_deeplift_mode,
        data_format=config.get("data_format") or "channels_last",
        name=name, verbose=verbose)]


def globalavgpool2d_conversion(config, name, verbose, **kwargs):
    _no_keepdims(config, name)
    return [layers.GlobalAvgPool2D(
        data_format=config.get("data_format") or "channels_last",
        name=name, verbose=verbose)]


# --------------------------------------------------------------------------
# the registry
# --------------------------------------------------------------------------

REGISTRY = {
    "InputLayer": input_layer_conversion,

    "Dense": dense_conversion,
    "Flatten": flatten_conversion,
    "Concatenate": concat_conversion,
    "BatchNormalization": batchnorm_conversion,

    "Activation": activation_conversion,
    "ReLU": relu_layer_conversion,
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

    # identities at inference time
    "Dropout": noop_conversion,
    "SpatialDropout1D": noop_conversion,
    "SpatialDropout2D": noop_conversion,
    "SpatialDropout3D": noop_conversion,
    "GaussianNoise": noop_conversion,
    "GaussianDropout": noop_conversion,
    "AlphaDropout": noop_conversion,
    "ActivityRegularization": noop_conversion,
}

# Layers whose first deeplift layer takes a list of inputs.
MULTI_INPUT_CLASSES = frozenset(["Concatenate"])

# the layers beyond the original's set (merge, reshaping, transposed /
# depthwise / separable convolutions, embedding, more activations)
from deeplift.conversion.converters_extra import (  # noqa: E402
    EXTRA_CONVERTERS, EXTRA_MULTI_INPUT_CLASSES, EXTRA_ACTIVATIONS)
REGISTRY.update(EXTRA_CONVERTERS)
MULTI_INPUT_CLASSES = MULTI_INPUT_CLASSES | EXTRA_MULTI_INPUT_CLASSES
for _name, _fn in EXTRA_ACTIVATIONS.items():
    ACTIVATIONS.setdefault(_name, _fn)

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
