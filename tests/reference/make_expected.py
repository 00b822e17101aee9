#!/usr/bin/env python
"""Regenerate the expected-value fixtures in tests/data/original/.

    python tests/reference/make_expected.py [--only NAME ...] [--skip-real]

For every fixture NAME this writes, into ``tests/data/original/``:

* the model file(s): ``NAME.h5`` (whole model, as tf_keras 2.x writes it) or
  ``NAME.json`` + ``NAME_weights.h5`` (architecture JSON + weights-only h5);
* ``inputs_NAME.npz``: the seeded inputs / references the jobs use;
* ``spec_NAME.json``: what to convert (files, conversion kwargs) and every
  call to make (see ``original_runner.py`` for the format);
* ``expected_NAME.npz``: what the ORIGINAL deeplift 0.6.13 returned, produced
  by running ``original_runner.py`` in a subprocess.

The ``real_*`` fixtures use the real Keras 2 files of ``<repo>/../shared``
(referenced by relative path, never copied): only their inputs and expected
values are stored here.

Models are built with ``tf_keras`` (Keras 2 API and h5 layout) and get their
weights from a seeded ``numpy.random.RandomState`` (not from initializers), so
the files are reproducible across TensorFlow versions.
"""
from __future__ import print_function

import argparse
import gzip
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(REPO, "tests", "data", "original")
SHARED = os.path.join(REPO, "..", "shared")
RUNNER = os.path.join(HERE, "original_runner.py")

ALL_MODES = ["Rescale", "RevealCancel", "DeepLIFT_GenomicsDefault",
             "Gradient", "GuidedBackprop", "GuidedBackpropRescale",
             "DeconvNet", "PassThrough"]
REAL_MODES = ["Rescale", "DeepLIFT_GenomicsDefault", "RevealCancel",
              "Gradient"]


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def keras():
    import tf_keras
    return tf_keras


