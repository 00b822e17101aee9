"""RevealCancel where ``f`` is undefined (or overflows) at the points the
rule evaluates it, ``ref + Δ⁺`` and ``ref + Δ⁻`` (issue 18): Rsqrt of a
traced LayerNormalization's variance, Log / Sqrt / Rsqrt / Reciprocal of a
traced custom layer, native Sqrt and InverseSqrt layers, and a traced
attention block (its softmax).

Each model here gave NaN scores under the old rule (the test checks that
the old formula, :func:`deeplift.rules.activation._reveal_cancel_math`, is
not finite on the case).  Now: finite scores, summation to delta (float64
1e-10 of the output scale; float32 1e-4: rounding, which the float64 run
separates from rule errors), the old numbers on every unit where the old
formula was finite, and Rescale's numbers (never the gradient's) on the
others.
"""
import numpy as np
import pytest
import tensorflow as tf
import keras

from deeplift.layers import NonlinearMxtsMode as Mode
from deeplift.layers.arithmetic import Sqrt
from deeplift.layers.core import Dense
from deeplift.layers.normalization import InverseSqrt
from deeplift.layers.traced import TracedLayer, ElementwiseOp
from deeplift.rules.activation import _reveal_cancel_math, rescale_factor
from deeplift.graph import topological_order, forward_sweep, backward_sweep
import deeplift.layers as layers
from tests.tracing_checks import (  # noqa: F401 (fixture)
    float32_policy, check_traced, convert, run_engine, contributions,
    set_policy, RC, RESCALE)


class WrappedLayerNorm(keras.layers.Layer):
    """Keras' LayerNormalization inside a layer without a converter: traced
    (its variance is ``mean(x²) - mean(x)²``, ``keras.ops.moments``)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.norm = keras.layers.LayerNormalization(dtype=self.dtype_policy)

    def build(self, shape):
        self.norm.build(shape)

    def call(self, x):
        return self.norm(x)

    def get_config(self):  # in memory only
        return super().get_config()


class DomainOps(keras.layers.Layer):
    """Log, Sqrt, Rsqrt and Reciprocal of ``mean(x²) - mean(x)² + 0.01``
    (positive, but the difference of two varying terms: its negative part
    goes below zero)."""

    def call(self, x):
        v = (tf.reduce_mean(tf.square(x), -1, keepdims=True)
             - tf.square(tf.reduce_mean(x, -1, keepdims=True)) + 0.01)
        return tf.concat([tf.math.log(v), tf.sqrt(v), tf.math.rsqrt(v),
                          tf.math.reciprocal(v)], -1)

    def get_config(self):
        return super().get_config()


class Attention(keras.layers.Layer):
    """Single-head self-attention, ``softmax(q kᵀ) v`` (traced)."""

    def build(self, shape):
        self.wq, self.wk, self.wv = [self.add_weight(
            shape=(shape[-1], 4), initializer="glorot_uniform", name=n)
            for n in "qkv"]

    def call(self, x):
        q, k, v = x @ self.wq, x @ self.wk, x @ self.wv
        a = tf.nn.softmax(tf.einsum("btd,bsd->bts", q, k), axis=-1)
        return tf.einsum("bts,bsd->btd", a, v)

    def get_config(self):
        return super().get_config()


def _dense_model(block, shape, dtype):
    set_policy(dtype)
    keras.utils.set_random_seed(0)
    inp = keras.Input(shape, dtype=dtype)
    h = block(dtype=dtype)(keras.layers.Dense(shape[-1] + 2,
                                              dtype=dtype)(inp))
    out = keras.layers.Dense(2, dtype=dtype)(keras.layers.Flatten(
        dtype=dtype)(h))
    return keras.Model(inp, out)


def _data(shape, dtype, scale=3.0):
    rng = np.random.RandomState(0)
    x = (scale * rng.randn(8, *shape)).astype(dtype)
    ref = (0.3 * rng.randn(1, *shape)).astype(dtype)
    return x, ref


def _old_and_new(node, state):
    """The old formula's four tensors at ``node`` and the rule's."""
    pos_in, neg_in = state.input.contribs
    old = _reveal_cancel_math(node.f, False)(state.input.ref, pos_in, neg_in)
    new = state.cache["reveal_cancel"]
    return [t.numpy() for t in old], [t.numpy() for t in new]


def _check_units(node, state):
    """Where the old formula is finite the rule gives its numbers, elsewhere
    Rescale's; returns the number of units outside the domain."""
    old, new = _old_and_new(node, state)
    finite = np.all([np.isfinite(t) for t in old], axis=0)
    for o, n in zip(old, new):
        assert np.all(np.isfinite(n))
        np.testing.assert_array_equal(n[finite], o[finite])
    scale = (rescale_factor(node, state) + tf.zeros_like(
        state.input.contribs[0])).numpy()
    pos_in, neg_in = [t.numpy() for t in state.input.contribs]
    np.testing.assert_array_equal(new[0][~finite], (pos_in * scale)[~finite])
    np.testing.assert_array_equal(new[1][~finite], (neg_in * scale)[~finite])
    np.testing.assert_array_equal(new[2][~finite], scale[~finite])
    np.testing.assert_array_equal(new[3][~finite], scale[~finite])
    return int((~finite).sum())


