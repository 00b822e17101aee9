"""Tests of deeplift.conversion.kerasapi_conversion.

Every converted model's forward pass is compared with Keras' own predict on
models saved by Keras 3 (.keras and .h5), by tf_keras (Keras 2 .h5, JSON +
weights), in memory, and on real Keras 2 files from the original project.
"""
import json
import logging
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

import keras
import tf_keras

from deeplift import layers as dl_layers
from deeplift.layers import (NonlinearMxtsMode, DenseMxtsMode, ConvMxtsMode,
                             MaxPoolDeepLiftMode)
from deeplift.models import SequentialModel, GraphModel
from deeplift.conversion import kerasapi_conversion as kc
from deeplift.conversion.errors import (ConversionError,
                                        InvalidModelFileError,
                                        UnsupportedLayerError,
                                        WeightsMismatchError)

#: forward passes of deeplift and Keras in float32 on inputs in [-1, 1]
#: with weights in [-0.6, 0.6]: outputs of order 1, so a few float32 ulps
#: of summation-order difference per layer stay far below 1e-5
TOL = 1e-5
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REAL = SHARED / "fixtures" / "keras2_real"


# --------------------------------------------------------------------------
# model builders (K is keras or tf_keras)
# --------------------------------------------------------------------------

def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            for sub in _all_layers(layer):
                yield sub


def _randomize(model, seed=0):
    """Random weights, incl. BN statistics, so every parameter matters."""
    rng = np.random.RandomState(seed)
    for layer in _all_layers(model):
        if hasattr(layer, "layers") or not layer.weights:
            continue
        new = []
        for var, w in zip(layer.weights, layer.get_weights()):
            if "variance" in var.name:
                new.append(rng.uniform(0.5, 1.5, w.shape))
            else:
                new.append(rng.uniform(-0.6, 0.6, w.shape))
        layer.set_weights([x.astype(w.dtype) for x, w in
                           zip(new, layer.get_weights())])
    return model


def seq2d(K):
    L = K.layers
    return K.Sequential([
        K.Input((10, 10, 3)),
        L.Conv2D(4, 3, padding="same", activation="relu"),
        L.BatchNormalization(),
        L.MaxPooling2D(2),
        L.Conv2D(5, (2, 3), dilation_rate=(2, 1), use_bias=False),
        L.PReLU(),
        L.AveragePooling2D(2, strides=1, padding="same"),
        L.SpatialDropout2D(0.1),
        L.Flatten(),
        L.Dropout(0.2),
        L.Dense(6, activation="tanh"),
        L.Activation("sigmoid"),
        L.Dense(3, activation="softmax"),
    ], name="seq2d")


# seq2d has an activation right after another (Dense(tanh) -> sigmoid), and
# an Activation right after an Input appears below: 0.6.13 (and this
# package) refuse DeepLIFT_GenomicsDefault, the default mode, there, so
# tests of conversion (not of rules) choose a mode
ANY_MODE = dict(nonlinear_mxts_mode=NonlinearMxtsMode.Rescale)

SEQ2D_NAMES_TYPES = [
    ("input", "Input"), ("preact_1", "Conv2D"), ("1", "ReLU"),
    ("2", "BatchNormalization"), ("3", "MaxPool2D"), ("4", "Conv2D"),
    ("5", "PReLU"), ("6", "AvgPool2D"), ("7", "NoOp"), ("8", "Flatten"),
    ("9", "NoOp"), ("preact_10", "Dense"), ("10", "Tanh"),
    ("11", "Sigmoid"), ("preact_12", "Dense"), ("12", "Softmax")]


def seq1d(K):
    L = K.layers
    return K.Sequential([
        K.Input((40, 4)),
        L.Conv1D(6, 5, dilation_rate=2, activation="relu"),
        L.MaxPooling1D(2),
        L.Conv1D(4, 3, strides=2, padding="same", activation="sigmoid",
                 use_bias=False),
        L.BatchNormalization(),
        L.AveragePooling1D(2, strides=1),
        L.GaussianNoise(0.1),
        L.MaxPooling1D(3, strides=2, padding="same"),
        L.GlobalMaxPooling1D(),
        L.Dense(2),
    ], name="seq1d")


def multi_io(K):
    """Two inputs, two outputs, nested Sequential and nested functional."""
    L = K.layers
    a = K.Input((20, 4), name="seq_in")
    b = K.Input((6,), name="aux_in")
    h = L.Conv1D(5, 3, activation="relu", name="conv")(a)
    h1 = L.GlobalAveragePooling1D(name="gap")(h)
    h2 = L.GlobalMaxPooling1D(name="gmp")(h)
    g = L.Dense(7, activation="relu", name="aux_dense")(b)
    g = L.BatchNormalization(center=False, name="aux_bn")(g)
    c = L.Concatenate(name="concat")([h1, h2, g])
    nested_seq = K.Sequential([
        K.Input((17,)), L.Dense(8, name="ns_dense"), L.Activation("tanh"),
        L.GaussianDropout(0.1), L.AlphaDropout(0.1)], name="nested_seq")
    ni = K.Input((8,), name="nf_in")
    no = L.Dense(4, activation="relu", name="nf_dense1")(ni)
    no = L.Dense(3, name="nf_dense2")(no)
    nested_fun = K.Model(ni, no, name="nested_fun")
    n = nested_fun(nested_seq(c))
    out1 = L.Dense(1, activation="sigmoid", name="out1")(c)
    out2 = L.Activation("softmax", name="out2")(n)
    return K.Model([a, b], [out1, out2], name="multi_io")


