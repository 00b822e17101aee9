"""The genomics attention model of ``bench/flop_account.py --workload
attention`` (tests/attention_net.py, MultiHeadAttention traced), scored
with several dinucleotide-shuffled references per sequence through
``MultiRefScorer.run``, as the benchmark does: the contributions, and the
hypothetical contributions times the one-hot input (what
``genomics.score_sequences`` returns), sum to the target's output minus
its mean over the references, Keras' own forward passes."""
import numpy as np
import pytest

from deeplift.conversion import kerasapi_conversion as kc
from deeplift.dinuc_shuffle import dinuc_shuffle_batch
from deeplift.multiref import MultiRefScorer
from tests.attention_net import attention_like
from tests.bpnet_net import random_onehot
from tests.tracing_checks import float32_policy, set_policy  # noqa: F401

N, K, LENGTH = 3, 3, 64

#: tolerance on the summation gap, a fraction of the outputs' scale.
#: float64: rounding only (every rule here sums to delta exactly; measured
#: ~2e-16).  float32: rounding of two forward passes and of the backward
#: sums over 64 x 4 inputs, each ~1e-7 relative (measured ~5e-7).
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-12}


@pytest.mark.parametrize("mode", ["Rescale", "DeepLIFT_GenomicsDefault"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_multiref_sums_to_mean_output_difference(dtype, mode):
    set_policy(dtype)
    model = attention_like(length=LENGTH, filters=8, first_width=5, pool=4,
                           heads=2, key_dim=4, seed=3)
    x = random_onehot(N, LENGTH).astype(dtype)
    refs = dinuc_shuffle_batch(x, K, np.random.RandomState(0)).astype(dtype)
    scorer = MultiRefScorer(kc.convert_keras_model(
        model, nonlinear_mxts_mode=mode, verbose=False),
        target_layer="counts")
    got = scorer.run(x, refs, task_idx=0, hypothetical=True, progress=False)
    out = np.asarray(model(x))[:, 0]
    out_refs = np.asarray(model(refs.reshape(N * K, LENGTH, 4)))[:, 0]
    delta = out - out_refs.reshape(N, K).mean(axis=1)
    scale = max(np.abs(out).max(), np.abs(out_refs).max())
    atol = TOLERANCE[dtype] * scale
    assert got.contribs.dtype == dtype
    np.testing.assert_allclose(got.contribs.reshape(N, -1).sum(1), delta,
                               rtol=0, atol=atol)
    np.testing.assert_allclose(
        (got.hypothetical_contribs * x).reshape(N, -1).sum(1), delta,
        rtol=0, atol=atol)
    # the differences are not rounding noise themselves
    assert np.abs(delta).max() > 1e3 * atol
