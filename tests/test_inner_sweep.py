"""Layers with an inner graph (a traced MultiHeadAttention, a
LayerNormalization composite) are evaluated by one sweep of that graph on
activations and references together (``deeplift.graph.forward_sweep`` ->
``sweep_inner``), whose states the rules reuse, instead of a forward pass
on each and a second sweep for the rules: the compiled scoring function
holds each inner op once per activation and reference, and the scores are
the two-sweep path's (bit for bit with one shared reference; within
float32 rounding in the pair mode, whose per-example inner activations are
now computed once per example and gathered, as the outer ones always
were)."""
import collections

import numpy as np
import pytest
import tensorflow as tf

from deeplift import graph
from deeplift.conversion import kerasapi_conversion as kc
from deeplift.multiref import MultiRefScorer

N, K, T, D = 3, 4, 12, 8


def _keras_model():
    import keras
    keras.utils.set_random_seed(5)
    inp = keras.Input((T, D))
    a = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4,
                                        name="mha")(inp, inp)
    h = keras.layers.LayerNormalization(name="norm")(
        keras.layers.Add()([inp, a]))
    h = keras.layers.GlobalAveragePooling1D()(h)
    return keras.Model(inp, keras.layers.Dense(2, name="out")(h))


@pytest.fixture(scope="module")
def keras_model():
    return _keras_model()


def _data():
    rng = np.random.RandomState(0)
    x = rng.randn(N, T, D).astype(np.float32)
    refs = rng.randn(N, K, T, D).astype(np.float32)
    return x, refs


def _scorer(keras_model):
    return MultiRefScorer(kc.convert_keras_model(
        keras_model, nonlinear_mxts_mode="Rescale", verbose=False),
        target_layer="out")


def _op_counts(keras_model, pairs):
    """{op type: number} of the compiled Rescale scoring function's graph
    (one shared reference, or (example, reference) pairs)."""
    inner = _scorer(keras_model).scorer
    x, refs = _data()
    seed, num_tasks = inner.seeds(1, None, N * K if pairs else N,
                                  np.float32)
    fn = inner.compiled_function(np.float32, num_tasks, False, pairs=pairs)
    if pairs:
        args = [x, refs.reshape(N * K, T, D),
                np.repeat(np.arange(N, dtype=np.int32), K), seed]
    else:
        args = [x, refs[:1, 0], seed]
    g = fn.get_concrete_function(*[tf.constant(a) for a in args]).graph
    return collections.Counter(op.type for op in g.get_operations())


@pytest.fixture
def two_sweeps(monkeypatch):
    """The former path: no layer offers its inner sweep."""
    monkeypatch.setattr(graph, "_sweep_inner", lambda *args: None)


@pytest.mark.parametrize("pairs", [False, True])
def test_each_inner_op_once_per_activation_and_reference(keras_model,
                                                         pairs):
    # the attention's softmax (its forward op) on the activations and on
    # the references: twice, not four times (a forward pass of each, then
    # the rules' sweep again); the normalisation's inverse square root:
    # the same two, plus one in the rule's derivative at the reference
    # (Rescale's factor where the input barely differs)
    counts = _op_counts(keras_model, pairs)
    assert counts.get("Softmax") == 2, counts
    assert counts.get("Rsqrt") == 3, counts


@pytest.mark.parametrize("pairs", [False, True])
def test_the_former_path_ran_each_twice(keras_model, pairs, two_sweeps):
    """What the test above guards against (so it can fail)."""
    counts = _op_counts(keras_model, pairs)
    assert counts.get("Softmax") == 4 and counts.get("Rsqrt") == 5, counts


def _scores(keras_model):
    x, refs = _data()
    scorer = _scorer(keras_model)
    pairs = scorer.run(x, refs, task_idx=1, progress=False)
    func = scorer.model.get_target_contribs_func(
        find_scores_layer_idx=0, pre_activation_target_layer_name="out")
    shared = np.asarray(func(task_idx=1, input_data_list=[x],
                             input_references_list=[refs[:1, 0]],
                             batch_size=2, progress_update=None))
    return shared, pairs


def test_same_scores_as_two_sweeps(keras_model, monkeypatch):
    shared, pairs = _scores(keras_model)
    monkeypatch.setattr(graph, "_sweep_inner", lambda *args: None)
    shared_before, pairs_before = _scores(keras_model)
    # one shared reference: the same ops on the same shapes
    np.testing.assert_array_equal(shared, shared_before)
    # pairs: the inner activations are per-example values gathered instead
    # of values computed on the gathered batch; the kernels round by the
    # batch's shape, so the scores may differ by float32 rounding, a few
    # sums deep (measured: 2.2e-8 at a scale of 0.18, 1.2e-7 relative)
    scale = np.abs(pairs_before).max()
    np.testing.assert_allclose(pairs, pairs_before, rtol=0,
                               atol=1e-6 * scale)
    assert scale > 1e-2
