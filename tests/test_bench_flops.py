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


def _cross_attention_model(layers_module, input_fn, model_fn):
    """query (3, 4), value (5, 2); 2 heads, key_dim 3 (value_dim 3),
    biases; LayerNormalization, AveragePooling1D(3), MaxPooling1D(2)."""
    q = input_fn((3, 4), name="q")
    v = input_fn((5, 2), name="v")
    att = layers_module.MultiHeadAttention(num_heads=2, key_dim=3,
                                           name="mha")(q, v)
    norm = layers_module.LayerNormalization(name="norm")(att)
    avg = layers_module.AveragePooling1D(3, name="avg")(norm)
    top = layers_module.MaxPooling1D(2, name="max")(norm)
    return model_fn([q, v], [avg, top])


# by hand, per example (query length 3, width 4; key = value, length 5,
# width 2; 2 heads x 3 = 6 projected units per position):
MHA_BY_HAND = {
    "query": 2 * 3 * 4 * 6 + 3 * 6,      # 144 MACs x 2 + 18 bias adds
    "key": 2 * 5 * 2 * 6 + 5 * 6,        # 60 MACs x 2 + 30 bias adds
    "value": 2 * 5 * 2 * 6 + 5 * 6,
    "scale": 3 * 6,                      # q / sqrt(key_dim)
    "scores": 2 * 2 * 3 * 5 * 3,         # 2 heads x (3 x 5) x 3 MACs
    "softmax": 5 * 2 * 3 * 5,            # 5 per score element
    "weighted_sum": 2 * 2 * 3 * 5 * 3,   # 2 heads x 3 x 5 x value_dim 3
    "output": 2 * 3 * 6 * 4 + 3 * 4}     # back to width 4, + bias


@pytest.mark.parametrize("flavour", ["keras", "tf_keras"])
def test_attention_norm_and_pooling_by_hand(flavour):
    from bench.flops import attention_parts, model_bilinear_flops
    lib = pytest.importorskip(flavour)
    model = _cross_attention_model(lib.layers, lib.Input, lib.Model)
    assert attention_parts(model.get_layer("mha")) == MHA_BY_HAND
    got = model_flops(model)
    assert got["mha"] == 1146 == sum(MHA_BY_HAND.values())
    # 12 elements (3 rows of 4): 7 each (scale and center on) + 4 per row
    assert got["norm"] == 7 * 12 + 4 * 3
    # (3, 4) -> avg (1, 4): 3 taps each; max (1, 4): 1 comparison each
    assert got["avg"] == 3 * 4 and got["max"] == 1 * 4
    assert model_bilinear_flops(model) == 2 * 180
    assert model_bilinear_flops(model, "norm") == 2 * 180


def test_attention_bilinear_zero_without_attention_and_unknown_raises():
    import keras
    from bench.flops import model_bilinear_flops
    inp = keras.Input((6, 4))
    model = keras.Model(inp, keras.layers.Conv1DTranspose(
        2, 3, name="up")(keras.layers.Conv1D(2, 3, name="c")(inp)))
    assert model_bilinear_flops(model, "c") == 0
    with pytest.raises(ValueError, match="no FLOP rule .*Conv1DTranspose"):
        model_flops(model)
    two_axes = keras.Input((3, 3, 4))
    mha = keras.layers.MultiHeadAttention(2, 3, attention_axes=(1, 2),
                                          name="mha2")
    model = keras.Model(two_axes, mha(two_axes, two_axes))
    with pytest.raises(ValueError, match="one attention axis"):
        model_flops(model)
