"""Pooling: Max/AveragePooling1D/2D and their global forms (also with
``keepdims=True``)."""
from deeplift import layers
from deeplift.conversion.converters.common import (
    data_format, ints, padding, require_channels_last)


def _pool1d_kwargs(config, name, verbose):
    require_channels_last(config, name)
    pool = ints(config.get("pool_size", 2), 1, name, "pool_size")[0]
    strides = config.get("strides")
    stride = pool if strides is None else ints(strides, 1, name,
                                               "strides")[0]
    return dict(pool_length=pool, stride=stride,
                padding=padding(config, name), name=name, verbose=verbose)


def _pool2d_kwargs(config, name, verbose):
    pool = ints(config.get("pool_size", 2), 2, name, "pool_size")
    strides = config.get("strides")
    strides = pool if strides is None else ints(strides, 2, name, "strides")
    return dict(pool_size=pool, strides=strides,
                padding=padding(config, name),
                data_format=data_format(config), name=name, verbose=verbose)


def maxpool1d_conversion(config, name, verbose, maxpool_deeplift_mode,
                         **kwargs):
    return [layers.MaxPool1D(maxpool_deeplift_mode=maxpool_deeplift_mode,
                             **_pool1d_kwargs(config, name, verbose))]


def avgpool1d_conversion(config, name, verbose, **kwargs):
    return [layers.AvgPool1D(**_pool1d_kwargs(config, name, verbose))]


def maxpool2d_conversion(config, name, verbose, maxpool_deeplift_mode,
                         **kwargs):
    return [layers.MaxPool2D(maxpool_deeplift_mode=maxpool_deeplift_mode,
                             **_pool2d_kwargs(config, name, verbose))]


def avgpool2d_conversion(config, name, verbose, **kwargs):
    return [layers.AvgPool2D(**_pool2d_kwargs(config, name, verbose))]


def _keepdims(config):
    return bool(config.get("keepdims", False))


def globalmaxpool1d_conversion(config, name, verbose, maxpool_deeplift_mode,
                               **kwargs):
    require_channels_last(config, name)
    return [layers.GlobalMaxPool1D(maxpool_deeplift_mode=maxpool_deeplift_mode,
                                   keepdims=_keepdims(config), name=name,
                                   verbose=verbose)]


def globalavgpool1d_conversion(config, name, verbose, **kwargs):
    require_channels_last(config, name)
    return [layers.GlobalAvgPool1D(keepdims=_keepdims(config), name=name,
                                   verbose=verbose)]


def globalmaxpool2d_conversion(config, name, verbose, maxpool_deeplift_mode,
                               **kwargs):
    return [layers.GlobalMaxPool2D(
        maxpool_deeplift_mode=maxpool_deeplift_mode,
        data_format=data_format(config), keepdims=_keepdims(config),
        name=name, verbose=verbose)]


def globalavgpool2d_conversion(config, name, verbose, **kwargs):
    return [layers.GlobalAvgPool2D(data_format=data_format(config),
                                   keepdims=_keepdims(config), name=name,
                                   verbose=verbose)]
