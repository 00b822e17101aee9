"""Normalization layers: BatchNormalization (inference statistics)."""
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
