"""Composite models mixing layer concepts (see tests/layer_checks.py): a
BPNet-like dilated residual model with profile and counts heads, and a 2-D
ResNet block (BN, ZeroPadding2D, Cropping2D, summation_to_delta max
pooling)."""
import numpy as np
import pytest
import keras

import deeplift.layers as L
from tests.layer_checks import (  # noqa: F401 (fixture)
    restore_dtype_policy, Twin, check_model_forward_and_gradient,
    check_model_summation_to_delta, RC, RESCALE)


def bpnet(mode, dtype="float32"):
    t = Twin(mode, dtype)
    x = t.input((40, 4))
    h = t.conv1d("conv0", 8, 7, x, act="relu")
    for i, d in enumerate((2, 4, 8)):
        c = t.conv1d("dil%d" % i, 8, 3, h, dilation=d, act="relu")
        h = t.simple("add%d" % i, keras.layers.Add(dtype=dtype), L.Add(), c,
                     h)
    p = t.conv1d("profile_conv", 2, 5, h)
    p = t.simple("profile_crop", keras.layers.Cropping1D((4, 6)),
                 L.Cropping1D((4, 6)), p)
    p = t.simple("profile", keras.layers.Reshape((-1,)), L.Reshape((-1,)),
                 p)
    g = t.simple("gap", keras.layers.GlobalAveragePooling1D(),
                 L.GlobalAvgPool1D(), h)
    c = t.dense("counts", 1, g)
    return t, {"profile": (p[0], [0, 17, 59]), "counts": (c[0], [0])}


def resnet2d(mode, dtype="float32"):
    t = Twin(mode, dtype)
    x = t.input((10, 10, 3))
    p = t.simple("pad", keras.layers.ZeroPadding2D(1), L.ZeroPadding2D(1), x)
    h = t.conv2d("conv1", 6, 3, p, padding="valid")
    h = t.bn("bn1", h)
    h = t.act("relu1", "relu", h)
    h = t.conv2d("conv2", 6, 3, h)
    h = t.bn("bn2", h)
    s = t.conv2d("shortcut", 6, 1, x)
    h = t.simple("add", keras.layers.Add(), L.Add(), h, s)
    h = t.act("relu2", "relu", h)
    h = t.simple("pool", keras.layers.MaxPooling2D(2),
                 L.MaxPool2D(2, 2, "valid",
                             maxpool_deeplift_mode=t.maxpool_mode), h)
    h = t.simple("crop", keras.layers.Cropping2D(((1, 0), (0, 1))),
                 L.Cropping2D(((1, 0), (0, 1))), h)
    h = t.simple("flat", keras.layers.Flatten(), L.Flatten(), h)
    out = t.dense("out", 3, h)
    return t, {"out": (out[0], [0, 1, 2])}


MODELS = {"bpnet": (bpnet, (40, 4)), "resnet2d": (resnet2d, (10, 10, 3))}


@pytest.mark.parametrize("net", sorted(MODELS))
def test_model_forward_and_gradient(net):
    check_model_forward_and_gradient(*MODELS[net])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", [RESCALE, RC])
@pytest.mark.parametrize("net", sorted(MODELS))
def test_model_summation_to_delta(net, mode, dtype):
    check_model_summation_to_delta(*MODELS[net], mode, dtype)
