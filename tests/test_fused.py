"""XLA-fused rule math (deeplift.layers.activations.fused) must give the
same scores, bit for bit, as the plain TensorFlow ops."""
import numpy as np
import pytest

from deeplift.layers import NonlinearMxtsMode as M

from tests.nets import build, random_data


@pytest.mark.parametrize("mode", [M.Rescale, M.RevealCancel])
def test_fused_rule_math_equals_unfused(mode, monkeypatch):
    """ReLU rules on large layers run XLA-fused; the scores are bit for
    bit those of the plain TensorFlow ops (DEEPLIFT_NO_XLA=1)."""
    from deeplift.layers import activations
    spec = [("conv1d", 40, 5, 1, 1, "valid", "relu"),
            ("maxpool1d", 2, 2, "valid"),
            ("conv1d", 40, 3, 1, 1, "valid", "relu"),
            ("flatten",), ("dense", 4, None)]
    shape = (120, 4)
    x, ref = random_data(shape, 7)
    scores = {}
    for setting in ("", "1"):
        monkeypatch.setenv("DEEPLIFT_NO_XLA", setting)
        _, model, target = build(spec, shape, mode=mode)
        relu = model.get_layers()[2]
        assert relu.get_shape()[1] * relu.get_shape()[2] >= \
            activations.FUSE_MIN_ELEMENTS
        func = model.get_target_contribs_func(find_scores_layer_idx=0,
                                              target_layer_idx=target)
        scores[setting] = func(task_idx=1, input_data_list=[x],
                               input_references_list=[ref], batch_size=3)
        # the fused path really ran (compiled functions kept on the layer)
        assert bool(relu.__dict__.get("_fused_math")) == (setting == "")
    np.testing.assert_array_equal(scores[""], scores["1"])
