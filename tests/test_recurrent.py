"""Recurrent layers unrolled over time: per layer (SimpleRNN, LSTM, GRU with
both reset_after settings, go_backwards, Bidirectional with every merge
mode, return_sequences both ways) forward == Keras, Gradient ==
tf.GradientTape, Rescale and RevealCancel sum to delta (see
tests/layer_checks.py); converted stacked / bidirectional models from
memory, .keras and .h5 (float32 <= 1e-4, float64 <= 1e-10); masking and
multi-output settings refused clearly."""
import numpy as np
import pytest
import keras

from deeplift.layers import recurrent as R
from deeplift.conversion import kerasapi_conversion as kc
from deeplift.conversion.errors import ConversionError
from tests.layer_checks import (  # noqa: F401 (fixture)
    restore_dtype_policy, randomized, converted_data, check_layer_case,
    check_converted)

SHAPE = [(4, 3)]


def _rnn(kcls, dcls, units=3, **kwargs):
    dkwargs = {k: v for k, v in kwargs.items()
               if k not in ("use_bias", "unit_forget_bias")}

    def make(w, m):
        bias = w[2] if kwargs.get("use_bias", True) else None
        return dcls(w[0], w[1], bias, nonlinear_mxts_mode=m, **dkwargs)
    return (lambda: kcls(units, **kwargs), make, SHAPE)


def _bidirectional(kcls, dcls, merge_mode="concat", **kwargs):
    def make(w, m):
        n = len(w) // 2
        return R.Bidirectional(
            dcls(*w[:n], nonlinear_mxts_mode=m, **kwargs),
            dcls(*w[n:], nonlinear_mxts_mode=m, go_backwards=True,
                 **kwargs),
            merge_mode=merge_mode, nonlinear_mxts_mode=m)
    return (lambda: keras.layers.Bidirectional(kcls(3, **kwargs),
                                               merge_mode=merge_mode),
            make, SHAPE)


