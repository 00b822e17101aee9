"""Merge, reshaping, extra convolution and extra activation layers.

Per layer (run eagerly through the engine's sweeps, float64): forward ==
Keras, Gradient-mode multipliers == tf.GradientTape, pos + neg
contributions == difference, and Rescale / RevealCancel contributions sum
to the output difference (the layer followed by a sigmoid, so that it gets
distinct positive and negative multipliers under RevealCancel).

Composite models (through GraphModel, compiled): a BPNet-like dilated
residual model with profile and counts heads, a 2-D ResNet block (BN,
ZeroPadding2D, Cropping2D, summation_to_delta max pooling), a gated
(GLU-style) model with every merge layer, and a dense model with every
activation and the reshaping layers.
"""
import numpy as np
import pytest
import tensorflow as tf
import keras

import deeplift.layers as L
from deeplift.layers import NonlinearMxtsMode as Mode
from deeplift.layers import activations_extra as AX
from deeplift.graph import topological_order, forward_sweep, backward_sweep
from deeplift.models import GraphModel
from deeplift.conversion.registry import (REGISTRY as EXTRA_CONVERTERS,
                                          ACTIVATIONS as EXTRA_ACTIVATIONS)
from tests.nets import random_data

RC, RESCALE, GRAD = Mode.RevealCancel, Mode.Rescale, Mode.Gradient


@pytest.fixture(autouse=True)
def _restore_dtype_policy():
    yield
    keras.config.set_dtype_policy("float32")


def _policy(dtype):
    keras.config.set_dtype_policy(np.dtype(dtype).name)


# --------------------------------------------------------------------------
# per-layer checks
# --------------------------------------------------------------------------

def _rand_weights(klayer, rng, scale=0.5):
    klayer.set_weights([rng.uniform(-1, 1, w.shape) * scale
                        for w in klayer.get_weights()])


def _engine(inputs, target, xs, refs, seed):
    order = topological_order([target])
    states = forward_sweep(order, dict(zip(inputs, xs)),
                           dict(zip(inputs, refs)))
    mxts = backward_sweep(order, states, target, seed)
    return states, mxts


def _input_contribs(states, mxts, layer):
    pos_m, neg_m = mxts[id(layer)]
    pos_c, neg_c = states[id(layer)].contribs
    return (pos_m * pos_c + neg_m * neg_c).numpy()


def _merge_case(name, *shapes):
    """A CASES entry of the merge layer ``name`` (the same in Keras and
    deeplift) taking inputs of ``shapes``."""
    dcls = getattr(L, name)
    if name in ("Multiply", "Maximum", "Minimum"):
        return (getattr(keras.layers, name),
                lambda w, m: dcls(nonlinear_mxts_mode=m), list(shapes))
    return getattr(keras.layers, name), lambda w, m: dcls(), list(shapes)


def _reshaping_case(name, shape, *args, **kwargs):
    """A CASES entry of the reshaping layer ``name`` (the same in Keras and
    deeplift) made with ``args`` and ``kwargs``, taking one input of
    ``shape``."""
    return (lambda: getattr(keras.layers, name)(*args, **kwargs),
            lambda w, m: getattr(L, name)(*args, **kwargs), [shape])