def fun2d(K):
    L = K.layers
    x = K.Input((9, 9, 2), name="img")
    c = L.Conv2D(3, 3, strides=2, padding="same", name="c1")(x)
    c = L.Activation("relu", name="r1")(c)
    p1 = L.GlobalMaxPooling2D(name="gmax")(c)
    p2 = L.GlobalAveragePooling2D(name="gavg")(c)
    m = L.Concatenate(name="cat")([p1, p2])
    o = L.Dense(2, name="dense_out")(m)
    return K.Model(x, o, name="fun2d")


def channels_first(K, data_format="channels_first"):
    """NCHW model; ``data_format="channels_last"`` builds its NHWC twin
    (same weights, same order: a Conv2D kernel is (h, w, in, out) in both
    formats and the global poolings give the channels in the same order),
    whose output on the transposed input is the same function."""
    L = K.layers
    first = data_format == "channels_first"
    x = K.Input((2, 10, 10) if first else (10, 10, 2), name="cf_in")
    c = L.Conv2D(3, 3, data_format=data_format, activation="relu",
                 name="cf_conv")(x)
    c = L.BatchNormalization(axis=1 if first else -1, name="cf_bn")(c)
    p = L.MaxPooling2D(2, data_format=data_format, name="cf_max")(c)
    p = L.AveragePooling2D(2, strides=1, data_format=data_format,
                           name="cf_avg")(p)
    g1 = L.GlobalAveragePooling2D(data_format=data_format,
                                  name="cf_gavg")(p)
    g2 = L.GlobalMaxPooling2D(data_format=data_format,
                              name="cf_gmax")(p)
    o = L.Dense(2, name="cf_out")(L.Concatenate(name="cf_cat")([g1, g2]))
    return K.Model(x, o, name="channels_first")


INPUT_SHAPES = {
    "seq2d": [(10, 10, 3)], "seq1d": [(40, 4)],
    "multi_io": [(20, 4), (6,)], "fun2d": [(9, 9, 2)],
    "channels_first": [(2, 10, 10)],
}
BUILDERS = {"seq2d": seq2d, "seq1d": seq1d, "multi_io": multi_io,
            "fun2d": fun2d, "channels_first": channels_first}
K3_MODELS = ["seq2d", "seq1d", "multi_io", "fun2d", "channels_first"]
K2_MODELS = ["seq2d", "seq1d", "multi_io", "fun2d"]


def _inputs(name, n=5, seed=1):
    rng = np.random.RandomState(seed)
    return [rng.uniform(-1, 1, (n,) + s).astype("float32")
            for s in INPUT_SHAPES[name]]


def _predict_deeplift(dl_model, xs, keras_model):
    if isinstance(dl_model, SequentialModel):
        func = dl_model.get_prediction_function(input_layer_idx=0,
                                                output_layer_idx=-1)
        return [func(xs, batch_size=3)]
    outs = []
    names = dl_model.get_input_layer_names()
    for out_name in _graph_output_names(keras_model):
        func = dl_model.get_prediction_function(input_layer_names=names,
                                                output_layer_name=out_name)
        outs.append(func(xs, batch_size=3))
    return outs


def _graph_output_names(keras_model):
    return {"multi_io": ["out1_0", "out2_0"], "fun2d": ["dense_out_0"],
            "channels_first": ["cf_out_0"]}[keras_model.name]


#: what TensorFlow says where its CPU kernels (Eigen, i.e. oneDNN off, the
#: default on CPUs without AVX-512) cannot run a channels-first convolution
NCHW_UNSUPPORTED = "only supports the NHWC tensor format"


def _nhwc_twin_predict(keras_model, xs):
    """The channels_first model's output computed by Keras through its
    channels_last twin with the same weights, on NHWC inputs."""
    twin = channels_first(keras, data_format="channels_last")
    twin.set_weights(keras_model.get_weights())
    return twin.predict(np.transpose(xs[0], (0, 2, 3, 1)), verbose=0)


def keras_predict(keras_model, xs):
    """Keras' own forward pass.  Where TensorFlow cannot run the model's
    NCHW convolution on this CPU path (the UnimplementedError below, caught
    only for the channels_first model), Keras' forward pass of the NHWC
    twin instead; where both run, they must agree (checks the twin)."""
    import tensorflow as tf
    try:
        out = keras_model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    except tf.errors.UnimplementedError as exc:
        if keras_model.name != "channels_first" or \
                NCHW_UNSUPPORTED not in str(exc):
            raise
        return _nhwc_twin_predict(keras_model, xs)
    if keras_model.name == "channels_first":
        # two float32 Keras forward passes of one function that differ
        # only in memory layout (other summation order): 1e-5 as TOL
        np.testing.assert_allclose(_nhwc_twin_predict(keras_model, xs), out,
                                   rtol=0, atol=TOL)
    return out


def assert_same_forward(dl_model, keras_model, xs):
    expected = keras_predict(keras_model, xs)
    if not isinstance(expected, list):
        expected = [expected]
    got = _predict_deeplift(dl_model, xs, keras_model)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=0, atol=TOL)


# --------------------------------------------------------------------------
# fixtures: models saved in every format
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def k3_saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("k3")
    out = {}
    for name in K3_MODELS:
        keras.utils.set_random_seed(0)
        model = _randomize(BUILDERS[name](keras))
        model.save(d / (name + ".keras"))
        model.save(d / (name + ".h5"))
        out[name] = dict(model=model, keras=d / (name + ".keras"),
                         h5=d / (name + ".h5"))
    return out


