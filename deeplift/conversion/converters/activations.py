"""Activations: the ``activation`` of a layer config, ``Activation`` and the
activation layers (ReLU, LeakyReLU, ELU, PReLU, Softmax, ThresholdedReLU).

``ACTIVATIONS`` maps each Keras activation name to its conversion function.
A model's activations are those of the Keras version that wrote it:
conversion functions receive ``keras_version`` (from the model file or
config; ``None`` -- Keras 3 -- when unknown), and the activations Keras 3
redefined (``hard_sigmoid``) get their Keras 1/2 form for Keras 1/2 models
(:func:`activation_table`).
"""
from deeplift import layers
from deeplift.conversion.converters.common import chain, layer_err, weights
from deeplift.conversion.errors import ConversionError


def _keras2_hard_sigmoid(nonlinear_mxts_mode, **kwargs):
    """Keras 1/2's ``hard_sigmoid``: ``clip(0.2 * x + 0.5, 0, 1)``."""
    return layers.HardSigmoid(slope=0.2, offset=0.5,
                              nonlinear_mxts_mode=nonlinear_mxts_mode,
                              **kwargs)


#: ``layers.ACTIVATION_BY_NAME`` with the definitions of Keras 1/2 where
#: they differ from Keras 3's
KERAS2_ACTIVATION_BY_NAME = dict(layers.ACTIVATION_BY_NAME,
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
    return layers.ACTIVATION_BY_NAME


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
ACTIVATIONS = {act: _activation(act) for act in layers.ACTIVATION_BY_NAME}


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


def leakyrelu_conversion(config, name, verbose, nonlinear_mxts_mode,
                         **kwargs):
    slope = config.get("negative_slope", config.get("alpha", 0.3))
    return [layers.LeakyReLU(negative_slope=slope, name=name,
                             verbose=verbose,
                             nonlinear_mxts_mode=nonlinear_mxts_mode)]


def elu_conversion(config, name, verbose, nonlinear_mxts_mode, **kwargs):
    return [layers.ELU(alpha=config.get("alpha", 1.0), name=name,
                       verbose=verbose,
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
    return [layers.ReLUGeneral(max_value=max_value, threshold=threshold,
                               negative_slope=slope, name=name,
                               verbose=verbose,
                               nonlinear_mxts_mode=nonlinear_mxts_mode)]


def thresholdedrelu_conversion(config, name, verbose, nonlinear_mxts_mode,
                               **kwargs):
    """Keras 2's ThresholdedReLU: ``x`` if ``x > theta`` else 0."""
    return [layers.ReLUGeneral(threshold=float(config.get("theta", 1.0)),
                               name=name, verbose=verbose,
                               nonlinear_mxts_mode=nonlinear_mxts_mode)]
