"""Multi-reference scoring (deeplift.multiref) against scoring each
reference separately with the model's own functions."""
import numpy as np
import pytest
import keras

from deeplift.layers import NonlinearMxtsMode
from deeplift.dinuc_shuffle import dinuc_shuffle
from deeplift.multiref import (MultiRefScorer, MultiRefResult,
                               score_with_references, shuffle_ref_fn)
from deeplift import util
from tests.nets import build

# no maxpool: Rescale satisfies summation-to-delta exactly
SPEC = [("conv1d", 5, 4, 1, 1, "same", "relu"),
        ("avgpool1d", 2, 2, "valid"),
        ("conv1d", 4, 3, 1, 1, "valid", "sigmoid"),
        ("gavgpool1d",), ("dense", 6, "relu"), ("dense", 3, None),
        ("act", "sigmoid")]
L, N, K = 12, 5, 3


def _onehot(n, length, seed):
    rng = np.random.RandomState(seed)
    return np.eye(4, dtype=np.float32)[rng.randint(0, 4, (n, length))]


@pytest.fixture(scope="module")
def net():
    kmodel, dmodel, target = build(SPEC, (L, 4),
                                   mode=NonlinearMxtsMode.Rescale, seed=3)
    contribs = dmodel.get_target_contribs_func(find_scores_layer_idx=0,
                                               target_layer_idx=target)
    mults = dmodel.get_target_multipliers_func(find_scores_layer_idx=0,
                                               target_layer_idx=target)
    x = _onehot(N, L, 0)
    rng = np.random.RandomState(7)
    refs = np.stack([dinuc_shuffle(x[i], num_shufs=K, rng=rng)
                     for i in range(N)])
    return dict(kmodel=kmodel, dmodel=dmodel, target=target,
                contribs=contribs, mults=mults, x=x, refs=refs)


def _per_ref(func, x, refs, task):
    return np.mean([func(task_idx=task, input_data_list=[x],
                         input_references_list=[refs[:, k]], batch_size=4)
                    for k in range(refs.shape[1])], axis=0)


def test_mean_equals_individually_scored_pairs(net):
    expected = _per_ref(net["contribs"], net["x"], net["refs"], 1)
    for batch_size in (1, 7, 256):   # batches cross example boundaries
        got = score_with_references(net["contribs"], net["x"], net["refs"],
                                    task_idx=1, batch_size=batch_size,
                                    progress=False)
        assert got.shape == net["x"].shape
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # compiled once per function, whatever the batch size
    from deeplift.multiref import _as_multiref_scorer
    assert _as_multiref_scorer(net["contribs"]).scorer.trace_count == 1
    # a multipliers function gives the same (contributions are exact)
    got = score_with_references(net["mults"], net["x"], net["refs"],
                                task_idx=1, progress=False)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_shared_references_and_target_weights(net):
    shared = net["refs"][0]                       # (K, L, 4) for everyone
    scorer = MultiRefScorer(net["dmodel"], find_scores_layer=0,
                            target_layer=net["target"])
    got = scorer.run(net["x"], shared, task_idx=2, progress=False)
    tiled = np.broadcast_to(shared[None], (N,) + shared.shape)
    expected = _per_ref(net["contribs"], net["x"], tiled, 2)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    weights = np.zeros((N, 3), np.float32)
    weights[:, 2] = 1
    got_w = scorer.run(net["x"], shared, target_weights=weights,
                       progress=False)
    np.testing.assert_allclose(got_w, got, rtol=1e-6, atol=1e-7)


def test_ref_fn_matches_pregenerated_refs(net):
    scorer = MultiRefScorer(net["dmodel"], target_layer=net["target"])
    fn = lambda seq, k, rng: dinuc_shuffle(seq, num_shufs=k, rng=rng)
    expected = scorer.run(net["x"], net["refs"], task_idx=0, progress=False)
    for batch_size in (2, 100):
        got = scorer.run(net["x"], fn, num_refs=K, seed=7,
                         batch_size=batch_size, progress=False)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_equals_get_shuffle_seq_ref_function(net):
    x, refs = net["x"], net["refs"]
    shuffled = util.get_shuffle_seq_ref_function(
        net["contribs"], shuffle_func=lambda s, rng: dinuc_shuffle(s,
                                                                   rng=rng))
    old = shuffled(task_idx=0, input_data_sequences=x, num_refs_per_seq=K,
                   batch_size=8, pregen_refs=refs.reshape((N * K, L, 4)))
    new = score_with_references(net["contribs"], x, refs, task_idx=0,
                                progress=False)
    np.testing.assert_allclose(new, old, rtol=1e-5, atol=1e-6)
    # same seed -> same references -> same scores
    old = shuffled(task_idx=[0, 2], input_data_sequences=x,
                   num_refs_per_seq=K, batch_size=8, seed=11)
    ref_fn = shuffle_ref_fn(lambda s, rng: dinuc_shuffle(s, rng=rng))
    for task, old_task in zip([0, 2], old):
        new = score_with_references(net["contribs"], x, ref_fn, num_refs=K,
                                    task_idx=task, seed=11, progress=False)
        np.testing.assert_allclose(new, old_task, rtol=1e-5, atol=1e-6)


