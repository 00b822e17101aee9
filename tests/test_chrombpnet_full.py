"""ChromBPNet's full model (tests/chrombpnet_full.py: bias + bias-free
BPNet under tf_keras, counts combined by a ``Lambda`` logsumexp) through
``deeplift contribs``: ``--target profile`` needs no Lambda and works
without trust; ``--target counts`` without ``--trust-model`` is one error
line, exit 2, nothing written; with ``--trust-model`` (once Lambda layers
are traced) both heads score."""
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tf_keras")

from deeplift.cli import main  # noqa: E402
from deeplift.dinuc_shuffle import dinuc_shuffle_batch  # noqa: E402
from deeplift.targets import profile_weights  # noqa: E402
from tests.bpnet_net import random_onehot  # noqa: E402
from tests.chrombpnet_full import chrombpnet_full  # noqa: E402

WORKER = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "bench", "shap_worker.py")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("chrombpnet_full")
    kmodel = chrombpnet_full(seed=1)
    path = str(tmp / "chrombpnet.h5")
    kmodel.save(path)
    x = random_onehot(3, 96, seed=3)
    refs = dinuc_shuffle_batch(x, 1, rng=np.random.RandomState(0)).astype(
        np.float32)                                       # (3, 1, 96, 4)
    np.save(str(tmp / "x.npy"), x)
    np.save(str(tmp / "refs.npy"), refs)
    return dict(kmodel=kmodel, path=path, tmp=tmp, x=x, refs=refs)


def run(argv, capfd):
    status = main([str(a) for a in argv])
    out, err = capfd.readouterr()
    return status, out, err


def contribs_argv(setup, target, out, *extra):
    return ["contribs", setup["path"], "--npy", setup["tmp"] / "x.npy",
            "--reference", setup["tmp"] / "refs.npy", "--target", target,
            "--method", "rescale", "--out", out, "--quiet"] + list(extra)


def test_profile_without_trust(setup, capfd):
    """The profile head never touches the Lambda: scored without trust;
    with one reference per sequence, sum(onehot * hypothetical) is the
    change of ChromBPNet's profile scalar with the shap-convention
    weights, w . (l(x) - l(ref)), l from tf_keras' own forward pass."""
    out = setup["tmp"] / "profile.npz"
    status, _, err = run(contribs_argv(setup, "profile", out), capfd)
    assert status == 0, err
    hyp = np.load(out)["hypothetical"]
    x, ref = setup["x"], setup["refs"][:, 0]
    lx = setup["kmodel"](x)[0].numpy().astype(np.float64)
    lr = setup["kmodel"](ref)[0].numpy().astype(np.float64)
    w = profile_weights(lx, lr, convention="shap")
    expected = (w * (lx - lr)).sum(axis=1)
    total = (x * hyp).sum(axis=(1, 2))
    scale = np.abs(x * hyp).sum(axis=(1, 2))
    # float32 scores: 1e-4 of the contribution scale
    np.testing.assert_allclose(total / scale, expected / scale, atol=1e-4,
                               rtol=0)


def test_counts_without_trust_is_one_line(setup, capfd):
    out = setup["tmp"] / "counts.npz"
    status, _, err = run(contribs_argv(setup, "counts", out), capfd)
    assert status == 2
    lines = [l for l in err.strip().splitlines()
             if l.startswith("deeplift: error: ")]
    assert len(lines) == 1, err
    assert "logcount_predictions" in lines[0] and "Lambda" in lines[0]
    assert "--trust-model" in lines[0]
    assert not os.path.exists(out)


def test_counts_with_trust_model(setup, capfd):
    """With --trust-model the Lambda is loaded and traced (needs the
    tracing engine): the counts scores sum to the change of the model's
    own counts output (one reference per sequence)."""
    pytest.importorskip("deeplift.conversion.tracing")
    out = setup["tmp"] / "counts_trusted.npz"
    status, _, err = run(contribs_argv(setup, "counts", out,
                                       "--trust-model"), capfd)
    assert status == 0, err
    hyp = np.load(out)["hypothetical"]
    x, ref = setup["x"], setup["refs"][:, 0]
    expected = (setup["kmodel"](x)[1].numpy()
                - setup["kmodel"](ref)[1].numpy())[:, 0]
    total = (x * hyp).sum(axis=(1, 2))
    scale = np.abs(x * hyp).sum(axis=(1, 2))
    np.testing.assert_allclose(total / scale, expected / scale, atol=1e-4,
                               rtol=0)


