"""Helpers shared by the conversion functions of
:mod:`deeplift.conversion.registry` and
:mod:`deeplift.conversion.converters_extra`: config checks, weights, and
the conversion of activations.

Activations: ``ACTIVATIONS`` maps each Keras activation name to its
conversion function. A model's activations are those of the Keras version
that wrote it: conversion functions receive ``keras_version`` (from the
model file or config; ``None`` -- Keras 3 -- when unknown), and the
activations Keras 3 redefined (``hard_sigmoid``) get their Keras 1/2 form
for Keras 1/2 models (:func:`activation_table`).
"""
import numpy as np

from deeplift.conversion.errors import ConversionError, WeightsMismatchError
from deeplift.layers import activations as A


# --------------------------------------------------------------------------
# config and weights
# --------------------------------------------------------------------------

def layer_err(name, config, message, cls=ConversionError):
    """An exception of class ``cls`` naming the Keras and deeplift layer."""
    keras_name = config.get("name", name) if isinstance(config, dict) \
        else name
    return cls("Layer '%s' (deeplift name '%s'): %s"
               % (keras_name, name, message))


def ints(value, n, name, what):
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


def weights(config, name, expected=None):
    """The layer's weight arrays (``expected`` of them, when given)."""
    arrays = config.get("weights")
    if arrays is None:
        raise layer_err(name, config, "no weights were found for this "
                        "layer", WeightsMismatchError)
    arrays = [np.asarray(w) for w in arrays]
    if expected is not None and len(arrays) != expected:
        raise layer_err(name, config, "expected %d weight array(s), found "
                        "%d in the weights file" % (expected, len(arrays)),
                        WeightsMismatchError)
    return arrays


def kernels_and_bias(config, name, n_kernels=1):
    """``(kernels, bias)``: the first ``n_kernels`` weight arrays, and the
    bias (None when the layer has ``use_bias=False``)."""
    use_bias = config.get("use_bias", True)
    arrays = weights(config, name, n_kernels + int(bool(use_bias)))
    return arrays[:n_kernels], arrays[n_kernels] if use_bias else None


def padding(config, name):
    value = str(config.get("padding", "valid")).lower()
    if value not in ("valid", "same"):
        raise layer_err(name, config, "padding '%s' is not supported "
                        "(only 'valid' and 'same')" % value)
    return value.upper()


def data_format(config):
    return config.get("data_format") or "channels_last"


def require_channels_last(config, name):
    if data_format(config) != "channels_last":
        raise layer_err(name, config, "data_format '%s' is not supported "
                        "for this layer type (only channels_last)"
                        % data_format(config))


def check_groups(config, name):
    if int(config.get("groups", 1) or 1) != 1:
        raise layer_err(name, config, "grouped convolutions (groups=%s) "
                        "are not supported" % config.get("groups"))


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


def chain(layer_list):
    """Connect the layers in sequence; returns the list."""
    for prev, layer in zip(layer_list[:-1], layer_list[1:]):
        layer.set_inputs(prev)
    return layer_list


# --------------------------------------------------------------------------
# activations
# --------------------------------------------------------------------------

def _keras2_hard_sigmoid(nonlinear_mxts_mode, **kwargs):
    """Keras 1/2's ``hard_sigmoid``: ``clip(0.2 * x + 0.5, 0, 1)``."""
    return A.HardSigmoid(slope=0.2, offset=0.5,
                         nonlinear_mxts_mode=nonlinear_mxts_mode, **kwargs)


#: ``A.ACTIVATION_BY_NAME`` with the definitions of Keras 1/2 where they
#: differ from Keras 3's
KERAS2_ACTIVATION_BY_NAME = dict(A.ACTIVATION_BY_NAME,
                                 hard_sigmoid=_keras2_hard_sigmoid)


def is_keras2(keras_version):
    """Whether ``keras_version`` (a version string or None) is Keras 1/2."""
    major = str(keras_version).split(".", 1)[0]
    return keras_version is not None and major.isdigit() and int(major) < 3


def activation_table(keras_version=None):
    """Activation name -> factory ``(nonlinear_mxts_mode, **layer_kwargs)``
    for a model written by ``keras_version`` (None: Keras 3)."""
    if is_keras2(keras_version):
        return KERAS2_ACTIVATION_BY_NAME
    return A.ACTIVATION_BY_NAME


def _activation(act):
    def convert(name, verbose, nonlinear_mxts_mode, keras_version=None,
                **kwargs):
        layer = activation_table(keras_version)[act](
            nonlinear_mxts_mode, name=name, verbose=verbose)
        return [] if layer is None else [layer]
    convert.__name__ = "%s_conversion" % act
    return convert


#: Keras activation name -> activation conversion function, called as
#: ``fn(name=, verbose=, nonlinear_mxts_mode=, keras_version=)``
ACTIVATIONS = {act: _activation(act) for act in A.ACTIVATION_BY_NAME}


def activation_name(config):
    """Name of the activation in a layer config (a string or a serialized
    function)."""
    act = config.get("activation", "linear")
    if act is None:
        return "linear"
    if isinstance(act, dict):
        inner = act.get("config")
        if isinstance(inner, str):
            act = inner
        elif (isinstance(inner, dict) and isinstance(inner.get("name"), str)
              and act.get("class_name") in ("function", None)):
            act = inner["name"]
        else:
            act = act.get("registered_name") or act.get("class_name")
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
                          keras_version=None, **kwargs):
    """The deeplift layers (none or one) of the layer config's
    ``activation`` -- the conversion of ``keras.layers.Activation``."""
    convert = activation_to_conversion_function(activation_name(config),
                                                config.get("name", name))
    return convert(name=name, verbose=verbose,
                   nonlinear_mxts_mode=nonlinear_mxts_mode,
                   keras_version=keras_version)


def with_activation(config, name, verbose, nonlinear_mxts_mode, build,
                    **kwargs):
    """``build(layer_name)`` makes the linear layer; the layer config's
    activation (converted with ``kwargs``, the conversion function's other
    keyword arguments) is appended, and the linear layer then gets the
    ``preact_`` prefix."""
    act_layers = activation_conversion(config, name, verbose,
                                       nonlinear_mxts_mode, **kwargs)
    return chain([build(("preact_" if act_layers else "") + name)]
                 + act_layers)
