"""Keras wrapper layers: ``TimeDistributed`` (the inner layer applied to
every time step).  See :mod:`deeplift.layers.wrappers`."""
from deeplift.conversion.converters.common import layer_err
from deeplift.conversion.errors import UnsupportedLayerError
from deeplift.layers.wrappers import TimeDistributed


def _inner_build_config(build_config):
    """TimeDistributed's build config with the time axis removed (the
    inner layer sees (N*T, ...))."""
    if not isinstance(build_config, dict):
        return None
    shape = build_config.get("input_shape")
    if not isinstance(shape, (list, tuple)) or len(shape) < 2:
        return None
    return dict(build_config, input_shape=[shape[0]] + list(shape[2:]))


def timedistributed_conversion(config, name, lookup, verbose=True,
                               build_config=None, **kwargs):
    """``[TimeDistributed]`` around the deeplift layers of the wrapped
    layer (``config['layer']``) converted by its own
    conversion function with TimeDistributed's weights.  A wrapped class
    without a conversion raises :class:`UnsupportedLayerError` naming it
    (so that the layer can be traced instead).  ``lookup(class_name,
    custom, module)``: the conversion function of a class (the registry's
    :func:`~deeplift.conversion.registry.lookup`)."""
    inner = config.get("layer")
    if not isinstance(inner, dict) or "class_name" not in inner:
        raise layer_err(name, config, "TimeDistributed without a wrapped "
                        "layer config")
    cls = inner["class_name"]
    func = lookup(cls, None, inner.get("module"))
    if func is None or cls == "TimeDistributed":
        raise UnsupportedLayerError(
            {"TimeDistributed(%s)" % cls: [config.get("name", name)]})
    inner_config = dict(inner.get("config") or {})
    inner_config["weights"] = list(config.get("weights") or [])
    result = list(func(config=inner_config, name="%s_inner" % name,
                       verbose=verbose,
                       build_config=_inner_build_config(build_config),
                       **kwargs))
    for i, layer in enumerate(result):
        layer.name = "%s/%s" % (name, layer.get_name() or i)
    return [TimeDistributed(result, name=name, verbose=verbose)]
