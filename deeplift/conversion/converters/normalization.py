"""Normalization layers: BatchNormalization (inference statistics),
LayerNormalization, GroupNormalization, RMSNormalization."""
import numpy as np

from deeplift import layers
from deeplift.conversion.converters.common import layer_err, weights
from deeplift.conversion.errors import WeightsMismatchError


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


def _gamma_beta(config, name, scale, center):
    arrays = weights(config, name, int(bool(scale)) + int(bool(center)))
    it = iter(arrays)
    return (next(it) if scale else None), (next(it) if center else None)


def layernorm_conversion(config, name, verbose, nonlinear_mxts_mode,
                         **kwargs):
    rms = bool(config.get("rms_scaling", False))
    scale = bool(config.get("scale", True)) or rms
    center = bool(config.get("center", True)) and not rms
    gamma, beta = _gamma_beta(config, name, scale, center)
    return [layers.LayerNormalization(
        gamma=gamma, beta=beta, axis=config.get("axis", -1),
        epsilon=float(config.get("epsilon", 1e-3)), rms_scaling=rms,
        nonlinear_mxts_mode=nonlinear_mxts_mode, name=name,
        verbose=verbose)]


def groupnorm_conversion(config, name, verbose, nonlinear_mxts_mode,
                         **kwargs):
    gamma, beta = _gamma_beta(config, name, config.get("scale", True),
                              config.get("center", True))
    groups = int(config.get("groups", 32))
    for label, array in (("gamma", gamma), ("beta", beta)):
        if array is not None and array.ndim != 1:
            raise layer_err(name, config, "%s has shape %s; expected one "
                            "value per channel" % (label, array.shape),
                            WeightsMismatchError)
    axis = config.get("axis", -1)
    if axis != -1:
        raise layer_err(name, config, "GroupNormalization over axis %s is "
                        "not supported (only the last axis, channels_last)"
                        % (axis,))
    return [layers.GroupNormalization(
        groups=groups, gamma=gamma, beta=beta, axis=-1,
        epsilon=float(config.get("epsilon", 1e-3)),
        nonlinear_mxts_mode=nonlinear_mxts_mode, name=name,
        verbose=verbose)]


def rmsnorm_conversion(config, name, verbose, nonlinear_mxts_mode,
                       **kwargs):
    (scale,) = weights(config, name, 1)
    return [layers.RMSNormalization(
        scale=scale, axis=config.get("axis", -1),
        epsilon=float(config.get("epsilon", 1e-6)),
        nonlinear_mxts_mode=nonlinear_mxts_mode, name=name,
        verbose=verbose)]
