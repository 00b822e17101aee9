"""keras.layers.MultiHeadAttention converted by tracing (both of Keras'
code paths: ``dot_product_attention`` and einsum + Softmax layer), with
masks, ``use_causal_mask`` and cross-attention; a small transformer block.
Checks: tests/tracing_checks.py (forward == Keras, Gradient == tape,
Rescale / RevealCancel sum to the output difference)."""
import numpy as np
import pytest
import keras

from deeplift.layers.traced import TracedLayer
from tests.tracing_checks import (  # noqa: F401 (fixture)
    float32_policy, check_traced, set_policy, data, RESCALE, convert,
    keras_out)


def mha(dropout=0.0, **kwargs):
    # dropout > 0 takes Keras' einsum + Softmax-layer path (inference: no
    # dropout applied); 0 its dot_product_attention path
    return keras.layers.MultiHeadAttention(num_heads=2, key_dim=3,
                                           dropout=dropout, **kwargs)


def head(y, dtype):
    return keras.layers.Dense(2, dtype=dtype)(keras.layers.Flatten(
        dtype=dtype)(y))


@pytest.mark.parametrize("dropout", [0.0, 0.1])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_self_attention(dropout, causal, dtype):
    set_policy(dtype)
    keras.utils.set_random_seed(0)
    inp = keras.Input((5, 4), dtype=dtype)
    y = mha(dropout)(inp, inp, use_causal_mask=causal)
    kmodel = keras.Model(inp, head(y, dtype))
    x, ref = data((5, 4), dtype)
    dl = check_traced(kmodel, [x], [ref], grad=dtype == np.float64)
    layer = [l for l in dl.all_layers() if isinstance(l, TracedLayer)][0]
    assert layer.keras_class == "MultiHeadAttention"
    assert layer.op_counts.get("Softmax") == 1
    # q k^T and weights @ v: two bilinear contractions of varying operands
    assert layer.op_counts.get("Einsum", 0) + layer.op_counts.get(
        "BatchMatMulV2", 0) >= 2


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_cross_attention_with_key(dropout):
    dtype = np.float64
    set_policy(dtype)
    keras.utils.set_random_seed(1)
    q = keras.Input((5, 4), dtype=dtype)
    v = keras.Input((7, 3), dtype=dtype)
    k = keras.Input((7, 2), dtype=dtype)
    y = mha(dropout)(q, v, key=k)
    kmodel = keras.Model([q, v, k], head(y, dtype))
    xs, refs = zip(*[data(s, dtype, seed=i) for i, s in
                     enumerate([(5, 4), (7, 3), (7, 2)])])
    check_traced(kmodel, list(xs), list(refs))


@pytest.mark.parametrize("dropout", [0.0, 0.1])
@pytest.mark.parametrize("causal", [False, True])
def test_attention_mask_input(dropout, causal):
    """A 0/1 attention mask given as a model input: used as it is (its
    reference is itself) and never attributed."""
    dtype = np.float64
    set_policy(dtype)
    keras.utils.set_random_seed(2)
    inp = keras.Input((5, 4), dtype=dtype)
    mask = keras.Input((5, 5), dtype=dtype)
    y = mha(dropout)(inp, inp, attention_mask=mask, use_causal_mask=causal)
    kmodel = keras.Model([inp, mask], head(y, dtype))
    x, ref = data((5, 4), dtype)
    rng = np.random.RandomState(3)
    m = (rng.uniform(size=(len(x), 5, 5)) > 0.3).astype(dtype)
    m[:, :, 0] = 1  # every query attends to something
    check_traced(kmodel, [x, m], [ref, m], attributed=[True, False])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transformer_block(dtype):
    """MHA + residual Add + LayerNormalization + Dense MLP with gelu +
    residual + LayerNormalization + pooling + Dense (only MHA is
    traced)."""
    set_policy(dtype)
    keras.utils.set_random_seed(4)
    inp = keras.Input((6, 8), dtype=dtype)
    a = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)(inp, inp)
    h = keras.layers.LayerNormalization()(keras.layers.Add()([inp, a]))
    f = keras.layers.Dense(16, activation="gelu")(h)
    f = keras.layers.Dense(8)(f)
    h = keras.layers.LayerNormalization()(keras.layers.Add()([h, f]))
    out = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling1D()(h))
    kmodel = keras.Model(inp, out)
    x, ref = data((6, 8), dtype)
    # deeplift's GELU derivative is that of tf.nn.gelu's own erfc form
    # (whose float64 kernel is ~5e-9 off the erf form), so the default
    # Gradient tolerance holds
    dl = check_traced(kmodel, [x], [ref], grad=dtype == np.float64)
    assert [type(l).__name__ for l in dl.all_layers()].count(
        "TracedLayer") == 1


def test_compiled_scoring_functions():
    """The public scoring functions (compiled, batched) on a masked causal
    attention model: the same contributions as the eager sweeps, summing
    to the output difference."""
    dtype = np.float32
    set_policy(dtype)
    keras.utils.set_random_seed(5)
    inp = keras.Input((5, 4))
    mask = keras.Input((5, 5))
    y = mha(0.0)(inp, inp, attention_mask=mask, use_causal_mask=True)
    kmodel = keras.Model([inp, mask], head(y, dtype))
    x, _ = data((5, 4), dtype, n=6)
    m = np.ones((6, 5, 5), dtype)
    m[:3, :, 4] = 0
    ref = np.zeros((1, 5, 4), dtype)  # shared, beside per-example masks
    dl = convert(kmodel, RESCALE)
    names = dl.get_input_layer_names()
    target = dl.output_layers()[0].get_name()
    func = dl.get_target_contribs_func(find_scores_layer_name=names,
                                       pre_activation_target_layer_name=
                                       target)
    c = func(task_idx=1, input_data_list=[x, m],
             input_references_list=[ref, m], batch_size=4)
    c = c[0] if isinstance(c, list) else c
    delta = keras_out(kmodel, [x, m])[:, 1] - keras_out(
        kmodel, [np.zeros_like(x), m])[:, 1]
    # float32: 1e-4 of the output scale (rounding only; rules are exact)
    np.testing.assert_allclose(c.reshape(6, -1).sum(1), delta, rtol=0,
                               atol=1e-4 * (np.abs(delta).max() + 1))


def test_saved_file_with_live_layers(tmp_path):
    """A saved .keras file converts its configuration and weights as
    usual; the live layers of the same model (``keras_layers``, what the
    safe Keras load provides) are traced where no converter exists."""
    from deeplift.conversion import kerasapi_conversion as kc
    set_policy(np.float32)
    keras.utils.set_random_seed(6)
    inp = keras.Input((5, 4))
    kmodel = keras.Model(inp, head(mha(0.0)(inp, inp), np.float32))
    path = str(tmp_path / "mha.keras")
    kmodel.save(path)
    loaded = keras.models.load_model(path, safe_mode=True, compile=False)
    dl = kc.convert_model_from_saved_files(
        path, verbose=False, nonlinear_mxts_mode=RESCALE,
        keras_layers=kc.live_keras_layers(loaded))
    x, _ = data((5, 4), np.float32)
    name = dl.get_input_layer_names()[0]
    target = dl.output_layers()[0].get_name()
    got = dl.get_prediction_function([name], target)([x], batch_size=4)
    # float32: the same ops as Keras, 1e-5
    np.testing.assert_allclose(got, kmodel.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)