@pytest.fixture(scope="module")
def k2_saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("k2")
    out = {}
    for name in K2_MODELS:
        tf_keras.utils.set_random_seed(0)
        model = _randomize(BUILDERS[name](tf_keras))
        model.save(str(d / (name + ".h5")))
        model.save_weights(str(d / (name + "_weights.h5")))
        (d / (name + ".json")).write_text(model.to_json())
        out[name] = dict(model=model, h5=d / (name + ".h5"),
                         weights=d / (name + "_weights.h5"),
                         json=d / (name + ".json"))
    return out


# --------------------------------------------------------------------------
# forward passes
# --------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["keras", "h5", "memory"])
@pytest.mark.parametrize("name", K3_MODELS)
def test_keras3_forward(k3_saved, name, fmt):
    entry = k3_saved[name]
    if fmt == "memory":
        dl_model = kc.convert_keras_model(entry["model"], verbose=False,
                                          **ANY_MODE)
    else:
        dl_model = kc.convert_model_from_saved_files(
            str(entry[fmt]), verbose=False, **ANY_MODE)
    assert isinstance(dl_model, SequentialModel if name.startswith("seq")
                      else GraphModel)
    assert_same_forward(dl_model, entry["model"], _inputs(name))


@pytest.mark.parametrize("fmt", ["h5", "json", "memory"])
@pytest.mark.parametrize("name", K2_MODELS)
def test_tf_keras_forward(k2_saved, name, fmt):
    entry = k2_saved[name]
    if fmt == "memory":
        dl_model = kc.convert_keras_model(entry["model"], verbose=False,
                                          **ANY_MODE)
    elif fmt == "json":
        dl_model = kc.convert_model_from_saved_files(
            entry["weights"], json_file=entry["json"], verbose=False,
            **ANY_MODE)
    else:
        dl_model = kc.convert_model_from_saved_files(
            entry["h5"], verbose=False, **ANY_MODE)
    assert_same_forward(dl_model, entry["model"], _inputs(name))


def test_yaml_config(k2_saved, tmp_path):
    entry = k2_saved["seq1d"]
    yaml_file = tmp_path / "model.yaml"
    yaml_file.write_text(yaml.safe_dump(json.loads(entry["json"].read_text())))
    dl_model = kc.convert_model_from_saved_files(
        str(entry["weights"]), yaml_file=str(yaml_file), verbose=False)
    assert_same_forward(dl_model, entry["model"], _inputs("seq1d"))
    with pytest.raises(ValueError):
        kc.convert_model_from_saved_files(
            str(entry["weights"]), json_file=str(entry["json"]),
            yaml_file=str(yaml_file))


def test_keras3_weights_only_file_with_json(k3_saved, tmp_path):
    model = k3_saved["fun2d"]["model"]
    model.save_weights(tmp_path / "fun2d.weights.h5")
    (tmp_path / "fun2d.json").write_text(model.to_json())
    dl_model = kc.convert_model_from_saved_files(
        tmp_path / "fun2d.weights.h5", json_file=tmp_path / "fun2d.json",
        verbose=False)
    assert_same_forward(dl_model, model, _inputs("fun2d"))


# --------------------------------------------------------------------------
# names and indices
# --------------------------------------------------------------------------

def _names_types(dl_model):
    return [(l.get_name(), type(l).__name__) for l in dl_model.get_layers()]


def test_sequential_names_with_input_layer_entry(k3_saved, k2_saved):
    # Keras 3 and tf_keras configs list an InputLayer first: it takes
    # index 0 and the other layers keep their config index.
    for dl_model in (
            kc.convert_model_from_saved_files(k3_saved["seq2d"]["keras"],
                                              verbose=False, **ANY_MODE),
            kc.convert_model_from_saved_files(k2_saved["seq2d"]["h5"],
                                              verbose=False, **ANY_MODE)):
        assert _names_types(dl_model) == SEQ2D_NAMES_TYPES


def _keras222_style_json(entry, tmp_path, class_name=None):
    """tf_keras JSON rewritten as Keras <= 2.2.2 wrote it: a plain list of
    layers with batch_input_shape on the first one, no InputLayer."""
    cfg = json.loads(entry["json"].read_text())
    layer_list = cfg["config"]["layers"]
    assert layer_list[0]["class_name"] == "InputLayer"
    shape = layer_list[0]["config"]["batch_input_shape"]
    layer_list = layer_list[1:]
    layer_list[0]["config"]["batch_input_shape"] = shape
    cfg["config"] = layer_list
    path = tmp_path / "old_style.json"
    path.write_text(json.dumps(cfg))
    return path


def test_sequential_names_keras222_list_format(k2_saved, tmp_path):
    entry = k2_saved["seq2d"]
    json_path = _keras222_style_json(entry, tmp_path)
    dl_model = kc.convert_model_from_saved_files(
        entry["weights"], json_file=json_path, verbose=False, **ANY_MODE)
    # no InputLayer entry: indices start at 0
    shift = {str(i): str(i - 1) for i in range(1, 13)}
    expected = [("input", "Input")] + [
        ("preact_" + shift[n[7:]] if n.startswith("preact_") else shift[n],
         t) for n, t in SEQ2D_NAMES_TYPES[1:]]
    assert _names_types(dl_model) == expected
    assert_same_forward(dl_model, entry["model"], _inputs("seq2d"))


