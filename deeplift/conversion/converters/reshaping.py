"""Reshaping: Reshape, Permute, Cropping, ZeroPadding, UpSampling,
RepeatVector."""
from deeplift import layers
from deeplift.conversion.converters.common import data_format, layer_err


def reshape_conversion(config, name, verbose=True, **kwargs):
    return [layers.Reshape(target_shape=config["target_shape"], name=name,
                           verbose=verbose)]


def permute_conversion(config, name, verbose=True, **kwargs):
    return [layers.Permute(dims=config["dims"], name=name, verbose=verbose)]


def cropping1d_conversion(config, name, verbose=True, **kwargs):
    return [layers.Cropping1D(cropping=config.get("cropping", (1, 1)),
                              name=name, verbose=verbose)]


def cropping2d_conversion(config, name, verbose=True, **kwargs):
    return [layers.Cropping2D(
        cropping=config.get("cropping", ((0, 0), (0, 0))),
        data_format=data_format(config), name=name, verbose=verbose)]


def zeropadding1d_conversion(config, name, verbose=True, **kwargs):
    return [layers.ZeroPadding1D(padding=config.get("padding", 1),
                                 data_format=data_format(config), name=name,
                                 verbose=verbose)]


def zeropadding2d_conversion(config, name, verbose=True, **kwargs):
    return [layers.ZeroPadding2D(padding=config.get("padding", (1, 1)),
                                 data_format=data_format(config), name=name,
                                 verbose=verbose)]


def upsampling1d_conversion(config, name, verbose=True, **kwargs):
    size = config.get("size", config.get("length", 2))
    if isinstance(size, (list, tuple)):
        size = size[0]
    return [layers.UpSampling1D(size=size, name=name, verbose=verbose)]


def upsampling2d_conversion(config, name, verbose=True, **kwargs):
    interpolation = config.get("interpolation", "nearest")
    if str(interpolation).lower() != "nearest":
        raise layer_err(name, config, "UpSampling2D interpolation '%s' is "
                        "not supported (only 'nearest')" % interpolation)
    return [layers.UpSampling2D(size=config.get("size", (2, 2)),
                                data_format=data_format(config), name=name,
                                verbose=verbose)]


def repeatvector_conversion(config, name, verbose=True, **kwargs):
    return [layers.RepeatVector(n=config["n"], name=name, verbose=verbose)]
