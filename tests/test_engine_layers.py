"""Hand-computed values for each layer, the original's layer-level API
(compile_func over symbolic variables), the RevealCancel example of the
DeepLIFT paper, retracing and bad input."""
import logging

import numpy as np
import pytest

import deeplift.layers as layers
from deeplift.layers import (NonlinearMxtsMode, DenseMxtsMode,
                             MaxPoolDeepLiftMode, ScoringMode)
from deeplift.models import SequentialModel, GraphModel
from deeplift.util import compile_func


def _dense_setup():
    inp = layers.Input(batch_shape=(None, 4))
    w1, w2 = [1.0, 2.0, 3.0, 4.0], [-1.0, -2.0, -3.0, -4.0]
    dense = layers.Dense(kernel=np.array([w1, w2]).T,
                         bias=np.array([-1.0, 1.0]),
                         dense_mxts_mode=DenseMxtsMode.Linear)
    dense.set_inputs(inp)
    dense.build_fwd_pass_vars()
    dense.set_scoring_mode(ScoringMode.OneAndZeros)
    dense.set_active()
    inp.update_mxts()
    return inp, dense, w1, w2


def test_dense_forward_and_backward_via_compile_func():
    inp, dense, w1, w2 = _dense_setup()
    x = [[1.0, 1.0, 1.0, 1.0], [2.0, 2.0, 2.0, 2.0]]
    fwd = compile_func([inp.get_activation_vars()],
                       dense.get_activation_vars())
    np.testing.assert_array_equal(fwd(x), [[9.0, -9.0], [19.0, -19.0]])
    mult = compile_func([inp.get_activation_vars(),
                         inp.get_reference_vars()], inp.get_mxts())
    dense.update_task_index(task_index=0)
    np.testing.assert_array_equal(mult([x, np.zeros_like(x)]), [w1, w1])
    # the task index is read at call time, as the original's tf.Variable
    dense.update_task_index(task_index=1)
    np.testing.assert_array_equal(mult([x, np.zeros_like(x)]), [w2, w2])
    pos = compile_func([inp.get_activation_vars(),
                        inp.get_reference_vars()], dense.get_pos_mxts())
    np.testing.assert_array_equal(pos([x, np.zeros_like(x)]),
                                  [[0.0, 1.0], [0.0, 1.0]])
    dense.set_inactive()
    np.testing.assert_array_equal(mult([x, np.zeros_like(x)]),
                                  np.zeros((2, 4)))


def test_dense_pos_neg_contribs_by_hand():
    inp, dense, _, _ = _dense_setup()
    x = np.array([[1.0, -1.0, 2.0, 0.0]])
    pos, neg = dense.get_pos_and_neg_contribs()
    func = compile_func([inp.get_activation_vars(),
                         inp.get_reference_vars()], [pos, neg])
    p, n = func([x, np.zeros_like(x)])
    # unit 0 weights 1,2,3,4: terms 1, -2, 6, 0 -> pos 7, neg -2
    # unit 1 weights -1,-2,-3,-4: terms -1, 2, -6, 0 -> pos 2, neg -7
    np.testing.assert_array_equal(p, [[7.0, 2.0]])
    np.testing.assert_array_equal(n, [[-2.0, -7.0]])


def _chain(input_shape, *chain):
    inp = layers.Input(batch_shape=(None,) + input_shape, name="inp")
    prev = inp
    for layer in chain:
        layer.set_inputs(prev)
        prev = layer
    return SequentialModel([inp] + list(chain))


