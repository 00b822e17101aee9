"""LayerNormalization, RMSNormalization and GroupNormalization (composites
of exact pieces): per layer, forward == Keras, Gradient == tf.GradientTape, Rescale and
RevealCancel sum to delta (see tests/layer_checks.py); the pieces by hand;
converted Transformer- and ConvNeXt-like blocks from memory, .keras and
.h5 (float32 <= 1e-4, float64 <= 1e-10)."""
import numpy as np
import pytest
import tensorflow as tf
import keras

import deeplift.layers as L
from deeplift.layers import normalization as N
from tests.layer_checks import (  # noqa: F401 (fixture)
    restore_dtype_policy, randomized, converted_data, check_layer_case,
    check_converted, engine,
    input_contribs, RC)


def _ln(**kwargs):
    def make(w, m):
        it = iter(w)
        gamma = next(it) if kwargs.get("scale", True) or kwargs.get(
            "rms_scaling") else None
        beta = next(it) if kwargs.get("center", True) and not kwargs.get(
            "rms_scaling") else None
        return N.LayerNormalization(
            gamma, beta, axis=kwargs.get("axis", -1),
            epsilon=kwargs.get("epsilon", 1e-3),
            rms_scaling=kwargs.get("rms_scaling", False),
            nonlinear_mxts_mode=m)
    return lambda: keras.layers.LayerNormalization(**kwargs), make


def _gn(groups, **kwargs):
    def make(w, m):
        return N.GroupNormalization(groups, w[0], w[1],
                                    epsilon=kwargs.get("epsilon", 1e-3),
                                    nonlinear_mxts_mode=m)
    return lambda: keras.layers.GroupNormalization(groups, **kwargs), make


CASES = {
    "layernorm": _ln() + ([(6,)],),
    "layernorm_3d": _ln(epsilon=1e-5) + ([(4, 5)],),
    "layernorm_two_axes": _ln(axis=[1, 2]) + ([(3, 4)],),
    "layernorm_middle_axis": _ln(axis=1) + ([(4, 3)],),
    "layernorm_no_center_scale": _ln(center=False, scale=False)
    + ([(5,)],),
    "layernorm_no_center": _ln(center=False) + ([(2, 5)],),
    "layernorm_rms_scaling": _ln(rms_scaling=True) + ([(6,)],),
    "rmsnorm": (lambda: keras.layers.RMSNormalization(),
                lambda w, m: N.RMSNormalization(w[0], nonlinear_mxts_mode=m),
                [(6,)]),
    "rmsnorm_two_axes": (
        lambda: keras.layers.RMSNormalization(axis=[1, 2], epsilon=1e-3),
        lambda w, m: N.RMSNormalization(w[0], axis=[1, 2], epsilon=1e-3,
                                        nonlinear_mxts_mode=m), [(3, 4)]),
    "groupnorm_1d": _gn(2) + ([(5, 4)],),
    "groupnorm_2d": _gn(3, epsilon=1e-4) + ([(3, 2, 6)],),
}


@pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`")
@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_forward_gradient_and_summation(name):
    check_layer_case(CASES[name])


def test_centre_kernel_signs_by_hand():
    """x - mean(x) for x = (3, 0, 0) from ref 0: the diagonal 2/3 and
    off-diagonal -1/3 coefficients give pos (2, 0, 0), neg (0, -1, -1)."""
    inp = L.Input(batch_shape=(None, 3), name="in")
    centre = N.Centre([1], 3).set_inputs(inp)
    centre.build_fwd_pass_vars()
    x = tf.constant([[3.0, 0.0, 0.0]], tf.float64)
    states, _ = engine([inp], centre, [x], [tf.zeros_like(x)],
                       np.ones((1, 3)))
    pos, neg = states[id(centre)].contribs
    np.testing.assert_allclose(pos.numpy(), [[2.0, 0.0, 0.0]])
    np.testing.assert_allclose(neg.numpy(), [[0.0, -1.0, -1.0]])


def test_layernorm_reveal_cancel_after_dense():
    """Distinct positive and negative contributions entering and distinct
    multipliers coming back (RevealCancel on both sides): exact."""
    rng = np.random.RandomState(0)
    inp = L.Input(batch_shape=(None, 5), name="in")
    d = L.Dense(rng.randn(5, 6), rng.randn(6)).set_inputs(inp)
    a = L.Tanh(nonlinear_mxts_mode=RC).set_inputs(d)
    ln = N.LayerNormalization(rng.randn(6), rng.randn(6),
                              nonlinear_mxts_mode=RC).set_inputs(a)
    out = L.Sigmoid(nonlinear_mxts_mode=RC).set_inputs(ln)
    out.build_fwd_pass_vars()
    x, r = tf.constant(rng.randn(4, 5)), tf.constant(rng.randn(4, 5))
    states, mxts = engine([inp], out, [x], [r], np.ones((1, 6)))
    total = input_contribs(states, mxts, inp).sum(axis=1)
    np.testing.assert_allclose(total, states[id(out)].diff.numpy().sum(
        axis=1), rtol=0, atol=1e-12)


def test_groupnorm_refuses_bad_groups():
    inp = L.Input(batch_shape=(None, 4, 6), name="in")
    gn = N.GroupNormalization(4, None, None, name="gn").set_inputs(inp)
    with pytest.raises(ValueError, match="6 channels do not split into 4"):
        gn.build_fwd_pass_vars()


def _transformer_block(dtype):
    keras.config.set_dtype_policy(dtype)
    keras.utils.set_random_seed(0)
    x = keras.Input((5, 4), dtype=dtype, name="input")
    h = keras.layers.Dense(6, name="embed")(x)
    n = keras.layers.RMSNormalization(epsilon=1e-5, name="rms")(h)
    n = keras.layers.LayerNormalization(epsilon=1e-5, name="ln1")(n)
    f = keras.layers.Dense(8, activation="gelu", name="mlp_up")(n)
    f = keras.layers.Dense(6, name="mlp_down")(f)
    h = keras.layers.Add(name="residual")([h, f])
    h = keras.layers.LayerNormalization(name="ln2")(h)
    h = keras.layers.GlobalAveragePooling1D(name="pool")(h)
    out = keras.layers.Dense(2, name="out")(h)
    return keras.Model(x, out)


def _convnext_block(dtype):
    keras.config.set_dtype_policy(dtype)
    keras.utils.set_random_seed(1)
    x = keras.Input((5, 5, 3), dtype=dtype, name="input")
    h = keras.layers.Conv2D(8, 2, name="stem")(x)
    h = keras.layers.GroupNormalization(4, name="gn")(h)
    d = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(h)
    d = keras.layers.LayerNormalization(epsilon=1e-6, name="ln")(d)
    d = keras.layers.Dense(12, activation="gelu", name="pw1")(d)
    d = keras.layers.Dense(8, name="pw2")(d)
    h = keras.layers.Add(name="residual")([h, d])
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    out = keras.layers.Dense(2, name="out")(h)
    return keras.Model(x, out)


@pytest.mark.parametrize("fmt,dtype", [("memory", "float32"),
                                       ("keras", "float32"),
                                       ("h5", "float32"),
                                       ("memory", "float64")])
@pytest.mark.parametrize("builder", [_transformer_block, _convnext_block])
def test_converted_models(builder, fmt, dtype, tmp_path):
    kmodel = randomized(builder(dtype))
    check_converted(kmodel, *converted_data(kmodel, dtype), fmt, tmp_path,
                    "out_0", (0, 1))