def _traced_elementwise_states(dl, x, ref):
    """``[(node, state)]`` of the RevealCancel elementwise nodes inside the
    traced layers of ``dl`` (after a sweep on ``x``, ``ref``)."""
    out = dl.output_layers()[0]
    states, _, _, _ = run_engine(dl, [x], [np.broadcast_to(
        ref, x.shape).copy()], np.ones((1,) + tuple(out.get_shape()[1:])))
    found = []
    for layer in dl.all_layers():
        if isinstance(layer, TracedLayer) and id(layer) in states:
            inner = states[id(layer)].cache["inner"]
            for node in layer.inner_layers():
                if isinstance(node, ElementwiseOp) and id(node) in inner \
                        and "reveal_cancel" in inner[id(node)].cache:
                    found.append((node, inner[id(node)]))
    return found


@pytest.mark.parametrize("block,ops", [
    (WrappedLayerNorm, {"Rsqrt"}),
    # (Reciprocal is finite past its pole, 1/z < 0: the old numbers are
    # kept there, see docs/guide/rules.md)
    (DomainOps, {"Log", "Sqrt", "Rsqrt"})])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_traced_domain_limited_ops(block, ops, dtype):
    kmodel = _dense_model(block, (6,), dtype)
    x, ref = _data((6,), dtype)
    # forward, gradient, summation to delta (tolerances: tracing_checks)
    check_traced(kmodel, [x], [ref], modes=(RC,), grad=False)
    dl = convert(kmodel, RC)
    outside = {}
    for node, state in _traced_elementwise_states(dl, x, ref):
        outside[node.op_type] = outside.get(node.op_type, 0) + \
            _check_units(node, state)
    assert ops <= set(outside)
    if block is DomainOps:
        assert outside["Reciprocal"] == 0
    # the old formula was undefined on some units of every such op
    assert all(outside[op] > 0 for op in ops), outside


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_attention_softmax(dtype):
    """The traced softmax's exp and log follow Rescale under RevealCancel
    (RevealCancel's exp at ``ref + Δ⁺`` reached e^19 and, summed, put the
    log's argument at -1e8 on Borzoi): the only nonlinearity of this block
    is the softmax, so RevealCancel's scores equal Rescale's."""
    kmodel = _dense_model(Attention, (5, 3), dtype)
    x, ref = _data((5, 3), dtype)
    check_traced(kmodel, [x], [ref], modes=(RESCALE, RC), grad=False)
    scores = {}
    for mode in (RESCALE, RC):
        dl = convert(kmodel, mode)
        states, mxts, inputs, _ = run_engine(
            dl, [x], [np.broadcast_to(ref, x.shape).copy()],
            np.ones((1, 2), dtype))
        scores[mode] = contributions(states, mxts, inputs[0])
        assert np.all(np.isfinite(scores[mode]))
    np.testing.assert_array_equal(scores[RC], scores[RESCALE])


