"""Conversion functions of Keras' LayerNormalization and
GroupNormalization (contract in
``deeplift.conversion.errors.CONVERSION_FUNCTION_CONTRACT``)."""
from deeplift.conversion.helpers import layer_err, weights
from deeplift.conversion.errors import WeightsMismatchError
from deeplift.layers import normalization as N


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
    return [N.LayerNormalization(
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
    return [N.GroupNormalization(
        groups=groups, gamma=gamma, beta=beta, axis=-1,
        epsilon=float(config.get("epsilon", 1e-3)),
        nonlinear_mxts_mode=nonlinear_mxts_mode, name=name,
        verbose=verbose)]
