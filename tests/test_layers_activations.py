"""Activations: each against Keras' function and tape gradient (float32,
float64), the name table, and a dense model with every activation on its
own branch (plus Concatenate and the 1-D reshaping layers)."""
import numpy as np
import pytest
import tensorflow as tf
import keras

import deeplift.layers as L
from deeplift.layers import activations as A
from deeplift.conversion.registry import ACTIVATIONS as EXTRA_ACTIVATIONS
from tests.layer_checks import (  # noqa: F401 (fixture)
    restore_dtype_policy, policy, Twin, check_model_forward_and_gradient,
    check_model_summation_to_delta, RC, RESCALE, GRAD)

ACTIVATIONS = {
    "leaky_relu_layer": (lambda: keras.layers.LeakyReLU(negative_slope=0.15),
                         lambda m: A.LeakyReLU(0.15, nonlinear_mxts_mode=m)),
    "elu_layer": (lambda: keras.layers.ELU(alpha=0.7),
                  lambda m: A.ELU(0.7, nonlinear_mxts_mode=m)),
    "gelu_approximate": (
        lambda: keras.layers.Activation(
            lambda x: keras.activations.gelu(x, approximate=True)),
        lambda m: A.GELU(approximate=True, nonlinear_mxts_mode=m)),
    "relu_general": (
        lambda: keras.layers.ReLU(max_value=1.5, threshold=0.2,
                                  negative_slope=0.1),
        lambda m: A.ReLUGeneral(1.5, 0.2, 0.1, nonlinear_mxts_mode=m)),
    "relu_threshold": (
        lambda: keras.layers.ReLU(threshold=0.3),
        lambda m: A.ReLUGeneral(threshold=0.3, nonlinear_mxts_mode=m)),
    "relu_max": (lambda: keras.layers.ReLU(max_value=1.0),
                 lambda m: A.ReLUGeneral(max_value=1.0,
                                          nonlinear_mxts_mode=m)),
    "relu_leaky": (lambda: keras.layers.ReLU(negative_slope=0.2),
                   lambda m: A.ReLUGeneral(negative_slope=0.2,
                                            nonlinear_mxts_mode=m)),
    "relu_slope_max6": (
        lambda: keras.layers.ReLU(max_value=6.0, negative_slope=0.2),
        lambda m: A.ReLUGeneral(max_value=6.0, negative_slope=0.2,
                                 nonlinear_mxts_mode=m)),
}
for _name in sorted(A.ACTIVATION_BY_NAME):
    if _name not in ("linear", "softmax"):
        ACTIVATIONS[_name] = (
            (lambda n: lambda: keras.layers.Activation(n))(_name),
            (lambda n: lambda m: A.ACTIVATION_BY_NAME[n](m))(_name))


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
        policy(dtype)
        klayer = kfactory()
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = klayer(xt)
        grad = tape.gradient(y, xt)
        np.testing.assert_allclose(layer.f(xt).numpy(), y.numpy(),
                                   rtol=tol, atol=tol)
        # derivatives re-associate the forward's operations: 10x its bar
        gtol = tol * 10
        np.testing.assert_allclose(layer.gradient(xt).numpy(),
                                   grad.numpy(), rtol=gtol, atol=gtol)


def test_activation_table():
    assert A.ACTIVATION_BY_NAME["linear"](RESCALE) is None
    assert isinstance(A.ACTIVATION_BY_NAME["relu6"](RESCALE),
                      A.ReLUGeneral)
    assert A.ACTIVATION_BY_NAME["leaky_relu"](RC).alpha == 0.2
    for name in ("elu", "selu", "gelu", "swish", "silu", "softplus",
                 "softsign", "hard_sigmoid", "hard_silu", "hard_swish",
                 "exponential", "leaky_relu",
                 "relu6", "relu", "sigmoid", "tanh", "softmax", "linear"):
        assert name in A.ACTIVATION_BY_NAME
        assert name in EXTRA_ACTIVATIONS


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
             A.LeakyReLU(0.125, nonlinear_mxts_mode=mode)),
            ("elu_l", keras.layers.ELU(alpha=0.5),
             A.ELU(0.5, nonlinear_mxts_mode=mode)),
            ("relu_g", keras.layers.ReLU(max_value=1.25, threshold=0.25,
                                         negative_slope=0.375),
             A.ReLUGeneral(1.25, 0.25, 0.375, nonlinear_mxts_mode=mode)),
            ("gelu_t", keras.layers.Activation(
                lambda v: keras.activations.gelu(v, approximate=True)),
             A.GELU(True, nonlinear_mxts_mode=mode))]:
        b = t.dense(name + "_dense", 4, h0)
        branches.append(t.simple(name, klayer, dl, b))
    for i, act in enumerate(["elu", "selu", "gelu", "swish", "silu",
                             "softplus", "softsign", "hard_sigmoid",
                             "hard_silu", "hard_swish",
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


def test_dense_acts_model_forward_and_gradient():
    check_model_forward_and_gradient(dense_acts, (8,))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", [RESCALE, RC])
def test_dense_acts_model_summation_to_delta(mode, dtype):
    check_model_summation_to_delta(dense_acts, (8,), mode, dtype)
