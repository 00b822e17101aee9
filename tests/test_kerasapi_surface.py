"""The 0.6.13 helpers of ``deeplift.conversion.kerasapi_conversion`` that
scripts call directly (container conversions, pooling kwargs, weight
insertion, the old function names), checked by what they build: names,
wiring and forward values against numpy."""
import numpy as np
import pytest

from deeplift import layers
from deeplift.conversion import kerasapi_conversion as kc
from deeplift.models import GraphModel, SequentialModel

MODES = dict(nonlinear_mxts_mode="Rescale", dense_mxts_mode="Linear",
             conv_mxts_mode="Linear", maxpool_deeplift_mode="gradient")
RNG = np.random.RandomState(0)
K1, B1 = RNG.randn(4, 3), RNG.randn(3)
K2, B2 = RNG.randn(3, 2), RNG.randn(2)
X = RNG.randn(5, 4)


def _relu(x):
    return np.maximum(x, 0)


def _dense(name, kernel, bias, activation="linear"):
    return {"class_name": "Dense",
            "config": {"name": name, "units": kernel.shape[1],
                       "activation": activation, "use_bias": True,
                       "weights": [kernel, bias]}}


def _predict(model, output, x):
    return np.asarray(model.prediction_function(
        model.input_layers(), output)([x], batch_size=2))


def test_validate_keys():
    kc.validate_keys({"a": 1, "b": 2}, ["a", "b"])
    with pytest.raises(AssertionError, match="'?c'? is a required key.*'a'"):
        kc.validate_keys({"a": 1}, ["a", "c"])


def test_prep_pool_kwargs_build_the_pooling_layers():
    kw = kc.prep_pool1d_kwargs({"pool_size": [3], "strides": [2],
                                "padding": "same",
                                "data_format": "channels_last"}, "p", False)
    assert kw == dict(pool_length=3, stride=2, padding="SAME", name="p",
                      verbose=False)
    kw2 = kc.prep_pool2d_kwargs({"pool_size": [2, 2], "strides": [1, 2],
                                 "padding": "valid",
                                 "data_format": "channels_last"}, "q", True)
    assert kw2 == dict(pool_size=(2, 2), strides=(1, 2), padding="VALID",
                       data_format="channels_last", name="q", verbose=True) \
        or kw2 == dict(pool_size=[2, 2], strides=[1, 2], padding="VALID",
                       data_format="channels_last", name="q", verbose=True)
    # the kwargs are those of the layers (as 0.6.13 used them)
    inp = layers.Input(batch_shape=(None, 7, 2), name="in")
    pool = layers.MaxPool1D(maxpool_deeplift_mode="gradient", **kw)
    model = SequentialModel([inp, pool.set_inputs(inp)])
    x = RNG.randn(2, 7, 2)
    got = _predict(model, pool, x)
    # TF's SAME: 4 windows of 3 with stride 2 over 7 steps, padded 1 + 1
    padded = np.pad(x, ((0, 0), (1, 1), (0, 0)), constant_values=-np.inf)
    want = np.stack([padded[:, i:i + 3].max(axis=1) for i in (0, 2, 4, 6)],
                    axis=1)
    assert got.shape == (2, 4, 2)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_global_pooling_1d_old_names():
    inp = layers.Input(batch_shape=(None, 5, 3), name="in")
    (gmax,) = kc.globalmaxpooling1d_conversion(
        config={"name": "g"}, name="gmax", verbose=False,
        maxpool_deeplift_mode="gradient")
    (gavg,) = kc.globalavgpooling1d_conversion({"name": "g"}, "gavg", False)
    x = RNG.randn(3, 5, 3)
    for layer, want in ((gmax, x.max(axis=1)), (gavg, x.mean(axis=1))):
        model = SequentialModel([inp, layer.set_inputs(inp)])
        np.testing.assert_allclose(_predict(model, layer, x), want,
                                   rtol=1e-5, atol=1e-6)


def test_flatten_conversion_0613_signature():
    (flat,) = kc.flatten_conversion("f", False)
    assert isinstance(flat, layers.Flatten) and flat.get_name() == "f"
    (flat,) = kc.flatten_conversion(name="f", verbose=True,
                                    config={"data_format": "channels_last"})
    assert isinstance(flat, layers.Flatten)
    with pytest.raises(kc.ConversionError, match="channels_first"):
        kc.flatten_conversion("f", False,
                              config={"data_format": "channels_first"})


