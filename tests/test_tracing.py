"""Op-level conversion (deeplift.conversion.tracing): Keras layers without
a converter traced into TensorFlow ops, one rule family per op type.

Every family: forward == Keras, Gradient == tf.GradientTape, Rescale and
RevealCancel sum to the output difference (tests/tracing_checks.py, with
the tolerances and their reasons), in float32 and float64; hand-computed
values for the bilinear rule and the softmax decomposition; the errors
for control flow, ops without a rule and Lambda layers without trust.
"""
import numpy as np
import pytest
import tensorflow as tf
import keras

from deeplift.conversion.errors import UnsupportedLayerError
from deeplift.layers.traced import TracedLayer
from tests.tracing_checks import (  # noqa: F401 (fixture)
    float32_policy, OpsLayer, check_traced, convert, run_engine,
    contributions, set_policy, data, GRAD, RESCALE, RC)


def model_of(fn, shape, dtype, dense=True):
    set_policy(dtype)
    keras.utils.set_random_seed(0)
    inp = keras.Input(shape, dtype=dtype)
    y = OpsLayer(fn, dtype=dtype)(inp)
    if dense:
        y = keras.layers.Dense(3, dtype=dtype)(keras.layers.Flatten(
            dtype=dtype)(y))
    return keras.Model(inp, y)


def _split(x):
    return x[:, :3], x[:, 3:]


