"""Separable convolutions convert as their two stages (depthwise, then the
pointwise 1x1 convolution): no dense folded kernel, the same forward pass
and gradients, the same Rescale scores as the folded layer, and RevealCancel
scores that sum to delta but split positive and negative parts per stage."""
import numpy as np
import pytest

import keras
import tensorflow as tf

from deeplift import layers as L
from deeplift.conversion import kerasapi_conversion as kc
from deeplift.conversion.converters.common import kernels_and_bias
from deeplift.conversion.converters.convolutional import conv2d_options
from deeplift.layers import NonlinearMxtsMode
from tests.conversion_checks import (converted_three_ways, forward_error,
                                     gradient_error, summation_error)
from tests.layer_checks import randomized


def _model():
    inp = keras.Input((7, 7, 3), name="img")
    x = keras.layers.SeparableConv2D(4, 3, depth_multiplier=2, strides=2,
                                     padding="same", activation="relu",
                                     name="sep")(inp)
    x = keras.layers.SeparableConv2D(5, 2, dilation_rate=2, name="sep2")(x)
    x = keras.layers.Activation("relu")(x)
    out = keras.layers.Dense(3, name="out")(keras.layers.Flatten()(x))
    model = keras.Model(inp, out, name="separable")
    return randomized(model)


def _folded_conversion(config, name, verbose, nonlinear_mxts_mode,
                       conv_mxts_mode, **kwargs):
    """The former conversion: one SeparableConv2D (dense folded kernel)."""
    (depthwise, pointwise), bias = kernels_and_bias(config, name, 2)
    act = keras.activations.get(config["activation"]).__name__
    layer = L.SeparableConv2D(
        depthwise_kernel=depthwise, pointwise_kernel=pointwise, bias=bias,
        name=("preact_" if act == "relu" else "") + name, verbose=verbose,
        conv_mxts_mode=conv_mxts_mode, **conv2d_options(config, name))
    if act != "relu":
        return [layer]
    return [layer, L.ReLU(name=name, verbose=verbose,
                          nonlinear_mxts_mode=nonlinear_mxts_mode)
            .set_inputs(layer)]


X = np.random.RandomState(1).uniform(-1, 1, (4, 7, 7, 3)).astype("float32")
REF = np.zeros((1, 7, 7, 3), dtype="float32")


def test_two_stages_no_dense_kernel_same_forward(tmp_path):
    model = _model()
    for source, dl_model in converted_three_ways(model, tmp_path).items():
        # float32 forward passes, outputs of order 1: a few ulps of
        # summation-order difference per layer stay below 1e-5
        assert forward_error(dl_model, model, [X]) <= 1e-5, source
        by_name = dl_model.get_name_to_layer()
        assert type(by_name["depthwise_sep_0"]) is L.DepthwiseConv2D
        assert by_name["depthwise_sep_0"].kernel.shape == (3, 3, 3, 2)
        assert type(by_name["preact_sep_0"]) is L.Conv2D
        assert by_name["preact_sep_0"].kernel.shape == (1, 1, 6, 4)
        assert not any(isinstance(layer, (L.SeparableConv1D,
                                          L.SeparableConv2D))
                       for layer in by_name.values())


def test_gradient_equals_tape():
    model = _model()
    dl_model = kc.convert_keras_model(
        model, verbose=False, nonlinear_mxts_mode=NonlinearMxtsMode.Gradient)
    for task in range(3):
        # relative to the largest gradient, float32 both sides
        assert gradient_error(dl_model, model, X, 0, task) <= 1e-5


def _scores(mode, custom):
    dl_model = kc.convert_keras_model(
        _MODEL, verbose=False, nonlinear_mxts_mode=mode,
        custom_conversion_funcs=custom)
    return dl_model, dl_model.get_target_contribs_func(
        find_scores_layer_name="img_0",
        pre_activation_target_layer_name="out_0")(
            task_idx=1, input_data_list=[X], input_references_list=[REF],
            batch_size=4)


_MODEL = _model()


