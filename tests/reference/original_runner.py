#!/usr/bin/env python
"""Run the ORIGINAL kundajelab/deeplift 0.6.13 as a reference oracle.

Usage (always as its own process -- it switches TensorFlow to graph mode)::

    python tests/reference/original_runner.py SPEC.json OUT.npz

The original package is never copied into this project.  It is located, in
this order, at

1. ``$DEEPLIFT_ORIGINAL_DIR`` -- an extracted sdist (the directory that holds
   the ``deeplift/`` package, e.g. ``.../deeplift-0.6.13.0``);
2. ``~/.cache/deeplift-tests/deeplift-0.6.13.0`` -- fetched there on first use
   with ``python -m pip download --no-deps deeplift==0.6.13.0`` and extracted.

It is put first on ``sys.path`` (so that it wins over this project's package
of the same name, even when that one is installed) and imported under
``tensorflow.compat.v1`` with v2 behaviour disabled.  The original's files are
not modified; all adaptation is done from outside (see ``install_shims``).

SPEC (JSON; relative paths are relative to the SPEC file's directory)::

    {
      "inputs_npz": "inputs_x.npz",          # arrays referenced by the jobs
      "conversions": [
        {
          "name": "rescale",                 # [A-Za-z0-9_] only
          "h5_file": "model.h5",             # whole model or weights-only h5
          "json_file": null,                 # optional architecture JSON
          "kwargs": {"nonlinear_mxts_mode": "Rescale", "verbose": false},
          "jobs": [
            {
              "name": "contribs_t0",         # [A-Za-z0-9_] only
              "kind": "contribs",            # contribs | multipliers |
                                             # integrated_gradients |
                                             # hypothetical_contribs |
                                             # shuffle_refs_pregen
              "find_scores_layer": 0,        # idx (Sequential) or name (Graph),
                                             # or a list of them
              "target_layer": -2,            # idx (Sequential) or name (Graph)
              "task_idx": 0,                 # (a list for shuffle_refs_pregen)
              "inputs": ["x"],               # npz keys, one per model input, or
                                             # {input_layer_name: key} (dict call)
              "references": ["ref"],         # null -> argument omitted (zeros);
                                             # a list/dict of npz keys or numbers
              "batch_size": 4,
              # integrated_gradients: "num_intervals": 10,
              #                       "base": "multipliers" (or "contribs")
              # hypothetical_contribs: "base": "multipliers"
              # shuffle_refs_pregen: "base": "contribs", "num_refs_per_seq": 3,
              #                      "pregen_refs": "npz key", "seed": 1
              # any job: "expect_error": true -> the error is recorded instead
            }
          ]
        }
      ]
    }

OUT npz: one array per job output under ``<conversion>__<job>`` (when a job
returns a list -- several find_scores layers, or a list of tasks -- the
entries are ``<conversion>__<job>__<i>``), plus ``__meta__``: a JSON string
with, per conversion, the converted layers (SequentialModel:
``[[idx, layer.get_name(), type(layer).__name__], ...]``; GraphModel: the
sorted ``name_to_layer`` keys with types and the input layer names), the
resolved ``nonlinear_mxts_mode`` of each activation layer, the output keys of
every job and the error of any job that raised.

The functions below that execute a spec (``execute_conversion`` and friends)
do not depend on which ``deeplift`` they drive: the project's tests import
this file and call them with the project's own package, so both sides make
exactly the same public-API calls.
"""
from __future__ import print_function

import io
import json
import os
import re
import sys
import tarfile
import tempfile
import zipfile

ORIGINAL_VERSION = "0.6.13.0"
CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "deeplift-tests")


# --------------------------------------------------------------------------
# locating / fetching the original sdist
# --------------------------------------------------------------------------
def _is_sdist_dir(path):
    return os.path.isfile(os.path.join(path, "deeplift", "models.py")) and \
        os.path.isfile(os.path.join(path, "deeplift", "conversion",
                                    "kerasapi_conversion.py"))