# op families: (name, fn of a (batch, 6) input or None, input shape)
FAMILIES = {
    # linear in what varies
    "structural": (lambda x: tf.concat([tf.reshape(tf.transpose(
        tf.reshape(x, (-1, 2, 3)), (0, 2, 1)), (-1, 6)), x[:, ::2],
        tf.gather(x, [0, 0, 5], axis=1), tf.pad(x, [[0, 0], [1, 2]]),
        tf.tile(x[:, :2], [1, 2]), tf.cumsum(x, axis=1)], axis=1), (6,)),
    "sums": (lambda x: tf.stack([tf.reduce_sum(x, 1), tf.reduce_mean(x, 1),
                                 -x[:, 0] - x[:, 1] + 0.5,
                                 tf.add_n([x[:, 2], x[:, 3], x[:, 2]])],
                                axis=1), (6,)),
    "matmul_const": (lambda x: tf.matmul(x, tf.constant(
        np.linspace(-1, 1, 12).reshape(6, 2), x.dtype)) / 3.0 + 1.0, (6,)),
    # elementwise nonlinear (one varying operand)
    "elementwise": (lambda x: tf.concat([
        tf.exp(x), tf.math.log(1 + x * x), tf.math.erf(x),
        tf.math.rsqrt(x * x + 1), tf.pow(x, 3), tf.abs(x),
        tf.nn.leaky_relu(x, 0.1), tf.nn.relu6(3 * x), tf.sqrt(x * x + 0.5),
        tf.nn.softplus(x), tf.sigmoid(x), tf.tanh(x), tf.nn.elu(x),
        tf.nn.selu(x), tf.maximum(x, 0.2), tf.minimum(x, -0.1),
        1.0 / (2.0 + x * x), tf.math.square(x - 0.3),
        tf.clip_by_value(x, -0.5, 0.5)], axis=1), (6,)),
    "gelu": (lambda x: tf.concat([keras.activations.gelu(x),
                                  keras.activations.gelu(x, approximate=True),
                                  keras.activations.silu(x)], 1), (6,)),
    # two varying operands
    "product": (lambda x: _split(x)[0] * _split(x)[1], (6,)),
    "pairs": (lambda x: tf.concat([
        tf.math.squared_difference(*_split(x)),
        _split(x)[0] / (1.5 + _split(x)[1] ** 2),
        tf.where(_split(x)[0] > _split(x)[1], _split(x)[0],
                 2 * _split(x)[1]),
        tf.maximum(*_split(x)), tf.minimum(*_split(x))], 1), (6,)),
    "reductions": (lambda x: tf.stack([
        tf.reduce_max(x, 1), tf.reduce_min(x, 1),
        tf.reduce_logsumexp(x, 1)], 1), (6,)),
    "softmax": (lambda x: tf.concat([tf.nn.softmax(x),
                                     tf.nn.log_softmax(x)], 1), (6,)),
    "bilinear": (lambda x: tf.reshape(tf.matmul(
        tf.reshape(x, (-1, 2, 3)), tf.reshape(x, (-1, 2, 3)),
        transpose_b=True), (-1, 4)), (6,)),
    "einsum": (lambda x: tf.einsum("bi,bj->bij", x[:, :2], x[:, 2:]),
               (6,)),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_op_family(family, dtype):
    fn, shape = FAMILIES[family]
    kmodel = model_of(fn, shape, dtype)
    x, ref = data(shape, dtype)
    dl = check_traced(kmodel, [x], [ref], grad=dtype == np.float64)
    traced = [l for l in dl.all_layers() if isinstance(l, TracedLayer)]
    assert len(traced) == 1 and traced[0].op_counts


def test_bilinear_by_hand():
    """dot(a, b) of two halves of the input: input i of a gets exactly
    (a_i - a0_i) * (b_i + b0_i) / 2, and symmetrically."""
    kmodel = model_of(lambda x: tf.matmul(x[:, None, :3],
                                          x[:, 3:, None])[:, 0],
                      (6,), np.float64, dense=False)
    x, ref = data((6,), np.float64)
    for mode in (RESCALE, RC):
        dl = convert(kmodel, mode)
        states, mxts, inputs, _ = run_engine(dl, [x], [ref], 1.0)
        c = contributions(states, mxts, inputs[0])
        a, b, a0, b0 = x[:, :3], x[:, 3:], ref[:, :3], ref[:, 3:]
        np.testing.assert_allclose(c[:, :3], (a - a0) * (b + b0) / 2,
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(c[:, 3:], (b - b0) * (a + a0) / 2,
                                   rtol=1e-12, atol=1e-12)


def test_softmax_by_hand():
    """Softmax of 3 logits, target output 0, Rescale: the decomposition
    l = (x - s) - log(sum(exp(x - s))), y = exp(l) computed in numpy (the
    log-space split tangermeme 1.6 uses)."""
    kmodel = model_of(lambda x: tf.nn.softmax(x), (3,), np.float64,
                      dense=False)
    x = np.array([[1.0, -2.0, 0.5], [3.0, 2.9, -1.0]])
    ref = np.array([[0.2, 0.1, -0.3]])
    dl = convert(kmodel, RESCALE)
    states, mxts, inputs, _ = run_engine(dl, [x], [ref],
                                         np.array([[1.0, 0, 0]]))
    got = contributions(states, mxts, inputs[0])
    x0 = np.broadcast_to(ref, x.shape)
    s = np.maximum(x.max(1, keepdims=True), x0.max(1, keepdims=True))
    e, e0 = np.exp(x - s), np.exp(x0 - s)
    big, big0 = e.sum(1, keepdims=True), e0.sum(1, keepdims=True)
    lsm, lsm0 = (x - s) - np.log(big), (x0 - s) - np.log(big0)
    y, y0 = np.exp(lsm), np.exp(lsm0)
    m_l = (y - y0)[:, :1] / (lsm - lsm0)[:, :1]   # final exp (Rescale)
    m_log = -m_l                                   # l0 = x0 - log S
    m_big = m_log * (np.log(big) - np.log(big0)) / (big - big0)
    m_e = np.broadcast_to(m_big, e.shape)          # sum
    m_x = m_e * (e - e0) / (x - x0)                # exp (Rescale)
    m_x = m_x + np.array([[1.0, 0, 0]]) * m_l      # l0 = x0 - ...
    want = m_x * (x - x0)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got.sum(1), (y - y0)[:, 0], rtol=1e-12)


def test_softmax_far_reference_is_well_conditioned():
    """A reference whose logits lie 40 below the input's: the Shapley
    split of exp(x - s) * (1/S) would give terms of about e^40 that cancel;
    in log space every factor is bounded, so float32 scores stay within
    the output change's size and sum to it to float32 rounding."""
    kmodel = model_of(lambda x: tf.nn.softmax(x), (4,), np.float32,
                      dense=False)
    x = np.array([[40.0, 1.0, -3.0, 39.0], [2.0, 45.0, 0.0, 1.0]],
                 np.float32)
    ref = np.zeros((1, 4), np.float32)
    dl = convert(kmodel, RESCALE)
    states, mxts, inputs, _ = run_engine(dl, [x], [ref],
                                         np.array([[1.0, 0, 0, 0]]))
    got = contributions(states, mxts, inputs[0])
    delta = kmodel(x).numpy()[:, 0] - kmodel(ref).numpy()[:, 0]
    # each score is a bounded multiplier (<= 1 in size) times a logit
    # difference of at most 45: far from e^40
    assert np.abs(got).max() < 100
    # float32 rounding of O(1) terms: 1e-5
    np.testing.assert_allclose(got.sum(1), delta, rtol=0, atol=1e-5)


def test_traced_conv_stack_equals_native():
    """Conv1D + ReLU + Conv1D + ReLU + MaxPool wrapped in a custom layer
    (so it is traced) gives the native conversion's numbers."""

    class ConvBlock(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.c1 = keras.layers.Conv1D(4, 5, padding="same",
                                          activation="relu")
            self.c2 = keras.layers.Conv1D(3, 3, padding="valid",
                                          activation="relu")
            self.pool = keras.layers.MaxPooling1D(2)

        def call(self, x):
            return self.pool(self.c2(self.c1(x)))

    keras.utils.set_random_seed(0)
    inp = keras.Input((20, 4))
    block = ConvBlock()
    y = keras.layers.Dense(2)(keras.layers.Flatten()(block(inp)))
    traced_model = keras.Model(inp, y)
    native_model = keras.Sequential([keras.Input((20, 4)), block.c1,
                                     block.c2, block.pool,
                                     keras.layers.Flatten(),
                                     traced_model.layers[-1]])
    x, ref = data((20, 4), np.float32)
    for mode in (RESCALE, RC, GRAD, "GuidedBackprop"):
        got = []
        for km in (traced_model, native_model):
            dl = convert(km, mode)
            states, mxts, inputs, target = run_engine(dl, [x], [ref],
                                                      np.array([[1.0, -1]],
                                                               np.float32))
            got.append(contributions(states, mxts, inputs[0]))
            if km is traced_model:
                assert any(isinstance(l, TracedLayer)
                           for l in dl.all_layers())
        np.testing.assert_allclose(got[0], got[1], rtol=1e-5, atol=1e-6,
                                   err_msg=str(mode))


@keras.saving.register_keras_serializable(package="tracing_test")
class GatedUnit(keras.layers.Layer):
    """A registered custom layer: dense(x) * sigmoid(dense(x))."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.a = keras.layers.Dense(units)
        self.b = keras.layers.Dense(units, activation="sigmoid")

    def call(self, x):
        return self.a(x) * self.b(x)

    def get_config(self):
        return dict(super().get_config(), units=self.units)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_registered_custom_layer(dtype):
    set_policy(dtype)
    keras.utils.set_random_seed(0)
    inp = keras.Input((5,), dtype=dtype)
    y = keras.layers.Dense(2)(GatedUnit(4)(inp))
    kmodel = keras.Model(inp, y)
    x, ref = data((5,), dtype)
    dl = check_traced(kmodel, [x], [ref], modes=(RESCALE, RC,
                                                "DeepLIFT_GenomicsDefault"))
    assert [l.keras_class for l in dl.all_layers()
            if isinstance(l, TracedLayer)] == ["GatedUnit"]


def test_guided_backprop_applies():
    """GuidedBackprop goes through traced activations: relu's multipliers
    are zeroed where the incoming multiplier is negative."""
    kmodel = model_of(lambda x: tf.nn.relu(x), (6,), np.float64)
    x, ref = data((6,), np.float64)
    w = np.random.RandomState(7).randn(1, 3)
    grads = []
    for mode in (GRAD, "GuidedBackprop"):
        states, mxts, inputs, _ = run_engine(convert(kmodel, mode), [x],
                                             [ref], w)
        grads.append(mxts[id(inputs[0])][0].numpy())
    dense = kmodel.layers[-1].get_weights()[0]
    m = w @ dense.T                              # multipliers on relu out
    np.testing.assert_allclose(grads[0], m * (x > 0), atol=1e-12)
    np.testing.assert_allclose(grads[1], m * (m > 0) * (x > 0), atol=1e-12)


def test_lambda_needs_trust():
    set_policy(np.float32)
    inp = keras.Input((6,))
    y = keras.layers.Lambda(lambda t: tf.nn.softmax(t) * t)(inp)
    y = keras.layers.Dense(2)(y)
    kmodel = keras.Model(inp, y)
    with pytest.raises(UnsupportedLayerError) as info:
        convert(kmodel, RESCALE)
    assert "trust_model=True" in str(info.value)
    assert "lambda" in str(info.value)
    x, ref = data((6,), np.float32)
    check_traced(kmodel, [x], [ref], convert_kwargs={"trust_model": True})


class WithCond(keras.layers.Layer):
    def call(self, x):
        return tf.cond(tf.reduce_sum(x) > 0, lambda: x, lambda: -x)


class WithWhile(keras.layers.Layer):
    def call(self, x):
        return tf.while_loop(lambda i, y: i < 3,
                             lambda i, y: (i + 1, y * 0.5),
                             (tf.constant(0), x))[1]


class WithCumprod(keras.layers.Layer):
    def call(self, x):
        return tf.math.cumprod(x, axis=1)


class WithRandom(keras.layers.Layer):
    def call(self, x):
        return x + tf.random.uniform(tf.shape(x))


@pytest.mark.parametrize("cls, op", [(WithCond, "If"),
                                     (WithWhile, "While"),
                                     (WithCumprod, "Cumprod"),
                                     (WithRandom, "RandomUniform")])
def test_unsupported_ops_are_listed(cls, op):
    """One UnsupportedLayerError naming the layer and the op (all the
    unsupported layers of the model in one error)."""
    set_policy(np.float32)
    inp = keras.Input((4,))
    a = cls(name="first_bad")(inp)
    b = WithCumprod(name="second_bad")(inp)
    kmodel = keras.Model(inp, keras.layers.Add()([a, b]))
    with pytest.raises(UnsupportedLayerError) as info:
        convert(kmodel, RESCALE)
    message = str(info.value)
    assert "first_bad" in message and op in message
    assert "second_bad" in message and "Cumprod" in message


def test_report_lists_traced_layers():
    from deeplift.conversion import report
    kmodel = model_of(lambda x: tf.nn.softmax(x) * x, (6,), np.float32)
    dl = convert(kmodel, RESCALE)
    rows = report.traced_rows(dl)
    assert len(rows) == 1
    name, cls, n_ops, counts = rows[0]
    assert cls == "OpsLayer" and counts["Softmax"] == 1 \
        and counts["Mul"] == 1 and n_ops == 2
    detail = [r for r in report.conversion_rows(dl) if r[1] == name][0][4]
    assert "traced" in detail and "Softmax" in detail


# Keras layers that have no converter, traced: (build(inputs...), shapes)
KERAS_LAYERS = {
    "Attention": (lambda q, v: keras.layers.Attention(
        use_scale=True, score_mode="concat")([q, v]), [(5, 4), (6, 4)]),
    "AdditiveAttention": (lambda q, v: keras.layers.AdditiveAttention()(
        [q, v]), [(5, 4), (6, 4)]),
    "GroupQueryAttention": (lambda q, v: keras.layers.GroupQueryAttention(
        head_dim=3, num_query_heads=4, num_key_value_heads=2)(q, v),
        [(5, 4), (6, 4)]),
    "UnitNormalization": (lambda x: keras.layers.UnitNormalization()(x),
                          [(5, 4)]),
    # tensordot reshapes (batch * 5, 4): shapes computed from the batch
    "SpectralNormalization": (lambda x: keras.layers.SpectralNormalization(
        keras.layers.Dense(3))(x), [(5, 4)]),
    "EinsumDense": (lambda x: keras.layers.EinsumDense(
        "abc,cd->abd", output_shape=(5, 3), bias_axes="d")(x), [(5, 4)]),
    "Dot": (lambda a, b: keras.layers.Dot(axes=2)([a, b]),
            [(5, 4), (6, 4)]),
    "Conv3D": (lambda x: keras.layers.Conv3D(2, 2)(x), [(3, 3, 3, 2)]),
}


@pytest.mark.parametrize("name", sorted(KERAS_LAYERS))
def test_keras_layers_without_converter(name):
    build, shapes = KERAS_LAYERS[name]
    dtype = np.float64
    set_policy(dtype)
    keras.utils.set_random_seed(0)
    ins = [keras.Input(s, dtype=dtype) for s in shapes]
    y = keras.layers.Dense(2)(keras.layers.Flatten()(build(*ins)))
    kmodel = keras.Model(ins if len(ins) > 1 else ins[0], y)
    xs, refs = zip(*[data(s, dtype, seed=i) for i, s in enumerate(shapes)])
    dl = check_traced(kmodel, list(xs), list(refs))
    assert any(isinstance(l, TracedLayer) for l in dl.all_layers())


@keras.saving.register_keras_serializable(package="tracing_test")
def mish(x):
    return x * tf.tanh(tf.nn.softplus(x))


def test_registered_activation_function_is_traced():
    """Activation and Dense layers with a registered activation function
    the converter does not know: traced (exact) instead of refused."""
    dtype = np.float64
    set_policy(dtype)
    keras.utils.set_random_seed(0)
    inp = keras.Input((6,), dtype=dtype)
    y = keras.layers.Dense(5, activation=mish)(inp)
    y = keras.layers.Activation(mish)(y)
    kmodel = keras.Model(inp, keras.layers.Dense(2)(y))
    x, ref = data((6,), dtype)
    dl = check_traced(kmodel, [x], [ref])
    assert [l.keras_class for l in dl.all_layers()
            if isinstance(l, TracedLayer)] == ["Dense", "Activation"]


@tf.function
def _nested(x):
    return tf.nn.relu(x) * 2.0 - tf.reduce_max(x, axis=1, keepdims=True)


def test_nested_tf_function_is_inlined():
    """A tf.function called inside a layer (a PartitionedCall op): its body
    is converted in place."""
    kmodel = model_of(lambda x: _nested(x) + 1.0, (6,), np.float64)
    x, ref = data((6,), np.float64)
    dl = check_traced(kmodel, [x], [ref])
    layer = [l for l in dl.all_layers() if isinstance(l, TracedLayer)][0]
    assert layer.op_counts["Relu"] == 1 and layer.op_counts["Max"] == 1
