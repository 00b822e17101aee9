"""Config and weight checks shared by the conversion functions."""
import numpy as np

from deeplift.conversion.errors import ConversionError, WeightsMismatchError


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


def kernel_and_bias(config, name, kernel_ndim, n_out_key):
    """Kernel and bias (zeros when absent) of a Dense/Conv layer, validated
    against the config's ``n_out_key`` (units / filters)."""
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


def chain(layer_list):
    """Connect the layers in sequence; returns the list."""
    for prev, layer in zip(layer_list[:-1], layer_list[1:]):
        layer.set_inputs(prev)
    return layer_list
