"""Property tests of the core engine on random networks, against
independent truth: Keras' forward pass, tf.GradientTape gradients and the
summation-to-delta property."""
import numpy as np
import pytest
import tensorflow as tf

from deeplift.layers import NonlinearMxtsMode
from tests.nets import build, keras_preactivation, random_data

DENSE = [("dense", 7, "relu"), ("bn",), ("dense", 6, "sigmoid"),
         ("dense", 5, None), ("prelu",), ("dense", 5, "tanh"),
         ("dense", 3, None), ("act", "sigmoid")]
CONV1D = [("conv1d", 5, 4, 1, 2, "same", "relu"), ("bn",),
          ("avgpool1d", 2, 2, "valid"), ("conv1d", 4, 3, 2, 1, "valid",
                                         "relu"),
          ("gavgpool1d",), ("dense", 6, "relu"), ("dense", 3, None),
          ("act", "sigmoid")]
CONV1D_MAXPOOL = [("conv1d", 5, 4, 1, 1, "same", "relu"),
                  ("maxpool1d", 3, 2, "valid"),
                  ("conv1d", 4, 3, 1, 3, "same", "relu"),
                  ("maxpool1d", 2, 2, "same"), ("flatten",),
                  ("dense", 6, "relu"), ("dense", 3, None)]
CONV2D = [("conv2d", 4, (3, 3), (1, 1), "same", "relu"), ("bn",),
          ("maxpool2d", (2, 2), (2, 2), "valid"),
          ("conv2d", 3, (2, 2), (2, 1), "valid", "tanh"),
          ("avgpool2d", (2, 2), (1, 1), "same"), ("flatten",),
          ("dense", 4, None), ("act", "relu")]
CONV2D_GMAX = [("conv2d", 4, (3, 3), (1, 1), "valid", "relu"),
               ("gmaxpool2d",), ("dense", 3, None)]
NETS = {
    "dense": (DENSE, (6,)),
    "conv1d": (CONV1D, (20, 4)),
    "conv1d_maxpool": (CONV1D_MAXPOOL, (24, 4)),
    "conv2d": (CONV2D, (9, 9, 2)),
    "conv2d_gmax": (CONV2D_GMAX, (7, 7, 2)),
}
HAS_MAXPOOL = {"conv1d_maxpool", "conv2d", "conv2d_gmax"}


def _data(shape, n=6, seed=1, dtype=np.float32):
    return random_data(shape, n, seed=seed, dtype=dtype)


@pytest.mark.parametrize("net", sorted(NETS))
def test_forward_equals_keras(net):
    spec, shape = NETS[net]
    kmodel, dmodel, _ = build(spec, shape)
    x, _ = _data(shape)
    predict = dmodel.get_prediction_function(input_layer_idx=0,
                                             output_layer_idx=-1)
    np.testing.assert_allclose(predict([x], batch_size=4),
                               kmodel.predict(x, verbose=0), atol=1e-5)


def _tape_gradient(kmodel, x, task):
    pre = keras_preactivation(kmodel)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = pre(xt)[:, task]
    return tape.gradient(out, xt).numpy(), pre


@pytest.mark.parametrize("net", sorted(NETS))
def test_gradient_mode_equals_gradient_tape(net):
    spec, shape = NETS[net]
    kmodel, dmodel, target = build(spec, shape,
                                   mode=NonlinearMxtsMode.Gradient)
    x, ref = _data(shape)
    func = dmodel.get_target_multipliers_func(find_scores_layer_idx=0,
                                              target_layer_idx=target)
    contribs_func = dmodel.get_target_contribs_func(
        find_scores_layer_idx=0, target_layer_idx=target)
    for task in (0, 2):
        grad, _ = _tape_gradient(kmodel, x, task)
        mult = func(task_idx=task, input_data_list=[x], batch_size=4,
                    progress_update=None, input_references_list=[ref])
        np.testing.assert_allclose(mult, grad, rtol=1e-4, atol=1e-5)
        contribs = contribs_func(task_idx=task, input_data_list=[x],
                                 batch_size=4, progress_update=None,
                                 input_references_list=[ref])
        np.testing.assert_allclose(contribs, grad * (x - ref), rtol=1e-4,
                                   atol=1e-5)


