"""Layers that cannot be converted: one error naming every blocker (classes,
settings, op nodes), and placeholders for those a chosen target does not
need (a model with one Lambda head can be scored on its other heads)."""
import numpy as np
import pytest

import keras
from keras import ops

from deeplift.conversion import kerasapi_conversion as kc
from deeplift.conversion.errors import UnsupportedLayerError
from deeplift.modes import NonlinearMxtsMode
from deeplift.conversion.placeholder import Placeholder
from tests.conversion_checks import converted_three_ways
from tests.layer_checks import randomized

SOURCES = ("memory", "keras", "h5")


def _two_heads():
    """ChromBPNet-like: a profile head and a counts head through a Lambda
    (logsumexp)."""
    inp = keras.Input((6,), name="x")
    h = keras.layers.Dense(5, activation="relu", name="h")(inp)
    profile = keras.layers.Dense(3, name="profile")(h)
    counts = keras.layers.Lambda(
        lambda t: keras.ops.logsumexp(t, axis=-1, keepdims=True),
        name="logsumexp")(h)
    counts = keras.layers.Dense(1, name="counts")(counts)
    model = keras.Model(inp, [profile, counts], name="two_heads")
    return randomized(model)


def _scores(dl_model, target, x):
    return dl_model.get_target_contribs_func(
        find_scores_layer_name="x_0",
        pre_activation_target_layer_name=target)(
            task_idx=1, input_data_list=[x], batch_size=4)


def test_lambda_head_is_a_placeholder_other_head_scores(tmp_path):
    model = _two_heads()
    x = np.random.RandomState(1).uniform(-1, 1, (5, 6)).astype("float32")
    # the same mode as converted_three_ways uses
    profile_only = kc.convert_keras_model(
        keras.Model(model.input, model.outputs[0]), verbose=False,
        nonlinear_mxts_mode=NonlinearMxtsMode.Rescale)
    expected = _scores(profile_only, "profile_0", x)
    for source, dl_model in converted_three_ways(model, tmp_path).items():
        layers = dl_model.get_name_to_layer()
        assert isinstance(layers["logsumexp_0"], Placeholder), source
        assert isinstance(layers["counts_0"], Placeholder), source
        assert "Lambda" in layers["logsumexp_0"].reason
        assert layers["counts_0"].reason == "depends on logsumexp_0"
        np.testing.assert_array_equal(_scores(dl_model, "profile_0", x),
                                      expected)
        # asking for the Lambda head gives the unsupported-layer error
        with pytest.raises(UnsupportedLayerError) as info:
            _scores(dl_model, "counts_0", x)
        assert info.value.unsupported == {"Lambda": ["logsumexp"]}
        assert info.value.target == "counts_0"
        with pytest.raises(UnsupportedLayerError):
            dl_model.get_prediction_function(["x_0"], "logsumexp_0")(
                [x], batch_size=4)


def test_model_whose_only_output_needs_a_lambda_still_fails():
    model = _two_heads()
    counts_only = keras.Model(model.input, model.outputs[1])
    with pytest.raises(UnsupportedLayerError) as info:
        kc.convert_keras_model(counts_only, verbose=False)
    assert info.value.unsupported == {"Lambda": ["logsumexp"]}
    assert info.value.target is None
    assert "Cannot convert this model" in str(info.value)


def _every_blocker():
    inp = keras.Input((4, 3), name="x")
    a = keras.layers.Lambda(lambda t: t * 2, name="lam")(inp)
    b = keras.layers.Softmax(axis=1, name="sm")(inp)
    c = ops.log(ops.abs(inp) + 1.0)
    d = keras.layers.Conv1D(4, 1, groups=1, name="conv")(inp)
    out = keras.layers.Flatten()(keras.layers.Concatenate()([a, b, c, d]))
    return keras.Model(inp, keras.layers.Dense(2, name="out")(out),
                       name="every_blocker")


def test_one_error_lists_every_blocker(tmp_path):
    """Classes, settings and op nodes, each with its layer names."""
    model = _every_blocker()
    for source in SOURCES:
        with pytest.raises(UnsupportedLayerError) as info:
            converted_three_ways(model, tmp_path, sources=(source,))
        err = info.value
        assert err.unsupported == {"Lambda": ["lam"]}, source
        # op names are numbered by Keras per process: log, log_1, ...
        assert list(err.ops) == ["Log"], source
        assert [n.split("_")[0] for n in err.ops["Log"]] == ["log"]
        assert list(err.settings.values()) == [["sm"]], source
        (setting,) = err.settings
        assert setting.startswith("Softmax: Softmax over axis 1")
        text = str(err)
        for piece in ("Lambda: lam", "Log: " + err.ops["Log"][0],
                      "Softmax over axis 1",
                      "3 layer(s)"):
            assert piece in text, (source, piece)


def test_sequential_error_lists_every_blocker():
    model = keras.Sequential([
        keras.Input((4, 3)),
        keras.layers.Softmax(axis=1, name="sm"),
        keras.layers.Lambda(lambda t: t + 1, name="lam"),
        keras.layers.Flatten(),
        keras.layers.Dense(2, name="out")])
    with pytest.raises(UnsupportedLayerError) as info:
        kc.convert_keras_model(model, verbose=False)
    assert info.value.unsupported == {"Lambda": ["lam"]}
    assert list(info.value.settings.values()) == [["sm"]]
