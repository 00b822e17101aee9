"""What a conversion did, and a forward check against Keras that never runs
code from a model file unless asked to.

* :func:`conversion_rows`: one row per deeplift layer (converted, or a
  placeholder and why; for a traced layer, its op counts);
  :func:`traced_rows`: the layers converted op by op (tracing) and the
  TensorFlow ops each became.
* :func:`code_bearing_layers`: the layers of a saved model whose loading by
  Keras would deserialize Python code (``Lambda`` layers hold marshalled
  bytecode that Keras 2 / ``tf_keras`` runs while building the model;
  Keras 3 stores it too and refuses it in safe mode). Found from the
  configuration alone (read with h5py / zipfile / json, as the converter
  reads it): nothing is executed.
* :func:`load_keras_model`: Keras' own model for the forward check, loaded
  with Keras' safe mode, refusing code-bearing models unless
  ``trust_model=True``.
* :func:`keras_forward_check`: the largest difference between deeplift's
  and Keras' outputs on random inputs.
"""
import importlib
import logging

import numpy as np

from deeplift.conversion import readers
from deeplift.conversion.errors import ConversionError
from deeplift.conversion.placeholder import Placeholder

logger = logging.getLogger(__name__)


class UnsafeModelError(ConversionError):
    """Loading the model with Keras would run Python code stored in it."""


def model_layers(model):
    """``(index, layer)`` in order: a Sequential model's list, or the
    topological order of a graph model's layers (placeholders included)."""
    return list(enumerate(model.all_layers()))


def placeholders(model):
    """The :class:`Placeholder` layers of a converted model."""
    if hasattr(model, "get_layers"):
        return []
    return [l for l in model.get_name_to_layer().values()
            if isinstance(l, Placeholder)]


def conversion_rows(model):
    """``[(index, name, type, status, detail)]``: ``status`` is
    ``"converted"`` or ``"placeholder"``, ``detail`` the output shape or
    why the layer was not converted."""
    rows = []
    for index, layer in model_layers(model):
        if isinstance(layer, Placeholder):
            rows.append((index, layer.get_name(),
                         layer.keras_class or "?", "placeholder",
                         layer.reason))
            continue
        try:
            shape = "(" + ", ".join("None" if s is None else str(s)
                                    for s in layer.get_shape()) + ")"
        except RuntimeError:
            shape = "?"
        detail = shape
        counts = getattr(layer, "op_counts", None)
        if getattr(layer, "constant_output", False):
            detail = "%s; traced from %s: constant (depends on the input's " \
                "shape only; no attribution)" % (
                    shape, getattr(layer, "keras_class", None) or "?")
        elif getattr(layer, "reference_is_actual", None) is not None:
            detail = "%s; %s of integer/bool values: no attribution " \
                "(reference = actual value)" % (shape, getattr(
                    layer, "op", None) or "op")
        elif counts is not None:
            detail = "%s; traced from %s: %s" % (
                shape, getattr(layer, "keras_class", None) or "?",
                _describe_counts(counts))
        rows.append((index, layer.get_name(), type(layer).__name__,
                     "converted", detail))
    return rows


def _describe_counts(counts):
    """``"12 ops (Einsum 2, Softmax 1, ...)"``, most frequent first."""
    parts = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return "%d ops (%s)" % (sum(counts.values()),
                            ", ".join("%s %d" % kv for kv in parts))


def traced_rows(model):
    """``[(name, Keras class, number of ops, {TensorFlow op type: count})]``
    of the layers converted by tracing (op-level conversion), in the
    model's order; the counts are of the ops that became nodes (constant
    ops are folded)."""
    rows = []
    for _, layer in model_layers(model):
        counts = getattr(layer, "op_counts", None)
        if counts is None or isinstance(layer, Placeholder):
            continue
        rows.append((layer.get_name(), getattr(layer, "keras_class", None),
                     sum(counts.values()), dict(counts)))
    return rows


# --------------------------------------------------------------------------
# code in model files
# --------------------------------------------------------------------------