def test_rescale_equals_folded_revealcancel_splits_per_stage():
    folded = {"SeparableConv2D": _folded_conversion}
    _, rescale = _scores(NonlinearMxtsMode.Rescale, None)
    _, rescale_folded = _scores(NonlinearMxtsMode.Rescale, folded)
    # the same Rescale scores by two float32 summation orders (folded
    # kernel vs two stages), scores of order 0.1-1
    np.testing.assert_allclose(rescale, rescale_folded, rtol=0, atol=1e-5)
    two_stage, reveal = _scores(NonlinearMxtsMode.RevealCancel, None)
    folded_model, reveal_folded = _scores(NonlinearMxtsMode.RevealCancel,
                                          folded)
    # both keep summation to delta ...
    for dl_model in (two_stage, folded_model):
        # float32: sums over 147 inputs of order-1 terms (1e-4); float64
        # rerun: only float64 rounding is left (1e-10)
        assert summation_error(dl_model, _MODEL, X, REF, 0, (0, 1, 2)) <= 1e-4
        assert summation_error(dl_model, _MODEL, X.astype("float64"),
                               REF.astype("float64"), 0, (0, 1)) <= 1e-10
    # ... but the positive / negative parts RevealCancel sees differ (by
    # more than 0.1% of the scale: far above float32 noise, 1e-6)
    assert np.max(np.abs(reveal - reveal_folded)) > 1e-3 * np.max(
        np.abs(reveal))


def _strided_1d_model(use_bias, padding="same"):
    inp = keras.Input((9, 2), name="seq")
    x = keras.layers.SeparableConv1D(3, 3, strides=2, use_bias=use_bias,
                                     padding=padding, activation="relu",
                                     name="sep")(inp)
    x = keras.layers.DepthwiseConv1D(2, strides=3, padding=padding,
                                     name="dw")(x)
    out = keras.layers.Dense(2, name="out")(keras.layers.Flatten()(x))
    return randomized(keras.Model(inp, out, name="sep1d"))


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_separable_conv1d(tmp_path, use_bias, padding):
    """Strided SeparableConv1D / DepthwiseConv1D (a 1-row depthwise image
    whose column stride TensorFlow's Eigen kernels accept only with an
    equal row stride): forward pass == Keras, Gradient == the tape, and
    contributions that sum to delta, on either kernel library."""
    model = _strided_1d_model(use_bias, padding)
    x = np.random.RandomState(2).randn(3, 9, 2).astype("float32")
    for source, dl_model in converted_three_ways(
            model, tmp_path, sources=("memory", "h5")).items():
        # float32 forward passes, outputs of order 1: 1e-5 is a few ulps
        # of summation-order difference per layer
        assert forward_error(dl_model, model, [x]) <= 1e-5, source
    grad = kc.convert_keras_model(
        model, verbose=False, nonlinear_mxts_mode=NonlinearMxtsMode.Gradient)
    # relative to the largest gradient; float32 both sides
    assert gradient_error(grad, model, x, 0, (0, 1)) <= 1e-5
    for mode in (NonlinearMxtsMode.Rescale, NonlinearMxtsMode.RevealCancel):
        dl_model = kc.convert_keras_model(model, verbose=False,
                                          nonlinear_mxts_mode=mode)
        # float64 rerun: only float64 rounding is left (1e-10)
        assert summation_error(dl_model, model, x.astype("float64"),
                               np.zeros((1, 9, 2)), 0, (0, 1)) <= 1e-10


def _depthwise_2d(strides, padding):
    inp = keras.Input((7, 8, 2), name="img")
    x = keras.layers.DepthwiseConv2D(3, strides=strides, padding=padding,
                                     depth_multiplier=2, activation="relu",
                                     name="dw")(inp)
    out = keras.layers.Dense(2, name="out")(keras.layers.Flatten()(x))
    return randomized(keras.Model(inp, out, name="dw2d"))


def _numpy_depthwise(x, kernel, bias, strides, padding):
    """Direct float64 depthwise convolution (NHWC; SAME pads as TF: the
    total padding for these strides, the smaller half first)."""
    kh, kw, cin, m = kernel.shape
    if padding == "same":
        pads = []
        for size, k, s in zip(x.shape[1:3], (kh, kw), strides):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        x = np.pad(x, [(0, 0)] + pads + [(0, 0)])
    rows = (x.shape[1] - kh) // strides[0] + 1
    cols = (x.shape[2] - kw) // strides[1] + 1
    out = np.zeros((len(x), rows, cols, cin * m))
    for i in range(rows):
        for j in range(cols):
            patch = x[:, i * strides[0]:i * strides[0] + kh,
                      j * strides[1]:j * strides[1] + kw, :]
            out[:, i, j, :] = np.einsum("nhwc,hwcm->ncm", patch,
                                        kernel).reshape(len(x), -1)
    return out + bias


UNEQUAL = [((1, 2), "same"), ((2, 1), "valid"), ((3, 2), "same")]