def test_graph_names_and_aliases(k3_saved, k2_saved):
    k3 = kc.convert_model_from_saved_files(k3_saved["multi_io"]["keras"],
                                           verbose=False)
    k2 = kc.convert_model_from_saved_files(k2_saved["multi_io"]["h5"],
                                           verbose=False)
    for dl_model, nested_node, keras_model in (
            (k3, 0, k3_saved["multi_io"]["model"]),
            (k2, 1, k2_saved["multi_io"]["model"])):
        names = list(dl_model.get_name_to_layer())
        assert dl_model.get_input_layer_names() == ["seq_in_0", "aux_in_0"]
        for expected in ["seq_in_0", "aux_in_0", "preact_conv_0", "conv_0",
                         "gap_0", "gmp_0", "preact_aux_dense_0",
                         "aux_dense_0", "aux_bn_0", "concat_0",
                         "preact_out1_0", "out1_0", "out2_0"]:
            assert expected in names
        # nested Sequential: <node id>-<index>; nested functional:
        # <node id>_<inner node id>  (Keras 2 numbers nested nodes from 1)
        assert "nested_seq_%d-1" % nested_node in names
        assert "nested_seq_%d-2" % nested_node in names
        assert "nested_fun_%d_nf_in_0" % nested_node in names
        assert "preact_nested_fun_%d_nf_dense1_0" % nested_node in names
        assert "nested_fun_%d_nf_dense2_0" % nested_node in names
        assert isinstance(dl_model.get_layer("out1_0"), dl_layers.Sigmoid)
        assert isinstance(dl_model.get_layer("preact_out1_0"),
                          dl_layers.Dense)
        assert isinstance(dl_model.get_layer("aux_bn_0"),
                          dl_layers.BatchNormalization)
        # plain Keras names are aliases
        assert dl_model.get_layer("out1") is dl_model.get_layer("out1_0")
        assert dl_model.get_layer("preact_out1") is \
            dl_model.get_layer("preact_out1_0")
        assert dl_model.get_layer("concat") is \
            dl_model.get_layer("concat_0")
        func = dl_model.get_prediction_function(
            input_layer_names=["seq_in", "aux_in"],
            output_layer_name="out1")
        xs = _inputs("multi_io")
        np.testing.assert_allclose(func(xs, batch_size=5),
                                   keras_model.predict(xs, verbose=0)[0],
                                   rtol=0, atol=TOL)


def test_shared_layers_and_shared_nested_models(tmp_path):
    for K, fn in ((keras, "shared.keras"), (tf_keras, "shared.h5")):
        K.utils.set_random_seed(0)
        i2 = K.Input((4,))
        inner = K.Model(i2, K.layers.Dense(4, name="in_dense")(i2),
                        name="inner")
        sq = K.Sequential([K.Input((4,)), K.layers.Dense(4, name="sq_d")],
                          name="sq")
        x = K.Input((4,), name="x")
        shared = K.layers.Dense(4, activation="tanh", name="shared")
        a = inner(x)
        b = inner(a)
        c = sq(b)
        d = sq(c)
        e = shared(d)
        f = shared(e)
        model = _randomize(K.Model(x, [f, a, c]))
        model.save(str(tmp_path / fn))
        dl_model = kc.convert_model_from_saved_files(str(tmp_path / fn),
                                                     verbose=False)
        names = set(dl_model.get_name_to_layer())
        off = 0 if K is keras else 1
        assert {"shared_0", "shared_1", "preact_shared_0",
                "preact_shared_1", "inner_%d_in_dense_0" % off,
                "inner_%d_in_dense_0" % (off + 1), "sq_%d-1" % off,
                "sq_%d-1" % (off + 1)} <= names
        with pytest.raises(KeyError):  # ambiguous: no alias
            dl_model.get_layer("shared")
        xs = [np.random.RandomState(0).rand(3, 4).astype("float32")]
        expected = model.predict(xs[0], verbose=0)
        for out_name, exp in zip(["shared_1", "inner_%d_in_dense_0" % off,
                                  "sq_%d-1" % off], expected):
            got = dl_model.get_prediction_function(
                input_layer_names=["x_0"], output_layer_name=out_name)(
                    xs, batch_size=3)
            np.testing.assert_allclose(got, exp, atol=TOL, rtol=0)


def test_nested_models_in_sequential(tmp_path):
    keras.utils.set_random_seed(0)
    inner_seq = keras.Sequential([keras.Input((6,)),
                                  keras.layers.Dense(5, activation="relu"),
                                  keras.layers.Dense(4)])
    fi = keras.Input((4,), name="fi")
    inner_fun = keras.Model(fi, keras.layers.Dense(3, name="fd")(fi),
                            name="inner_fun")
    model = _randomize(keras.Sequential([
        keras.Input((6,)), inner_seq, inner_fun,
        keras.layers.Activation("sigmoid"),
        keras.layers.Activation("linear")]))
    model.save(tmp_path / "m.keras")
    dl_model = kc.convert_model_from_saved_files(tmp_path / "m.keras",
                                                 verbose=False)
    # nested Sequential at index 1: "1-<j>"; nested functional at index 2:
    # "2_<node id>"; a linear Activation converts to no layer (as in the
    # original), so index 4 does not appear.
    assert _names_types(dl_model) == [
        ("input", "Input"), ("preact_1-1", "Dense"), ("1-1", "ReLU"),
        ("1-2", "Dense"), ("2_fi_0", "NoOp"), ("2_fd_0", "Dense"),
        ("3", "Sigmoid")]
    x = np.random.RandomState(0).rand(4, 6).astype("float32")
    got = dl_model.get_prediction_function(0, -1)([x], batch_size=4)
    np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=TOL,
                               rtol=0)