def locate_original(fetch=True):
    """Return the directory holding the original ``deeplift/`` package."""
    env = os.environ.get("DEEPLIFT_ORIGINAL_DIR")
    if env:
        env = os.path.abspath(os.path.expanduser(env))
        if not _is_sdist_dir(env):
            raise RuntimeError("DEEPLIFT_ORIGINAL_DIR=%s does not contain the "
                               "original deeplift package" % env)
        return env
    cached = os.path.join(CACHE_DIR, "deeplift-" + ORIGINAL_VERSION)
    if _is_sdist_dir(cached):
        return cached
    if not fetch:
        raise RuntimeError("original deeplift sdist not found (set "
                           "DEEPLIFT_ORIGINAL_DIR)")
    import subprocess
    os.makedirs(CACHE_DIR, exist_ok=True)
    dl_dir = tempfile.mkdtemp(prefix="dl-", dir=CACHE_DIR)
    subprocess.check_call([sys.executable, "-m", "pip", "download",
                           "--no-deps", "--no-binary", ":all:",
                           "-d", dl_dir, "deeplift==" + ORIGINAL_VERSION])
    archives = [f for f in os.listdir(dl_dir)
                if f.endswith((".tar.gz", ".zip", ".tgz"))]
    if not archives:
        raise RuntimeError("pip download produced no sdist in " + dl_dir)
    archive = os.path.join(dl_dir, archives[0])
    if archive.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(CACHE_DIR)
    else:
        with tarfile.open(archive) as tf_:
            members = [m for m in tf_.getmembers()
                       if not (m.name.startswith("/") or ".." in m.name)]
            tf_.extractall(CACHE_DIR, members=members)
    import shutil
    shutil.rmtree(dl_dir, ignore_errors=True)
    if not _is_sdist_dir(cached):
        raise RuntimeError("extracted sdist not found at " + cached)
    return cached


# --------------------------------------------------------------------------
# shims: make the TF1 code of 0.6.13 run on TensorFlow 2.x
# --------------------------------------------------------------------------
_SESSION = [None]


