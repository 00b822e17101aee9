"""Global pooling with ``keepdims=True`` (squeeze-excite blocks, MobileNet
heads): forward == Keras, Gradient == tape, summation to delta (see
tests/layer_checks.py).  The other pooling layers are covered by
tests/test_engine_layers.py."""
import keras
import pytest

import deeplift.layers as L
from tests.layer_checks import (  # noqa: F401 (fixture)
    restore_dtype_policy, check_layer_case, GRAD)


def _maxpool_mode(mode):
    return "gradient" if mode == GRAD else "summation_to_delta"


CASES = {
    "gavg1d_keepdims": (
        lambda: keras.layers.GlobalAveragePooling1D(keepdims=True),
        lambda w, m: L.GlobalAvgPool1D(keepdims=True), [(7, 3)]),
    "gavg2d_keepdims": (
        lambda: keras.layers.GlobalAveragePooling2D(keepdims=True),
        lambda w, m: L.GlobalAvgPool2D(keepdims=True), [(4, 5, 3)]),
    "gavg2d_keepdims_cf": (
        lambda: keras.layers.GlobalAveragePooling2D(
            keepdims=True, data_format="channels_first"),
        lambda w, m: L.GlobalAvgPool2D(keepdims=True,
                                       data_format="channels_first"),
        [(3, 4, 5)]),
    "gmax1d_keepdims": (
        lambda: keras.layers.GlobalMaxPooling1D(keepdims=True),
        lambda w, m: L.GlobalMaxPool1D(
            keepdims=True, maxpool_deeplift_mode=_maxpool_mode(m)),
        [(7, 3)]),
    "gmax2d_keepdims": (
        lambda: keras.layers.GlobalMaxPooling2D(keepdims=True),
        lambda w, m: L.GlobalMaxPool2D(
            keepdims=True, maxpool_deeplift_mode=_maxpool_mode(m)),
        [(4, 5, 3)]),
    "gmax2d_keepdims_cf": (
        lambda: keras.layers.GlobalMaxPooling2D(
            keepdims=True, data_format="channels_first"),
        lambda w, m: L.GlobalMaxPool2D(
            keepdims=True, data_format="channels_first",
            maxpool_deeplift_mode=_maxpool_mode(m)), [(3, 4, 5)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_forward_gradient_and_summation(name):
    check_layer_case(CASES[name])
