"""Elementwise affine layers: Rescaling, Normalization (inference form),
ConvNeXt's LayerScale and InceptionResNetV2's CustomScaleLayer, all
converted to :mod:`deeplift.layers.arithmetic` layers that compute the
forward pass with Keras' own operations in Keras' order (so float32
rounding is the same)."""
import numpy as np

from deeplift.conversion.converters.common import layer_err, weights
from deeplift.conversion.errors import WeightsMismatchError
from deeplift.layers import arithmetic

#: Keras 3's ``backend.epsilon()``, the floor of Normalization's std
KERAS_EPSILON = 1e-7


def _array(value, name, config, what):
    array = np.asarray(value, dtype=np.float64)
    if array.dtype == object:
        raise layer_err(name, config, "%s %r is not numeric" % (what, value))
    return array


def rescaling_conversion(config, name, verbose=True, **kwargs):
    """``x * scale + offset`` (scalars or per-channel lists, channels
    last)."""
    if str(config.get("data_format") or "channels_last") != \
            "channels_last" and np.ndim(config.get("scale", 1.0)) > 0:
        raise layer_err(name, config, "per-channel Rescaling with "
                        "channels_first is not supported")
    scale = _array(config.get("scale", 1.0), name, config, "scale")
    offset = _array(config.get("offset", 0.0), name, config, "offset")
    return [arithmetic.Affine(scale=scale.astype(np.float32),
                              offset=offset.astype(np.float32), name=name,
                              verbose=verbose)]


def _input_ndim(build_config):
    shape = (build_config or {}).get("input_shape")
    return None if shape is None else len(shape)


def normalization_conversion(config, name, verbose=True, build_config=None,
                             **kwargs):
    """``(x - mean) / max(sqrt(variance), 1e-7)`` (``invert``: ``mean + x *
    max(sqrt(variance), 1e-7)``), computed as Keras does in float32.
    ``mean``/``variance`` come from the config or from the weights (mean,
    variance, count) of an adapted layer."""
    axis = config.get("axis", -1)
    axes = [] if axis is None else ([axis] if np.ndim(axis) == 0
                                    else list(axis))
    if config.get("mean") is not None:
        mean = _array(config["mean"], name, config, "mean")
        var = _array(config["variance"], name, config, "variance")
    else:
        arrays = weights(config, name)
        if len(arrays) < 2:
            raise layer_err(name, config, "expected the weights mean, "
                            "variance (and count), found %d array(s)"
                            % len(arrays), WeightsMismatchError)
        mean, var = arrays[0], arrays[1]
    mean = np.asarray(mean, dtype=np.float32)
    var = np.asarray(var, dtype=np.float32)
    if mean.shape != var.shape:
        raise layer_err(name, config, "mean %s and variance %s differ in "
                        "shape" % (mean.shape, var.shape),
                        WeightsMismatchError)
    # mean/variance broadcast over the kept axes, which must be trailing
    ndim = _input_ndim(build_config)
    if mean.ndim > 0:
        kept = []
        for a in axes:
            a = int(a)
            if a >= 0:
                if ndim is None:
                    raise layer_err(name, config, "Normalization over axis "
                                    "%s needs the input's rank, which the "
                                    "config does not give" % (axis,))
                a -= ndim
            kept.append(a)
        kept.sort()
        if kept != list(range(-len(kept), 0)) or len(kept) != mean.ndim:
            raise layer_err(name, config, "Normalization over axis %s with "
                            "mean of shape %s is not supported (only "
                            "trailing axes)" % (axis, mean.shape))
    divisor = np.maximum(np.sqrt(var), np.float32(KERAS_EPSILON))
    if config.get("invert"):
        return [arithmetic.Affine(scale=divisor, offset=mean, name=name,
                                  verbose=verbose)]
    return [arithmetic.Affine(center=mean, divisor=divisor, name=name,
                              verbose=verbose)]


def layerscale_conversion(config, name, verbose=True, **kwargs):
    """ConvNeXt's LayerScale: ``x * gamma`` (per channel, last axis)."""
    (gamma,) = weights(config, name, 1)
    return [arithmetic.Affine(scale=gamma, name=name, verbose=verbose)]


def customscale_conversion(config, name, verbose=True, **kwargs):
    """InceptionResNetV2's CustomScaleLayer: ``inputs[0] + inputs[1] *
    scale``."""
    return [arithmetic.WeightedSum(weights=[1.0, float(config["scale"])],
                                   name=name, verbose=verbose)]