@pytest.mark.parametrize("strides,padding", UNEQUAL)
def test_depthwise_conv2d_unequal_strides(strides, padding):
    """DepthwiseConv2D with row stride != column stride, which Eigen's CPU
    kernels refuse (Keras itself fails there, see the next test): the
    deeplift layer's forward pass equals a direct float64 depthwise
    convolution, and its scores sum to delta, on either kernel library."""
    model = _depthwise_2d(strides, padding)
    x = np.random.RandomState(4).randn(3, 7, 8, 2)
    dl_model = kc.convert_keras_model(
        model, verbose=False, nonlinear_mxts_mode=NonlinearMxtsMode.Rescale)
    layer = dl_model.get_layer("preact_dw_0")
    kernel, bias = model.get_layer("dw").get_weights()
    got = layer.forward([tf.constant(x)]).numpy()
    want = _numpy_depthwise(x, kernel.astype("float64"), bias, strides,
                            padding)
    assert got.shape == want.shape
    # float64 both sides (the layer runs in the input's dtype): 1e-12
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    for mode in (NonlinearMxtsMode.Rescale, NonlinearMxtsMode.RevealCancel):
        dl_model = kc.convert_keras_model(model, verbose=False,
                                          nonlinear_mxts_mode=mode)
        # float64 rerun: only float64 rounding is left (1e-10)
        assert summation_error(dl_model, model, x, np.zeros((1, 7, 8, 2)),
                               0, (0, 1)) <= 1e-10


@pytest.mark.parametrize("strides,padding", UNEQUAL[:1])
def test_depthwise_conv2d_unequal_strides_against_keras(strides, padding):
    """Forward == Keras and Gradient == the tape where TensorFlow can run
    Keras' own layer; skipped, with TensorFlow's reason, where it cannot
    (the Eigen CPU kernels, i.e. TF_ENABLE_ONEDNN_OPTS=0 or a CPU without
    AVX-512)."""
    model = _depthwise_2d(strides, padding)
    x = np.random.RandomState(4).randn(3, 7, 8, 2).astype("float32")
    try:
        model.predict(x, verbose=0)
    except tf.errors.InvalidArgumentError as exc:
        if EQUAL_STRIDES_ONLY not in str(exc):
            raise
        pytest.skip("TensorFlow cannot run Keras' DepthwiseConv2D with "
                    "strides %s on this CPU path: %s" % (strides,
                                                         EQUAL_STRIDES_ONLY))
    dl_model = kc.convert_keras_model(
        model, verbose=False, nonlinear_mxts_mode=NonlinearMxtsMode.Rescale)
    # float32 forward passes, outputs of order 1 (as above)
    assert forward_error(dl_model, model, [x]) <= 1e-5
    grad = kc.convert_keras_model(
        model, verbose=False, nonlinear_mxts_mode=NonlinearMxtsMode.Gradient)
    # relative to the largest gradient; float32 both sides
    assert gradient_error(grad, model, x, 0, (0, 1)) <= 1e-5


#: TensorFlow's message where its Eigen CPU kernels refuse unequal strides
EQUAL_STRIDES_ONLY = ("Current implementation only supports equal length "
                      "strides in the row and column dimensions")


def test_grouped_convolutions(tmp_path):
    """One input channel per group: a depthwise convolution; more (RegNet):
    a block-diagonal kernel. Same forward pass, gradient and summation to
    delta."""
    inp = keras.Input((6, 6, 4), name="img")
    x = keras.layers.Conv2D(8, 3, groups=4, padding="same", name="g")(inp)
    x = keras.layers.Conv2D(6, 3, groups=2, strides=2, name="g2",
                            activation="relu")(x)
    x1 = keras.layers.Conv1D(4, 2, groups=2, name="g1")(
        keras.layers.Reshape((36, 4))(inp))
    out = keras.layers.Concatenate()([keras.layers.Flatten()(x),
                                      keras.layers.Flatten()(x1)])
    model = keras.Model(inp, keras.layers.Dense(2, name="out")(out),
                        name="grouped")
    x = np.random.RandomState(3).randn(3, 6, 6, 4).astype("float32")
    for source, dl_model in converted_three_ways(
            model, tmp_path, sources=("memory", "h5"),
            nonlinear_mxts_mode=NonlinearMxtsMode.RevealCancel).items():
        assert type(dl_model.get_layer("g_0")) is L.DepthwiseConv2D
        assert dl_model.get_layer("preact_g2_0").kernel.shape == (3, 3, 8, 6)
        # float32 forward passes, outputs of order 1 (as above)
        assert forward_error(dl_model, model, [x]) <= 1e-5, source
    # float64 rerun: only float64 rounding is left (1e-10)
    assert summation_error(dl_model, model, x.astype("float64"),
                           np.zeros((1, 6, 6, 4)), 0, (0, 1)) <= 1e-10
    grad = kc.convert_keras_model(
        model, verbose=False, nonlinear_mxts_mode=NonlinearMxtsMode.Gradient)
    # relative to the largest gradient; float32 both sides
    assert gradient_error(grad, model, x, 0, (0, 1)) <= 1e-5
