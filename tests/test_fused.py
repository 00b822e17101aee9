"""XLA-fused rule math (deeplift.layers.activations.fused) must give the
same scores, bit for bit, as the plain TensorFlow ops, and run only when
asked for (or, by default, for calls with many examples)."""
import numpy as np
import pytest

from deeplift import scoring
from deeplift.layers import NonlinearMxtsMode as M
from deeplift.layers import activations
from deeplift.multiref import score_with_references

from tests.nets import build, random_data

SPEC = [("conv1d", 80, 5, 1, 1, "valid", "relu"),
        ("maxpool1d", 2, 2, "valid"),
        ("conv1d", 40, 3, 1, 1, "valid", "relu"),
        ("flatten",), ("dense", 4, None)]
SHAPE = (120, 4)


def _net(mode):
    _, model, target = build(SPEC, SHAPE, mode=mode)
    relu = model.get_layers()[2]
    # large enough to be fused
    assert relu.get_shape()[1] * relu.get_shape()[2] >= \
        activations.FUSE_MIN_ELEMENTS
    func = model.get_target_contribs_func(find_scores_layer_idx=0,
                                          target_layer_idx=target)
    return func, relu


@pytest.mark.parametrize("mode", [M.Rescale, M.RevealCancel])
def test_fused_rule_math_equals_unfused(mode):
    x, ref = random_data(SHAPE, 7)
    func, relu = _net(mode)
    kwargs = dict(task_idx=1, input_data_list=[x],
                  input_references_list=[ref], batch_size=3)
    plain = func(fuse=False, **kwargs)
    assert not relu.__dict__.get("_fused_math")
    fused = func(fuse=True, **kwargs)
    # the fused path really ran (compiled functions kept on the layer)
    assert relu.__dict__.get("_fused_math")
    np.testing.assert_array_equal(fused, plain)
    # task lists and multi-reference scoring take the same switch
    np.testing.assert_array_equal(
        func(fuse=True, **dict(kwargs, task_idx=[1]))[0], plain)
    refs = np.stack([ref, ref[::-1]], axis=1)
    np.testing.assert_array_equal(
        score_with_references(func, x, refs, task_idx=1, progress=False,
                              fuse=True),
        score_with_references(func, x, refs, task_idx=1, progress=False,
                              fuse=False))


def test_fusion_is_chosen_by_call_size_and_can_be_turned_off(monkeypatch):
    x, ref = random_data(SHAPE, 5)
    func, relu = _net(M.Rescale)
    func(task_idx=0, input_data_list=[x], input_references_list=[ref],
         batch_size=5)
    assert not relu.__dict__.get("_fused_math")   # few examples: plain ops
    assert scoring.should_fuse(None, scoring.FUSE_MIN_EXAMPLES)
    assert not scoring.should_fuse(None, scoring.FUSE_MIN_EXAMPLES - 1)
    monkeypatch.setenv("DEEPLIFT_NO_XLA", "1")
    func(task_idx=0, input_data_list=[x], input_references_list=[ref],
         batch_size=5, fuse=True)
    assert not relu.__dict__.get("_fused_math")
    with pytest.raises(ValueError, match="fuse must be True, False or None"):
        func(task_idx=0, input_data_list=[x], batch_size=5, fuse="yes")


def test_genomics_decides_fusion_for_the_whole_job(monkeypatch):
    """score_sequences works in chunks of 128 sequences; whether to fuse is
    decided once, from all of the job's (sequence, reference) pairs."""
    from deeplift import genomics
    calls = []
    real = scoring.should_fuse

    def spy(fuse, num):
        calls.append((fuse, num))
        return real(fuse, num)
    monkeypatch.setattr(genomics.scoring, "should_fuse", spy)
    rng = np.random.RandomState(0)
    onehot = np.eye(4, dtype=np.float32)[rng.randint(0, 4, (3, 200))]
    from deeplift.cli import DEMO_MODEL
    genomics.score_sequences(DEMO_MODEL, onehot, method="rescale",
                             reference="dinuc-shuffle:5", progress=False)
    genomics.score_sequences(DEMO_MODEL, onehot, method="integrated_gradients",
                             reference="gc", ig_steps=4, progress=False)
    assert calls == [(None, 3 * 5), (None, 3 * 1 * 4)]