def test_activation_to_conversion_function():
    (relu,) = kc.activation_to_conversion_function("ReLU")(
        name="r", verbose=False, nonlinear_mxts_mode="Rescale")
    assert isinstance(relu, layers.ReLU)
    assert relu.nonlinear_mxts_mode == "Rescale"
    assert kc.activation_to_conversion_function("linear")(
        name="l", verbose=False, nonlinear_mxts_mode="Rescale") == []
    with pytest.raises(kc.ConversionError, match="'nosuch'.*supported"):
        kc.activation_to_conversion_function("nosuch")


def test_convert_model_from_saved_files_takes_options_as_kwargs(tmp_path):
    # an unknown option is refused before any file is read
    with pytest.raises(TypeError, match="'nonlinear_mode'.*"
                       "nonlinear_mxts_mode"):
        kc.convert_model_from_saved_files(str(tmp_path / "absent.h5"),
                                          nonlinear_mode="Rescale")
    with pytest.raises(FileNotFoundError):
        kc.convert_model_from_saved_files(str(tmp_path / "absent.h5"),
                                          nonlinear_mxts_mode="Rescale",
                                          verbose=False)


def test_insert_weights_into_nested_model_config():
    configs = [
        {"class_name": "Dense", "config": {"name": "dense_1"}},
        {"class_name": "Sequential", "config": {"name": "seq_1", "layers": [
            {"class_name": "Dense", "config": {"name": "dense_2"}}]}},
        {"class_name": "Dropout", "config": {"name": "dropout_1"}}]
    weights = {"dense_1/kernel:0": K1, "dense_1/bias:0": B1,
               "dense_2/kernel:0": K2, "dense_2/bias:0": B2}
    kc.insert_weights_into_nested_model_config(weights, configs)
    k, b = configs[0]["config"]["weights"]
    assert k is K1 and b is B1
    k, b = configs[1]["config"]["layers"][0]["config"]["weights"]
    assert k is K2 and b is B2
    assert not configs[2]["config"].get("weights")


def test_sequential_container_conversion():
    inp = layers.Input(batch_shape=(None, 4), name="input")
    config = [_dense("d1", K1, B1, "relu"), _dense("d2", K2, B2)]
    converted = kc.sequential_container_conversion(
        config, "", False, converted_layers=[inp],
        layer_overrides={0: {"nonlinear_mxts_mode": "RevealCancel"}},
        **MODES)
    assert [l.get_name() for l in converted] == ["input", "preact_0", "0",
                                                "1"]
    assert converted[2].nonlinear_mxts_mode == "RevealCancel"
    model = SequentialModel(converted)
    np.testing.assert_allclose(_predict(model, converted[-1], X),
                               _relu(X @ K1 + B1) @ K2 + B2, rtol=1e-5,
                               atol=1e-6)
    # nested: prefixed names, first layer left for the caller to wire
    nested = kc.sequential_container_conversion(config, "3", False, **MODES)
    assert [l.get_name() for l in nested] == ["preact_3-0", "3-0", "3-1"]
    assert nested[0].get_inputs() is None
    assert nested[1].get_inputs() is nested[0]
    inp2 = layers.Input(batch_shape=(None, 4), name="input")
    nested[0].set_inputs(inp2)
    model = SequentialModel([inp2] + nested)
    np.testing.assert_allclose(_predict(model, nested[-1], X),
                               _relu(X @ K1 + B1) @ K2 + B2, rtol=1e-5,
                               atol=1e-6)


def _functional_config(prefix=""):
    return {"name": "m", "input_layers": [["in", 0, 0]],
            "output_layers": [["d2", 0, 0]],
            "layers": [
                {"class_name": "InputLayer", "name": "in",
                 "config": {"name": "in", "batch_input_shape": [None, 4]},
                 "inbound_nodes": []},
                dict(_dense("d1", K1, B1, "relu"), name="d1",
                     inbound_nodes=[[["in", 0, 0, {}]]]),
                dict(_dense("d2", K2, B2), name="d2",
                     inbound_nodes=[[["d1", 0, 0, {}]]])]}