def test_hypothetical_and_deltas(net):
    x, refs = net["x"], net["refs"]
    res = score_with_references(net["contribs"], x, refs, task_idx=0,
                                hypothetical=True, return_deltas=True,
                                return_multipliers=True, batch_size=4,
                                progress=False)
    assert isinstance(res, MultiRefResult)
    assert res.deltas.shape == (N, K)
    # one-hot x hypothetical == actual, per position
    np.testing.assert_allclose(np.sum(res.hypothetical_contribs * x, -1),
                               np.sum(res.contribs, -1), rtol=1e-4,
                               atol=1e-6)
    # the original package's per-reference hypothetical function, averaged
    hyp_func = util.get_hypothetical_contribs_func_onehot(net["mults"])
    expected = np.mean([hyp_func(0, [x], [refs[:, k]], 4, None)
                        for k in range(K)], axis=0)
    np.testing.assert_allclose(res.hypothetical_contribs, expected,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res.multipliers,
                               _per_ref(net["mults"], x, refs, 0),
                               rtol=1e-5, atol=1e-6)
    # summation to delta for Rescale without maxpool
    scale = np.max(np.abs(res.contribs.reshape(N, -1).sum(1))) + 1e-3
    assert np.max(np.abs(res.deltas)) < 1e-4 * max(scale, 1.0)
    # and the deltas are really sum(contribs) - (f(x) - f(ref)) per pair
    predict = net["dmodel"].get_prediction_function(
        input_layer_idx=0, output_layer_idx=net["target"])
    fx = predict([x], batch_size=8)[:, 0]
    fr = predict([refs.reshape((N * K, L, 4))], batch_size=8)[:, 0]
    single = net["contribs"](task_idx=0, input_data_list=[x],
                             input_references_list=[refs[:, 1]],
                             batch_size=8).reshape(N, -1).sum(1)
    np.testing.assert_allclose(
        res.deltas[:, 1], single - (fx - fr.reshape(N, K)[:, 1]),
        atol=1e-5)


def test_task_list_equals_one_run_per_task(net):
    """task_idx=[...] shares the forward pass; every output (mean
    contributions, hypothetical contributions, multipliers, deltas) gets a
    leading task axis and equals one run per task."""
    x, refs = net["x"], net["refs"]
    kwargs = dict(hypothetical=True, return_deltas=True,
                  return_multipliers=True, batch_size=4, progress=False)
    together = score_with_references(net["contribs"], x, refs,
                                     task_idx=[2, 0], **kwargs)
    assert together.contribs.shape == (2,) + x.shape
    assert together.deltas.shape == (2, N, K)
    for t, task in enumerate([2, 0]):
        alone = score_with_references(net["contribs"], x, refs,
                                      task_idx=task, **kwargs)
        for field in ("contribs", "hypothetical_contribs", "multipliers",
                      "deltas"):
            np.testing.assert_allclose(getattr(together, field)[t],
                                       getattr(alone, field), rtol=1e-6,
                                       atol=1e-7, err_msg=field)
    assert not np.allclose(together.contribs[0], together.contribs[1])
    with pytest.raises(ValueError, match="empty list"):
        score_with_references(net["contribs"], x, refs, task_idx=[],
                              progress=False)
    with pytest.raises(ValueError, match="target_weights replaces"):
        score_with_references(net["contribs"], x, refs, task_idx=[0, 1],
                              target_weights=np.ones((1, 3), np.float32),
                              progress=False)