def test_conv1d_by_hand():
    # one filter of width 2 over one channel: y[t] = x[t] - 2 x[t+1] + 1
    kernel = np.array([[[1.0]], [[-2.0]]])
    conv = layers.Conv1D(kernel=kernel, bias=np.array([1.0]), stride=1,
                         padding="VALID")
    model = _chain((4, 1), conv)
    x = np.array([[1.0, 2.0, 3.0, 4.0]])[..., None]
    pred = model.get_prediction_function(0, -1)([x], batch_size=1)
    np.testing.assert_allclose(pred[..., 0], [[-2.0, -3.0, -4.0]])
    # target output position 1 (flat index over (3, 1))
    func = model.get_target_contribs_func(find_scores_layer_idx=0,
                                          target_layer_idx=-1)
    c = func(task_idx=1, input_data_list=[x], batch_size=1,
             progress_update=None, input_references_list=[np.zeros_like(x)])
    np.testing.assert_allclose(c[..., 0], [[0.0, 2.0, -6.0, 0.0]])


def test_conv1d_dilation_and_stride_shapes():
    rng = np.random.RandomState(0)
    conv = layers.Conv1D(kernel=rng.randn(3, 2, 4), bias=np.zeros(4),
                         stride=1, padding="VALID", dilation=3)
    model = _chain((20, 2), conv)
    assert conv.get_shape() == (None, 14, 4)
    conv2 = layers.Conv1D(kernel=rng.randn(3, 2, 4), bias=np.zeros(4),
                          stride=2, padding="SAME")
    _chain((20, 2), conv2)
    assert conv2.get_shape() == (None, 10, 4)
    del model


def test_maxpool_gradient_mode_by_hand():
    pool = layers.MaxPool1D(pool_length=2, stride=2, padding="VALID",
                            maxpool_deeplift_mode=MaxPoolDeepLiftMode.gradient)
    dense = layers.Dense(kernel=np.array([[1.0], [10.0]]), bias=[0.0])
    flat = layers.Flatten()
    model = _chain((4, 1), pool, flat, dense)
    x = np.array([[3.0, 1.0, -1.0, 2.0]])[..., None]
    ref = np.array([[0.0, 5.0, 0.0, 0.0]])[..., None]
    func = model.get_target_contribs_func(find_scores_layer_idx=0,
                                          target_layer_idx=-1)
    c = func(task_idx=0, input_data_list=[x], batch_size=1,
             progress_update=None, input_references_list=[ref])
    # argmax of x: position 0 (window 1) and 3 (window 2); multipliers 1, 10
    np.testing.assert_allclose(c[..., 0], [[3.0, 0.0, 0.0, 20.0]])
    pool_std = layers.MaxPool1D(
        pool_length=2, stride=2, padding="VALID",
        maxpool_deeplift_mode=MaxPoolDeepLiftMode.summation_to_delta)
    model2 = _chain((4, 1), pool_std, layers.Flatten(),
                    layers.Dense(kernel=np.array([[1.0], [10.0]]),
                                 bias=[0.0]))
    c2 = model2.get_target_contribs_func(0, -1)(
        task_idx=0, input_data_list=[x], batch_size=1, progress_update=None,
        input_references_list=[ref])
    # window 1: max 3 vs ref max 5 -> dy = -2, credited to the ref's argmax
    # (position 1, dx = -4, multiplier 0.5); window 2: dy = 2 at position 3
    np.testing.assert_allclose(c2[..., 0], [[0.0, -2.0, 0.0, 20.0]])
    assert np.isclose(c2.sum(), (3 - 5) * 1 + (2 - 0) * 10)


def test_global_max_pool_ties_all_get_multiplier():
    gmp = layers.GlobalMaxPool1D(
        maxpool_deeplift_mode=MaxPoolDeepLiftMode.gradient)
    dense = layers.Dense(kernel=np.array([[2.0]]), bias=[0.0])
    model = _chain((3, 1), gmp, dense)
    x = np.array([[1.0, 1.0, 0.0]])[..., None]
    m = model.get_target_multipliers_func(0, -1)(
        task_idx=0, input_data_list=[x], batch_size=1, progress_update=None)
    np.testing.assert_allclose(m[..., 0], [[2.0, 2.0, 0.0]])


