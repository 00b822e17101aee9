"""Conversion functions of Keras' recurrent layers (SimpleRNN, LSTM, GRU,
Bidirectional) and the refusal of masking (contract in
``deeplift.conversion.errors.CONVERSION_FUNCTION_CONTRACT``)."""
from deeplift.conversion.converters.activations import (activation_name,
                                                     activation_table)
from deeplift.conversion.converters.common import layer_err, weights
from deeplift.layers import recurrent as R

_CLASSES = {"SimpleRNN": R.SimpleRNN, "LSTM": R.LSTM, "GRU": R.GRU}


def _inner(config):
    """The config of a wrapped layer (Bidirectional's ``layer``)."""
    return config.get("config", config)


def _check_settings(config, name):
    for key, what in (("return_state", "return_state=True (several "
                       "outputs)"), ("stateful", "stateful=True"),
                      ("time_major", "time_major=True")):
        if config.get(key):
            raise layer_err(name, config, "%s is not supported" % what)


def recurrent_layer(class_name, config, arrays, name, verbose,
                    nonlinear_mxts_mode, keras_version=None):
    """The deeplift layer of a SimpleRNN / LSTM / GRU config with its weight
    arrays (kernel, recurrent kernel[, bias])."""
    _check_settings(config, name)
    use_bias = config.get("use_bias", True)
    if len(arrays) != 2 + int(bool(use_bias)):
        raise layer_err(name, config, "expected %d weight arrays (kernel, "
                        "recurrent kernel%s), found %d"
                        % (2 + int(bool(use_bias)),
                           ", bias" if use_bias else "", len(arrays)))
    table = activation_table(keras_version)

    def factory(key, default):
        act = activation_name({"activation": config.get(key, default)})
        if act not in table:
            raise layer_err(name, config, "%s '%s' is not supported; "
                            "supported activations are: %s"
                            % (key, act, ", ".join(sorted(table))))
        return table[act]
    kwargs = dict(activation=factory("activation", "tanh"),
                  return_sequences=config.get("return_sequences", False),
                  go_backwards=config.get("go_backwards", False),
                  nonlinear_mxts_mode=nonlinear_mxts_mode, name=name,
                  verbose=verbose)
    if class_name != "SimpleRNN":
        kwargs["recurrent_activation"] = factory("recurrent_activation",
                                                 "sigmoid")
    if class_name == "GRU":
        kwargs["reset_after"] = config.get("reset_after", False)
    try:
        return _CLASSES[class_name](arrays[0], arrays[1],
                                    arrays[2] if use_bias else None,
                                    **kwargs)
    except ValueError as e:
        raise layer_err(name, config, str(e))


def _recurrent(class_name):
    def convert(config, name, verbose, nonlinear_mxts_mode,
                keras_version=None, **kwargs):
        return [recurrent_layer(class_name, config, weights(config, name),
                                name, verbose, nonlinear_mxts_mode,
                                keras_version)]
    convert.__name__ = "%s_conversion" % class_name.lower()
    return convert


simplernn_conversion = _recurrent("SimpleRNN")
lstm_conversion = _recurrent("LSTM")
gru_conversion = _recurrent("GRU")


def bidirectional_conversion(config, name, verbose, nonlinear_mxts_mode,
                             keras_version=None, **kwargs):
    merge_mode = config.get("merge_mode", "concat")
    if merge_mode not in R.Bidirectional.MERGE_MODES:
        raise layer_err(name, config, "merge_mode=%r is not supported "
                        "(valid: %s)" % (merge_mode, ", ".join(
                            R.Bidirectional.MERGE_MODES)))
    forward = config.get("layer")
    backward = config.get("backward_layer")
    if backward is None:
        backward = {"class_name": forward["class_name"],
                    "config": dict(_inner(forward), go_backwards=not _inner(
                        forward).get("go_backwards", False))}
    arrays = weights(config, name)
    if len(arrays) % 2:
        raise layer_err(name, config, "expected an even number of weight "
                        "arrays (forward, then backward), found %d"
                        % len(arrays))
    half = len(arrays) // 2
    layers = []
    for part, sub, sub_arrays in (("forward", forward, arrays[:half]),
                                  ("backward", backward, arrays[half:])):
        class_name = sub.get("class_name")
        if class_name not in _CLASSES:
            raise layer_err(name, config, "Bidirectional around %s is not "
                            "supported (only %s)"
                            % (class_name, ", ".join(sorted(_CLASSES))))
        layers.append(recurrent_layer(
            class_name, _inner(sub), sub_arrays, "%s_%s" % (name, part),
            verbose, nonlinear_mxts_mode, keras_version))
    return [R.Bidirectional(layers[0], layers[1], merge_mode=merge_mode,
                            nonlinear_mxts_mode=nonlinear_mxts_mode,
                            name=name, verbose=verbose)]


def masking_conversion(config, name, **kwargs):
    raise layer_err(name, config, "Masking is not supported: masked time "
                    "steps would change what the layers after it compute, "
                    "which deeplift does not model; remove the Masking layer "
                    "(e.g. trim or pad with a neutral value) to score the "
                    "model")