@pytest.mark.parametrize("cls", [Sqrt, InverseSqrt])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_native_activation(cls, dtype):
    """``f(x1 - x2 + 1)`` at x = (5, 5), reference (0, 0): the unit does
    not move (Δ⁺ = 5, Δ⁻ = -5), and ``ref + Δ⁻ = -4`` is outside the
    domain of sqrt and rsqrt.  Rescale's split there: the derivative at
    the reference times ±5 (exact: the output does not move); the other
    example (x = (0.5, 0.2)) stays inside the domain and keeps
    RevealCancel's numbers."""
    inp = layers.Input(batch_shape=(None, 2), name="x")
    lin = Dense(kernel=np.array([[1.0], [-1.0]]), bias=np.ones(1),
                name="lin").set_inputs(inp)
    act = (cls(nonlinear_mxts_mode=Mode.RevealCancel, name="f")
           if cls is Sqrt else cls(0.0, nonlinear_mxts_mode=Mode.RevealCancel,
                                   name="f")).set_inputs(lin)
    act.build_fwd_pass_vars()
    x = np.array([[5.0, 5.0], [0.5, 0.2]], dtype)
    ref = np.zeros_like(x)
    order = topological_order([act])
    states = forward_sweep(order, {inp: tf.constant(x)},
                           {inp: tf.constant(ref)})
    mxts = backward_sweep(order, states, act, np.ones((1, 1), dtype))
    pos_m, neg_m = mxts[id(inp)]
    pos_c, neg_c = states[id(inp)].contribs
    scores = (pos_m * pos_c + neg_m * neg_c).numpy()
    assert np.all(np.isfinite(scores))
    y, y0 = states[id(act)].act.numpy(), states[id(act)].ref.numpy()
    tol = 1e-12 if dtype == np.float64 else 1e-6   # rounding of O(1) terms
    np.testing.assert_allclose(scores.sum(1), (y - y0)[:, 0], rtol=0,
                               atol=tol)
    slope = 0.5 if cls is Sqrt else -0.5          # f'(1) of sqrt, rsqrt
    np.testing.assert_allclose(scores[0], [5 * slope, -5 * slope], rtol=tol)
    # in the domain: the RevealCancel formula by hand (u0 = 1, Δ⁺ = 0.5
    # from x1, Δ⁻ = -0.2 from x2)
    f = np.sqrt if cls is Sqrt else (lambda u: 1 / np.sqrt(u))
    pos = 0.5 * ((f(1.5) - f(1.0)) + (f(1.3) - f(0.8)))
    neg = 0.5 * ((f(0.8) - f(1.0)) + (f(1.3) - f(1.5)))
    np.testing.assert_allclose(scores[1], [pos, neg], rtol=tol)
    assert _check_units(act, states[id(act)]) == 1


def test_compiled_scoring_path():
    """The fallback is graph-safe: the scoring function (a tf.function)
    gives the eager sweep's finite scores."""
    kmodel = _dense_model(DomainOps, (6,), np.float32)
    x, ref = _data((6,), np.float32)
    refs = np.broadcast_to(ref, x.shape).copy()
    dl = convert(kmodel, RC)
    func = dl.get_target_contribs_func(
        find_scores_layer_name=dl.get_input_layer_names()[0],
        pre_activation_target_layer_name=dl.output_layers()[0].get_name())
    got = func(task_idx=0, input_data_list=[x], input_references_list=[refs],
               batch_size=8, progress_update=None)
    states, mxts, inputs, _ = run_engine(dl, [x], [refs],
                                         np.array([[1.0, 0.0]], np.float32))
    want = contributions(states, mxts, inputs[0])
    assert np.all(np.isfinite(got))
    # the same ops compiled into one graph: float32 rounding at most
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)