def _load_random_models():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "_deeplift_random_models", os.path.join(HERE, "random_models.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seed_weights(model, rng, kernel_scale=1.0):
    """Give every weight a seeded value (BN stats non-trivial)."""
    def kernel(rng, shape):
        fan_in = int(np.prod(shape[:-1]))
        return rng.normal(0, kernel_scale / np.sqrt(fan_in), shape)

    def gamma(rng, shape):
        v = rng.uniform(0.5, 1.5, shape)
        v[0] = -v[0]            # one negative gamma (sign swap)
        return v

    random_models = _load_random_models()
    random_models.seed_weights(model, rng, dict(
        random_models.COMMON_DRAWS, kernel=kernel, gamma=gamma,
        bias=lambda rng, shape: rng.normal(0, 0.2, shape)))


def onehot(idx, depth=4):
    return np.eye(depth, dtype="float32")[idx]


def random_onehot(rng, n, length):
    return onehot(rng.randint(0, 4, size=(n, length)))


def shuffled_positions(rng, x):
    """Per-example random permutation of the positions of one-hot seqs."""
    return np.stack([s[rng.permutation(s.shape[0])] for s in x]).astype(
        "float32")


def contrib_jobs(find, target, task_a, task_b, inputs, ref, prefix="",
                 batch_a=4, batch_b=10):
    """Two input-contribs calls: task_a with per-example references
    (batch_size batch_a), task_b without references (zeros; batch_b)."""
    return [
        {"name": prefix + "contribs_t%s_ref" % task_a, "kind": "contribs",
         "find_scores_layer": find, "target_layer": target,
         "task_idx": task_a, "inputs": inputs, "references": ref,
         "batch_size": batch_a},
        {"name": prefix + "contribs_t%s_zeroref" % task_b, "kind": "contribs",
         "find_scores_layer": find, "target_layer": target,
         "task_idx": task_b, "inputs": inputs, "references": None,
         "batch_size": batch_b},
    ]


def multiplier_jobs(find, target, task_a, task_b, inputs, ref, prefix=""):
    jobs = contrib_jobs(find, target, task_a, task_b, inputs, ref, prefix)
    for j in jobs:
        j["kind"] = "multipliers"
        j["name"] = j["name"].replace("contribs", "multipliers")
    return jobs


def conversions(files, modes, jobs_for_mode):
    out = []
    for mode in modes:
        conv = dict(files)
        conv["name"] = mode
        conv["kwargs"] = {"nonlinear_mxts_mode": mode, "verbose": False}
        conv["jobs"] = jobs_for_mode(mode)
        out.append(conv)
    return out


def write_fixture(name, inputs, spec_extra, convs):
    np.savez_compressed(os.path.join(OUT, "inputs_%s.npz" % name), **inputs)
    spec = {"name": name, "inputs_npz": "inputs_%s.npz" % name,
            "conversions": convs}
    spec.update(spec_extra)
    spec_path = os.path.join(OUT, "spec_%s.json" % name)
    with open(spec_path, "w") as f:
        json.dump(spec, f, indent=1, sort_keys=True)
    out_path = os.path.join(OUT, "expected_%s.npz" % name)
    print("== running the original on", name, flush=True)
    subprocess.check_call([sys.executable, RUNNER, spec_path, out_path])


def save_h5(model, name):
    model.save(os.path.join(OUT, name + ".h5"), save_format="h5")
    return {"h5_file": name + ".h5", "json_file": None}


def save_json_weights(model, name):
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        f.write(model.to_json())
    # (a name ending in ".weights.h5" would select the Keras 3 layout)
    model.save_weights(os.path.join(OUT, name + "_weights.h5"),
                       save_format="h5")
    return {"h5_file": name + "_weights.h5", "json_file": name + ".json"}


# --------------------------------------------------------------------------
# a. Sequential dense
# --------------------------------------------------------------------------
def make_dense(softmax):
    K = keras()
    L = K.layers
    name = "dense_softmax" if softmax else "dense"
    rng = np.random.RandomState(101 if softmax else 100)
    layers = [L.InputLayer(input_shape=(5,), name="x"),
              L.Dense(8, activation="relu", name="d1"),
              L.Dense(6, activation="sigmoid", name="d2"),
              L.Dense(3, name="d3")]
    if softmax:
        layers.append(L.Activation("softmax", name="act"))
    model = K.Sequential(layers, name=name)
    seed_weights(model, rng, kernel_scale=1.5)
    files = save_h5(model, name)
    n = 10
    inputs = {"x": rng.normal(0, 1, (n, 5)).astype("float32"),
              "ref": rng.normal(0, 0.5, (n, 5)).astype("float32"),
              "ref_feature": rng.normal(0, 0.5, (5,)).astype("float32")}
    # converted layers: 0 input, 1 preact_1, 2 '1' ReLU, 3 preact_2,
    # 4 '2' Sigmoid, 5 '3' Dense [, 6 '4' Softmax]
    target = -2 if softmax else -1

    def jobs(mode):
        j = contrib_jobs(0, target, 0, 2, ["x"], ["ref"])
        if mode == "Rescale":
            j += multiplier_jobs(0, target, 0, 2, ["x"], ["ref"])
            j += [
                {"name": "contribs_hidden", "kind": "contribs",
                 "find_scores_layer": 2, "target_layer": target,
                 "task_idx": 1, "inputs": ["x"], "references": ["ref"],
                 "batch_size": 3},
                {"name": "contribs_list", "kind": "contribs",
                 "find_scores_layer": [0, 4], "target_layer": target,
                 "task_idx": 1, "inputs": ["x"], "references": ["ref"],
                 "batch_size": 7},
                {"name": "contribs_scalar_ref", "kind": "contribs",
                 "find_scores_layer": 0, "target_layer": target,
                 "task_idx": 1, "inputs": ["x"], "references": [0.5],
                 "batch_size": 10},
                {"name": "contribs_feature_ref", "kind": "contribs",
                 "find_scores_layer": 0, "target_layer": target,
                 "task_idx": 1, "inputs": ["x"],
                 "references": ["ref_feature"], "batch_size": 10},
            ]
            if not softmax:
                # -2 is the Sigmoid: the original refuses activation targets
                j.append({"name": "target_is_activation", "kind": "contribs",
                          "find_scores_layer": 0, "target_layer": -2,
                          "task_idx": 0, "inputs": ["x"], "references": None,
                          "batch_size": 10, "expect_error": True})
        return j
    keras_targets = {str(target): {"layer": "d3"}}
    write_fixture(name, inputs, {"keras_targets": keras_targets,
                                 "conserves": True},
                  conversions(files, ALL_MODES, jobs))


# --------------------------------------------------------------------------
# b. Sequential conv1d genomics (JSON + weights-only h5)
# --------------------------------------------------------------------------
def make_conv1d():
    K = keras()
    L = K.layers
    name = "conv1d"
    rng = np.random.RandomState(200)
    model = K.Sequential([
        L.InputLayer(input_shape=(50, 4), name="seq"),
        L.Conv1D(6, 5, activation="relu", name="c1"),
        L.MaxPooling1D(2, name="mp"),
        L.Conv1D(4, 3, activation="relu", padding="same", name="c2"),
        L.AveragePooling1D(2, name="ap"),
        L.Flatten(name="flat"),
        L.Dense(5, activation="relu", name="fc"),
        L.Dropout(0.5, name="drop"),
        L.Dense(3, activation="sigmoid", name="out"),
    ], name=name)
    seed_weights(model, rng, kernel_scale=2.0)
    files = save_json_weights(model, name)
    n, length, nrefs = 10, 50, 3
    x = random_onehot(rng, n, length)
    inputs = {"x": x, "ref": shuffled_positions(rng, x),
              "pregen": shuffled_positions(rng, np.repeat(x, nrefs, axis=0))}
    # layers: 0 input, 1 preact_1, 2 '1' ReLU, 3 '2' MaxPool1D, 4 preact_3,
    # 5 '3' ReLU, 6 '4' AvgPool1D, 7 '5' Flatten, 8 preact_6, 9 '6' ReLU,
    # 10 '7' NoOp, 11 preact_8, 12 '8' Sigmoid
    T = -2

    def jobs(mode):
        j = contrib_jobs(0, T, 0, 2, ["x"], ["ref"])
        if mode in ("Rescale", "DeepLIFT_GenomicsDefault"):
            j += multiplier_jobs(0, T, 0, 2, ["x"], ["ref"])
            j += [
                # same task/references as contribs_t0_ref: at the observed
                # base, hypothetical == contribs summed over ACGT
                {"name": "hyp_t0_ref", "kind": "hypothetical_contribs",
                 "base": "multipliers", "find_scores_layer": 0,
                 "target_layer": T, "task_idx": 0, "inputs": ["x"],
                 "references": ["ref"], "batch_size": 4},
                {"name": "hyp_t1_uniform", "kind": "hypothetical_contribs",
                 "base": "multipliers", "find_scores_layer": 0,
                 "target_layer": T, "task_idx": 1, "inputs": ["x"],
                 "references": [0.25], "batch_size": 10},
                {"name": "shuffle_t0", "kind": "shuffle_refs_pregen",
                 "base": "contribs", "find_scores_layer": 0,
                 "target_layer": T, "task_idx": 0, "inputs": ["x"],
                 "num_refs_per_seq": nrefs, "pregen_refs": "pregen",
                 "batch_size": 7},
                {"name": "shuffle_tasks", "kind": "shuffle_refs_pregen",
                 "base": "contribs", "find_scores_layer": 0,
                 "target_layer": T, "task_idx": [0, 2], "inputs": ["x"],
                 "num_refs_per_seq": nrefs, "pregen_refs": "pregen",
                 "batch_size": 10},
            ]
        if mode == "Rescale":
            j += [
                # contributions AT a max-pooling layer (the original's
                # MaxPool pos/neg contribs are placeholder zeros)
                {"name": "contribs_at_maxpool", "kind": "contribs",
                 "find_scores_layer": 3, "target_layer": T, "task_idx": 1,
                 "inputs": ["x"], "references": ["ref"], "batch_size": 10},
                # only Input layers have get_mxts() in the original:
                # multipliers of any other layer raise AttributeError
                {"name": "multipliers_at_maxpool", "kind": "multipliers",
                 "find_scores_layer": 3, "target_layer": T, "task_idx": 1,
                 "inputs": ["x"], "references": ["ref"], "batch_size": 10,
                 "expect_error": True},
                {"name": "contribs_at_conv2_relu", "kind": "contribs",
                 "find_scores_layer": 5, "target_layer": T, "task_idx": 1,
                 "inputs": ["x"], "references": ["ref"], "batch_size": 10},
                {"name": "ig_rescale_t0", "kind": "integrated_gradients",
                 "base": "multipliers", "num_intervals": 10,
                 "find_scores_layer": 0, "target_layer": T, "task_idx": 0,
                 "inputs": ["x"], "references": ["ref"], "batch_size": 16},
            ]
        if mode == "Gradient":
            j += [
                {"name": "ig_t0_ref", "kind": "integrated_gradients",
                 "base": "multipliers", "num_intervals": 10,
                 "find_scores_layer": 0, "target_layer": T, "task_idx": 0,
                 "inputs": ["x"], "references": ["ref"], "batch_size": 16},
                {"name": "ig_t2_zero", "kind": "integrated_gradients",
                 "base": "multipliers", "num_intervals": 10,
                 "find_scores_layer": 0, "target_layer": T, "task_idx": 2,
                 "inputs": ["x"], "references": [0.0], "batch_size": 50},
            ]
        return j
    write_fixture(name, inputs,
                  {"keras_targets": {str(T): {"layer": "out"}},
                   "conserves": False},
                  conversions(files, ALL_MODES, jobs))


# --------------------------------------------------------------------------
# c. Sequential conv2d (+ BatchNormalization)
# --------------------------------------------------------------------------
def make_conv2d(avgpool):
    K = keras()
    L = K.layers
    name = "conv2d_avgpool" if avgpool else "conv2d_maxpool"
    rng = np.random.RandomState(301 if avgpool else 300)
    if avgpool:
        # 0 input, 1 '1' Conv2D, 2 '2' BN, 3 '3' ReLU, 4 '4' AvgPool2D,
        # 5 '5' Flatten, 6 preact_6 Dense, 7 '6' Softmax
        layers = [
            L.InputLayer(input_shape=(12, 12, 2), name="img"),
            L.Conv2D(4, 3, strides=2, padding="same", name="conv"),
            L.BatchNormalization(name="bn"),
            L.Activation("relu", name="relu"),
            L.AveragePooling2D(3, strides=2, padding="same", name="pool"),
            L.Flatten(name="flat"),
            L.Dense(4, activation="softmax", name="out")]
    else:
        # 0 input, 1 preact_1 Conv2D, 2 '1' ReLU, 3 '2' BN, 4 '3' MaxPool2D,
        # 5 '4' Flatten, 6 preact_5 Dense, 7 '5' Softmax
        layers = [
            L.InputLayer(input_shape=(12, 12, 2), name="img"),
            L.Conv2D(4, 3, strides=2, activation="relu", name="conv"),
            L.BatchNormalization(name="bn"),
            L.MaxPooling2D(2, name="pool"),
            L.Flatten(name="flat"),
            L.Dense(4, activation="softmax", name="out")]
    model = K.Sequential(layers, name=name)
    seed_weights(model, rng, kernel_scale=2.0)
    files = save_h5(model, name)
    n = 10
    inputs = {"x": rng.normal(0, 1, (n, 12, 12, 2)).astype("float32"),
              "ref": rng.normal(0, 0.3, (n, 12, 12, 2)).astype("float32")}
    T = -2

    def jobs(mode):
        j = contrib_jobs(0, T, 0, 3, ["x"], ["ref"])
        if mode == "Rescale":
            j += multiplier_jobs(0, T, 0, 3, ["x"], ["ref"])
            j.append({"name": "contribs_at_bn", "kind": "contribs",
                      "find_scores_layer": 2 if avgpool else 3,
                      "target_layer": T, "task_idx": 2, "inputs": ["x"],
                      "references": ["ref"], "batch_size": 6})
        return j
    write_fixture(name, inputs,
                  {"keras_targets": {str(T): {"layer": "out"}},
                   "conserves": bool(avgpool)},
                  conversions(files, ALL_MODES, jobs))


# --------------------------------------------------------------------------
# d. functional models
# --------------------------------------------------------------------------
def make_functional_branches():
    K = keras()
    L = K.layers
    name = "functional_branches"
    rng = np.random.RandomState(400)
    inp = L.Input((20, 4), name="seq")
    a = L.Conv1D(6, 5, name="conv_a")(inp)
    a = L.PReLU(shared_axes=[1], name="prelu_a")(a)
    a = L.GlobalMaxPooling1D(name="gmp")(a)
    b = L.Conv1D(6, 3, activation="relu", name="conv_b")(inp)
    b = L.GlobalAveragePooling1D(name="gap")(b)
    c = L.Concatenate(name="concat")([a, b])      # axis=-1, equal widths
    h = L.Dense(8, activation="relu", name="hidden")(c)
    head_a = L.Dense(2, activation="sigmoid", name="head_a")(h)
    head_b = L.Dense(3, name="head_b")(h)
    head_b = L.Activation("softmax", name="head_b_act")(head_b)
    model = K.Model(inp, [head_a, head_b], name=name)
    seed_weights(model, rng, kernel_scale=2.0)
    files = save_h5(model, name)
    n = 10
    x = random_onehot(rng, n, 20)
    inputs = {"x": x, "ref": shuffled_positions(rng, x)}

    def jobs(mode):
        j = contrib_jobs("seq_0", "preact_head_a_0", 0, 1, ["x"], ["ref"],
                         prefix="head_a_")
        j += contrib_jobs("seq_0", "head_b_0", 2, 0, ["x"], ["ref"],
                          prefix="head_b_")
        if mode == "Rescale":
            j += multiplier_jobs("seq_0", "preact_head_a_0", 1, 0, ["x"],
                                 ["ref"], prefix="head_a_")
            j.append({"name": "multipliers_at_gap", "kind": "multipliers",
                      "find_scores_layer": "gap_0",
                      "target_layer": "head_b_0", "task_idx": 1,
                      "inputs": ["x"], "references": ["ref"],
                      "batch_size": 10, "expect_error": True})
            j.append({"name": "contribs_dict_input", "kind": "contribs",
                      "find_scores_layer": "seq_0",
                      "target_layer": "head_b_0", "task_idx": 1,
                      "inputs": {"seq_0": "x"},
                      "references": {"seq_0": "ref"}, "batch_size": 3})
        return j
    write_fixture(name, inputs,
                  {"keras_targets": {"preact_head_a_0": {"layer": "head_a"},
                                     "head_b_0": {"layer": "head_b"}},
                   "conserves": False},
                  conversions(files, ALL_MODES, jobs))


def make_functional_two_inputs():
    K = keras()
    L = K.layers
    name = "functional_two_inputs"
    rng = np.random.RandomState(500)
    in_a = L.Input((8,), name="in_a")
    in_b = L.Input((6,), name="in_b")
    a = L.Dense(5, activation="relu", name="da")(in_a)
    b = L.Dense(4, name="db")(in_b)
    b = L.PReLU(name="prelu_b")(b)
    c = L.Concatenate(axis=1, name="cat")([a, b])   # unequal widths
    h = L.Dense(6, activation="tanh", name="mix")(c)
    o = L.Dense(3, name="out")(h)
    o = L.Activation("softmax", name="out_act")(o)
    model = K.Model([in_a, in_b], o, name=name)
    seed_weights(model, rng, kernel_scale=1.5)
    files = save_h5(model, name)
    n = 10
    inputs = {"xa": rng.normal(0, 1, (n, 8)).astype("float32"),
              "xb": rng.normal(0, 1, (n, 6)).astype("float32"),
              "ra": rng.normal(0, 0.5, (n, 8)).astype("float32"),
              "rb": rng.normal(0, 0.5, (n, 6)).astype("float32")}
    both = ["in_a_0", "in_b_0"]

    def jobs(mode):
        j = contrib_jobs(both, "out_0", 0, 2, ["xa", "xb"], ["ra", "rb"])
        if mode == "Rescale":
            j += multiplier_jobs(both, "out_0", 0, 2, ["xa", "xb"],
                                 ["ra", "rb"])
            j += [
                {"name": "contribs_in_b_only", "kind": "contribs",
                 "find_scores_layer": "in_b_0", "target_layer": "out_0",
                 "task_idx": 1, "inputs": ["xa", "xb"],
                 "references": ["ra", "rb"], "batch_size": 4},
                {"name": "contribs_dict", "kind": "contribs",
                 "find_scores_layer": both, "target_layer": "out_0",
                 "task_idx": 1, "inputs": {"in_b_0": "xb", "in_a_0": "xa"},
                 "references": {"in_b_0": "rb", "in_a_0": 0.0},
                 "batch_size": 10},
                {"name": "contribs_at_cat", "kind": "contribs",
                 "find_scores_layer": "cat_0", "target_layer": "out_0",
                 "task_idx": 1, "inputs": ["xa", "xb"],
                 "references": ["ra", "rb"], "batch_size": 10},
            ]
        return j
    write_fixture(name, inputs,
                  {"keras_targets": {"out_0": {"layer": "out"}},
                   "conserves": True},
                  conversions(files, ALL_MODES, jobs))


# --------------------------------------------------------------------------
# real Keras 2 files from ../shared (not copied)
# --------------------------------------------------------------------------
def rel_shared(*parts):
    return os.path.relpath(os.path.join(SHARED, *parts), OUT)


def make_real_genomics():
    name = "real_genomics"
    path = os.path.join(SHARED, "fixtures", "genomics_sim",
                        "sequences.simdata.gz")
    with gzip.open(path, "rt") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    picked, per_kind = [], {}
    for row in rows:               # two of each kind, in file order
        kind = row[0].rsplit("_", 1)[0]
        if per_kind.get(kind, 0) < 2:
            per_kind[kind] = per_kind.get(kind, 0) + 1
            picked.append(row)
        if len(picked) == 8:
            break
    lut = {"A": 0, "C": 1, "G": 2, "T": 3}
    x = np.stack([onehot(np.array([lut[c] for c in r[1]])) for r in picked])
    inputs = {"x": x.astype("float32"),
              "bg": np.array([0.3, 0.2, 0.2, 0.3], dtype="float32"),
              "seq_names": np.array([r[0] for r in picked])}
    files = {"h5_file": rel_shared("fixtures", "keras2_real",
             "keras2_conv1d_record_5_model_PQzyq_modelWeights.h5"),
             "json_file": rel_shared("fixtures", "keras2_real",
             "keras2_conv1d_record_5_model_PQzyq_modelJson.json")}

    def jobs(mode):
        j = contrib_jobs(0, -2, 0, 2, ["x"], ["bg"], batch_a=3, batch_b=8)
        if mode == "Rescale":
            j += multiplier_jobs(0, -2, 1, 2, ["x"], ["bg"])
        if mode == "DeepLIFT_GenomicsDefault":
            j.append({"name": "hyp_t0_bg", "kind": "hypothetical_contribs",
                      "base": "multipliers", "find_scores_layer": 0,
                      "target_layer": -2, "task_idx": 0, "inputs": ["x"],
                      "references": ["bg"], "batch_size": 8})
        return j
    write_fixture(name, inputs,
                  {"requires_shared": True,
                   "keras_targets": {"-2": {"layer": "dense_2"}},
                   "conserves": True},
                  conversions(files, REAL_MODES, jobs))


def make_real_mnist():
    name = "real_mnist"
    rng = np.random.RandomState(700)
    with gzip.open(os.path.join(SHARED, "fixtures", "mnist",
                                "t10k-images-idx3-ubyte.gz"), "rb") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16)
    with gzip.open(os.path.join(SHARED, "fixtures", "mnist",
                                "t10k-labels-idx1-ubyte.gz"), "rb") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    x = (images.reshape(-1, 28, 28, 1)[:8] / 255.0).astype("float32")
    inputs = {"x": x, "labels": labels[:8].astype("int64"),
              "ref": rng.uniform(0, 0.2, x.shape).astype("float32")}
    files = {"h5_file": rel_shared("fixtures", "keras2_real",
                                   "keras2_mnist_cnn_allconv.h5"),
             "json_file": None}

    def jobs(mode):
        j = contrib_jobs(0, -2, 7, 2, ["x"], ["ref"], batch_a=3, batch_b=8)
        if mode == "Rescale":
            j += multiplier_jobs(0, -2, 7, 2, ["x"], ["ref"])
        return j
    write_fixture(name, inputs,
                  {"requires_shared": True,
                   "keras_targets": {"-2": {"layer": "dense_2"}},
                   "conserves": True},
                  conversions(files, REAL_MODES, jobs))


MAKERS = {
    "dense": lambda: make_dense(False),
    "dense_softmax": lambda: make_dense(True),
    "conv1d": make_conv1d,
    "conv2d_maxpool": lambda: make_conv2d(False),
    "conv2d_avgpool": lambda: make_conv2d(True),
    "functional_branches": make_functional_branches,
    "functional_two_inputs": make_functional_two_inputs,
    "real_genomics": make_real_genomics,
    "real_mnist": make_real_mnist,
}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="*", choices=sorted(MAKERS))
    p.add_argument("--skip-real", action="store_true")
    args = p.parse_args()
    os.makedirs(OUT, exist_ok=True)
    names = args.only or sorted(MAKERS)
    for name in names:
        if name.startswith("real_"):
            if args.skip_real:
                continue
            if not os.path.isdir(SHARED):
                print("skipping %s: %s is absent" % (name, SHARED))
                continue
        np.random.seed(0)
        MAKERS[name]()
    total = sum(os.path.getsize(os.path.join(OUT, f))
                for f in os.listdir(OUT))
    print("total size of %s: %.1f kB" % (OUT, total / 1024.0))


if __name__ == "__main__":
    main()
