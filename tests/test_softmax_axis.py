"""Softmax over a middle axis, traced (tf.nn.softmax(x, axis=k) is a
Transpose, a Softmax and the same Transpose in TensorFlow's graph): one
:class:`deeplift.layers.traced.SoftmaxOp` over axis k, no transpose node.

Checks (tests/tracing_checks.py, tolerances and their reasons there):
forward == Keras, Gradient == tf.GradientTape, Rescale and RevealCancel
sum to the output difference, float32 and float64; Rescale's scores equal
those of the same softmax over the last axis (the transposes moved
outside the traced layer), which the transposes cannot change.
"""
import numpy as np
import pytest
import tensorflow as tf
import keras

from deeplift.layers.traced import TracedLayer, SoftmaxOp, LinearOp
from tests.tracing_checks import (  # noqa: F401 (fixture)
    float32_policy, OpsLayer, check_traced, convert, run_engine,
    contributions, set_policy, data, RESCALE)


def pooling(x):
    """Enformer's attention pooling on (batch, 6, 3): windows of 2
    positions, softmax over the window axis (axis 2 of (batch, 3, 2,
    3))."""
    w = tf.reshape(x * 1.5 - 0.2, (-1, 3, 2, 3))
    return tf.reduce_sum(tf.reshape(x, (-1, 3, 2, 3))
                         * keras.ops.softmax(w, axis=2), axis=2)


def middle(x):
    """softmax and log-softmax over axis 1 of a (batch, 4, 3) tensor
    (rows of 4)."""
    return tf.concat([tf.nn.softmax(x, axis=1),
                      tf.nn.log_softmax(x, axis=1)], axis=2)


def model_of(fn, shape, dtype):
    set_policy(dtype)
    keras.utils.set_random_seed(0)
    inp = keras.Input(shape, dtype=dtype)
    y = OpsLayer(fn, dtype=dtype)(inp)
    y = keras.layers.Dense(3, dtype=dtype)(keras.layers.Flatten(
        dtype=dtype)(y))
    return keras.Model(inp, y)


def inner_nodes(dl):
    traced = [l for l in dl.all_layers() if isinstance(l, TracedLayer)]
    assert len(traced) == 1
    return traced[0].inner_layers()


@pytest.mark.parametrize("fn,shape,axes", [(pooling, (6, 3), [2]),
                                           (middle, (4, 3), [1, 1])])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_middle_axis(fn, shape, axes, dtype):
    kmodel = model_of(fn, shape, dtype)
    x, ref = data(shape, dtype)
    dl = check_traced(kmodel, [x], [ref], grad=dtype == np.float64)
    nodes = inner_nodes(dl)
    assert sorted(n.axis for n in nodes if isinstance(n, SoftmaxOp)) == axes
    # neither transpose of tf.nn.softmax(axis=k) is left in the graph
    assert not [n for n in nodes if isinstance(n, LinearOp)
                and getattr(n.call, "op_type", None) == "Transpose"]


def test_softmax_middle_axis_equals_last_axis():
    """Rescale scores of a softmax over axis 1 equal those of the same
    model written with explicit transposes around a last-axis softmax
    (float64: the decomposition is the same, so only rounding differs)."""
    dtype = np.float64

    def last(x):
        t = tf.transpose(x, (0, 2, 1))
        return tf.concat([tf.transpose(tf.nn.softmax(t), (0, 2, 1)),
                          tf.transpose(tf.nn.log_softmax(t), (0, 2, 1))],
                         axis=2)
    x, ref = data((4, 3), dtype, scale=3.0)
    scores = []
    for fn in (middle, last):
        kmodel = model_of(fn, (4, 3), dtype)
        dl = convert(kmodel, RESCALE)
        w = np.ones((1, 3), dtype)
        states, mxts, inputs, _ = run_engine(dl, [x], [ref], w)
        scores.append(contributions(states, mxts, inputs[0]))
    np.testing.assert_allclose(scores[0], scores[1], rtol=1e-12,
                               atol=1e-12)
    assert np.abs(scores[0]).max() > 1e-3   # (not trivially zero)


def test_transpose_of_a_transpose_cancels():
    """Transpose pairs that are not around a softmax: still exact; the
    pairs that undo each other leave no node, the last transpose (of the
    input itself, which no transpose made) is kept."""
    dtype = np.float64

    def fn(x):
        t = tf.transpose(x, (0, 2, 1))
        return tf.concat([tf.transpose(t, (0, 2, 1)) * 2.0,
                          tf.transpose(tf.transpose(t, (0, 2, 1)),
                                       (0, 2, 1))[:, :3, :]], axis=1)
    kmodel = model_of(fn, (3, 3), dtype)
    x, ref = data((3, 3), dtype)
    dl = check_traced(kmodel, [x], [ref])
    kinds = [n.call.op_type for n in inner_nodes(dl)
             if isinstance(n, LinearOp) and hasattr(n.call, "op_type")]
    assert kinds.count("Transpose") == 1, kinds


def test_softmax_op_batch_axis_refused():
    op = SoftmaxOp(axis=0, name="s")
    with pytest.raises(ValueError, match="batch axis"):
        op.forward([tf.zeros((2, 3))])


def test_reshape_of_the_input_by_its_batch_size():
    """A node whose data operand is the layer's input and whose shape
    comes from the input's batch size takes the input twice: the
    multipliers count it once (Gradient == tape)."""
    kmodel = model_of(lambda x: tf.reshape(x, (tf.shape(x)[0], 2, 6)) * 2.0,
                      (3, 4), np.float64)
    x, ref = data((3, 4), np.float64)
    check_traced(kmodel, [x], [ref])
