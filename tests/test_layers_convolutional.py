"""Transposed, depthwise and separable convolutions: forward == Keras,
Gradient == tape, summation to delta (see tests/layer_checks.py).
Conv1D / Conv2D are covered by tests/test_engine_layers.py."""
import pytest
import keras

import deeplift.layers as L
from tests.layer_checks import (  # noqa: F401 (fixture)
    restore_dtype_policy, check_layer_case)

CASES = {
    "conv1d_transpose_same": (
        lambda: keras.layers.Conv1DTranspose(4, 3, strides=2,
                                             padding="same"),
        lambda w, m: L.Conv1DTranspose(w[0], w[1], strides=2,
                                       padding="same"), [(6, 3)]),
    "conv1d_transpose_valid_outpad": (
        lambda: keras.layers.Conv1DTranspose(3, 4, strides=3,
                                             padding="valid",
                                             output_padding=1),
        lambda w, m: L.Conv1DTranspose(w[0], w[1], strides=3,
                                       padding="valid", output_padding=1),
        [(5, 2)]),
    "conv2d_transpose_valid": (
        lambda: keras.layers.Conv2DTranspose(3, (3, 2), strides=(2, 1)),
        lambda w, m: L.Conv2DTranspose(w[0], w[1], strides=(2, 1),
                                       padding="valid"), [(4, 3, 2)]),
    "conv2d_transpose_same_nobias": (
        lambda: keras.layers.Conv2DTranspose(2, 3, strides=2,
                                             padding="same",
                                             use_bias=False),
        lambda w, m: L.Conv2DTranspose(w[0], None, strides=2,
                                       padding="same"), [(3, 4, 3)]),
    "depthwise2d": (
        lambda: keras.layers.DepthwiseConv2D(3, strides=2, padding="same",
                                             depth_multiplier=2),
        lambda w, m: L.DepthwiseConv2D(w[0], w[1], strides=2,
                                       padding="same"), [(6, 5, 3)]),
    "depthwise2d_dilated": (
        lambda: keras.layers.DepthwiseConv2D(2, dilation_rate=2),
        lambda w, m: L.DepthwiseConv2D(w[0], w[1], strides=1,
                                       padding="valid", dilation_rate=2),
        [(6, 6, 2)]),
    "depthwise1d": (
        lambda: keras.layers.DepthwiseConv1D(3, depth_multiplier=2,
                                             padding="same"),
        lambda w, m: L.DepthwiseConv1D(w[0], w[1], strides=1,
                                       padding="same"), [(7, 3)]),
    "separable1d": (
        lambda: keras.layers.SeparableConv1D(4, 3, strides=2,
                                             depth_multiplier=2,
                                             padding="same"),
        lambda w, m: L.SeparableConv1D(w[0], w[1], w[2], stride=2,
                                       padding="same"), [(9, 3)]),
    "separable2d": (
        lambda: keras.layers.SeparableConv2D(4, 3, depth_multiplier=2),
        lambda w, m: L.SeparableConv2D(w[0], w[1], w[2], strides=1,
                                       padding="valid"), [(5, 5, 3)]),
    "separable2d_dilated": (
        lambda: keras.layers.SeparableConv2D(3, 2, dilation_rate=2,
                                             padding="same"),
        lambda w, m: L.SeparableConv2D(w[0], w[1], w[2], strides=1,
                                       padding="same", dilation_rate=2),
        [(5, 5, 2)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_forward_gradient_and_summation(name):
    check_layer_case(CASES[name])
