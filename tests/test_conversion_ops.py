"""Keras 3 op nodes (``x + 3.0``, ``ops.mean(x, axis)``, ``a * b``, ...)
and the elementwise affine layers (Rescaling, Normalization, LayerScale,
CustomScaleLayer): converted exactly from memory, ``.keras`` and ``.h5``
(forward equals Keras), Gradient mode equals tf.GradientTape, DeepLIFT
contributions sum to the output difference; unknown ops raise."""
import numpy as np
import pytest

import keras
from keras import ops

from deeplift.conversion import kerasapi_conversion as kc
from deeplift.conversion.converters.ops import OPS
from deeplift.conversion.errors import ConversionError, UnsupportedLayerError
from deeplift.layers import NonlinearMxtsMode, MaxPoolDeepLiftMode
from tests.conversion_checks import (converted_three_ways, forward_error,
                                     gradient_error, input_names,
                                     output_names, summation_error)

SOURCES = ("memory", "keras", "h5")


def _randomize(model, seed=0):
    rng = np.random.RandomState(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(w.dtype)
                               if "variance" in v.path
                               else rng.uniform(-0.8, 0.8, w.shape)
                               .astype(w.dtype)
                               for v, w in zip(layer.weights, ws)])
        if hasattr(layer, "finalize_state"):
            layer.finalize_state()
    return model


def ops_model():
    """Every op converted: the scored ones concatenated into one (batch,
    49) output (first), the others as more outputs."""
    inp = keras.Input((12,), name="x")
    a = keras.layers.Reshape((3, 4))(keras.layers.Dense(12, name="d")(inp))
    flat = keras.layers.Dense(6, name="d2")(inp)
    b = a + 3.0
    c = b * (1 / 6)
    d = 2.0 - c
    e = ops.square(d) + a
    scored = [
        ops.clip(ops.mean(e, axis=1), -1.5, 1.5) * 2.0,      # (N, 4)
        ops.reshape(ops.transpose(e, (0, 2, 1)), (-1, 12)),  # (N, 12)
        ops.sum(ops.sqrt(ops.abs(a) + 1) * a, axis=-1),      # (N, 3)
        -flat / 2.0 + ops.exp(flat * 0.5) - flat * flat,     # (N, 6)
        ops.concatenate([ops.relu(flat), ops.tanh(flat),
                         ops.maximum(flat, 0.0)], axis=-1),  # (N, 18)
        ops.power(flat, 2) + (1.0 - flat) + ops.silu(flat)
        + ops.gelu(flat) + ops.leaky_relu(flat) + ops.sigmoid(flat),
    ]
    rest = [ops.squeeze(ops.expand_dims(a, 1), 1),
            a + np.arange(4, dtype="float32"),
            ops.mean(a, axis=(1, 2), keepdims=True)]
    out = ops.concatenate(scored, axis=-1)
    return _randomize(keras.Model(inp, [out] + rest, name="ops_model"))


#: output units scored: one or two in each of the six concatenated parts
TASKS = (0, 3, 4, 15, 16, 19, 22, 25, 26, 40, 43, 48)


@pytest.fixture(scope="module")
def ops_converted(tmp_path_factory):
    model = ops_model()
    d = tmp_path_factory.mktemp("ops")
    return model, d, converted_three_ways(model, d)


def _x(n=6, seed=1, dtype="float32"):
    return np.random.RandomState(seed).uniform(-1, 1, (n, 12)).astype(dtype)


def test_ops_forward_equals_keras(ops_converted):
    model, _, converted = ops_converted
    for source in SOURCES:
        assert forward_error(converted[source], model, [_x()]) <= 1e-6, \
            source


def test_every_op_of_the_model_is_an_op_node(ops_converted):
    """The model really exercises op nodes (not layers)."""
    model = ops_converted[0]
    op_classes = {e["class_name"] for e in model.get_config()["layers"]
                  if e.get("module", "").startswith("keras.src.ops")}
    assert {"Add", "Multiply", "Subtract", "Square", "Mean", "Clip",
            "Transpose", "Reshape", "Sum", "Sqrt", "Absolute", "Negative",
            "TrueDivide", "Exp", "Concatenate", "Relu", "Tanh", "Maximum",
            "Power", "Silu", "Gelu", "LeakyRelu", "Sigmoid", "ExpandDims",
            "Squeeze"} <= op_classes
    assert op_classes <= set(OPS)