def test_functional_container_conversion():
    container = kc.functional_container_conversion(
        _functional_config(), "", False, layer_overrides={},
        custom_conversion_funcs={}, **MODES)
    assert isinstance(container, kc.ConvertedModelContainer)
    assert list(container.node_id_to_deeplift_layers) == ["in_0", "d1_0",
                                                          "d2_0"]
    assert [l.get_name() for l in
            container.node_id_to_deeplift_layers["d1_0"]] == ["preact_d1_0",
                                                             "d1_0"]
    assert container.node_id_to_input_node_info == {
        "in_0": None, "d1_0": ("in_0", 0), "d2_0": ("d1_0", 0)}
    assert container.input_layer_names == ["in_0"]
    assert [l.get_name() for l in container.output_layers] == ["d2_0"]
    model = GraphModel(container.name_to_deeplift_layer,
                       container.input_layer_names)
    want = _relu(X @ K1 + B1) @ K2 + B2
    np.testing.assert_allclose(_predict(model, container.output_layers[0],
                                        X), want, rtol=1e-5, atol=1e-6)

    # a nested model fed by node d1_0 of the outer one: its input becomes a
    # NoOp, its nodes are prefixed, the dicts given are extended
    inner = _functional_config()
    inner["layers"][0]["config"]["batch_input_shape"] = [None, 3]
    inner["layers"][1]["config"]["weights"] = [np.eye(3), np.zeros(3)]
    inner["layers"][1]["config"]["units"] = 3
    nested = kc.functional_container_conversion(
        inner, "model_1_0", False, layer_overrides={},
        custom_conversion_funcs={},
        outer_inbound_node_infos=[("d1_0", 0)],
        node_id_to_deeplift_layers=container.node_id_to_deeplift_layers,
        node_id_to_input_node_info=container.node_id_to_input_node_info,
        name_to_deeplift_layer=container.name_to_deeplift_layer, **MODES)
    noop = nested.name_to_deeplift_layer["model_1_0_in_0"]
    assert isinstance(noop, layers.NoOp)
    assert nested.node_id_to_input_node_info["model_1_0_in_0"] == ("d1_0",
                                                                   0)
    assert nested.input_layer_names == ["model_1_0_in_0"]
    assert "d2_0" in nested.node_id_to_deeplift_layers  # extended
    out = nested.output_layers[0]
    assert out.get_name() == "model_1_0_d2_0"
    model = GraphModel(nested.name_to_deeplift_layer, ["in_0"])
    np.testing.assert_allclose(
        _predict(model, out, X), _relu(_relu(X @ K1 + B1)) @ K2 + B2,
        rtol=1e-5, atol=1e-6)


def test_functional_container_conversion_unsupported_layer():
    config = _functional_config()
    config["layers"][2]["class_name"] = "NoSuchLayer"
    with pytest.raises(kc.UnsupportedLayerError, match="NoSuchLayer"):
        kc.functional_container_conversion(
            config, "", False, layer_overrides={},
            custom_conversion_funcs={}, **MODES)


def test_containers_name_layers_as_the_public_converters():
    """The container conversions give the layer names (and numbers) of
    convert_functional_model / convert_sequential_model."""
    graph = kc.convert_functional_model(_functional_config(), verbose=False,
                                        **MODES)
    container = kc.functional_container_conversion(
        _functional_config(), "", False, layer_overrides={},
        custom_conversion_funcs={}, **MODES)
    assert list(container.name_to_deeplift_layer) == \
        list(graph.get_name_to_layer())
    config = [dict(_dense("d1", K1, B1, "relu"),
                   config=dict(_dense("d1", K1, B1, "relu")["config"],
                               batch_input_shape=[None, 4])),
              _dense("d2", K2, B2)]
    seq = kc.convert_sequential_model(config, verbose=False, **MODES)
    inp = layers.Input(batch_shape=(None, 4), name="input")
    converted = kc.sequential_container_conversion(
        config, "", False, converted_layers=[inp], **MODES)
    assert [l.get_name() for l in converted] == \
        [l.get_name() for l in seq.get_layers()]
    np.testing.assert_allclose(
        _predict(seq, seq.get_layers()[-1], X),
        _predict(SequentialModel(converted), converted[-1], X), rtol=1e-6)