def test_avgpool_and_batchnorm_by_hand():
    bn = layers.BatchNormalization(gamma=np.array([-2.0]),
                                   beta=np.array([1.0]), axis=-1,
                                   mean=np.array([1.0]), var=np.array([4.0]),
                                   epsilon=0.0)
    avg = layers.AvgPool1D(pool_length=2, stride=2, padding="VALID")
    model = _chain((4, 1), bn, avg, layers.Flatten(),
                   layers.Dense(kernel=np.array([[1.0], [3.0]]), bias=[0.0]))
    x = np.array([[3.0, 1.0, -1.0, 5.0]])[..., None]
    pred = model.get_prediction_function(0, 1)([x], batch_size=1)
    # (x - 1) / 2 * -2 + 1 = 2 - x
    np.testing.assert_allclose(pred[0, :, 0], [-1.0, 1.0, 3.0, -3.0])
    m = model.get_target_multipliers_func(0, -1)(
        task_idx=0, input_data_list=[x], batch_size=1, progress_update=None)
    # d/dx: -1 (bn) * 0.5 (avg) * [1, 1, 3, 3]
    np.testing.assert_allclose(m[0, :, 0], [-0.5, -0.5, -1.5, -1.5])


def test_concat_graph_and_two_inputs():
    a = layers.Input(batch_shape=(None, 2), name="a")
    b = layers.Input(batch_shape=(None, 1), name="b")
    cat = layers.Concat(axis=-1, name="cat").set_inputs([a, b])
    dense = layers.Dense(kernel=np.array([[1.0], [2.0], [3.0]]),
                         bias=[0.5], name="out").set_inputs(cat)
    model = GraphModel({"a": a, "b": b, "cat": cat, "out": dense},
                       ["a", "b"])
    func = model.get_target_contribs_func(find_scores_layer_name=["a", "b"],
                                          pre_activation_target_layer_name=
                                          "out")
    xa, xb = np.array([[1.0, 1.0]]), np.array([[2.0]])
    ca, cb = func(task_idx=0, input_data_list={"a": xa, "b": xb},
                  batch_size=1, progress_update=None,
                  input_references_list=[np.zeros(2), 0.0])
    np.testing.assert_allclose(ca, [[1.0, 2.0]])
    np.testing.assert_allclose(cb, [[6.0]])


def _min_network(mode):
    """y = x1 - relu(x1 - x2) = min(x1, x2), the paper's RevealCancel
    example."""
    x = layers.Input(batch_shape=(None, 2), name="x")
    h_pre = layers.Dense(kernel=np.array([[1.0], [-1.0]]), bias=[0.0],
                         name="h_pre").set_inputs(x)
    h = layers.ReLU(nonlinear_mxts_mode=mode, name="h").set_inputs(h_pre)
    cat = layers.Concat(axis=-1, name="cat").set_inputs([x, h])
    y = layers.Dense(kernel=np.array([[1.0], [0.0], [-1.0]]), bias=[0.0],
                     name="y").set_inputs(cat)
    return GraphModel({"x": x, "h_pre": h_pre, "h": h, "cat": cat, "y": y},
                      ["x"])


def test_reveal_cancel_paper_example():
    x = np.array([[3.0, 1.0]])
    got = {}
    for mode in (NonlinearMxtsMode.Rescale, NonlinearMxtsMode.RevealCancel):
        func = _min_network(mode).get_target_contribs_func(
            find_scores_layer_name="x", pre_activation_target_layer_name="y")
        got[mode] = func(task_idx=0, input_data_list=[x], batch_size=1,
                         progress_update=None)
    # Rescale gives all the credit to x2; RevealCancel splits it equally
    np.testing.assert_allclose(got[NonlinearMxtsMode.Rescale], [[0.0, 1.0]],
                               atol=1e-6)
    np.testing.assert_allclose(got[NonlinearMxtsMode.RevealCancel],
                               [[0.5, 0.5]], atol=1e-6)