def _shap(setup, targets):
    """shap's DeepExplainer as ChromBPNet runs it (bench/shap_worker.py, its
    own process) on the full model, 5 dinucleotide-shuffled references per
    sequence; returns (refs, {target: hypothetical})."""
    from deeplift.dinuc_shuffle import dinuc_shuffle_batch
    refs = dinuc_shuffle_batch(setup["x"], 5, rng=np.random.RandomState(
        1)).astype(np.float32)
    data = str(setup["tmp"] / "shap_data.npz")
    np.savez(data, x=setup["x"], refs=refs)
    out = str(setup["tmp"] / ("shap_%s.npz" % "_".join(targets)))
    proc = subprocess.run([sys.executable, WORKER, setup["path"], data, out,
                           ",".join(targets)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        pytest.fail("shap worker failed: %s" % proc.stderr[-2000:])
    found = np.load(out)
    return refs, {t: found["hypothetical_" + t] for t in targets}


def test_profile_equals_shap_deepexplainer(setup):
    """Without trust, the profile head of the full model (both sub-models'
    logits added) equals shap's numbers as tests/test_shap_twin.py checks
    for one BPNet (same tolerance, same reason)."""
    pytest.importorskip("shap")
    from deeplift.conversion import kerasapi_conversion as kc
    from deeplift.multiref import MultiRefScorer
    from deeplift.targets import profile_target
    refs, theirs = _shap(setup, ["profile"])
    model = kc.convert_model_from_saved_files(
        setup["path"], nonlinear_mxts_mode="Rescale", verbose=False)
    ours = MultiRefScorer(model, target_layer="logits_profile_predictions"
                          ).run(setup["x"], refs, hypothetical=True,
                                target_weights=profile_target("shap"),
                                batch_size=7).hypothetical_contribs
    scale = np.abs(theirs["profile"]).max()
    assert scale > 0
    # as tests/test_shap_twin.py: shap's two-input rule for the product is
    # a float32 ratio over logit differences that can be tiny
    np.testing.assert_allclose(ours, theirs["profile"], atol=1e-4 * scale,
                               rtol=0)


def test_counts_with_trust_against_shap_deepexplainer(setup):
    """With trust the counts head (ChromBPNet's Lambda ``logsumexp`` of
    the two counts, traced) is scored; its totals are exact: for each
    sequence, sum(x * hypothetical) is the mean over its references of
    the change of the head, from the tf_keras model's own counts.  shap's
    DeepExplainer gives the same totals (to float32 noise) but splits them
    differently between the two counts: TensorFlow's ``reduce_logsumexp``
    is ``log(sum(exp(c - m))) + m`` with ``m = stop_gradient(max(c))``
    taken separately on each sequence and reference, where deeplift's
    tracing shifts both by one shared constant (exact, and independent of
    the constant); so the per-base scores differ by about 0.4% of their
    scale on this model (reported, bounded loosely)."""
    pytest.importorskip("shap")
    pytest.importorskip("deeplift.conversion.tracing")
    import tf_keras
    from deeplift.conversion import kerasapi_conversion as kc
    from deeplift.multiref import MultiRefScorer
    refs, theirs = _shap(setup, ["counts"])
    model = kc.convert_model_from_saved_files(
        setup["path"], nonlinear_mxts_mode="Rescale", verbose=False,
        trust_model=True)
    ours = MultiRefScorer(model, target_layer="logcount_predictions").run(
        setup["x"], refs, hypothetical=True, task_idx=0,
        batch_size=7).hypothetical_contribs
    kmodel = setup["kmodel"]
    both = tf_keras.Model(kmodel.input, kmodel.get_layer(
        "logcount_predictions").input)         # the two counts (N, 2)
    n, k = refs.shape[:2]
    cx = both(setup["x"]).numpy().astype(np.float64)
    cr = both(refs.reshape((n * k,) + refs.shape[2:])).numpy().astype(
        np.float64).reshape(n, k, 2)

    def lse(c):
        return np.log(np.exp(c).sum(-1))
    delta = (lse(cx)[:, None] - lse(cr)).mean(axis=1)
    # hypothetical scores average (e_base - ref) . multipliers over the
    # references, so sum(x * hypothetical) is the mean total of the pairs
    totals_ours = (setup["x"] * ours).sum(axis=(1, 2))
    totals_shap = (setup["x"] * theirs["counts"]).sum(axis=(1, 2))
    scale = np.abs(setup["x"] * ours).sum(axis=(1, 2)).max()
    # float32: 1e-4 of the contribution scale
    np.testing.assert_allclose(totals_ours, delta, atol=1e-4 * scale)
    np.testing.assert_allclose(totals_shap, delta, atol=1e-3 * scale)
    gap = np.abs(ours - theirs["counts"]).max() / np.abs(ours).max()
    assert gap < 0.02, gap    # 0.4% observed (float32, this seed)