def _holds_code(obj):
    """Whether a (part of a) layer config is serialized Python code."""
    if isinstance(obj, dict):
        if obj.get("class_name") == "__lambda__" or \
                obj.get("function_type") == "lambda":
            return True
        return any(_holds_code(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_holds_code(v) for v in obj)
    return False


def code_bearing_layers(model_config, path=""):
    """Names (``outer/inner`` for nested models) of the layers whose config
    holds Python code, or that are ``Lambda`` layers, in a model config as
    :func:`deeplift.conversion.readers.read_saved_files` returns it."""
    found = []
    cls = model_config.get("class_name")
    entries = readers.container_layer_entries(cls, model_config.get(
        "config")) if cls in readers.CONTAINER_CLASSES else []
    for entry in entries:
        name = readers.layer_entry_name(entry)
        ecls = entry.get("class_name")
        if ecls in readers.CONTAINER_CLASSES:
            found.extend(code_bearing_layers(entry, path + name + "/"))
        elif ecls == "Lambda" or _holds_code(entry.get("config")):
            found.append(path + name)
    return found


def load_keras_model(h5_file, json_file=None, yaml_file=None,
                     trust_model=False):
    """``(keras model, description)``, or ``(None, reason)`` when no Keras
    can load it. Raises :class:`UnsafeModelError` before loading anything
    when the model holds Python code (Lambda layers) and not
    ``trust_model``. Keras 3 loads with ``safe_mode=True`` unless
    ``trust_model``."""
    model_config, _ = readers.read_saved_files(h5_file, json_file=json_file,
                                               yaml_file=yaml_file)
    code = code_bearing_layers(model_config)
    if code and not trust_model:
        raise UnsafeModelError(
            "%s: not loaded with Keras for the forward check: layer(s) %s "
            "hold Python code that loading would run (a Keras 2 Lambda's "
            "marshalled bytecode runs while the model is built); pass "
            "trust_model=True (CLI: --trust-model) only for a file you "
            "trust" % (h5_file, ", ".join(code)))
    major = str(model_config.get("keras_version", "3")).split(".")[0]
    keras2 = major.isdigit() and int(major) < 3
    order = ("tf_keras", "keras") if keras2 else ("keras", "tf_keras")
    if str(h5_file).endswith(".keras"):
        order = ("keras",)
    reasons = []
    for module_name in order:
        try:
            keras = importlib.import_module(module_name)
        except Exception as exc:  # not installed or broken
            reasons.append("%s: not importable (%s)" % (module_name,
                                                        type(exc).__name__))
            continue
        safe = {"safe_mode": not trust_model} if module_name == "keras" \
            else {}
        try:
            if yaml_file is not None:
                raise ValueError("YAML model configs are not loadable by "
                                 "current Keras")
            if json_file is not None:
                with open(json_file) as handle:
                    model = keras.models.model_from_json(handle.read())
                model.load_weights(h5_file)
            else:
                model = keras.models.load_model(h5_file, compile=False,
                                                **safe)
            return model, "%s %s" % (module_name,
                                     getattr(keras, "__version__", "?"))
        except Exception as exc:
            text = str(exc).strip().splitlines()
            reasons.append("%s: %s" % (module_name,
                                       (text[0] if text else
                                        type(exc).__name__)[:150]))
    return None, "; ".join(reasons)


# --------------------------------------------------------------------------
# forward check
# --------------------------------------------------------------------------

def _keras_output_names(keras_model):
    """deeplift names of the Keras model's outputs (``<layer>_<node>``)."""
    names = []
    for tensor in keras_model.outputs:
        history = getattr(tensor, "_keras_history", None)
        if history is None:
            return None
        layer, node_index = history[0], history[1]
        names.append("%s_%d" % (layer.name, node_index))
    return names


def keras_forward_check(dl_model, keras_model, n=8, seed=0):
    """``[(deeplift output name, max abs difference or None, note)]`` of
    deeplift's forward pass against ``keras_model.predict`` on ``n`` uniform
    [0, 1) random inputs; outputs that are placeholders are listed with
    ``None``."""
    if hasattr(dl_model, "get_layers"):
        inputs = [dl_model.get_layers()[0]]
        outputs = [dl_model.get_layers()[-1]]
        out_names = [outputs[0].get_name()]
    else:
        inputs = [dl_model.get_layer(name)
                  for name in dl_model.get_input_layer_names()]
        out_names = _keras_output_names(keras_model)
        if out_names is None:
            raise ConversionError("cannot match the Keras model's outputs "
                                  "to deeplift layers")
        outputs = []
        for name in out_names:
            try:
                outputs.append(dl_model.get_layer(name))
            except KeyError:
                outputs.append(None)
    rng = np.random.RandomState(seed)
    xs = []
    kdtypes = [str(getattr(t, "dtype", "")) for t in
               (getattr(keras_model, "inputs", None) or [])]
    for i, layer in enumerate(inputs):
        shape = layer.get_shape()
        if any(s is None for s in shape[1:]):
            raise ConversionError("input %s has a shape %s that is not "
                                  "fully known" % (layer.get_name(), shape))
        if len(kdtypes) == len(inputs) and ("int" in kdtypes[i]
                                            or kdtypes[i] == "bool"):
            # token ids / masks: 0 and 1 (valid in any vocabulary)
            xs.append(rng.randint(0, 2, (n,) + tuple(shape[1:]))
                      .astype(np.float32))
            continue
        xs.append(rng.uniform(0, 1, (n,) + tuple(shape[1:]))
                  .astype(np.float32))
    expected = keras_model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    if isinstance(expected, dict):
        expected = [expected[k] for k in keras_model.output_names]
    if not isinstance(expected, (list, tuple)):
        expected = [expected]
    rows = []
    for name, layer, want in zip(out_names, outputs, expected):
        if layer is None:
            rows.append((name, None, "no deeplift layer of that name (an "
                                     "identity?)"))
            continue
        if isinstance(layer, Placeholder):
            rows.append((name, None, "placeholder: " + layer.reason))
            continue
        got = dl_model.prediction_function(inputs, layer)(xs, batch_size=n)
        want = np.asarray(want)
        if got.shape != want.shape:
            rows.append((name, None, "shapes differ: deeplift %s, Keras %s"
                         % (got.shape, want.shape)))
            continue
        rows.append((name, float(np.max(np.abs(got - want))), ""))
    return rows
