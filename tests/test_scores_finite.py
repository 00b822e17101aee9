"""Scores that come out non-finite from finite inputs are not returned
silently: one warning names the count and the fix (float64).

The case is real: a traced softmax whose input logits lie more than ~88
above the reference's (float32: ``exp`` of the reference's shifted logits
underflows to 0, its normaliser's log is -inf) gives NaN scores in
float32 under Rescale; in float64 (range ~709) the same model is finite
and sums to delta.
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
    # a custom layer (traced): softmax of logits scaled up, so the
    # input's and the reference's row maxima differ by hundreds
    h = OpsLayer(lambda t: keras.ops.softmax(100.0 * t))(h)
    return keras.Model(inp, keras.layers.Dense(1)(h))


def test_float32_softmax_underflow_warns_and_float64_is_exact(caplog):
    model = _model()
    dl = kc.convert_keras_model(model, nonlinear_mxts_mode="Rescale",
                                verbose=False)
    func = dl.get_target_contribs_func(
        find_scores_layer_name=dl.get_input_layer_names()[0],
        pre_activation_target_layer_name=dl.output_layers()[0].get_name())
    rng = np.random.RandomState(0)
    x = rng.uniform(2, 4, (4, 6))
    ref = np.zeros((1, 6))
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
