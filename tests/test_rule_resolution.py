"""The one rule-resolution object (deeplift.rules.resolve.RuleResolver):
its precedence rules, and that conversion goes through it."""
import numpy as np
import pytest

import keras

from deeplift.conversion import kerasapi_conversion as kc
from deeplift.modes import MaxPoolDeepLiftMode, NonlinearMxtsMode
from deeplift.rules.resolve import RuleResolver

RESCALE, RC = NonlinearMxtsMode.Rescale, NonlinearMxtsMode.RevealCancel
DEFAULTS = {"nonlinear_mxts_mode": RESCALE,
            "maxpool_deeplift_mode": MaxPoolDeepLiftMode.gradient}


def test_modes_for_takes_the_first_key_with_an_override():
    resolver = RuleResolver(layer_overrides={
        "relu_a": {"nonlinear_mxts_mode": RC},
        3: {"nonlinear_mxts_mode": NonlinearMxtsMode.Gradient,
            "maxpool_deeplift_mode": MaxPoolDeepLiftMode.summation_to_delta}})
    assert resolver.modes_for(["other"], DEFAULTS) == DEFAULTS
    assert resolver.modes_for(["relu_a", 3], DEFAULTS) == dict(
        DEFAULTS, nonlinear_mxts_mode=RC)
    assert resolver.modes_for([3, "relu_a"], DEFAULTS) == {
        "nonlinear_mxts_mode": NonlinearMxtsMode.Gradient,
        "maxpool_deeplift_mode": MaxPoolDeepLiftMode.summation_to_delta}
    # only the mode arguments asked for are returned
    assert resolver.modes_for([3], {"nonlinear_mxts_mode": RESCALE}) == {
        "nonlinear_mxts_mode": NonlinearMxtsMode.Gradient}


def test_unknown_mode_and_substitution_are_refused():
    with pytest.raises(ValueError, match="nonlinear_mxts_mode"):
        RuleResolver(nonlinear_mxts_mode="Bogus")
    with pytest.raises(ValueError, match="unknown substitution"):
        RuleResolver(substitutions={"dense": None})


def _model():
    rng = np.random.RandomState(0)
    inp = keras.Input((5,), name="x")
    h = keras.layers.Dense(6, name="d1")(inp)
    a = keras.layers.Activation("relu", name="relu_a")(h)
    h2 = keras.layers.Dense(4, name="d2")(inp)
    b = keras.layers.Activation("relu", name="relu_b")(h2)
    out = keras.layers.Dense(1, name="out")(
        keras.layers.Concatenate(name="cat")([a, b]))
    model = keras.Model(inp, out)
    for w in model.weights:
        w.assign(rng.normal(size=w.shape).astype("float32"))
    return model


def _modes(dl_model):
    return {name: layer.nonlinear_mxts_mode
            for name, layer in dl_model.get_name_to_layer().items()
            if hasattr(layer, "nonlinear_mxts_mode")}


def test_conversion_applies_overrides_through_the_resolver(monkeypatch):
    model = _model()
    calls = []
    original = RuleResolver.modes_for

    def spy(self, keys, defaults):
        calls.append(list(keys))
        return original(self, keys, defaults)
    monkeypatch.setattr(RuleResolver, "modes_for", spy)
    dl_model = kc.convert_keras_model(
        model, nonlinear_mxts_mode=RESCALE, verbose=False,
        layer_overrides={"relu_a": {"nonlinear_mxts_mode": RC}})
    modes = _modes(dl_model)
    assert modes["relu_a_0"] == RC and modes["relu_b_0"] == RESCALE
    assert any("relu_a" in keys for keys in calls)

    # the override changes the scores of the overridden branch only
    x = np.random.RandomState(1).normal(size=(8, 5)).astype("float32")
    plain = kc.convert_keras_model(model, nonlinear_mxts_mode=RESCALE,
                                   verbose=False)

    def scores(m):
        return m.get_target_contribs_func(
            find_scores_layer_name="x_0",
            pre_activation_target_layer_name="out_0")(
                task_idx=0, input_data_list=[x],
                input_references_list=[np.zeros_like(x)], batch_size=8)
    overridden, rescale = scores(dl_model), scores(plain)
    assert not np.allclose(overridden, rescale)
    # both still sum to the output difference
    f = model.predict(x, verbose=0)[:, 0] - model.predict(
        np.zeros_like(x), verbose=0)[:, 0]
    np.testing.assert_allclose(overridden.sum(axis=1), f, atol=1e-5)
    np.testing.assert_allclose(rescale.sum(axis=1), f, atol=1e-5)