def test_keras_model_and_graph_model(net):
    # converted Keras model == hand-built deeplift model
    scorer = MultiRefScorer(net["kmodel"],
                            nonlinear_mxts_mode=NonlinearMxtsMode.Rescale)
    got = scorer.run(net["x"], net["refs"], task_idx=1, progress=False)
    expected = _per_ref(net["contribs"], net["x"], net["refs"], 1)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_multi_input_graph_model():
    from deeplift.conversion import kerasapi_conversion as kc
    keras.utils.set_random_seed(0)
    a = keras.Input((3,), name="a")
    b = keras.Input((2,), name="b")
    h = keras.layers.Dense(4, activation="relu")(
        keras.layers.Concatenate()([a, b]))
    out = keras.layers.Dense(2, activation="sigmoid")(h)
    model = keras.Model([a, b], out)
    dmodel = kc.convert_keras_model(
        model, nonlinear_mxts_mode=NonlinearMxtsMode.Rescale, verbose=False)
    rng = np.random.RandomState(0)
    xa, xb = rng.randn(4, 3), rng.randn(4, 2)
    ra, rb = rng.randn(4, 2, 3), rng.randn(4, 2, 2)
    scorer = MultiRefScorer(dmodel, find_scores_layer=None)
    res = scorer.run([xa, xb], [ra, rb], task_idx=1, return_deltas=True,
                     progress=False)
    names = dmodel.get_input_layer_names()
    pre = scorer.scorer.target_layer.get_name()
    func = dmodel.get_target_contribs_func(
        find_scores_layer_name=names,
        pre_activation_target_layer_name=pre)
    per = [func(task_idx=1, input_data_list=[xa, xb],
                input_references_list=[ra[:, k], rb[:, k]], batch_size=8)
           for k in range(2)]
    for j in range(2):
        np.testing.assert_allclose(res.contribs[j],
                                   np.mean([p[j] for p in per], axis=0),
                                   rtol=1e-5, atol=1e-6)
    assert np.max(np.abs(res.deltas)) < 1e-4
    # a multi-input ref_fn returns one array per input
    fn = lambda ex, k, r: [ra[0][:k], rb[0][:k]]
    got = scorer.run([xa, xb], fn, num_refs=2, task_idx=1, progress=False)
    shared = scorer.run([xa, xb], [ra[0], rb[0]], task_idx=1,
                        progress=False)
    for g, s in zip(got, shared):
        np.testing.assert_allclose(g, s, rtol=1e-6)


def test_bad_inputs(net):
    scorer = MultiRefScorer(net["dmodel"], target_layer=net["target"])
    x, refs = net["x"], net["refs"]
    with pytest.raises(ValueError, match="expected"):
        scorer.run(x, refs[:, :, :5], progress=False)
    with pytest.raises(ValueError, match="expected"):
        scorer.run(x, refs[:3], progress=False)
    with pytest.raises(ValueError, match="num_refs=2"):
        scorer.run(x, refs, num_refs=2, progress=False)
    with pytest.raises(ValueError, match="num_refs must be given"):
        scorer.run(x, lambda e, k, r: refs[0], progress=False)
    with pytest.raises(ValueError, match="ref_fn returned"):
        scorer.run(x, lambda e, k, r: refs[0, :, :5], num_refs=K,
                   progress=False)
    with pytest.raises(ValueError, match="num_refs must be a positive"):
        scorer.run(x, lambda e, k, r: refs[0], num_refs=0, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        scorer.run(x, refs, batch_size=0, progress=False)
    with pytest.raises(ValueError, match="target_weights"):
        scorer.run(x, refs, target_weights=np.ones((N, 2)), progress=False)
    with pytest.raises(ValueError, match="NaN"):
        bad = refs.copy()
        bad[0, 0, 0, 0] = np.nan
        scorer.run(x, bad, progress=False)
    hidden = MultiRefScorer(net["dmodel"], find_scores_layer=2,
                            target_layer=net["target"])
    with pytest.raises(ValueError, match="only input layers"):
        hidden.run(x, refs, hypothetical=True, progress=False)
    with pytest.raises(RuntimeError, match="activation layer"):
        MultiRefScorer(net["dmodel"], target_layer=-1)
    with pytest.raises(TypeError):
        score_with_references(object(), x, refs)


def test_auto_batch_size_follows_the_largest_activation(net, monkeypatch):
    from deeplift import multiref
    scorer = MultiRefScorer(net["dmodel"], target_layer=net["target"])
    largest = max(int(np.prod(l.get_shape()[1:]))
                  for l in scorer.scorer.order)
    monkeypatch.setattr(multiref, "CPU_BATCH_BYTES", largest * 4 * 7 + 3)
    assert multiref.auto_batch_size(scorer.scorer, np.float32) == 7
    assert multiref.auto_batch_size(scorer.scorer, np.float64) == 3
    monkeypatch.setattr(multiref, "CPU_BATCH_BYTES", 1)
    assert multiref.auto_batch_size(scorer.scorer) == 1
    monkeypatch.setattr(multiref, "CPU_BATCH_BYTES", 1 << 40)
    assert multiref.auto_batch_size(scorer.scorer) == multiref.MAX_BATCH_PAIRS
    # the default (None) gives the same numbers as an explicit size
    a = scorer.run(net["x"], net["refs"], task_idx=1, progress=False)
    b = scorer.run(net["x"], net["refs"], task_idx=1, batch_size=2,
                   progress=False)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
