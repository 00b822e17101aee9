"""Conversion functions of the merge, reshaping, convolution, activation
and embedding layers: each Keras layer config gives the expected deeplift
layers, named as the conversion names them; whole converted models with
keepdims pooling, Dense on N-D inputs and hard_silu checked from memory,
``.keras`` and ``.h5`` (see tests/layer_checks.py)."""
import keras
import pytest

import deeplift.layers as L
from deeplift.layers import activations as A
from deeplift.conversion.registry import REGISTRY
from tests.layer_checks import (  # noqa: F401 (fixture)
    restore_dtype_policy, randomized, converted_data, check_converted,
    RESCALE)


def _convert(klayer, x_shapes, mode=RESCALE):
    kins = [keras.Input(s) for s in x_shapes]
    klayer(kins if len(kins) > 1 else kins[0])
    config = klayer.get_config()
    config["weights"] = klayer.get_weights()
    fn = REGISTRY[type(klayer).__name__]
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


# --------------------------------------------------------------------------
# whole models with keepdims pooling, N-D Dense and hard_silu
# --------------------------------------------------------------------------

def _squeeze_excite(dtype):
    """MobileNetV3-like: hard_silu conv, a squeeze-excite block (keepdims
    pooling, Dense on 4-D tensors, Multiply), keepdims max pooling."""
    keras.config.set_dtype_policy(dtype)
    keras.utils.set_random_seed(0)
    x = keras.Input((6, 6, 3), dtype=dtype, name="input")
    h = keras.layers.Conv2D(4, 3, activation="hard_silu", name="conv")(x)
    s = keras.layers.GlobalAveragePooling2D(keepdims=True, name="gap")(h)
    s = keras.layers.Dense(2, activation="relu", name="se_down")(s)
    s = keras.layers.Dense(4, activation="hard_sigmoid", name="se_up")(s)
    h = keras.layers.Multiply(name="scale")([h, s])
    h = keras.layers.GlobalMaxPooling2D(keepdims=True, name="gmp")(h)
    h = keras.layers.Dense(3, activation="hard_swish", name="head")(h)
    out = keras.layers.Dense(2, name="out")(keras.layers.Flatten()(h))
    return keras.Model(x, out)


def _basenji_head(dtype):
    """Conv tower then a per-position Dense head (no Flatten)."""
    keras.config.set_dtype_policy(dtype)
    keras.utils.set_random_seed(1)
    x = keras.Input((12, 4), dtype=dtype, name="input")
    h = keras.layers.Conv1D(5, 3, padding="same", activation="gelu",
                            name="conv")(x)
    h = keras.layers.GlobalAveragePooling1D(keepdims=True, name="gap")(h)
    out = keras.layers.Dense(3, name="out")(
        keras.layers.Add(name="res")([h, keras.layers.Conv1D(
            5, 1, name="pw")(x)]))
    return keras.Model(x, out)


@pytest.mark.parametrize("fmt,dtype", [("memory", "float32"),
                                       ("keras", "float32"),
                                       ("h5", "float32"),
                                       ("memory", "float64")])
@pytest.mark.parametrize("builder,tasks", [(_squeeze_excite, (0, 1)),
                                           (_basenji_head, (0, 17, 35))])
def test_converted_models(builder, tasks, fmt, dtype, tmp_path):
    kmodel = randomized(builder(dtype))
    check_converted(kmodel, *converted_data(kmodel, dtype), fmt, tmp_path,
                    "out_0", tasks)
