"""Scores that come out non-finite from finite inputs are not returned
silently: one warning names the count and the fix (float64).

The case: a model whose own forward pass overflows in float32 (``exp`` of
a logit above ~88.7 is inf; Keras' float32 forward is inf too) gives
non-finite scores in float32 under Rescale; in float64 (range ~709) the
same model is finite and sums to delta.  (A traced softmax whose logits
lie hundreds above the reference's gave NaN here before its normaliser
was taken in log space: tests/test_softmax_stable.py.)
"""
import logging

import numpy as np
import keras

from deeplift.conversion import kerasapi_conversion as kc
from deeplift.scoring import warn_if_not_finite
from tests.tracing_checks import float32_policy, OpsLayer  # noqa: F401


def test_warn_if_not_finite_counts(caplog):
    with caplog.at_level(logging.WARNING, logger="deeplift.scoring"):
        assert warn_if_not_finite([np.ones(3), None], "x") == 0
        assert not caplog.records
        assert warn_if_not_finite(
            [np.array([1.0, np.nan, np.inf]), np.zeros(2)], "x") == 2
    assert "2 score(s) are NaN or infinite" in caplog.text
    assert "float64" in caplog.text


def _model():
    """A float64 Keras model (its own forward pass is the float64 truth);
    deeplift runs it in float32 too (weights cast)."""
    keras.config.set_dtype_policy("float64")
    keras.config.set_floatx("float64")
    try:
        return _layers()
    finally:
        keras.config.set_floatx("float32")


def _layers():
    keras.utils.set_random_seed(0)
    inp = keras.Input((6,))
    h = keras.layers.Dense(6)(inp)
    # a custom layer (traced): exp of logits scaled up, past float32's
    # range (exp(x) is inf above ~88.7) for the inputs below
    h = OpsLayer(lambda t: keras.ops.exp(100.0 * t))(h)
    return keras.Model(inp, keras.layers.Dense(1)(h))


def test_float32_overflow_warns_and_float64_is_exact(caplog):
    model = _model()
    keras.config.set_dtype_policy("float32")
    keras32 = _layers()   # the same model in float32: its forward overflows
    keras32.set_weights([w.astype(np.float32) for w in model.get_weights()])
    dl = kc.convert_keras_model(model, nonlinear_mxts_mode="Rescale",
                                verbose=False)
    func = dl.get_target_contribs_func(
        find_scores_layer_name=dl.get_input_layer_names()[0],
        pre_activation_target_layer_name=dl.output_layers()[0].get_name())
    rng = np.random.RandomState(0)
    x = rng.uniform(2, 4, (4, 6))
    ref = np.zeros((1, 6))
    # (the regime: float32 overflows in Keras itself, float64 does not)
    assert not np.all(np.isfinite(keras32(x.astype(np.float32)).numpy()))
    assert np.all(np.isfinite(model(x).numpy()))
    with caplog.at_level(logging.WARNING, logger="deeplift.scoring"):
        c32 = func(task_idx=0, input_data_list=[x.astype(np.float32)],
                   input_references_list=[ref.astype(np.float32)],
                   batch_size=4, progress_update=None)
    assert not np.all(np.isfinite(c32))
    assert "NaN or infinite" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="deeplift.scoring"):
        c64 = func(task_idx=0, input_data_list=[x],
                   input_references_list=[ref], batch_size=4,
                   progress_update=None)
    assert np.all(np.isfinite(c64)) and "NaN" not in caplog.text
    delta = (model(x).numpy() - model(ref).numpy())[:, 0]
    # float64 rounding of the traced ops (1e-10 of the output scale: the
    # rules are exact)
    scale = np.abs(model(x).numpy()).max()
    np.testing.assert_allclose(c64.sum(1), delta, rtol=0, atol=1e-10 * scale)
