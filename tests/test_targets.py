"""Per-pair target weights (deeplift.targets, MultiRefScorer.run with a
target_weights function) against their definitions: a hand-built weights
array, tf.GradientTape on the Keras model, and summation to delta."""

import numpy as np
import pytest
import tensorflow as tf

from deeplift.conversion import kerasapi_conversion as kc
from deeplift.dinuc_shuffle import dinuc_shuffle_batch
from deeplift.multiref import MultiRefScorer
from deeplift.targets import profile_target, profile_weights
from tests.bpnet_net import chrombpnet_like, random_onehot

L_IN, PROFILE_LEN, N, K = 64, 30, 4, 3


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    kmodel = chrombpnet_like(length=L_IN, filters=6, num_dilated=2,
                             first_width=5, profile_width=7,
                             profile_length=PROFILE_LEN, seed=4)
    path = str(tmp_path_factory.mktemp("bpnet") / "bpnet.h5")
    kmodel.save(path)
    models = {mode: kc.convert_model_from_saved_files(
        path, nonlinear_mxts_mode=mode, verbose=False)
        for mode in ("Rescale", "Gradient")}
    x = random_onehot(N, L_IN, seed=2)
    refs = dinuc_shuffle_batch(x, K, rng=np.random.RandomState(5)).astype(
        np.float32)
    return dict(kmodel=kmodel, models=models, x=x, refs=refs)


def _logits(kmodel, x):
    return kmodel.predict(x, verbose=0)[0]


def test_fixed_convention_equals_hand_built_weights(net):
    weights = profile_weights(_logits(net["kmodel"], net["x"]))
    # its definition, written out
    logits = _logits(net["kmodel"], net["x"]).astype(np.float64)
    soft = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(weights, soft - 1.0 / PROFILE_LEN, atol=1e-12)
    assert np.allclose(weights.sum(axis=1), 0)
    scorer = MultiRefScorer(net["models"]["Rescale"],
                            target_layer="profile_logits")
    by_fn = scorer.run(net["x"], net["refs"], batch_size=5,
                       target_weights=profile_target("fixed"),
                       hypothetical=True, return_deltas=True)
    by_array = scorer.run(net["x"], net["refs"], batch_size=5,
                          target_weights=weights, hypothetical=True,
                          return_deltas=True)
    scale = np.abs(by_array.contribs).max()
    assert scale > 0
    np.testing.assert_allclose(by_fn.contribs, by_array.contribs,
                               atol=1e-5 * scale)
    np.testing.assert_allclose(by_fn.hypothetical_contribs,
                               by_array.hypothetical_contribs,
                               atol=1e-5 * scale)
    # Rescale, no max-pooling: scores sum to the weighted target change
    assert np.abs(by_fn.deltas).max() < 1e-4 * scale * L_IN


def test_fixed_convention_gradient_mode_equals_gradient_tape(net):
    kmodel, x = net["kmodel"], net["x"]
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        logits = kmodel(xt, training=False)[0]
        w = tf.stop_gradient(tf.nn.softmax(logits, axis=1)
                             - 1.0 / PROFILE_LEN)
        scalar = tf.reduce_sum(w * logits)
    grad = tape.gradient(scalar, xt).numpy()
    scorer = MultiRefScorer(net["models"]["Gradient"],
                            target_layer="profile_logits")
    result = scorer.run(x, net["refs"], batch_size=4,
                        target_weights=profile_target("fixed"),
                        return_multipliers=True)
    scale = np.abs(grad).max()
    assert scale > 0
    np.testing.assert_allclose(result.multipliers, grad, atol=1e-5 * scale)
    # contributions are the gradient times each pair's difference, averaged
    expected = np.mean(grad[:, None] * (x[:, None] - net["refs"]), axis=1)
    np.testing.assert_allclose(result.contribs, expected, atol=1e-5 * scale)


def test_shap_convention_equals_pair_weights(net):
    """Each pair's weights are 0.5 (w(x) + w(ref)) - 1/L: scoring every
    pair alone with its hand-built weights array gives the same mean."""
    kmodel, x, refs = net["kmodel"], net["x"], net["refs"]
    model = net["models"]["Rescale"]
    scorer = MultiRefScorer(model, target_layer="profile_logits")
    got = scorer.run(x, refs, batch_size=7, target_weights=profile_target(),
                     hypothetical=True)
    lx = _logits(kmodel, x)
    per_ref_h, per_ref_c = [], []
    for k in range(K):
        w = profile_weights(lx, _logits(kmodel, refs[:, k]),
                            convention="shap")
        r = scorer.run(x, refs[:, k:k + 1], target_weights=w,
                       hypothetical=True)
        per_ref_h.append(r.hypothetical_contribs)
        per_ref_c.append(r.contribs)
    scale = np.abs(got.contribs).max()
    assert scale > 0
    np.testing.assert_allclose(got.contribs, np.mean(per_ref_c, axis=0),
                               atol=1e-5 * scale)
    np.testing.assert_allclose(got.hypothetical_contribs,
                               np.mean(per_ref_h, axis=0), atol=1e-5 * scale)
    # the two conventions differ on this model
    fixed = scorer.run(x, refs, target_weights=profile_target("fixed"))
    assert np.abs(fixed - got.contribs).max() > 1e-3 * scale


def test_results_do_not_depend_on_batch_size(net):
    scorer = MultiRefScorer(net["models"]["Rescale"],
                            target_layer="profile_logits")
    a, b = (scorer.run(net["x"], net["refs"], batch_size=bs,
                       target_weights=profile_target())
            for bs in (1, 12))
    np.testing.assert_allclose(a, b, atol=1e-6 * np.abs(b).max())


def test_one_trace_per_convention(net):
    scorer = MultiRefScorer(net["models"]["Rescale"],
                            target_layer="profile_logits")
    for bs in (2, 5, 12):
        scorer.run(net["x"], net["refs"], batch_size=bs,
                   target_weights=profile_target("shap"))
    assert scorer.scorer.trace_count == 1
    assert profile_target("shap") is profile_target()


def test_bad_target_weights(net):
    scorer = MultiRefScorer(net["models"]["Rescale"],
                            target_layer="profile_logits")
    with pytest.raises(ValueError, match="convention"):
        profile_target("softmax")
    with pytest.raises(ValueError, match="list of tasks"):
        scorer.run(net["x"], net["refs"], task_idx=[0, 1],
                   target_weights=profile_target())
    with pytest.raises(ValueError, match="logits_ref"):
        profile_weights(np.zeros((2, 5)), convention="shap")
