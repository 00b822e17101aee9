"""Optional (skips without shap and tf_keras): on a small tf_keras
BPNet-style model, this package's multi-reference Rescale equals shap's
DeepExplainer as ChromBPNet runs it (graph mode, bench/shap_worker.py in
its own process) on the same (sequence, reference) pairs: the counts head,
and the profile head through deeplift.targets.profile_target."""
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("shap")
pytest.importorskip("tf_keras")

from deeplift.conversion import kerasapi_conversion as kc  # noqa: E402
from deeplift.dinuc_shuffle import dinuc_shuffle_batch  # noqa: E402
from deeplift.multiref import MultiRefScorer  # noqa: E402
from deeplift.targets import profile_target  # noqa: E402
from tests.bpnet_net import chrombpnet_like, random_onehot  # noqa: E402

WORKER = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "bench", "shap_worker.py")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shap_twin")
    kmodel = chrombpnet_like(length=96, filters=8, num_dilated=3,
                             first_width=7, profile_width=9,
                             profile_length=40, seed=1)
    path = str(tmp / "bpnet.h5")
    kmodel.save(path)
    x = random_onehot(3, 96, seed=3)
    refs = dinuc_shuffle_batch(x, 5, rng=np.random.RandomState(0)).astype(
        np.float32)
    data = str(tmp / "data.npz")
    np.savez(data, x=x, refs=refs)
    model = kc.convert_model_from_saved_files(
        path, nonlinear_mxts_mode="Rescale", verbose=False)
    return dict(path=path, data=data, tmp=tmp, x=x, refs=refs, model=model)


@pytest.fixture(scope="module")
def shap_scores(setup):
    """Both targets from one worker process."""
    out = str(setup["tmp"] / "shap.npz")
    proc = subprocess.run([sys.executable, WORKER, setup["path"],
                           setup["data"], out, "counts,profile"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail("shap worker failed: %s" % proc.stderr[-2000:])
    return dict(np.load(out))


@pytest.mark.parametrize("target, layer", [("counts", "logcounts"),
                                           ("profile", "profile_logits")])
def test_equals_shap_deepexplainer(setup, shap_scores, target, layer):
    theirs = shap_scores["hypothetical_" + target]
    kwargs = (dict(task_idx=0) if target == "counts"
              else dict(target_weights=profile_target("shap")))
    ours = MultiRefScorer(setup["model"], target_layer=layer).run(
        setup["x"], setup["refs"], hypothetical=True, batch_size=7,
        **kwargs).hypothetical_contribs
    scale = np.abs(theirs).max()
    assert scale > 0
    # counts: 1e-5 of the score scale.  profile: shap's two-input rule
    # for the product (weights x logits) is a float32 ratio,
    # (f(x0, x1) - f(r0, x1) + ...) / (x0 - r0), over logit differences
    # that can be tiny, where ours uses the exact 0.5 (w(x) + w(ref)):
    # they agree to about 1e-5 of the scale (a few values a little above)
    tol = 1e-5 if target == "counts" else 1e-4
    np.testing.assert_allclose(ours, theirs, atol=tol * scale, rtol=0)
    if target == "profile":
        # the fixed-weight convention is a different target
        fixed = MultiRefScorer(setup["model"], target_layer=layer).run(
            setup["x"], setup["refs"], hypothetical=True,
            target_weights=profile_target("fixed")).hypothetical_contribs
        assert np.abs(fixed - theirs).max() > 0.1 * scale
