"""Core layers: InputLayer, Dense, Flatten and the inference-time no-ops."""
from deeplift import layers
from deeplift.conversion.converters.activations import with_activation
from deeplift.conversion.converters.common import (data_format,
                                                   kernel_and_bias,
                                                   layer_err)


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
    kernel, bias = kernel_and_bias(config, name, 2,
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