def test_genomics_default_resolves_per_layer(caplog):
    rng = np.random.RandomState(0)
    conv = layers.Conv1D(kernel=rng.randn(3, 4, 2), bias=np.zeros(2),
                         stride=1, padding="SAME")
    relu1 = layers.ReLU(
        nonlinear_mxts_mode=NonlinearMxtsMode.DeepLIFT_GenomicsDefault)
    dense = layers.Dense(kernel=rng.randn(10, 3), bias=np.zeros(3))
    relu2 = layers.ReLU(
        nonlinear_mxts_mode=NonlinearMxtsMode.DeepLIFT_GenomicsDefault,
        name="relu2")
    with caplog.at_level(logging.INFO, logger="deeplift"):
        _chain((5, 4), conv, relu1, layers.Flatten(), dense, relu2)
    assert relu1.nonlinear_mxts_mode == NonlinearMxtsMode.Rescale
    assert relu2.nonlinear_mxts_mode == NonlinearMxtsMode.RevealCancel
    assert "relu2" in caplog.text and "RevealCancel" in caplog.text


def test_softmax_pre_activation_scoring_mode_mean_normalises():
    inp = layers.Input(batch_shape=(None, 2))
    dense = layers.Dense(kernel=np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 1.0]]),
                         bias=np.zeros(3))
    soft = layers.Softmax(nonlinear_mxts_mode=NonlinearMxtsMode.Rescale)
    model = _chain((2,), dense, soft)
    del inp
    x = np.array([[1.0, 1.0]])
    func = model.get_target_multipliers_func(
        0, -2, scoring_mode=ScoringMode.SoftmaxPreActivation)
    m = func(task_idx=0, input_data_list=[x], batch_size=1,
             progress_update=None)
    # weights of class 0 minus the mean weights over classes
    np.testing.assert_allclose(m, [[1.0 - 2.0, 0.0 - 2.0 / 3]], rtol=1e-6)


def test_target_on_activation_is_refused():
    model = _chain((2,), layers.Dense(kernel=np.ones((2, 1)), bias=[0.0]),
                   layers.ReLU(nonlinear_mxts_mode="Rescale"))
    with pytest.raises(RuntimeError, match="activation layer"):
        model.get_target_contribs_func(find_scores_layer_idx=0,
                                       target_layer_idx=-1)


def test_no_retracing_across_tasks_batches_and_references():
    rng = np.random.RandomState(0)
    model = _chain((6, 4),
                   layers.Conv1D(kernel=rng.randn(3, 4, 5), bias=np.zeros(5),
                                 stride=1, padding="SAME"),
                   layers.ReLU(nonlinear_mxts_mode="RevealCancel"),
                   layers.Flatten(),
                   layers.Dense(kernel=rng.randn(30, 3), bias=np.zeros(3)))
    func = model.get_target_contribs_func(find_scores_layer_idx=0,
                                          target_layer_idx=-1)
    x = rng.randn(17, 6, 4).astype(np.float32)
    for task, batch, ref in [(0, 5, None), (1, 7, np.zeros((6, 4))),
                             (2, 17, rng.randn(17, 6, 4)),
                             (1, 3, rng.randn(1, 6, 4)), (0, 4, 0.25)]:
        func(task_idx=task, input_data_list=[x], batch_size=batch,
             progress_update=None, input_references_list=[ref])
    assert func.scorer.trace_count == 1