def install_shims_and_import(original_dir):
    """Import the original deeplift under tf.compat.v1; return its modules.

    - ``tf.compat.v1.disable_v2_behavior()`` (graph mode, placeholders,
      sessions);
    - while the original's modules are imported, ``sys.modules['tensorflow']``
      is the ``tensorflow.compat.v1`` module, so their module-level
      ``import tensorflow as tf`` binds the v1 API (``tf.placeholder``,
      ``tf.Session``, ``tf.scatter_update``, ``tf.nn.conv1d(value=...)``...);
      ``from tensorflow.python.ops import nn_grad`` (pooling) still resolves
      because ``tensorflow.python`` is already in ``sys.modules``.  The real
      module is restored afterwards;
    - ``deeplift.util.get_session`` first tries ``keras.backend.get_session``:
      a stub ``keras`` module whose ``backend.get_session`` returns one
      process-wide ``tf.compat.v1.Session`` is installed so that Keras 3 is
      never imported here;
    - ``yaml`` and ``h5py`` are plain dependencies (must be installed).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")   # CPU: reproducible
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import types
    import tensorflow as real_tf
    import tensorflow.compat.v1 as tf1
    import tensorflow.python.ops.nn_grad  # noqa: F401  (used by pooling)
    tf1.disable_v2_behavior()

    def get_session():
        if _SESSION[0] is None:
            config = tf1.ConfigProto(intra_op_parallelism_threads=1,
                                     inter_op_parallelism_threads=1)
            _SESSION[0] = tf1.Session(config=config)
        return _SESSION[0]

    keras_stub = types.ModuleType("keras")
    backend_stub = types.ModuleType("keras.backend")
    backend_stub.get_session = get_session
    keras_stub.backend = backend_stub
    keras_stub.__path__ = []
    sys.modules["keras"] = keras_stub
    sys.modules["keras.backend"] = backend_stub

    for name in list(sys.modules):
        if name == "deeplift" or name.startswith("deeplift."):
            del sys.modules[name]
    sys.path.insert(0, original_dir)
    sys.modules["tensorflow"] = tf1
    try:
        import deeplift
        import deeplift.util
        import deeplift.models
        import deeplift.layers
        from deeplift.conversion import kerasapi_conversion as kc
    finally:
        sys.modules["tensorflow"] = real_tf
    where = os.path.realpath(deeplift.__file__)
    assert where.startswith(os.path.realpath(original_dir) + os.sep), \
        "imported the wrong deeplift: " + where
    return kc, deeplift.util, deeplift.layers


# --------------------------------------------------------------------------
# config shim for files written by tf_keras 2.x (the original expects the
# Keras <= 2.3 layout): class_name "Functional" -> "Model" and
# BatchNormalization "axis": [a] -> a.  Only used for the ORIGINAL.
# --------------------------------------------------------------------------
def _read_model_config(h5_file, json_file):
    if json_file is not None:
        with open(json_file) as f:
            return json.load(f)
    import h5py
    with h5py.File(h5_file, "r") as f:
        data = f.attrs["model_config"]
    if hasattr(data, "decode"):
        data = data.decode("utf-8")
    return json.loads(data)


def _legacy_config(config, applied):
    if isinstance(config, dict):
        out = {}
        for k, v in config.items():
            out[k] = _legacy_config(v, applied)
        if out.get("class_name") == "Functional":
            out["class_name"] = "Model"
            applied.add("class_name Functional->Model")
        if (out.get("class_name") == "BatchNormalization"
                and isinstance(out.get("config", {}).get("axis"), list)
                and len(out["config"]["axis"]) == 1):
            out["config"]["axis"] = out["config"]["axis"][0]
            applied.add("BatchNormalization axis [a]->a")
        return out
    if isinstance(config, list):
        return [_legacy_config(x, applied) for x in config]
    return config


def _top_level_layer_configs(config):
    inner = config["config"]
    if isinstance(inner, dict):
        inner = inner.get("layers", [])
    return inner


def legacy_files_for(h5_file, json_file, tmp_dir):
    """Return (h5_file, json_file to pass, list of applied shims).

    Besides the config rewrite above: tf_keras writes the auto-generated
    InputLayer into a Sequential's config but (as every Keras does) no weight
    group for it, and the original asserts that every layer of the config
    has a group in the weights file.  For such files a copy of the h5 with an
    empty group (``weight_names=[]``) for each missing layer is used, so that
    the original goes down its own "Input layer in sequential container;
    skipping" path (the InputLayer still consumes index 0 of the names).
    """
    import h5py
    import numpy as np
    import shutil
    config = _read_model_config(h5_file, json_file)
    applied = set()
    new = _legacy_config(config, applied)
    names = [lc["config"]["name"] for lc in _top_level_layer_configs(new)]
    with h5py.File(h5_file, "r") as f:
        group = f["model_weights"] if "model_weights" in f else f
        missing = [n for n in names if n not in group]
    tag = "%d" % len(os.listdir(tmp_dir))
    if missing:
        new_h5 = os.path.join(tmp_dir, "weights_%s.h5" % tag)
        shutil.copyfile(h5_file, new_h5)
        with h5py.File(new_h5, "r+") as f:
            group = f["model_weights"] if "model_weights" in f else f
            for n in missing:
                g = group.create_group(n)
                g.attrs["weight_names"] = np.array([], dtype="S1")
        applied.add("empty weight group for " + ",".join(missing))
        h5_file = new_h5
    if not applied:
        return h5_file, json_file, []
    path = os.path.join(tmp_dir, "legacy_%s.json" % tag)
    with open(path, "w") as f:
        json.dump(new, f)
    return h5_file, path, sorted(applied)


# --------------------------------------------------------------------------
# spec execution (independent of which deeplift implementation is used)
# --------------------------------------------------------------------------
def _resolve(base_dir, path):
    if path is None:
        return None
    return path if os.path.isabs(path) else os.path.join(base_dir, path)


def _value(entry, arrays):
    if isinstance(entry, str):
        return arrays[entry]
    return float(entry)


def build_call_args(job, arrays):
    """Return (input_data, references) as they are passed to the function."""
    inputs = job["inputs"]
    if isinstance(inputs, dict):
        input_data = {k: arrays[v] for k, v in inputs.items()}
    else:
        input_data = [arrays[k] for k in inputs]
    refs = job.get("references")
    if refs is None:
        references = None
    elif isinstance(refs, dict):
        references = {k: _value(v, arrays) for k, v in refs.items()}
    else:
        references = [_value(v, arrays) for v in refs]
    return input_data, references


def is_graph_model(model):
    return hasattr(model, "get_name_to_layer")


def describe_model(model):
    """Names/indices/types of the converted layers."""
    if is_graph_model(model):
        ntl = model.get_name_to_layer()
        return {"kind": "GraphModel",
                "layers": [[n, type(ntl[n]).__name__] for n in sorted(ntl)],
                "input_layer_names": list(model.get_input_layer_names())}
    return {"kind": "SequentialModel",
            "layers": [[i, layer.get_name(), type(layer).__name__]
                       for i, layer in enumerate(model.get_layers())]}


def resolved_modes(model):
    """nonlinear_mxts_mode of every layer that has one (after conversion,
    DeepLIFT_GenomicsDefault has been resolved by the original)."""
    if is_graph_model(model):
        items = sorted(model.get_name_to_layer().items())
    else:
        items = [(layer.get_name(), layer) for layer in model.get_layers()]
    return {name: layer.nonlinear_mxts_mode for name, layer in items
            if hasattr(layer, "nonlinear_mxts_mode")}


def get_func(model, job, func_kind):
    """model.get_target_<func_kind>_func with the job's layers."""
    if is_graph_model(model):
        kwargs = dict(find_scores_layer_name=job["find_scores_layer"],
                      pre_activation_target_layer_name=job["target_layer"])
    else:
        kwargs = dict(find_scores_layer_idx=job["find_scores_layer"],
                      target_layer_idx=job["target_layer"])
    if func_kind == "contribs":
        return model.get_target_contribs_func(**kwargs)
    if func_kind == "multipliers":
        return model.get_target_multipliers_func(**kwargs)
    raise ValueError("unknown base function kind " + str(func_kind))