def test_model_class_name_and_attribute_variants(k2_saved, tmp_path):
    """'Model' class name (Keras <= 2.2), bytes attributes and weight names
    split over weight_names0/weight_names1 (h5py chunked attributes)."""
    entry = k2_saved["multi_io"]
    path = tmp_path / "variant.h5"
    shutil.copy(entry["h5"], path)
    with h5py.File(path, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        assert cfg["class_name"] == "Functional"
        cfg["class_name"] = "Model"
        f.attrs["model_config"] = json.dumps(cfg).encode("utf-8")
        group = f["model_weights"]["aux_bn"]
        names = [n.encode("utf-8") if isinstance(n, str) else n
                 for n in group.attrs["weight_names"]]
        del group.attrs["weight_names"]
        group.attrs["weight_names0"] = np.array(names[:1])
        group.attrs["weight_names1"] = np.array(names[1:])
        layer_names = f["model_weights"].attrs["layer_names"]
        f["model_weights"].attrs["layer_names"] = np.array(
            [n.encode("utf-8") if isinstance(n, str) else n
             for n in layer_names])
    dl_model = kc.convert_model_from_saved_files(path, verbose=False)
    assert_same_forward(dl_model, entry["model"], _inputs("multi_io"))


# --------------------------------------------------------------------------
# options: modes, overrides, custom conversions, logging
# --------------------------------------------------------------------------

def test_modes_and_layer_overrides(k3_saved):
    path = k3_saved["seq2d"]["keras"]
    dl_model = kc.convert_model_from_saved_files(
        path, verbose=False, nonlinear_mxts_mode=NonlinearMxtsMode.Rescale,
        dense_mxts_mode=DenseMxtsMode.Linear,
        conv_mxts_mode=ConvMxtsMode.Linear,
        maxpool_deeplift_mode=MaxPoolDeepLiftMode.summation_to_delta,
        layer_overrides={10: {
            "nonlinear_mxts_mode": NonlinearMxtsMode.RevealCancel}})
    by_name = {l.get_name(): l for l in dl_model.get_layers()}
    assert by_name["1"].nonlinear_mxts_mode == NonlinearMxtsMode.Rescale
    assert by_name["10"].nonlinear_mxts_mode == \
        NonlinearMxtsMode.RevealCancel
    assert by_name["11"].nonlinear_mxts_mode == NonlinearMxtsMode.Rescale
    assert by_name["preact_12"].dense_mxts_mode == DenseMxtsMode.Linear
    # not the default (gradient): the option reaches the layer
    assert by_name["3"].maxpool_deeplift_mode == \
        MaxPoolDeepLiftMode.summation_to_delta

    graph = kc.convert_model_from_saved_files(
        k3_saved["multi_io"]["keras"], verbose=False,
        nonlinear_mxts_mode=NonlinearMxtsMode.Rescale,
        layer_overrides={"out1_0": {
            "nonlinear_mxts_mode": NonlinearMxtsMode.RevealCancel}})
    assert graph.get_layer("out1_0").nonlinear_mxts_mode == \
        NonlinearMxtsMode.RevealCancel
    assert graph.get_layer("conv_0").nonlinear_mxts_mode == \
        NonlinearMxtsMode.Rescale


def _identity_conversion(config, name, verbose, **kwargs):
    return [dl_layers.NoOp(name=name, verbose=verbose)]


def _scaled_dense_conversion(config, name, verbose, dense_mxts_mode,
                             nonlinear_mxts_mode, **kwargs):
    """A custom conversion returning two layers (Dense then ReLU)."""
    kernel, bias = config["weights"]
    return [dl_layers.Dense(kernel=kernel, bias=bias, name="lin_" + name,
                            dense_mxts_mode=dense_mxts_mode),
            dl_layers.ReLU(name=name,
                           nonlinear_mxts_mode=nonlinear_mxts_mode)]


class ReluDense(keras.layers.Dense):
    """A 'custom' Keras class (Dense + relu) unknown to the converter."""

    def call(self, inputs):
        return keras.ops.relu(super().call(inputs))


def test_custom_conversion_funcs_sequential_and_functional(tmp_path):
    keras.utils.set_random_seed(0)
    seq = _randomize(keras.Sequential([
        keras.Input((5,)), keras.layers.Identity(), ReluDense(4),
        keras.layers.Dense(2)]))
    # without custom conversions, the live layers are traced (op-level
    # conversion, tests/test_tracing.py)
    traced = kc.convert_keras_model(seq, verbose=False)
    assert [type(l).__name__ for l in traced.get_layers()][1:3] == \
        ["TracedLayer", "TracedLayer"]
    custom = {"Identity": _identity_conversion,
              "ReluDense": _scaled_dense_conversion}
    dl_seq = kc.convert_keras_model(seq, verbose=False,
                                    custom_conversion_funcs=custom)
    assert _names_types(dl_seq) == [("input", "Input"), ("1", "NoOp"),
                                    ("lin_2", "Dense"), ("2", "ReLU"),
                                    ("3", "Dense")]
    x = np.random.RandomState(0).rand(3, 5).astype("float32")
    np.testing.assert_allclose(
        dl_seq.get_prediction_function(0, -1)([x], batch_size=3),
        seq.predict(x, verbose=0), atol=TOL, rtol=0)

    inp = keras.Input((5,), name="i")
    h = keras.layers.Identity(name="ident")(inp)
    h = ReluDense(4, name="rd")(h)
    fun = _randomize(keras.Model(inp, keras.layers.Dense(2, name="o")(h)))
    fun.save(tmp_path / "custom.h5")
    dl_fun = kc.convert_model_from_saved_files(
        tmp_path / "custom.h5", verbose=False,
        custom_conversion_funcs=custom)
    assert {"ident_0", "lin_rd_0", "rd_0", "o_0"} <= \
        set(dl_fun.get_name_to_layer())
    np.testing.assert_allclose(
        dl_fun.get_prediction_function(["i_0"], "o_0")([x], batch_size=3),
        fun.predict(x, verbose=0), atol=TOL, rtol=0)


def test_verbose_logging(k3_saved, caplog):
    with caplog.at_level(logging.DEBUG, logger="deeplift"):
        kc.convert_model_from_saved_files(k3_saved["seq1d"]["keras"],
                                          verbose=False)
    assert not [r for r in caplog.records
                if r.levelno > logging.DEBUG
                and r.name.startswith("deeplift.conversion")]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="deeplift"):
        kc.convert_model_from_saved_files(k3_saved["seq1d"]["keras"],
                                          verbose=True)
    messages = [r.getMessage() for r in caplog.records
                if r.name.startswith("deeplift.conversion")]
    assert any("nonlinear_mxts_mode is set to" in m for m in messages)
    assert any("Input layer in sequential container" in m
               for m in messages)


