"""Merge layers (Add, Subtract, Average, Multiply, Maximum, Minimum):
per-layer checks (see tests/layer_checks.py), hand-computed values, merges
between RevealCancel activations, and a gated (GLU-style) model with every
merge layer."""
import numpy as np
import pytest
import tensorflow as tf
import keras

import deeplift.layers as L
from tests.layer_checks import (  # noqa: F401 (fixture)
    restore_dtype_policy, check_layer_case, merge_case, engine,
    input_contribs, Twin, check_model_forward_and_gradient,
    check_model_summation_to_delta, RC, RESCALE)

CASES = {
    "add": merge_case("Add", (5, 3), (5, 3)),
    "add_broadcast": merge_case("Add", (5, 3), (1, 3), (5, 1)),
    "subtract": merge_case("Subtract", (4, 3), (4, 3)),
    "subtract_broadcast": merge_case("Subtract", (4, 3), (1, 3)),
    "average": merge_case("Average", (6,), (6,), (6,)),
    "multiply": merge_case("Multiply", (4, 3), (4, 3)),
    "multiply3": merge_case("Multiply", (7,), (7,), (7,)),
    "multiply_broadcast": merge_case("Multiply", (6, 4), (1, 4)),
    "maximum": merge_case("Maximum", (4, 3), (4, 3), (4, 3)),
    "minimum": merge_case("Minimum", (5, 2), (5, 2)),
    # lower ranks get size-1 axes after the batch axis, as Keras' Merge
    "multiply_rank": merge_case("Multiply", (4,), (6, 4)),
    "multiply_rank_first": merge_case("Multiply", (7, 3), (3,)),
    "multiply_rank3": merge_case("Multiply", (2,), (3, 5, 2), (5, 1)),
    "add_rank": merge_case("Add", (6, 4), (4,)),
    "subtract_rank": merge_case("Subtract", (4,), (6, 4)),
    # (not (5, 3) with (1,): Keras 3's TF ops.add takes the (5, 1, 1)
    # second operand for a bias when its one non-1 size, the batch of 5,
    # equals an axis of the first, and adds it along that axis)
    "average_rank": merge_case("Average", (4, 3), (1,)),
    "maximum_rank": merge_case("Maximum", (3,), (4, 3)),
    "minimum_rank": merge_case("Minimum", (4, 3), (3,)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_forward_gradient_and_summation(name):
    check_layer_case(CASES[name])


def test_multiply_two_factor_shapley_by_hand():
    a_in = L.Input(batch_shape=(None, 1), name="a")
    b_in = L.Input(batch_shape=(None, 1), name="b")
    mul = L.Multiply(nonlinear_mxts_mode=RESCALE).set_inputs([a_in, b_in])
    x = [tf.constant([[3.0]], tf.float64), tf.constant([[5.0]], tf.float64)]
    r = [tf.constant([[1.0]], tf.float64), tf.constant([[-1.0]], tf.float64)]
    states, mxts = engine([a_in, b_in], mul, x, r, np.ones((1, 1)))
    # d(ab) = 15 - (-1) = 16 = 2 * (5 - 1)/2 + 6 * (3 + 1)/2 = 4 + 12
    np.testing.assert_allclose(input_contribs(states, mxts, a_in), [[4.0]])
    np.testing.assert_allclose(input_contribs(states, mxts, b_in),
                               [[12.0]])


def test_maximum_credits_one_input():
    a_in = L.Input(batch_shape=(None, 1), name="a")
    b_in = L.Input(batch_shape=(None, 1), name="b")
    mx = L.Maximum().set_inputs([a_in, b_in])
    # x = (3, 1), ref = (0, 2): dy = 3 - 2 = 1 >= 0, credited to a (dx 3)
    x = [tf.constant([[3.0]], tf.float64), tf.constant([[1.0]], tf.float64)]
    r = [tf.constant([[0.0]], tf.float64), tf.constant([[2.0]], tf.float64)]
    states, mxts = engine([a_in, b_in], mx, x, r, np.ones((1, 1)))
    np.testing.assert_allclose(input_contribs(states, mxts, a_in), [[1.0]])
    np.testing.assert_allclose(input_contribs(states, mxts, b_in), [[0.0]])
    # dy < 0: credited to the reference's argmax (b, dx = -1)
    x = [tf.constant([[0.5]], tf.float64), tf.constant([[1.0]], tf.float64)]
    states, mxts = engine([a_in, b_in], mx, x, r, np.ones((1, 1)))
    np.testing.assert_allclose(input_contribs(states, mxts, a_in), [[0.0]])
    np.testing.assert_allclose(input_contribs(states, mxts, b_in), [[-1.0]])


def test_subtract_signs_by_hand():
    a_in = L.Input(batch_shape=(None, 2), name="a")
    b_in = L.Input(batch_shape=(None, 2), name="b")
    sub = L.Subtract().set_inputs([a_in, b_in])
    act = L.ReLU(nonlinear_mxts_mode=RC).set_inputs(sub)
    x = [tf.constant([[2.0, -1.0]], tf.float64),
         tf.constant([[3.0, -4.0]], tf.float64)]
    r = [tf.zeros((1, 2), tf.float64), tf.zeros((1, 2), tf.float64)]
    states, mxts = engine([a_in, b_in], act, x, r, np.ones((1, 2)))
    pos, neg = states[id(sub)].contribs
    np.testing.assert_allclose(pos.numpy(), [[2.0, 4.0]])
    np.testing.assert_allclose(neg.numpy(), [[-3.0, -1.0]])
    total = (input_contribs(states, mxts, a_in)
             + input_contribs(states, mxts, b_in)).sum()
    np.testing.assert_allclose(total, 3.0)   # relu(-1) + relu(3)


@pytest.mark.parametrize("cls", [L.Add, L.Subtract, L.Average, L.Multiply,
                                 L.Maximum, L.Minimum])
def test_merge_between_reveal_cancel_activations(cls):
    """Inputs whose contributions have both signs at once and distinct
    positive / negative multipliers coming back: still exact."""
    rng = np.random.RandomState(0)
    inp = L.Input(batch_shape=(None, 6), name="in")
    d1 = L.Dense(rng.randn(6, 4), rng.randn(4)).set_inputs(inp)
    d2 = L.Dense(rng.randn(6, 4), rng.randn(4)).set_inputs(inp)
    a1 = L.Tanh(nonlinear_mxts_mode=RC).set_inputs(d1)
    a2 = L.Sigmoid(nonlinear_mxts_mode=RC).set_inputs(d2)
    kwargs = ({} if cls in (L.Add, L.Subtract, L.Average)
              else dict(nonlinear_mxts_mode=RC))
    merged = cls(**kwargs).set_inputs([a1, a2])
    out = L.Tanh(nonlinear_mxts_mode=RC).set_inputs(merged)
    x, r = tf.constant(rng.randn(4, 6)), tf.constant(rng.randn(4, 6))
    states, mxts = engine([inp], out, [x], [r], np.ones((1, 4)))
    total = input_contribs(states, mxts, inp).sum(axis=1)
    np.testing.assert_allclose(total, states[id(out)].diff.numpy().sum(
        axis=1), rtol=0, atol=1e-12)


def gated(mode, dtype="float32"):
    t = Twin(mode, dtype)
    x = t.input((20, 4))
    a = t.conv1d("a", 6, 3, x)
    g = t.conv1d("g", 6, 3, x, act="sigmoid")
    g2 = t.conv1d("g2", 6, 5, x, act="tanh")
    h = t.simple("glu", keras.layers.Multiply(), L.Multiply(
        nonlinear_mxts_mode=mode), a, g)
    h3 = t.simple("glu3", keras.layers.Multiply(), L.Multiply(
        nonlinear_mxts_mode=mode), h, g2, a)
    r = t.conv1d("r", 5, 3, h, act="relu")
    s = t.conv1d("s", 5, 3, h3, act="tanh")
    mx = t.simple("max", keras.layers.Maximum(), L.Maximum(
        nonlinear_mxts_mode=mode), r, s)
    mn = t.simple("min", keras.layers.Minimum(), L.Minimum(
        nonlinear_mxts_mode=mode), r, s)
    d = t.simple("sub", keras.layers.Subtract(), L.Subtract(), mx, mn)
    avg = t.simple("avg", keras.layers.Average(), L.Average(), d, r, s)
    f = t.simple("flat", keras.layers.Flatten(), L.Flatten(), avg)
    out = t.dense("out", 3, f)
    return t, {"out": (out[0], [0, 1, 2])}


def test_gated_model_forward_and_gradient():
    check_model_forward_and_gradient(gated, (20, 4))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", [RESCALE, RC])
def test_gated_model_summation_to_delta(mode, dtype):
    check_model_summation_to_delta(gated, (20, 4), mode, dtype)


def _legnet_se(dtype):
    """CREsted LegNet's squeeze-excitation block: GlobalAveragePooling1D
    (no keepdims) -> Dense -> Dense(sigmoid), a (N, C) gate multiplied with
    the (N, L, C) feature map (Keras expands the gate at axis 1)."""
    keras.config.set_dtype_policy(dtype)
    keras.utils.set_random_seed(0)
    x = keras.Input((10, 4), dtype=dtype, name="input")
    h = keras.layers.Conv1D(8, 3, padding="same", activation="silu",
                            name="conv")(x)
    s = keras.layers.GlobalAveragePooling1D(name="gap")(h)
    s = keras.layers.Dense(4, activation="silu", name="se_down")(s)
    s = keras.layers.Dense(8, activation="sigmoid", name="se_up")(s)
    h = keras.layers.Multiply(name="se_scale")([h, s])
    h = keras.layers.Add(name="res")([s, h])
    h = keras.layers.Flatten(name="flat")(h)
    return keras.Model(x, keras.layers.Dense(3, name="out")(h))


@pytest.mark.parametrize("fmt,dtype", [("memory", "float32"),
                                       ("keras", "float32"),
                                       ("h5", "float32"),
                                       ("memory", "float64")])
def test_legnet_squeeze_excitation_converts(fmt, dtype, tmp_path):
    """Was ``Incompatible shapes: [4,8] vs. [4,10,8]`` in the converted
    forward pass: forward == Keras, Gradient == tape, Rescale and
    RevealCancel sum to delta."""
    from tests.layer_checks import randomized, converted_data, \
        check_converted
    kmodel = randomized(_legnet_se(dtype))
    check_converted(kmodel, *converted_data(kmodel, dtype), fmt, tmp_path,
                    "out_0", (0, 2))
