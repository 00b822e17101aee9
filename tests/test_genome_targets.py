"""Targets of two-headed BPNet / ChromBPNet-style models through
deeplift.genomics.score_sequences and ``deeplift contribs --target``:
heads found by shape, the profile target equal to shap's DeepExplainer
(optional: shap + tf_keras), its fixed-weight variant equal to its
definition, the CLI and the chunked store agreeing with the Python API."""
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tf_keras")

from deeplift import genomics  # noqa: E402
from deeplift.cli import main  # noqa: E402
from deeplift.genomics.models import resolve_target  # noqa: E402
from tests.bpnet_net import chrombpnet_like, random_onehot  # noqa: E402

L_IN, PROFILE_LEN = 96, 40
WORKER = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "bench", "shap_worker.py")


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bpnet_targets")
    kmodel = chrombpnet_like(length=L_IN, filters=8, num_dilated=3,
                             first_width=7, profile_width=9,
                             profile_length=PROFILE_LEN, seed=1)
    path = str(tmp / "bpnet.h5")
    kmodel.save(path)
    x = random_onehot(3, L_IN, seed=3)
    refs = genomics.make_references(x, "dinuc-shuffle:5", seed=0)
    model = genomics.load_model(path, method="rescale")
    return dict(tmp=tmp, path=path, kmodel=kmodel, x=x, refs=refs,
                model=model)


def test_heads_found_by_shape(net):
    model = net["model"]
    assert resolve_target(model, "counts").startswith("logcounts")
    assert resolve_target(model, "profile").startswith("profile_logits")
    demo = genomics.load_model(
        os.path.join(os.path.dirname(genomics.__file__), "..", "data",
                     "demo_genomics_model.h5"))
    with pytest.raises(ValueError, match="cannot tell the counts head"):
        resolve_target(demo, "counts")


def test_fixed_convention_equals_its_definition(net):
    """Weights fixed at w(x) = softmax(l(x)) - 1/L: the same as giving,
    sequence by sequence, those weights as a constant target_weights
    array computed from Keras' own logits."""
    x, refs = net["x"], net["refs"]
    ours, _ = genomics.score_sequences(
        net["model"], x, method=None, target="profile",
        target_convention="fixed", reference=refs, progress=False)
    logits = net["kmodel"].predict(x, verbose=0)[0].astype(np.float64)
    w = np.exp(logits - logits.max(1, keepdims=True))
    w = w / w.sum(1, keepdims=True) - 1.0 / PROFILE_LEN
    layer = resolve_target(net["model"], "profile")
    for i in range(len(x)):
        expected, _ = genomics.score_sequences(
            net["model"], x[i:i + 1], method=None, target_layer=layer,
            target_weights=w[i].astype(np.float32), reference=refs[i:i + 1],
            progress=False)
        np.testing.assert_allclose(ours[i:i + 1], expected, rtol=1e-5,
                                   atol=1e-6 * np.abs(expected).max())
    shap_conv, _ = genomics.score_sequences(
        net["model"], x, method=None, target="profile", reference=refs,
        progress=False)
    assert np.abs(shap_conv - ours).max() > 1e-3 * np.abs(ours).max()


def test_profile_and_counts_equal_shap_deepexplainer(net):
    pytest.importorskip("shap")
    data = str(net["tmp"] / "data.npz")
    np.savez(data, x=net["x"], refs=net["refs"])
    out = str(net["tmp"] / "shap.npz")
    proc = subprocess.run([sys.executable, WORKER, net["path"], data, out,
                           "counts,profile"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    theirs = dict(np.load(out))
    for target, tol in (("counts", 1e-5), ("profile", 1e-4)):
        ours, _ = genomics.score_sequences(
            net["model"], net["x"], method=None, target=target,
            reference=net["refs"],
            progress=False)
        expected = theirs["hypothetical_" + target]
        scale = np.abs(expected).max()
        # tolerances as in tests/test_shap_twin.py (shap's float32 ratio
        # rule for the product of weights and logits)
        np.testing.assert_allclose(ours, expected, atol=tol * scale, rtol=0)


def test_cli_target_profile_npz_and_store_agree(net, capfd, tmp_path):
    pytest.importorskip("zarr")
    npy = tmp_path / "x.npy"
    np.save(npy, net["x"])
    common = ["contribs", net["path"], "--npy", str(npy), "--method",
              "rescale", "--reference", "dinuc-shuffle:4", "--target",
              "profile", "--quiet"]
    assert main(common + ["--out", str(tmp_path / "p.npz")]) == 0
    assert main(common + ["--out", str(tmp_path / "p.zarr"),
                          "--chunk-size", "2"]) == 0
    npz = np.load(tmp_path / "p.npz")
    from deeplift.genomics.store import ScoreStore
    store = ScoreStore.open(tmp_path / "p.zarr")
    stored = np.asarray(store.array("hypothetical")[:])
    assert stored.tobytes() == npz["hypothetical"].tobytes()
    assert store.fingerprint["target"] == "profile"
    assert store.fingerprint["target_convention"] == "shap"
    model = genomics.load_model(net["path"], method="rescale",
                                maxpool_deeplift_mode="summation_to_delta")
    api, _ = genomics.score_sequences(model, net["x"], method=None,
                                      target="profile",
                                      reference="dinuc-shuffle:4",
                                      progress=False)
    assert api.tobytes() == stored.tobytes()
    capfd.readouterr()
    status = main(common[:-1] + ["--task", "1", "--quiet", "--out",
                                 str(tmp_path / "q.npz")])
    err = capfd.readouterr().err
    assert status == 2 and "--task does not apply" in err
