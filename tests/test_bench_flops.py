"""bench/flops.py: analytic forward FLOPs, against counts by hand."""
import pytest

from bench.flops import model_flops


def test_flops_by_hand_and_only_the_needed_layers():
    k2 = pytest.importorskip("tf_keras")
    inp = k2.Input((10, 4), name="x")
    conv = k2.layers.Conv1D(3, 3, activation="relu", name="conv")(inp)
    dil = k2.layers.Conv1D(3, 3, dilation_rate=2, name="dil")(conv)
    crop = k2.layers.Cropping1D(2, name="crop")(conv)
    add = k2.layers.Add(name="add")([dil, crop])
    gap = k2.layers.GlobalAveragePooling1D(name="gap")(add)
    counts = k2.layers.Dense(1, name="counts")(gap)
    prof = k2.layers.Conv1D(1, 3, name="prof")(add)
    model = k2.Model(inp, [prof, counts])
    got = model_flops(model, "counts")
    # conv: 8 positions x 3 filters x (3 taps x 4 channels) multiply-adds,
    # + 24 bias adds + 24 ReLUs; dil: 4 x 3 x (3 x 3) MACs + 12 bias adds;
    # add: 12; gap: 12; counts: 3 MACs + 1 bias; no "prof"
    assert got == {"x": 0, "conv": 2 * 8 * 3 * 12 + 24 + 24,
                   "dil": 2 * 4 * 3 * 9 + 12, "crop": 0, "add": 12,
                   "gap": 12, "counts": 2 * 3 + 1}
    both = model_flops(model)
    assert both["prof"] == 2 * 2 * 1 * 3 * 3 + 2 and set(both) > set(got)