CASES = {
    # merges
    "add": _merge_case("Add", (5, 3), (5, 3)),
    "add_broadcast": _merge_case("Add", (5, 3), (1, 3), (5, 1)),
    "subtract": _merge_case("Subtract", (4, 3), (4, 3)),
    "subtract_broadcast": _merge_case("Subtract", (4, 3), (1, 3)),
    "average": _merge_case("Average", (6,), (6,), (6,)),
    "multiply": _merge_case("Multiply", (4, 3), (4, 3)),
    "multiply3": _merge_case("Multiply", (7,), (7,), (7,)),
    "multiply_broadcast": _merge_case("Multiply", (6, 4), (1, 4)),
    "maximum": _merge_case("Maximum", (4, 3), (4, 3), (4, 3)),
    "minimum": _merge_case("Minimum", (5, 2), (5, 2)),
    # reshaping
    "reshape": _reshaping_case("Reshape", (4, 3), (6, 2)),
    "reshape_minus1": _reshaping_case("Reshape", (2, 2, 3), (-1, 3)),
    "permute": _reshaping_case("Permute", (2, 3, 4), (3, 1, 2)),
    "cropping1d": _reshaping_case("Cropping1D", (8, 3), (1, 2)),
    "cropping2d": _reshaping_case("Cropping2D", (5, 6, 2),
                                  ((1, 0), (2, 1))),
    "cropping2d_cf": _reshaping_case("Cropping2D", (2, 5, 6), (1, 2),
                                     data_format="channels_first"),
    "zeropadding1d": _reshaping_case("ZeroPadding1D", (5, 3), (1, 2)),
    "zeropadding2d": _reshaping_case("ZeroPadding2D", (3, 4, 2),
                                     ((1, 0), (2, 1))),
    "zeropadding2d_cf": _reshaping_case("ZeroPadding2D", (2, 3, 4), 1,
                                        data_format="channels_first"),
    "upsampling1d": _reshaping_case("UpSampling1D", (4, 2), 3),
    "upsampling2d": _reshaping_case("UpSampling2D", (3, 2, 2), (2, 3)),
    "upsampling2d_cf": _reshaping_case("UpSampling2D", (2, 3, 2), 2,
                                       data_format="channels_first"),
    "repeatvector": _reshaping_case("RepeatVector", (5,), 3),
    # convolutions
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


def _setup(name, mode, dtype=np.float64, seed=0):
    kfactory, dfactory, shapes = CASES[name]
    rng = np.random.RandomState(seed)
    keras.utils.set_random_seed(seed)
    _policy(dtype)
    klayer = kfactory()
    xs = [rng.randn(5, *s).astype(dtype) for s in shapes]
    refs = [(0.3 * rng.randn(5, *s)).astype(dtype) for s in shapes]
    multi = len(shapes) > 1
    kin = [tf.constant(x) for x in xs]
    klayer(kin if multi else kin[0])  # build
    if klayer.get_weights():
        _rand_weights(klayer, rng)
    inputs = [L.Input(batch_shape=(None,) + s, name="in%d" % i)
              for i, s in enumerate(shapes)]
    layer = dfactory([w.astype(dtype) for w in klayer.get_weights()], mode)
    layer.set_inputs(inputs if multi else inputs[0])
    layer.build_fwd_pass_vars()
    return klayer, layer, inputs, xs, refs, multi


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_forward_gradient_and_summation(name):
    # forward (float32 and float64) and shape inference
    for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
        klayer, layer, inputs, xs, refs, multi = _setup(name, GRAD, dtype)
        kout = klayer([tf.constant(x) for x in xs] if multi
                      else tf.constant(xs[0])).numpy()
        out = layer.forward([tf.constant(x) for x in xs]).numpy()
        np.testing.assert_allclose(out, kout, rtol=tol, atol=tol)
        assert tuple(layer.get_shape()[1:]) == kout.shape[1:]

    # Gradient mode == tape
    klayer, layer, inputs, xs, refs, multi = _setup(name, GRAD)
    rng = np.random.RandomState(3)
    w = rng.randn(*((1,) + tuple(layer.get_shape()[1:])))
    kin = [tf.constant(x) for x in xs]
    with tf.GradientTape() as tape:
        for t in kin:
            tape.watch(t)
        total = tf.reduce_sum(w * klayer(kin if multi else kin[0]))
    grads = tape.gradient(total, kin)
    _, mxts = _engine(inputs, layer, [tf.constant(x) for x in xs],
                      [tf.constant(r) for r in refs], w)
    for inp, g in zip(inputs, grads):
        pos_m, neg_m = mxts[id(inp)]
        np.testing.assert_allclose(pos_m.numpy(), g.numpy(), rtol=1e-10,
                                   atol=1e-12)
        np.testing.assert_allclose(neg_m.numpy(), g.numpy(), rtol=1e-10,
                                   atol=1e-12)

    # summation to delta through layer -> sigmoid (Rescale with a shared
    # reference, RevealCancel with one reference per example)
    for mode, shared in ((RESCALE, True), (RC, False)):
        klayer, layer, inputs, xs, refs, multi = _setup(name, mode)
        if shared:
            refs = [r[:1] for r in refs]
        act = L.Sigmoid(nonlinear_mxts_mode=mode).set_inputs(layer)
        act.build_fwd_pass_vars()
        states, mxts = _engine(inputs, act,
                               [tf.constant(x) for x in xs],
                               [tf.constant(r) for r in refs], w)
        state = states[id(layer)]
        pos, neg = state.contribs
        np.testing.assert_allclose((pos + neg).numpy(),
                                   state.diff.numpy(), atol=1e-12)
        total = sum(_input_contribs(states, mxts, inp).reshape(
            5, -1).sum(axis=1) for inp in inputs)
        out = states[id(act)]
        delta = (w * out.diff.numpy()).reshape(5, -1).sum(axis=1)
        scale = sum(np.abs(_input_contribs(states, mxts, inp)).reshape(
            5, -1).sum(axis=1) for inp in inputs) + 1e-3
        np.testing.assert_allclose(total / scale, delta / scale,
                                   rtol=0, atol=1e-10)


def test_multiply_two_factor_shapley_by_hand():
    a_in = L.Input(batch_shape=(None, 1), name="a")
    b_in = L.Input(batch_shape=(None, 1), name="b")
    mul = L.Multiply(nonlinear_mxts_mode=RESCALE).set_inputs([a_in, b_in])
    x = [tf.constant([[3.0]], tf.float64), tf.constant([[5.0]], tf.float64)]
    r = [tf.constant([[1.0]], tf.float64), tf.constant([[-1.0]], tf.float64)]
    states, mxts = _engine([a_in, b_in], mul, x, r, np.ones((1, 1)))
    # d(ab) = 15 - (-1) = 16 = 2 * (5 - 1)/2 + 6 * (3 + 1)/2 = 4 + 12
    np.testing.assert_allclose(_input_contribs(states, mxts, a_in), [[4.0]])
    np.testing.assert_allclose(_input_contribs(states, mxts, b_in),
                               [[12.0]])


def test_maximum_credits_one_input():
    a_in = L.Input(batch_shape=(None, 1), name="a")
    b_in = L.Input(batch_shape=(None, 1), name="b")
    mx = L.Maximum().set_inputs([a_in, b_in])
    # x = (3, 1), ref = (0, 2): dy = 3 - 2 = 1 >= 0, credited to a (dx 3)
    x = [tf.constant([[3.0]], tf.float64), tf.constant([[1.0]], tf.float64)]
    r = [tf.constant([[0.0]], tf.float64), tf.constant([[2.0]], tf.float64)]
    states, mxts = _engine([a_in, b_in], mx, x, r, np.ones((1, 1)))
    np.testing.assert_allclose(_input_contribs(states, mxts, a_in), [[1.0]])
    np.testing.assert_allclose(_input_contribs(states, mxts, b_in), [[0.0]])
    # dy < 0: credited to the reference's argmax (b, dx = -1)
    x = [tf.constant([[0.5]], tf.float64), tf.constant([[1.0]], tf.float64)]
    states, mxts = _engine([a_in, b_in], mx, x, r, np.ones((1, 1)))
    np.testing.assert_allclose(_input_contribs(states, mxts, a_in), [[0.0]])
    np.testing.assert_allclose(_input_contribs(states, mxts, b_in), [[-1.0]])


def test_subtract_signs_by_hand():
    a_in = L.Input(batch_shape=(None, 2), name="a")
    b_in = L.Input(batch_shape=(None, 2), name="b")
    sub = L.Subtract().set_inputs([a_in, b_in])
    act = L.ReLU(nonlinear_mxts_mode=RC).set_inputs(sub)
    x = [tf.constant([[2.0, -1.0]], tf.float64),
         tf.constant([[3.0, -4.0]], tf.float64)]
    r = [tf.zeros((1, 2), tf.float64), tf.zeros((1, 2), tf.float64)]
    states, mxts = _engine([a_in, b_in], act, x, r, np.ones((1, 2)))
    pos, neg = states[id(sub)].contribs
    np.testing.assert_allclose(pos.numpy(), [[2.0, 4.0]])
    np.testing.assert_allclose(neg.numpy(), [[-3.0, -1.0]])
    total = (_input_contribs(states, mxts, a_in)
             + _input_contribs(states, mxts, b_in)).sum()
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
    states, mxts = _engine([inp], out, [x], [r], np.ones((1, 4)))
    total = _input_contribs(states, mxts, inp).sum(axis=1)
    np.testing.assert_allclose(total, states[id(out)].diff.numpy().sum(
        axis=1), rtol=0, atol=1e-12)


# --------------------------------------------------------------------------
# activations
# --------------------------------------------------------------------------

ACTIVATIONS = {
    "leaky_relu_layer": (lambda: keras.layers.LeakyReLU(negative_slope=0.15),
                         lambda m: AX.LeakyReLU(0.15, nonlinear_mxts_mode=m)),
    "elu_layer": (lambda: keras.layers.ELU(alpha=0.7),
                  lambda m: AX.ELU(0.7, nonlinear_mxts_mode=m)),
    "gelu_approximate": (
        lambda: keras.layers.Activation(
            lambda x: keras.activations.gelu(x, approximate=True)),
        lambda m: AX.GELU(approximate=True, nonlinear_mxts_mode=m)),
    "relu_general": (
        lambda: keras.layers.ReLU(max_value=1.5, threshold=0.2,
                                  negative_slope=0.1),
        lambda m: AX.ReLUGeneral(1.5, 0.2, 0.1, nonlinear_mxts_mode=m)),
    "relu_threshold": (
        lambda: keras.layers.ReLU(threshold=0.3),
        lambda m: AX.ReLUGeneral(threshold=0.3, nonlinear_mxts_mode=m)),
    "relu_max": (lambda: keras.layers.ReLU(max_value=1.0),
                 lambda m: AX.ReLUGeneral(max_value=1.0,
                                          nonlinear_mxts_mode=m)),
    "relu_leaky": (lambda: keras.layers.ReLU(negative_slope=0.2),
                   lambda m: AX.ReLUGeneral(negative_slope=0.2,
                                            nonlinear_mxts_mode=m)),
    "relu_slope_max6": (
        lambda: keras.layers.ReLU(max_value=6.0, negative_slope=0.2),
        lambda m: AX.ReLUGeneral(max_value=6.0, negative_slope=0.2,
                                 nonlinear_mxts_mode=m)),
}
for _name in sorted(AX.ACTIVATION_BY_NAME):
    if _name not in ("linear", "softmax"):
        ACTIVATIONS[_name] = (
            (lambda n: lambda: keras.layers.Activation(n))(_name),
            (lambda n: lambda m: AX.ACTIVATION_BY_NAME[n](m))(_name))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_matches_keras(name):
    kfactory, dfactory = ACTIVATIONS[name]
    rng = np.random.RandomState(0)
    x = np.concatenate([rng.randn(200) * 3, np.linspace(-7.9, 7.9, 41)])
    x = x[np.abs(x[:, None] - np.array([-3, 0, 0.2, -0.3, 1, 1.5, 3, 6])
                 ).min(axis=1) > 1e-3]
    layer = dfactory(GRAD)
    # Keras' leaky_relu rounds the slope to float32
    tol64 = 1e-7 if "leaky" in name else 1e-12
    for dtype, tol in ((np.float32, 2e-6), (np.float64, tol64)):
        xt = tf.constant(x.astype(dtype)[None])
        _policy(dtype)
        klayer = kfactory()
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = klayer(xt)
        grad = tape.gradient(y, xt)
        np.testing.assert_allclose(layer.f(xt).numpy(), y.numpy(),
                                   rtol=tol, atol=tol)
        # TF's own gelu gradient is accurate to ~1e-9 only
        gtol = max(tol * 10, 1e-7)
        np.testing.assert_allclose(layer.gradient(xt).numpy(),
                                   grad.numpy(), rtol=gtol, atol=gtol)


def test_activation_table():
    assert AX.ACTIVATION_BY_NAME["linear"](RESCALE) is None
    assert isinstance(AX.ACTIVATION_BY_NAME["relu6"](RESCALE),
                      AX.ReLUGeneral)
    assert AX.ACTIVATION_BY_NAME["leaky_relu"](RC).alpha == 0.2
    for name in ("elu", "selu", "gelu", "swish", "silu", "softplus",
                 "softsign", "hard_sigmoid", "exponential", "leaky_relu",
                 "relu6", "relu", "sigmoid", "tanh", "softmax", "linear"):
        assert name in AX.ACTIVATION_BY_NAME
        assert name in EXTRA_ACTIVATIONS


# --------------------------------------------------------------------------
# Embedding
# --------------------------------------------------------------------------

def test_embedding_forward_and_scores_at_embedding_output():
    rng = np.random.RandomState(0)
    kin = keras.Input((6,), dtype="int32")
    emb = keras.layers.Embedding(10, 4)
    h = keras.layers.Flatten()(emb(kin))
    dense = keras.layers.Dense(3)
    out = dense(h)
    kmodel = keras.Model(kin, out)
    _rand_weights(emb, rng, 1.0)
    _rand_weights(dense, rng)
    ids = rng.randint(0, 10, size=(7, 6))
    inp = L.Input(batch_shape=(None, 6), name="ids")
    e = L.Embedding(emb.get_weights()[0], name="emb").set_inputs(inp)
    f = L.Flatten(name="flat").set_inputs(e)
    d = L.Dense(*dense.get_weights(), name="dense").set_inputs(f)
    model = GraphModel({"ids": inp, "emb": e, "flat": f, "dense": d},
                       ["ids"])
    pred = model.get_prediction_function(["ids"], "dense")
    np.testing.assert_allclose(pred([ids.astype(np.float32)]),
                               kmodel.predict(ids, verbose=0), atol=1e-5)
    func = model.get_target_contribs_func(
        find_scores_layer_name="emb",
        pre_activation_target_layer_name="dense")
    ref = np.zeros((1, 6))   # token 0 as the reference
    delta = kmodel(ids).numpy() - kmodel(np.zeros((1, 6), "int32")).numpy()
    for task in range(3):
        c = func(task_idx=task, input_data_list=[ids.astype(np.float64)],
                 input_references_list=[ref], batch_size=4)
        assert c.shape == (7, 6, 4)
        np.testing.assert_allclose(c.reshape(7, -1).sum(axis=1),
                                   delta[:, task], rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------
# composite models
# --------------------------------------------------------------------------

class Twin(object):
    """Builds a Keras functional model and the matching deeplift graph."""

    def __init__(self, mode, dtype="float32", seed=0,
                 maxpool_mode="summation_to_delta"):
        self.mode = mode
        self.dtype = dtype
        self.rng = np.random.RandomState(seed)
        keras.utils.set_random_seed(seed)
        _policy(dtype)
        self.maxpool_mode = "gradient" if mode == GRAD else maxpool_mode
        self.layers = {}
        self.inputs = []

    def input(self, shape, name="input"):
        k = keras.Input(shape, dtype=self.dtype, name=name)
        d = L.Input(batch_shape=(None,) + tuple(shape), name=name)
        self.layers[name] = d
        self.inputs.append((k, d))
        return k, d

    def __call__(self, name, klayer, dfactory, *ins, randomize=True):
        kins = [i[0] for i in ins]
        kout = klayer(kins if len(ins) > 1 else kins[0])
        weights = klayer.get_weights()
        if weights and randomize:
            _rand_weights(klayer, self.rng)
            weights = klayer.get_weights()
        d = dfactory(weights)
        d.name = name
        d.set_inputs([i[1] for i in ins] if len(ins) > 1 else ins[0][1])
        self.layers[name] = d
        return kout, d

    def act(self, name, kname, x, dl=None):
        dl = dl or AX.ACTIVATION_BY_NAME[kname]
        return self(name, keras.layers.Activation(kname, dtype=self.dtype),
                    lambda w: dl(self.mode), x)

    def dense(self, name, units, x, act=None):
        y = self(name, keras.layers.Dense(units, dtype=self.dtype),
                 lambda w: L.Dense(*w), x)
        return self.act(name + "_act", act, y) if act else y

    def conv1d(self, name, filters, width, x, dilation=1, act=None,
               padding="same"):
        y = self(name, keras.layers.Conv1D(filters, width, padding=padding,
                                           dilation_rate=dilation,
                                           dtype=self.dtype),
                 lambda w: L.Conv1D(w[0], w[1], stride=1, padding=padding,
                                    dilation=dilation), x)
        return self.act(name + "_act", act, y) if act else y

    def conv2d(self, name, filters, size, x, padding="same", act=None):
        y = self(name, keras.layers.Conv2D(filters, size, padding=padding,
                                           dtype=self.dtype),
                 lambda w: L.Conv2D(w[0], w[1], strides=1, padding=padding),
                 x)
        return self.act(name + "_act", act, y) if act else y

    def bn(self, name, x):
        k, d = x
        kl = keras.layers.BatchNormalization(epsilon=1e-3, dtype=self.dtype)
        kout = kl(k)
        ch = kl.get_weights()[0].shape[0]
        params = [self.rng.uniform(-1.5, 1.5, ch), self.rng.randn(ch) * 0.2,
                  self.rng.randn(ch) * 0.2, self.rng.uniform(0.5, 2.0, ch)]
        kl.set_weights(params)
        layer = L.BatchNormalization(*params[:2], axis=-1, mean=params[2],
                                     var=params[3], epsilon=1e-3, name=name)
        layer.set_inputs(d)
        self.layers[name] = layer
        return kout, layer

    def simple(self, name, klayer, dlayer, *ins):
        return self(name, klayer, lambda w: dlayer, *ins)

    def graph(self):
        model = GraphModel(self.layers, [d.get_name()
                                         for _, d in self.inputs])
        return model


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


def dense_acts(mode, dtype="float32"):
    """Every activation on its own branch (a deep chain of squashing
    activations would leave differences too small to test in float32);
    slopes are exact in float32, as Keras' leaky_relu rounds them."""
    t = Twin(mode, dtype)
    x = t.input((8,))
    h0 = t.dense("d0", 8, x)
    branches = []
    for name, klayer, dl in [
            ("leaky", keras.layers.LeakyReLU(negative_slope=0.125),
             AX.LeakyReLU(0.125, nonlinear_mxts_mode=mode)),
            ("elu_l", keras.layers.ELU(alpha=0.5),
             AX.ELU(0.5, nonlinear_mxts_mode=mode)),
            ("relu_g", keras.layers.ReLU(max_value=1.25, threshold=0.25,
                                         negative_slope=0.375),
             AX.ReLUGeneral(1.25, 0.25, 0.375, nonlinear_mxts_mode=mode)),
            ("gelu_t", keras.layers.Activation(
                lambda v: keras.activations.gelu(v, approximate=True)),
             AX.GELU(True, nonlinear_mxts_mode=mode))]:
        b = t.dense(name + "_dense", 4, h0)
        branches.append(t.simple(name, klayer, dl, b))
    for i, act in enumerate(["elu", "selu", "gelu", "swish", "silu",
                             "softplus", "softsign", "hard_sigmoid",
                             "exponential", "relu6", "tanh", "sigmoid"]):
        branches.append(t.dense("dense%d" % i, 4, h0, act=act))
    h = t.simple("cat", keras.layers.Concatenate(), L.Concat(axis=-1),
                 *branches)
    h = t.dense("pre_rep", 6, h)
    h = t.simple("rep", keras.layers.RepeatVector(2), L.RepeatVector(2), h)
    h = t.simple("reshape", keras.layers.Reshape((3, 4)), L.Reshape((3, 4)),
                 h)
    h = t.simple("permute", keras.layers.Permute((2, 1)),
                 L.Permute((2, 1)), h)
    h = t.simple("up", keras.layers.UpSampling1D(2), L.UpSampling1D(2), h)
    h = t.simple("zpad", keras.layers.ZeroPadding1D(1),
                 L.ZeroPadding1D(1), h)
    h = t.simple("flat", keras.layers.Flatten(), L.Flatten(), h)
    out = t.dense("out", 3, h)
    return t, {"out": (out[0], [0, 1, 2])}


MODELS = {"bpnet": (bpnet, (40, 4)), "resnet2d": (resnet2d, (10, 10, 3)),
          "gated": (gated, (20, 4)), "dense_acts": (dense_acts, (8,))}


@pytest.mark.parametrize("net", sorted(MODELS))
def test_model_forward_and_gradient(net):
    builder, shape = MODELS[net]
    t, heads = builder(GRAD)
    model = t.graph()
    kin = t.inputs[0][0]
    x, ref = random_data(shape, n=5)
    for head, (kout, tasks) in heads.items():
        kmodel = keras.Model(kin, kout)
        pred = model.get_prediction_function(["input"], head)
        np.testing.assert_allclose(pred([x], batch_size=3),
                                   kmodel.predict(x, verbose=0),
                                   rtol=1e-4, atol=1e-5)
        func = model.get_target_multipliers_func(
            find_scores_layer_name="input",
            pre_activation_target_layer_name=head)
        xt = tf.constant(x)
        for task in tasks:
            with tf.GradientTape() as tape:
                tape.watch(xt)
                y = kmodel(xt)[:, task]
            grad = tape.gradient(y, xt).numpy()
            mult = func(task_idx=task, input_data_list=[x],
                        input_references_list=[ref], batch_size=3)
            np.testing.assert_allclose(mult, grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", [RESCALE, RC])
@pytest.mark.parametrize("net", sorted(MODELS))
def test_model_summation_to_delta(net, mode, dtype):
    builder, shape = MODELS[net]
    t, heads = builder(mode, "float64" if dtype == np.float64
                       else "float32")
    model = t.graph()
    kin = t.inputs[0][0]
    x, ref = random_data(shape, n=5, dtype=dtype)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    for head, (kout, tasks) in heads.items():
        kmodel = keras.Model(kin, kout)
        delta = kmodel(x).numpy() - kmodel(ref).numpy()
        func = model.get_target_contribs_func(
            find_scores_layer_name="input",
            pre_activation_target_layer_name=head)
        for task in tasks:
            c = func(task_idx=task, input_data_list=[x],
                     input_references_list=[ref], batch_size=5)
            assert c.dtype == dtype
            total = c.reshape(len(x), -1).sum(axis=1)
            scale = np.abs(c).reshape(len(x), -1).sum(axis=1) + 1e-3
            np.testing.assert_allclose(total / scale,
                                       delta[:, task] / scale, rtol=0,
                                       atol=tol)


# --------------------------------------------------------------------------
# converters
# --------------------------------------------------------------------------

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
     [(4, 4, 2)], [L.Conv2DTranspose, AX.GELU]),
    (lambda: keras.layers.SeparableConv1D(2, 3, activation="swish"),
     [(6, 2)], [L.SeparableConv1D, AX.Swish]),
    (lambda: keras.layers.DepthwiseConv2D(3, use_bias=False),
     [(4, 4, 2)], [L.DepthwiseConv2D]),
    (lambda: keras.layers.LeakyReLU(negative_slope=0.2), [(3,)],
     [AX.LeakyReLU]),
    (lambda: keras.layers.ReLU(max_value=6.0), [(3,)], [AX.ReLUGeneral]),
    (lambda: keras.layers.ReLU(), [(3,)], [L.ReLU]),
    (lambda: keras.layers.Activation("hard_sigmoid"), [(3,)],
     [AX.HardSigmoid]),
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