def run_job(model, util, job, arrays):
    """Make the job's public-API call; return what the API returned."""
    kind = job["kind"]
    input_data, references = build_call_args(job, arrays)
    batch_size = job.get("batch_size", 10)
    if kind in ("contribs", "multipliers"):
        func = get_func(model, job, kind)
        kwargs = dict(task_idx=job["task_idx"], input_data_list=input_data,
                      batch_size=batch_size, progress_update=None)
        if references is not None:
            kwargs["input_references_list"] = references
        return func(**kwargs)
    if kind == "integrated_gradients":
        base = get_func(model, job, job.get("base", "multipliers"))
        func = util.get_integrated_gradients_function(
            base, job.get("num_intervals", 10))
        return func(task_idx=job["task_idx"], input_data_list=input_data,
                    input_references_list=references, batch_size=batch_size,
                    progress_update=None)
    if kind == "hypothetical_contribs":
        base = get_func(model, job, job.get("base", "multipliers"))
        func = util.get_hypothetical_contribs_func_onehot(base)
        return func(task_idx=job["task_idx"], input_data_list=input_data,
                    input_references_list=references, batch_size=batch_size,
                    progress_update=None)
    if kind == "shuffle_refs_pregen":
        base = get_func(model, job, job.get("base", "contribs"))

        def shuffle_func(seq, rng=None):  # never called: refs are pregen
            raise AssertionError("shuffle_func called despite pregen_refs")
        func = util.get_shuffle_seq_ref_function(
            score_computation_function=base, shuffle_func=shuffle_func,
            one_hot_func=None)
        task = job["task_idx"]
        return func(task_idx=task, input_data_sequences=input_data[0],
                    num_refs_per_seq=job["num_refs_per_seq"],
                    batch_size=batch_size, seed=job.get("seed", 1),
                    progress_update=None,
                    pregen_refs=arrays[job["pregen_refs"]])
    raise ValueError("unknown job kind " + str(kind))


