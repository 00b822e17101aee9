"""Conversion functions of the merge, reshaping, convolution, activation
and embedding layers: each Keras layer config gives the expected deeplift
layers, named as the conversion names them."""
import keras
import pytest

import deeplift.layers as L
from deeplift.layers import activations as A
from deeplift.conversion.registry import REGISTRY as EXTRA_CONVERTERS
from tests.layer_checks import RESCALE


def _convert(klayer, x_shapes, mode=RESCALE):
    kins = [keras.Input(s) for s in x_shapes]
    klayer(kins if len(kins) > 1 else kins[0])
    config = klayer.get_config()
    config["weights"] = klayer.get_weights()
    fn = EXTRA_CONVERTERS[type(klayer).__name__]
    return fn(config=config, name="lyr", verbose=False,
              nonlinear_mxts_mode=mode, dense_mxts_mode="Linear",
              conv_mxts_mode="Linear",
              maxpool_deeplift_mode="summation_to_delta")


@pytest.mark.parametrize("klayer,shapes,classes", [
    (lambda: keras.layers.Add(), [(3,), (3,)], [L.Add]),
    (lambda: keras.layers.Multiply(), [(3,), (3,)], [L.Multiply]),
    (lambda: keras.layers.Minimum(), [(3,), (3,)], [L.Minimum]),
    (lambda: keras.layers.Reshape((2, 3)), [(6,)], [L.Reshape]),
    (lambda: keras.layers.UpSampling2D(2), [(2, 2, 1)], [L.UpSampling2D]),
    (lambda: keras.layers.Conv2DTranspose(2, 3, activation="gelu"),
     [(4, 4, 2)], [L.Conv2DTranspose, A.GELU]),
    (lambda: keras.layers.SeparableConv1D(2, 3, activation="swish"),
     [(6, 2)], [L.DepthwiseConv1D, L.Conv1D, A.Swish]),  # two stages
    (lambda: keras.layers.DepthwiseConv2D(3, use_bias=False),
     [(4, 4, 2)], [L.DepthwiseConv2D]),
    (lambda: keras.layers.LeakyReLU(negative_slope=0.2), [(3,)],
     [A.LeakyReLU]),
    (lambda: keras.layers.ReLU(max_value=6.0), [(3,)], [A.ReLUGeneral]),
    (lambda: keras.layers.ReLU(), [(3,)], [L.ReLU]),
    (lambda: keras.layers.Activation("hard_sigmoid"), [(3,)],
     [A.HardSigmoid]),
    (lambda: keras.layers.Activation("linear"), [(3,)], []),
    (lambda: keras.layers.Embedding(5, 2), [(4,)], [L.Embedding]),
])
def test_converters(klayer, shapes, classes):
    result = _convert(klayer(), shapes)
    assert [type(l) for l in result] == classes
    if len(result) == 2:
        assert result[0].get_name() == "preact_lyr"
        assert result[1].inputs is result[0]
    if result:
        assert result[-1].get_name() == "lyr"