# --------------------------------------------------------------------------
# real Keras 2 files from the original project
# --------------------------------------------------------------------------

def _real(name):
    path = REAL / name
    if not path.exists():
        pytest.skip("real fixture %s not available (expected under %s)"
                    % (name, REAL))
    return path


def test_real_mnist_allconv():
    path = _real("keras2_mnist_cnn_allconv.h5")
    dl_model = kc.convert_model_from_saved_files(str(path), verbose=False)
    assert [n for n, _ in _names_types(dl_model)] == \
        ["input"] + [str(i) for i in range(11)]
    assert [t for _, t in _names_types(dl_model)] == [
        "Input", "Conv2D", "ReLU", "Conv2D", "ReLU", "NoOp", "Flatten",
        "Dense", "ReLU", "NoOp", "Dense", "Softmax"]
    ref = tf_keras.models.load_model(str(path), compile=False)
    x = np.random.RandomState(0).rand(4, 28, 28, 1).astype("float32")
    got = dl_model.get_prediction_function(0, -1)([x], batch_size=2)
    np.testing.assert_allclose(got, ref.predict(x, verbose=0), atol=TOL,
                               rtol=0)


def test_real_conv1d_json_and_weights():
    json_path = _real("keras2_conv1d_record_5_model_PQzyq_modelJson.json")
    weights = _real("keras2_conv1d_record_5_model_PQzyq_modelWeights.h5")
    dl_model = kc.convert_model_from_saved_files(
        str(weights), json_file=str(json_path), verbose=False)
    assert [t for _, t in _names_types(dl_model)] == [
        "Input", "Conv1D", "ReLU", "Conv1D", "ReLU", "AvgPool1D", "Flatten",
        "Dense", "ReLU", "NoOp", "Dense", "Sigmoid"]
    with open(json_path) as fh:
        ref = tf_keras.models.model_from_json(fh.read())
    ref.load_weights(str(weights))
    x = np.random.RandomState(0).rand(3, 200, 4).astype("float32")
    got = dl_model.get_prediction_function(0, -1)([x], batch_size=2)
    np.testing.assert_allclose(got, ref.predict(x, verbose=0), atol=TOL,
                               rtol=0)


def test_real_spi1_unsupported_layers():
    path = _real("Spi1ProfileModel_rc.h5")
    with pytest.raises(UnsupportedLayerError) as info:
        kc.convert_model_from_saved_files(str(path), verbose=False)
    err = info.value
    assert isinstance(err, ValueError)
    assert "rev_comp_conv1d_1" in err.unsupported["RevCompConv1D"]
    assert "task0_profile" in err.unsupported["RevCompConv1D"]
    assert "lambda_1" in err.unsupported["Lambda"]
    msg = str(err)
    for text in ["RevCompConv1D", "Lambda", "rev_comp_conv1d_1", "lambda_23",
                 "custom_conversion_funcs", "Python code"]:
        assert text in msg


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------

def test_garbage_file(tmp_path):
    path = tmp_path / "garbage.h5"
    path.write_bytes(b"this is not a model" * 100)
    with pytest.raises(InvalidModelFileError, match="garbage.h5"):
        kc.convert_model_from_saved_files(path)
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        kc.convert_model_from_saved_files(tmp_path / "missing.h5")