def job_returns_list(job):
    """Whether the original returns one entry per layer/task for this job."""
    return (isinstance(job.get("find_scores_layer"), list)
            or isinstance(job.get("task_idx"), list))


def flatten_result(job, result):
    """Return [(suffix, np.ndarray)] for the job's result."""
    import numpy as np
    if job_returns_list(job):
        return [("__%d" % i, np.asarray(r, dtype=np.float32))
                for i, r in enumerate(result)]
    return [("", np.asarray(result, dtype=np.float32))]


def convert(kc, conv, base_dir, legacy_tmp_dir=None, layers=None):
    """Convert the conversion's model files; return (model, shims).

    ``layers``: the ``deeplift.layers`` module; when given, the
    ``nonlinear_mxts_mode`` string of the spec is passed as
    ``layers.NonlinearMxtsMode.<value>`` (as user scripts do)."""
    h5_file = _resolve(base_dir, conv["h5_file"])
    json_file = _resolve(base_dir, conv.get("json_file"))
    shims = []
    if legacy_tmp_dir is not None:
        h5_file, json_file, shims = legacy_files_for(h5_file, json_file,
                                                     legacy_tmp_dir)
    kwargs = dict(conv.get("kwargs", {}))
    if layers is not None and "nonlinear_mxts_mode" in kwargs:
        kwargs["nonlinear_mxts_mode"] = getattr(
            layers.NonlinearMxtsMode, kwargs["nonlinear_mxts_mode"])
    if json_file is not None:
        kwargs["json_file"] = json_file
    return kc.convert_model_from_saved_files(h5_file=h5_file, **kwargs), shims


def execute_conversion(kc, util, conv, arrays, base_dir, out, meta,
                       legacy_tmp_dir=None, layers=None):
    model, shims = convert(kc, conv, base_dir, legacy_tmp_dir, layers)
    cmeta = {"model": describe_model(model), "config_shims": shims,
             "resolved_modes": resolved_modes(model), "jobs": {}}
    for job in conv["jobs"]:
        jmeta = {}
        key = conv["name"] + "__" + job["name"]
        try:
            result = run_job(model, util, job, arrays)
        except Exception as e:  # recorded; the test checks expect_error
            if not job.get("expect_error"):
                raise
            jmeta["error"] = "%s: %s" % (type(e).__name__, e)
            jmeta["error_type"] = type(e).__name__
        else:
            if job.get("expect_error"):
                raise AssertionError("job %s was expected to fail" % key)
            jmeta["outputs"] = []
            for suffix, arr in flatten_result(job, result):
                out[key + suffix] = arr
                jmeta["outputs"].append(key + suffix)
        cmeta["jobs"][job["name"]] = jmeta
    meta[conv["name"]] = cmeta
    return model


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    spec_path, out_path = argv[1], argv[2]
    with open(spec_path) as f:
        spec = json.load(f)
    base_dir = os.path.dirname(os.path.abspath(spec_path))
    original_dir = locate_original()
    kc, util, layers = install_shims_and_import(original_dir)
    import numpy as np
    import contextlib
    with np.load(_resolve(base_dir, spec["inputs_npz"])) as z:
        arrays = {k: z[k] for k in z.files}
    out, meta = {}, {}
    tmp_dir = tempfile.mkdtemp(prefix="deeplift-orig-")
    for conv in spec["conversions"]:
        for name in [conv["name"]] + [j["name"] for j in conv["jobs"]]:
            assert re.match(r"^[A-Za-z0-9_]+$", name), name
        # the original prints a lot; keep stdout for our own messages
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            execute_conversion(kc, util, conv, arrays, base_dir, out, meta,
                               legacy_tmp_dir=tmp_dir, layers=layers)
        print("converted + ran %s (%d jobs)" % (conv["name"],
                                                len(conv["jobs"])))
    meta_all = {"original_dir": original_dir,
                "original_version": ORIGINAL_VERSION,
                "conversions": meta}
    out["__meta__"] = np.array(json.dumps(meta_all, sort_keys=True))
    np.savez_compressed(out_path, **out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
