"""Token models (deeplift.tokens.score_tokens): one score per token on
the Embedding output, references from a token's embedding or zeros, an
attention-style mask input not attributed; the scores sum to the change
of Keras' own output; the token heatmap."""
import numpy as np
import pytest
import keras

from deeplift.conversion import kerasapi_conversion as kc
from deeplift.tokens import score_tokens
from tests.layer_checks import restore_dtype_policy  # noqa: F401

T, VOCAB, H = 7, 12, 5


def token_model(dtype="float32"):
    """ids (T,) and a 0/1 mask (T,) -> Embedding, times the mask -> Conv1D
    tanh -> mean over tokens -> Dense(3).  Also returns the tail (the
    embedded tokens and the mask -> output: the same layers), for the
    Keras truth of the zero reference."""
    keras.config.set_dtype_policy(dtype)
    keras.utils.set_random_seed(0)
    emb = keras.layers.Embedding(VOCAB, H, name="embed")
    conv = keras.layers.Conv1D(4, 3, padding="same", activation="tanh",
                               name="conv")
    reshape = keras.layers.Reshape((T, 1), name="mask_axis")
    mul = keras.layers.Multiply(name="masked")
    pool = keras.layers.GlobalAveragePooling1D(name="pool")
    dense = keras.layers.Dense(3, name="out")

    def tail(e, m):
        return dense(pool(conv(mul([e, reshape(m)]))))
    ids = keras.Input((T,), dtype="int32", name="ids")
    mask = keras.Input((T,), dtype=dtype, name="mask")
    model = keras.Model([ids, mask], tail(emb(ids), mask))
    e_in = keras.Input((T, H), dtype=dtype, name="embedded")
    m_in = keras.Input((T,), dtype=dtype, name="mask2")
    rng = np.random.RandomState(1)
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.uniform(-1, 1, w.shape)
                               for w in layer.get_weights()])
    return model, keras.Model([e_in, m_in], tail(e_in, m_in)), emb


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(3)
    ids = rng.randint(1, VOCAB, (4, T))
    mask = (rng.uniform(size=(4, T)) > 0.2).astype("float32")
    return ids, mask


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", ["Rescale", "RevealCancel"])
@pytest.mark.parametrize("reference", ["zeros", 0])
def test_scores_sum_to_the_output_change(data, dtype, mode, reference):
    ids, mask = data
    mask = mask.astype(dtype)
    kmodel, tail, emb = token_model(dtype)
    model = kc.convert_keras_model(kmodel, nonlinear_mxts_mode=mode,
                                   verbose=False)
    # the zero reference: the tail on zero embeddings; a token: the model
    # on that token everywhere
    if reference == "zeros":
        y0 = tail([np.zeros((4, T, H), dtype), mask]).numpy()
    else:
        y0 = kmodel([np.full_like(ids, reference), mask]).numpy()
    y = kmodel([ids, mask]).numpy()
    tol = 1e-10 if dtype == "float64" else 1e-4   # float32 rounding
    for task in range(3):
        result = score_tokens(model, ids, reference=reference,
                              task_idx=task, other_inputs={
                                  "mask_0" if task else "mask": mask})
        assert result.scores.shape == (4, T)
        assert result.contribs.shape == (4, T, H)
        np.testing.assert_allclose(result.scores,
                                   result.contribs.sum(axis=-1))
        scale = np.abs(result.scores).sum(axis=1) + 1e-3
        np.testing.assert_allclose(result.scores.sum(axis=1) / scale,
                                   (y - y0)[:, task] / scale, atol=tol,
                                   rtol=0)
        # masked tokens (mask 0) get exactly nothing
        assert np.all(result.scores[mask == 0] == 0)


def test_bad_arguments(data):
    ids, mask = data
    kmodel, _, _ = token_model()
    model = kc.convert_keras_model(kmodel, nonlinear_mxts_mode="Rescale",
                                   verbose=False)
    with pytest.raises(ValueError, match="other_inputs"):
        score_tokens(model, ids)
    with pytest.raises(ValueError, match=r"\[0, 12\)"):
        score_tokens(model, ids + 20, other_inputs={"mask_0": mask})
    with pytest.raises(ValueError, match="reference"):
        score_tokens(model, ids, reference="pad",
                     other_inputs={"mask_0": mask})


def test_token_heatmap(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    from deeplift.visualization.tokens import plot_token_scores
    tokens = ["the", "cat", "sat", "on", "the", "mat"]
    scores = np.array([0.1, 2.0, -1.0, 0.0, 0.05, -0.5])
    path = tmp_path / "tokens.png"
    fig = plot_token_scores(tokens, scores, wrap=4, save_path=str(path))
    assert path.stat().st_size > 0
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == tokens
    # strongest positive red, strongest negative blue (RdBu_r)
    colours = [p.get_facecolor() for p in ax.patches]
    assert colours[1][0] > colours[1][2] and colours[2][2] > colours[2][0]
    fig2 = plot_token_scores([tokens, tokens], np.stack([scores, -scores]),
                             show=False)
    assert len(fig2.axes[0].texts) == 12
    with pytest.raises(ValueError, match="must match"):
        plot_token_scores(tokens[:3], scores, show=False)