def test_truncated_files(k2_saved, k3_saved, tmp_path):
    for src, fn in ((k2_saved["seq1d"]["h5"], "trunc.h5"),
                    (k3_saved["seq1d"]["keras"], "trunc.keras")):
        data = Path(src).read_bytes()
        path = tmp_path / fn
        path.write_bytes(data[:len(data) // 2])
        with pytest.raises(InvalidModelFileError, match=fn):
            kc.convert_model_from_saved_files(path, verbose=False)


def test_weights_only_file_without_config(k2_saved):
    with pytest.raises(InvalidModelFileError, match="json_file"):
        kc.convert_model_from_saved_files(k2_saved["seq1d"]["weights"])


def test_bad_json(k2_saved, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InvalidModelFileError, match="bad.json"):
        kc.convert_model_from_saved_files(k2_saved["seq1d"]["weights"],
                                          json_file=bad)


def test_json_layer_name_mismatch(k2_saved, tmp_path):
    entry = k2_saved["multi_io"]
    text = entry["json"].read_text().replace('"aux_dense"', '"renamed"')
    path = tmp_path / "renamed.json"
    path.write_text(text)
    with pytest.raises(WeightsMismatchError) as info:
        kc.convert_model_from_saved_files(entry["weights"], json_file=path,
                                          verbose=False)
    assert "renamed" in str(info.value)
    assert "multi_io_weights.h5" in str(info.value)


def test_json_shape_mismatch(k2_saved, tmp_path):
    entry = k2_saved["multi_io"]
    cfg = json.loads(entry["json"].read_text())
    for layer in cfg["config"]["layers"]:
        if layer["name"] == "aux_dense":
            layer["config"]["units"] = 9
    path = tmp_path / "shape.json"
    path.write_text(json.dumps(cfg))
    with pytest.raises(WeightsMismatchError) as info:
        kc.convert_model_from_saved_files(entry["weights"], json_file=path,
                                          verbose=False)
    assert "aux_dense" in str(info.value)
    assert "shape.json" in str(info.value)


def test_missing_weights_for_layer(k3_saved, tmp_path):
    entry = k3_saved["seq1d"]
    path = tmp_path / "noweights.h5"
    shutil.copy(entry["h5"], path)
    with h5py.File(path, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        dense_name = cfg["config"]["layers"][-1]["config"]["name"]
        del f["model_weights"][dense_name]
        names = [n for n in f["model_weights"].attrs["layer_names"]
                 if (n.decode() if isinstance(n, bytes) else n) != dense_name]
        f["model_weights"].attrs["layer_names"] = np.array(names, dtype="S")
    with pytest.raises(WeightsMismatchError) as info:
        kc.convert_model_from_saved_files(path, verbose=False)
    assert dense_name in str(info.value)
    assert "noweights.h5" in str(info.value)


def test_unsupported_layers_in_memory_and_saved(tmp_path):
    inp = keras.Input((6,), name="i")
    h = keras.layers.Dense(4, name="d")(inp)
    h = keras.layers.Lambda(lambda t: t * 2, name="double")(h)
    h = keras.layers.Reshape((2, 2), name="rs")(h)
    out = keras.layers.UnitNormalization(name="unit")(h)
    model = keras.Model(inp, out)
    with pytest.raises(UnsupportedLayerError) as info:
        kc.convert_keras_model(model, verbose=False)
    assert info.value.unsupported == {"Lambda": ["double"],
                                      "UnitNormalization": ["unit"]}
    msg = str(info.value)
    assert "Lambda layers wrap arbitrary Python code" in msg
    assert "custom_conversion_funcs" in msg
    assert "config" in msg and "name" in msg
    model.save(tmp_path / "lambda.h5")
    with pytest.raises(UnsupportedLayerError, match="double"):
        kc.convert_model_from_saved_files(tmp_path / "lambda.h5")


def test_unknown_activation(tmp_path):
    model = keras.Sequential([keras.Input((3,)),
                              keras.layers.Dense(2, activation="log_softmax",
                                                 name="lsm_dense")])
    # from its configuration alone: refused, naming the activation
    from deeplift.conversion import readers
    from deeplift.conversion.converter import Converter, ConversionOptions
    config, store = readers.read_keras_model(model)
    with pytest.raises(ConversionError) as info:
        Converter(ConversionOptions(verbose=False)).convert(config,
                                                            store=store)
    msg = str(info.value)
    assert "log_softmax" in msg and "lsm_dense" in msg
    # in memory the live layer is traced instead (tests/test_tracing.py)
    traced = kc.convert_keras_model(model, verbose=False)
    assert type(traced.get_layers()[-1]).__name__ == "TracedLayer"
    for act in ["linear", "relu", "sigmoid", "softmax", "tanh"]:
        assert act in msg


# --------------------------------------------------------------------------
# further format details
# --------------------------------------------------------------------------

def test_tf_keras_batchnorm_axis_is_a_list(k2_saved):
    """tf_keras writes BatchNormalization's axis as a list of one int."""
    entry = k2_saved["seq2d"]
    cfg = json.loads(entry["json"].read_text())
    bn = [l for l in cfg["config"]["layers"]
          if l["class_name"] == "BatchNormalization"]
    assert bn and bn[0]["config"]["axis"] == [3]
    dl_model = kc.convert_model_from_saved_files(
        entry["weights"], json_file=entry["json"], verbose=False, **ANY_MODE)
    assert dl_model.get_layers()[3].axis == 3
    assert_same_forward(dl_model, entry["model"], _inputs("seq2d"))


def test_keras3_archive_without_layer_name_attributes(k3_saved, tmp_path):
    """Older Keras 3 versions do not store layer names in model.weights.h5:
    weights are then found by Keras' class-based keys (dense, dense_1...)."""
    import zipfile
    src = k3_saved["multi_io"]["keras"]
    with zipfile.ZipFile(src) as zin:
        members = {n: zin.read(n) for n in zin.namelist()}
    h5_path = tmp_path / "model.weights.h5"
    h5_path.write_bytes(members["model.weights.h5"])
    stripped = []
    with h5py.File(h5_path, "r+") as f:
        def strip(name, obj):
            if "name" in obj.attrs:
                del obj.attrs["name"]
                stripped.append(name)
        f.visititems(strip)
    assert stripped  # else this would test the name-based lookup
    members["model.weights.h5"] = h5_path.read_bytes()
    dst = tmp_path / "noname.keras"
    with zipfile.ZipFile(dst, "w") as zout:
        for n, data in members.items():
            zout.writestr(n, data)
    dl_model = kc.convert_model_from_saved_files(dst, verbose=False)
    assert_same_forward(dl_model, k3_saved["multi_io"]["model"],
                        _inputs("multi_io"))


def test_convert_sequential_and_functional_model_from_configs(k3_saved):
    """The original's lower-level API: configs whose layer configs carry
    their weights under 'weights'."""
    seq = k3_saved["seq1d"]["model"]
    cfg = json.loads(seq.to_json())
    layer_list = cfg["config"]["layers"]
    for entry in layer_list[1:]:
        entry["config"]["weights"] = seq.get_layer(
            entry["config"]["name"]).get_weights()
    dl_seq = kc.convert_sequential_model(layer_list, verbose=False)
    assert_same_forward(dl_seq, seq, _inputs("seq1d"))

    fun = k3_saved["fun2d"]["model"]
    cfg = json.loads(fun.to_json())["config"]
    for entry in cfg["layers"]:
        entry["config"]["weights"] = fun.get_layer(
            entry["name"]).get_weights()
    dl_fun = kc.convert_functional_model(cfg, verbose=False)
    assert_same_forward(dl_fun, fun, _inputs("fun2d"))


def test_linear_activation_layer_in_graph_is_identity():
    inp = keras.Input((4,), name="i")
    h = keras.layers.Dense(3, name="d")(inp)
    h = keras.layers.Activation("linear", name="lin")(h)
    out = keras.layers.Dense(2, activation="relu", name="o")(h)
    model = _randomize(keras.Model(inp, out))
    dl_model = kc.convert_keras_model(model, verbose=False)
    assert "lin_0" not in dl_model.get_name_to_layer()
    assert dl_model.get_layer("preact_o_0").get_inputs() is \
        dl_model.get_layer("d_0")
    x = np.random.RandomState(0).rand(3, 4).astype("float32")
    np.testing.assert_allclose(
        dl_model.get_prediction_function(["i"], "o")([x], batch_size=3),
        model.predict(x, verbose=0), atol=TOL, rtol=0)


# --------------------------------------------------------------------------
# activations that depend on the Keras version
# --------------------------------------------------------------------------

@pytest.mark.parametrize("K", [keras, tf_keras], ids=["keras3", "tf_keras"])
def test_hard_sigmoid_follows_the_keras_version(K, tmp_path):
    """Keras 1/2's hard_sigmoid is clip(0.2 x + 0.5, 0, 1), Keras 3's
    relu6(x + 3) / 6; each model gets that of the Keras that wrote it
    (from the HDF5 file, the archive's metadata, the JSON config or the
    model object), as a layer's activation and as an Activation layer."""
    K.utils.set_random_seed(0)
    inp = K.Input((3,), name="i")
    h = K.layers.Dense(4, activation="hard_sigmoid", name="d")(inp)
    h = K.layers.Dense(3, name="d2")(h)
    out = K.layers.Activation("hard_sigmoid", name="a")(h)
    model = _randomize(K.Model(inp, out))
    dense2 = model.get_layer("d2")
    dense2.set_weights([w * 8 for w in dense2.get_weights()])
    model.save(str(tmp_path / "hs.h5"))
    model.save(str(tmp_path / "hs.keras"))
    model.save_weights(str(tmp_path / "hs.weights.h5"))
    (tmp_path / "hs.json").write_text(model.to_json())
    # inputs reaching the sloped part and both clipped parts
    x = np.random.RandomState(0).uniform(-8, 8, (50, 3)).astype("float32")
    expected = model.predict(x, verbose=0)
    assert expected.min() == 0 and expected.max() == 1
    assert ((expected > 0) & (expected < 1)).any()
    slope = 0.2 if K is tf_keras else 1.0 / 6
    for dl_model in (
            kc.convert_keras_model(model, verbose=False),
            kc.convert_model_from_saved_files(tmp_path / "hs.h5",
                                              verbose=False),
            kc.convert_model_from_saved_files(tmp_path / "hs.keras",
                                              verbose=False),
            kc.convert_model_from_saved_files(
                tmp_path / "hs.weights.h5", json_file=tmp_path / "hs.json",
                verbose=False)):
        for name in ("d_0", "a_0"):
            assert isinstance(dl_model.get_layer(name),
                              dl_layers.HardSigmoid)
            assert dl_model.get_layer(name).slope == slope
        got = dl_model.get_prediction_function(["i_0"], "a_0")(
            [x], batch_size=10)
        np.testing.assert_allclose(got, expected, rtol=0, atol=TOL)


def test_keras_version_of_config_dicts():
    """convert_sequential_model takes the Keras version from a wrapped
    config; a bare config is Keras 3's."""
    layer_list = [
        {"class_name": "InputLayer",
         "config": {"batch_shape": [None, 2], "name": "in"}},
        {"class_name": "Activation",
         "config": {"activation": "hard_sigmoid", "name": "hs"}}]
    for config, slope in (
            (layer_list, 1.0 / 6),
            ({"class_name": "Sequential", "config": {"layers": layer_list},
              "keras_version": "3.4.1"}, 1.0 / 6),
            ({"class_name": "Sequential", "config": {"layers": layer_list},
              "keras_version": "2.15.0"}, 0.2),
            ({"class_name": "Sequential", "config": layer_list,
              "keras_version": "1.2.2"}, 0.2)):
        dl_model = kc.convert_sequential_model(config, verbose=False,
                                               **ANY_MODE)
        assert dl_model.get_layers()[-1].slope == slope