def test_ops_gradient_equals_tape(ops_converted):
    model, d, _ = ops_converted
    converted = converted_three_ways(
        model, d, sources=("memory",),
        nonlinear_mxts_mode=NonlinearMxtsMode.Gradient)["memory"]
    assert gradient_error(converted, model, _x(), 0, TASKS) <= 1e-5


@pytest.mark.parametrize("mode", [NonlinearMxtsMode.Rescale,
                                  NonlinearMxtsMode.RevealCancel])
def test_ops_sum_to_delta(ops_converted, mode):
    model, d, _ = ops_converted
    converted = converted_three_ways(model, d, sources=("memory",),
                                     nonlinear_mxts_mode=mode)["memory"]
    ref = np.full((1, 12), 0.1, dtype="float32")
    assert summation_error(converted, model, _x(), ref, 0, TASKS) <= 1e-4
    assert summation_error(converted, model, _x(dtype="float64"),
                           ref.astype("float64"), 0, TASKS) <= 1e-10


def test_unknown_op_raises_naming_it(tmp_path):
    inp = keras.Input((4,), name="x")
    h = keras.layers.Dense(4)(inp)
    out = ops.log(ops.abs(h) + 1.0) + ops.cos(h)
    model = keras.Model(inp, out, name="unknown_op")
    for source in SOURCES:
        with pytest.raises(UnsupportedLayerError) as info:
            converted_three_ways(model, tmp_path, sources=(source,))
        # Keras numbers op names per session (log, log_1, ...): check the
        # classes, one node each, and that the message names that node
        ops_found = info.value.ops
        assert sorted(ops_found) == ["Cos", "Log"], source
        assert [len(v) for v in ops_found.values()] == [1, 1], source
        assert ops_found["Log"][0].startswith("log"), source
        assert ops_found["Cos"][0].startswith("cos"), source
        assert info.value.unsupported == {}
        assert "op nodes" in str(info.value) and (
            "Log: %s" % ops_found["Log"][0]) in str(info.value)


def test_op_with_unsupported_arguments_raises(tmp_path):
    inp = keras.Input((4,), name="x")
    h = keras.layers.Dense(4)(inp)
    model = keras.Model(inp, h / (ops.abs(h) + 1.0), name="tensor_divide")
    for source in SOURCES:
        with pytest.raises(ConversionError, match="division by a tensor"):
            converted_three_ways(model, tmp_path, sources=(source,))


# --------------------------------------------------------------------------
# Rescaling, Normalization, LayerScale, CustomScaleLayer
# --------------------------------------------------------------------------

def affine_model():
    from keras.src.applications.convnext import LayerScale
    from keras.src.applications.inception_resnet_v2 import CustomScaleLayer
    inp = keras.Input((5, 5, 3), name="img")
    x = keras.layers.Rescaling(1.0 / 255, offset=-0.5)(inp)
    x = keras.layers.Rescaling([0.5, 2.0, -1.5])(x)
    x = keras.layers.Normalization(mean=[0.1, -0.2, 0.3],
                                   variance=[0.5, 2.0, 1e-16])(x)
    adapted = keras.layers.Normalization(axis=-1, name="adapted")
    x = adapted(x)
    x = keras.layers.Normalization(mean=[0.1, 0.2, 0.3],
                                   variance=[4.0, 0.25, 1.0], invert=True)(x)
    y = keras.layers.Conv2D(3, 3, padding="same", name="conv")(x)
    y = LayerScale(init_values=0.5, projection_dim=3, name="ls")(y)
    z = CustomScaleLayer(scale=0.17, name="cs")([x, y])
    z = keras.layers.Activation("relu")(z)
    out = keras.layers.Dense(3, name="out")(
        keras.layers.GlobalAveragePooling2D()(z))
    model = keras.Model(inp, out, name="affine_model")
    _randomize(model)
    return model