CASES = {
    "simplernn": _rnn(keras.layers.SimpleRNN, R.SimpleRNN),
    "simplernn_seq_relu": _rnn(keras.layers.SimpleRNN, R.SimpleRNN,
                               activation="relu", return_sequences=True),
    "lstm": _rnn(keras.layers.LSTM, R.LSTM),
    "lstm_seq_backwards": _rnn(keras.layers.LSTM, R.LSTM,
                               return_sequences=True, go_backwards=True),
    "lstm_nobias": _rnn(keras.layers.LSTM, R.LSTM, use_bias=False),
    "gru": _rnn(keras.layers.GRU, R.GRU),
    "gru_seq": _rnn(keras.layers.GRU, R.GRU, return_sequences=True),
    "gru_reset_before": _rnn(keras.layers.GRU, R.GRU, reset_after=False),
    "gru_reset_before_seq": _rnn(keras.layers.GRU, R.GRU, reset_after=False,
                                 return_sequences=True),
    "bidirectional_lstm_concat": _bidirectional(keras.layers.LSTM, R.LSTM),
    "bidirectional_gru_seq_sum": _bidirectional(
        keras.layers.GRU, R.GRU, "sum", return_sequences=True),
    "bidirectional_rnn_ave": _bidirectional(
        keras.layers.SimpleRNN, R.SimpleRNN, "ave"),
    "bidirectional_rnn_seq_mul": _bidirectional(
        keras.layers.SimpleRNN, R.SimpleRNN, "mul", return_sequences=True),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_forward_gradient_and_summation(name):
    check_layer_case(CASES[name])


def _stacked(dtype):
    """Stacked LSTM -> GRU, and a SimpleRNN branch."""
    keras.config.set_dtype_policy(dtype)
    keras.utils.set_random_seed(0)
    x = keras.Input((3, 3), dtype=dtype, name="input")
    h = keras.layers.LSTM(4, return_sequences=True, name="lstm")(x)
    h = keras.layers.GRU(3, name="gru")(h)
    s = keras.layers.SimpleRNN(2, name="rnn")(x)
    h = keras.layers.Concatenate(name="cat")([h, s])
    out = keras.layers.Dense(2, name="out")(h)
    return keras.Model(x, out)


def _bidirectional_model(dtype):
    keras.config.set_dtype_policy(dtype)
    keras.utils.set_random_seed(1)
    x = keras.Input((3, 3), dtype=dtype, name="input")
    h = keras.layers.Bidirectional(keras.layers.LSTM(
        2, return_sequences=True), name="bilstm")(x)
    h = keras.layers.GlobalAveragePooling1D(name="pool")(h)
    out = keras.layers.Dense(2, name="out")(h)
    return keras.Model(x, out)


@pytest.mark.parametrize("builder,dtype", [
    (_stacked, "float32"),
    # the same checks in float64 (tighter tolerances), about 5 s quiet
    pytest.param(_stacked, "float64", marks=pytest.mark.slow),
    (_bidirectional_model, "float32")])
def test_converted_models(builder, dtype, tmp_path):
    """Forward, Gradient == tape, Rescale and RevealCancel sum to delta."""
    kmodel = randomized(builder(dtype), 0.8)
    check_converted(kmodel, *converted_data(kmodel, dtype), "memory",
                    tmp_path, "out_0", (0, 1))


@pytest.mark.parametrize("fmt", ["keras", "h5"])
@pytest.mark.parametrize("builder", [_stacked, _bidirectional_model])
def test_converted_from_files(builder, fmt, tmp_path):
    """The weights of recurrent layers (held in cells, forward then
    backward) are read from files: forward == Keras."""
    kmodel = randomized(builder("float32"), 0.8)
    check_converted(kmodel, *converted_data(kmodel, "float32"), fmt,
                    tmp_path, "out_0", (0,), full=False)


def test_tf_keras_h5(tmp_path):
    """Keras 2 (tf_keras) Bidirectional LSTM and GRU saved as .h5."""
    tf_keras = pytest.importorskip("tf_keras")
    tf_keras.utils.set_random_seed(0)
    x = tf_keras.Input((3, 3), name="input")
    h = tf_keras.layers.Bidirectional(tf_keras.layers.LSTM(
        2, return_sequences=True), name="bilstm")(x)
    h = tf_keras.layers.Bidirectional(tf_keras.layers.GRU(
        2, reset_after=False), merge_mode="sum", name="bigru")(h)
    out = tf_keras.layers.Dense(2, name="out")(h)
    kmodel = randomized(tf_keras.Model(x, out), 0.8)
    path = str(tmp_path / "model.h5")
    kmodel.save(path)
    dl = kc.convert_model_from_saved_files(path, verbose=False)
    xs, _ = converted_data(kmodel, "float32")
    pred = dl.get_prediction_function(["input_0"], "out_0")
    np.testing.assert_allclose(pred([xs]), kmodel.predict(xs, verbose=0),
                               rtol=1e-5, atol=1e-5)


def test_masking_refused(tmp_path):
    tf_keras = pytest.importorskip("tf_keras")
    kmodel = tf_keras.Sequential([
        tf_keras.layers.Masking(input_shape=(5, 3), name="mask"),
        tf_keras.layers.LSTM(2, name="lstm")])
    with pytest.raises(ConversionError, match="Masking is not supported"
                       ) as info:
        kc.convert_keras_model(kmodel, verbose=False)
    assert "mask" in str(info.value)


def test_embedding_mask_zero_refused():
    tf_keras = pytest.importorskip("tf_keras")
    kmodel = tf_keras.Sequential([
        tf_keras.layers.Embedding(10, 3, mask_zero=True, input_length=5,
                                  name="emb"),
        tf_keras.layers.GRU(2, name="gru")])
    with pytest.raises(ConversionError, match="mask_zero=True is not "
                       "supported") as info:
        kc.convert_keras_model(kmodel, verbose=False)
    assert "emb" in str(info.value)


def test_return_state_refused():
    x = keras.Input((5, 3))
    out, h, c = keras.layers.LSTM(2, return_state=True, name="lstm")(x)
    with pytest.raises(ConversionError, match="return_state=True") as info:
        kc.convert_keras_model(keras.Model(x, out), verbose=False)
    assert "lstm" in str(info.value)


def test_unknown_sequence_length_refused():
    import deeplift.layers as L
    rng = np.random.RandomState(0)
    inp = L.Input(batch_shape=(None, None, 3), name="in")
    lstm = R.LSTM(rng.randn(3, 8), rng.randn(2, 8), name="lstm")
    lstm.set_inputs(inp)
    with pytest.raises(ValueError, match="'lstm' needs an input .* known "
                       "number of time steps"):
        lstm.build_fwd_pass_vars()


def test_genomics_default_inside():
    """DeepLIFT_GenomicsDefault (the conversion default) means RevealCancel
    inside recurrent layers and Rescale inside layer normalization."""
    keras.utils.set_random_seed(0)
    x = keras.Input((3, 2), name="input")
    h = keras.layers.Bidirectional(keras.layers.GRU(2), name="bigru")(x)
    h = keras.layers.LayerNormalization(name="ln")(h)
    kmodel = randomized(
        keras.Model(x, keras.layers.Dense(1, name="out")(h)), 0.8)
    dl = kc.convert_keras_model(kmodel, verbose=False)
    bigru, ln = dl.get_layer("bigru_0"), dl.get_layer("ln_0")
    xs, ref = converted_data(kmodel, "float32")
    func = dl.get_target_contribs_func(
        find_scores_layer_name="input_0",
        pre_activation_target_layer_name="out_0")
    c = func(task_idx=0, input_data_list=[xs], input_references_list=[ref])
    assert bigru.forward_layer.nonlinear_mxts_mode == "RevealCancel"
    assert bigru.backward_layer.nonlinear_mxts_mode == "RevealCancel"
    assert ln.nonlinear_mxts_mode == "Rescale"
    delta = (kmodel(xs).numpy() - kmodel(ref).numpy())[:, 0]
    np.testing.assert_allclose(c.reshape(len(xs), -1).sum(axis=1), delta,
                               rtol=1e-4, atol=1e-4)


def _lrp_activation(fn, eps):
    """``fn`` whose derivative is replaced by epsilon-LRP's
    ``y / (z + eps * sign(z))``."""
    import tensorflow as tf

    @tf.custom_gradient
    def act(z):
        y = fn(z)
        sign = tf.where(z >= 0, tf.ones_like(z), -tf.ones_like(z))
        return y, lambda dy: dy * y / (z + eps * sign)
    return act


def test_epsilon_lrp_inside_recurrent_layers():
    """DeepExplain's elrp replaces the derivative of every elementwise
    activation, also inside an LSTM: equal to the tape gradient of the same
    LSTM built with custom-gradient activations, times the input."""
    import tensorflow as tf
    from deeplift.deepexplain import DeepExplain
    keras.config.set_dtype_policy("float64")
    eps = 1e-4

    def model(act, rec_act):
        x = keras.Input((3, 2), dtype="float64", name="input")
        h = keras.layers.LSTM(2, activation=act, recurrent_activation=rec_act,
                              name="lstm")(x)
        return keras.Model(x, keras.layers.Dense(1, name="out")(h))
    kmodel = randomized(model("tanh", "sigmoid"), 0.8)
    truth = model(_lrp_activation(tf.tanh, eps),
                  _lrp_activation(tf.sigmoid, eps))
    truth.set_weights(kmodel.get_weights())
    xs, _ = converted_data(kmodel, "float64")
    xt = tf.constant(xs)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.reduce_sum(truth(xt))
    expected = tape.gradient(y, xt).numpy() * xs
    with DeepExplain() as de:
        got = de.explain("elrp", kmodel, None, xs, ys=np.ones((len(xs), 1)))
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-10)
    # not the plain gradient times input
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.reduce_sum(kmodel(xt))
    assert np.abs(tape.gradient(y, xt).numpy() * xs - expected).max() > 1e-3