def _summation_check(net, mode, dtype, rtol, maxpool_mode="gradient"):
    spec, shape = NETS[net]
    kmodel, dmodel, target = build(spec, shape, mode=mode,
                                   maxpool_mode=maxpool_mode,
                                   dtype="float64" if dtype == np.float64
                                   else "float32")
    x, ref = _data(shape, dtype=dtype)
    pre = keras_preactivation(kmodel)
    delta = pre(x).numpy() - pre(ref).numpy()
    func = dmodel.get_target_contribs_func(find_scores_layer_idx=0,
                                           target_layer_idx=target)
    for task in range(3):
        contribs = func(task_idx=task, input_data_list=[x], batch_size=4,
                        progress_update=None, input_references_list=[ref])
        assert contribs.dtype == dtype
        total = contribs.reshape(len(x), -1).sum(axis=1)
        scale = np.abs(contribs).reshape(len(x), -1).sum(axis=1) + 1e-3
        np.testing.assert_allclose(total / scale, delta[:, task] / scale,
                                   rtol=0, atol=rtol)


@pytest.mark.parametrize("mode", [NonlinearMxtsMode.Rescale,
                                  NonlinearMxtsMode.RevealCancel])
@pytest.mark.parametrize("net", ["dense", "conv1d"])
def test_summation_to_delta(net, mode):
    _summation_check(net, mode, np.float32, 1e-4)


@pytest.mark.parametrize("mode", [NonlinearMxtsMode.Rescale,
                                  NonlinearMxtsMode.RevealCancel])
def test_summation_to_delta_float64(mode):
    _summation_check("dense", mode, np.float64, 1e-10)
    _summation_check("conv1d", mode, np.float64, 1e-10)


@pytest.mark.parametrize("net", sorted(HAS_MAXPOOL))
def test_maxpool_summation_to_delta_mode(net):
    for mode in (NonlinearMxtsMode.Rescale, NonlinearMxtsMode.RevealCancel):
        _summation_check(net, mode, np.float64, 1e-10,
                         maxpool_mode="summation_to_delta")


def test_maxpool_gradient_mode_breaks_summation():
    """The original's default routes by the input's argmax only, which does
    not keep summation-to-delta: the reason for summation_to_delta mode."""
    with pytest.raises(AssertionError):
        _summation_check("conv1d_maxpool", NonlinearMxtsMode.Rescale,
                         np.float64, 1e-6)


def test_guided_backprop_matches_definition():
    spec, shape = NETS["conv1d_maxpool"]
    kmodel, dmodel, target = build(spec, shape,
                                   mode=NonlinearMxtsMode.GuidedBackprop)
    x, ref = _data(shape)

    @tf.custom_gradient
    def guided_relu(v):
        def grad(g):
            return g * tf.cast(v > 0, g.dtype) * tf.cast(g > 0, g.dtype)
        return tf.nn.relu(v), grad

    # independent forward with guided ReLUs, weights taken from Keras
    import keras
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        h = xt
        for layer in kmodel.layers[1:]:
            if isinstance(layer, keras.layers.Activation):
                h = guided_relu(h)
            else:
                h = layer(h)
        out = h[:, 1]
    expected = tape.gradient(out, xt).numpy()
    func = dmodel.get_target_multipliers_func(find_scores_layer_idx=0,
                                              target_layer_idx=target)
    got = func(task_idx=1, input_data_list=[x], batch_size=10,
               progress_update=None, input_references_list=[ref])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_batch_size_does_not_change_results():
    spec, shape = NETS["conv1d"]
    _, dmodel, target = build(spec, shape,
                              mode=NonlinearMxtsMode.RevealCancel)
    x, ref = _data(shape, n=11)
    func = dmodel.get_target_contribs_func(find_scores_layer_idx=0,
                                           target_layer_idx=target)
    a = func(task_idx=1, input_data_list=[x], batch_size=11,
             progress_update=None, input_references_list=[ref])
    b = func(task_idx=1, input_data_list=[x], batch_size=3,
             progress_update=None, input_references_list=[ref])
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