def test_affine_layers_forward_gradient_and_summation(tmp_path):
    model = affine_model()
    rng = np.random.RandomState(3)
    x = rng.uniform(0, 255, (4, 5, 5, 3)).astype("float32")
    ref = np.full((1, 5, 5, 3), 128.0, dtype="float32")
    for source, dl_model in converted_three_ways(model, tmp_path).items():
        assert forward_error(dl_model, model, [x]) <= 1e-5, source
    grad = converted_three_ways(
        model, tmp_path, sources=("memory",),
        nonlinear_mxts_mode=NonlinearMxtsMode.Gradient)["memory"]
    assert gradient_error(grad, model, x, 0, 1) <= 1e-5
    for mode in (NonlinearMxtsMode.Rescale, NonlinearMxtsMode.RevealCancel):
        dl_model = converted_three_ways(
            model, tmp_path, sources=("h5",), nonlinear_mxts_mode=mode,
            maxpool_deeplift_mode=MaxPoolDeepLiftMode.summation_to_delta
        )["h5"]
        assert summation_error(dl_model, model, x, ref, 0, (0, 2)) <= 1e-4
        assert summation_error(dl_model, model, x.astype("float64"),
                               ref.astype("float64"), 0, (0, 2)) <= 1e-10


def test_normalization_rounds_as_keras():
    """(x - mean) / std in float32, not x * (1/std) + offset: equal bit for
    bit on values where the two differ."""
    mean, var = 0.1, 0.3
    inp = keras.Input((64,), name="v")
    model = keras.Model(inp, keras.layers.Normalization(
        axis=None, mean=mean, variance=var)(inp))
    x = np.random.RandomState(0).randn(50, 64).astype("float32")
    dl_model = kc.convert_keras_model(model, verbose=False)
    got = dl_model.get_prediction_function(
        input_names(model), output_names(model)[0])([x], batch_size=50)
    want = model.predict(x, verbose=0)
    np.testing.assert_array_equal(got, want)
    folded = (x * np.float32(1 / np.sqrt(np.float32(0.3)))
              + np.float32(-0.1 / np.sqrt(np.float32(0.3))))
    assert np.any(folded != want)  # the check can fail


def test_layerscale_of_another_module_is_not_converted(tmp_path):
    """Application classes are matched by module: a user's own
    'LayerScale' is not taken for ConvNeXt's."""
    @keras.saving.register_keras_serializable(package="mine")
    class LayerScale(keras.layers.Layer):
        def call(self, x):
            return x * 2.0 + 1.0

    inp = keras.Input((3,), name="x")
    model = keras.Model(inp, LayerScale(name="ls")(
        keras.layers.Dense(3)(inp)), name="own_layerscale")
    # in memory it is traced (op-level conversion), not taken for
    # ConvNeXt's LayerScale
    dl = kc.convert_keras_model(model, verbose=False)
    layer = dl.get_name_to_layer()["ls_0"]
    assert type(layer).__name__ == "TracedLayer"
    assert layer.keras_class == "LayerScale"
    x = np.random.RandomState(0).randn(4, 3).astype("float32")
    np.testing.assert_allclose(
        dl.get_prediction_function(["x_0"], "ls_0")([x], batch_size=4),
        model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)


def test_tf_keras_op_layers(tmp_path):
    """tf_keras' TFOpLambda (``x + 3.0`` in Keras 2, RegNet's residual
    adds): the same ops, from memory and from the Keras 2 .h5."""
    tf_keras = pytest.importorskip("tf_keras")
    from tests.conversion_checks import predict
    i = tf_keras.Input((4,), name="x")
    a = tf_keras.layers.Dense(4, name="d")(i)
    outs = [a + 3.0, 3.0 + a, a - 1.0, 2.0 - a, a * 0.5, 0.5 * a, a / 4.0,
            -a, a + a, a * a, a - tf_keras.layers.Dense(4)(i)]
    model = tf_keras.Model(i, outs, name="tf_ops")
    path = tmp_path / "tf_ops.h5"
    model.save(path)
    x = np.random.RandomState(0).randn(5, 4).astype("float32")
    want = model.predict(x, verbose=0)
    for dl_model in (kc.convert_keras_model(model, verbose=False),
                     kc.convert_model_from_saved_files(path, verbose=False)):
        for got, expected in zip(predict(dl_model, model, [x]), want):
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    import tensorflow as tf
    bad = tf_keras.Model(i, tf.math.log(tf_keras.layers.Dense(2)(i)))
    with pytest.raises(UnsupportedLayerError) as info:
        kc.convert_keras_model(bad, verbose=False)
    assert list(info.value.ops) == ["TFOpLambda math.log"]