def test_reference_broadcasting_equivalence():
    rng = np.random.RandomState(1)
    model = _chain((3,), layers.Dense(kernel=rng.randn(3, 2),
                                      bias=np.zeros(2)),
                   layers.Sigmoid(nonlinear_mxts_mode="Rescale"),
                   layers.Dense(kernel=rng.randn(2, 2), bias=np.zeros(2)))
    func = model.get_target_contribs_func(0, -1)
    x = rng.randn(4, 3)
    ref = rng.randn(3)
    a = func(task_idx=0, input_data_list=[x], batch_size=2,
             progress_update=None, input_references_list=[ref])
    b = func(task_idx=0, input_data_list=[x], batch_size=2,
             progress_update=None,
             input_references_list=[np.tile(ref, (4, 1))])
    np.testing.assert_allclose(a, b, rtol=1e-6)
    # a shared reference with a leading batch axis of 1 that broadcasts
    # (e.g. per-channel GC content of shape (1, 1, 4) for (N, L, 4) data)
    c = func(task_idx=0, input_data_list=[x], batch_size=2,
             progress_update=None, input_references_list=[ref[None]])
    np.testing.assert_allclose(a, c, rtol=1e-6)
    scalar_ref = func(task_idx=0, input_data_list=[x], batch_size=2,
                      progress_update=None,
                      input_references_list=[np.full((1, 1), 0.25)])
    tiled = func(task_idx=0, input_data_list=[x], batch_size=2,
                 progress_update=None,
                 input_references_list=[np.full((4, 3), 0.25)])
    np.testing.assert_allclose(scalar_ref, tiled, rtol=1e-6)


@pytest.mark.parametrize("bad,match", [
    (dict(task_idx=3), "task index 3 is out of range"),
    (dict(input_data_list=[np.zeros((2, 4))]), "expects"),
    (dict(input_data_list=[np.full((2, 3), np.nan)]), "NaN"),
    (dict(input_references_list=[np.zeros((3, 3))]), "reference"),
    (dict(input_references_list=[np.array([np.inf, 0, 0])]), "NaN"),
    (dict(input_data_list=[np.zeros((2, 3)), np.zeros((2, 3))]),
     "1 input"),
    (dict(batch_size=0), "batch_size"),
])
def test_bad_input_gives_clear_errors(bad, match):
    model = _chain((3,), layers.Dense(kernel=np.ones((3, 3)),
                                      bias=np.zeros(3)))
    func = model.get_target_contribs_func(0, -1)
    kwargs = dict(task_idx=0, input_data_list=[np.zeros((2, 3))],
                  batch_size=2, progress_update=None)
    kwargs.update(bad)
    with pytest.raises(ValueError, match=match):
        func(**kwargs)


def test_unknown_mode_string_is_rejected():
    with pytest.raises(ValueError, match="valid choices"):
        layers.ReLU(nonlinear_mxts_mode="rescale_typo")
    with pytest.raises(ValueError, match="valid choices"):
        layers.Dense(kernel=np.ones((2, 2)), bias=np.zeros(2),
                     dense_mxts_mode="Nonlinear")


def test_enum_values_match_the_original():
    assert set(NonlinearMxtsMode.vals) == {
        "Gradient", "Rescale", "DeconvNet", "GuidedBackprop",
        "GuidedBackpropRescale", "RevealCancel", "PassThrough",
        "DeepLIFT_GenomicsDefault"}
    assert MaxPoolDeepLiftMode.gradient == "gradient"
    assert ScoringMode.OneAndZeros == "OneAndZeros"
    assert DenseMxtsMode.Linear == "Linear"


def test_float64_input_gives_float64_scores():
    model = _chain((3,), layers.Dense(kernel=np.ones((3, 2)),
                                      bias=np.zeros(2)))
    out = model.get_target_contribs_func(0, -1)(
        task_idx=1, input_data_list=[np.ones((2, 3))], batch_size=2,
        progress_update=None)
    assert out.dtype == np.float64


def test_several_scored_layers_return_a_list():
    rng = np.random.RandomState(2)
    model = _chain((3,), layers.Dense(kernel=rng.randn(3, 4),
                                      bias=np.zeros(4)),
                   layers.ReLU(nonlinear_mxts_mode="Rescale"),
                   layers.Dense(kernel=rng.randn(4, 2), bias=np.zeros(2)))
    out = model.get_target_contribs_func(find_scores_layer_idx=[0, 2],
                                         target_layer_idx=-1)(
        task_idx=0, input_data_list=[rng.randn(5, 3)], batch_size=2,
        progress_update=None)
    assert isinstance(out, list) and [o.shape for o in out] == [(5, 3),
                                                                (5, 4)]
