"""Conversion of Keras models (Sequential and functional) to deeplift models.

Entry points:

* :func:`convert_model_from_saved_files` -- a saved model: whole-model HDF5
  (Keras 1/2, ``tf_keras``, Keras 3 ``.h5``), a weights HDF5 file plus a
  JSON/YAML config, or a Keras 3 ``.keras`` archive. Files are read with
  h5py/zipfile/json/yaml; no Keras model is built.
* :func:`convert_keras_model` -- an in-memory ``keras`` or ``tf_keras``
  model.
* :func:`convert_sequential_model` / :func:`convert_functional_model` -- a
  model config in which every layer config carries its weights under
  ``'weights'``.

Naming (identical to deeplift 0.6.13):

* Sequential models: the input layer is named ``"input"``; every other
  layer is named by the index of its Keras layer in the config's layer list
  (an ``InputLayer`` entry in that list takes an index and is skipped).
  Layers of a nested Sequential at index ``i`` are named ``"i-j"``.
* Functional models: ``<keras layer name>_<node index>`` (e.g.
  ``dense_2_0``); layers of a nested functional model get the nested
  model's node name plus ``_`` as a prefix. When a Keras layer also has an
  activation, the linear part is named ``preact_<name>``. The plain Keras
  name (``dense_2``, ``preact_dense_2``) is registered as an alias when it
  is unambiguous.

Unsupported layer classes raise :class:`UnsupportedLayerError` (listing all
of them); layers can be added with ``custom_conversion_funcs`` -- see
:data:`deeplift.conversion.errors.CONVERSION_FUNCTION_CONTRACT`.
"""
import logging
import os
from collections import OrderedDict

from deeplift import layers, models
from deeplift.layers import (NonlinearMxtsMode, DenseMxtsMode, ConvMxtsMode,
                             MaxPoolDeepLiftMode)
from deeplift.conversion import readers, registry
from deeplift.conversion.errors import (CONVERSION_FUNCTION_CONTRACT,
                                        ConversionError,
                                        InvalidModelFileError,
                                        UnsupportedLayerError,
                                        WeightsMismatchError)
from deeplift.conversion.registry import (  # noqa: F401 (public names)
    REGISTRY, ACTIVATIONS, activation_conversion,
    activation_to_conversion_function, linear_conversion, relu_conversion,
    sigmoid_conversion, tanh_conversion, softmax_conversion,
    prelu_conversion, input_layer_conversion, noop_conversion,
    dense_conversion, flatten_conversion, batchnorm_conversion,
    conv1d_conversion, conv2d_conversion, maxpool1d_conversion,
    avgpool1d_conversion, maxpool2d_conversion, avgpool2d_conversion,
    globalmaxpool1d_conversion, globalavgpool1d_conversion,
    globalmaxpool2d_conversion, globalavgpool2d_conversion)
from deeplift.conversion.registry import \
    concat_conversion as concat_conversion_function  # noqa: F401
from deeplift.util import enum

__all__ = ["convert_model_from_saved_files", "convert_keras_model",
           "convert_sequential_model", "convert_functional_model",
           "ConversionError", "UnsupportedLayerError",
           "InvalidModelFileError", "WeightsMismatchError", "REGISTRY",
           "ACTIVATIONS", "CONVERSION_FUNCTION_CONTRACT",
           "default_maxpool_deeplift_mode"]

logger = logging.getLogger(__name__)

default_maxpool_deeplift_mode = MaxPoolDeepLiftMode.gradient

# names of the original module, kept for scripts that use them
KerasKeys = enum(
    name="name", data_format="data_format", activation="activation",
    filters="filters", kernel_size="kernel_size", padding="padding",
    output_dim="output_dim", stride="stride", pool_size="pool_size",
    strides="strides", mode="mode", weights="weights",
    batch_input_shape="batch_input_shape", axis="axis", epsilon="epsilon")

ActivationTypes = enum(relu="relu", prelu="prelu", sigmoid="sigmoid",
                       tanh="tanh", softmax="softmax", linear="linear")


def layer_name_to_conversion_function(layer_name):
    """The built-in conversion function for a Keras class name (matched
    case-insensitively); raises UnsupportedLayerError when there is none."""
    func = registry.lookup(layer_name)
    if func is None:
        raise UnsupportedLayerError({layer_name: ["(class lookup)"]})
    return func


_CONTAINERS = readers.CONTAINER_CLASSES
_FUNCTIONALS = readers.FUNCTIONAL_CLASSES


# --------------------------------------------------------------------------
# config helpers
# --------------------------------------------------------------------------

def _unwrap(model_config, expected):
    """``(config, keras_version)`` from either a bare model config or
    ``{"class_name", "config"[, "keras_version"]}`` (keras_version None
    when unknown)."""
    if (isinstance(model_config, dict) and "class_name" in model_config
            and "config" in model_config
            and model_config["class_name"] in expected):
        return model_config["config"], model_config.get("keras_version")
    return model_config, None


def _find_unsupported(entries, custom, path, found):
    for entry in entries:
        cls = entry.get("class_name")
        name = readers.layer_entry_name(entry)
        if cls in custom:
            continue
        if cls in _CONTAINERS:
            _find_unsupported(
                readers.container_layer_entries(cls, entry.get("config")),
                custom, path + name + "/", found)
        elif registry.lookup(cls, custom) is None:
            found.setdefault(cls, []).append(path + name)
    return found


def _check_supported(entries, custom):
    found = _find_unsupported(entries, custom, "", OrderedDict())
    if found:
        raise UnsupportedLayerError(found)


def _is_keras_ref(obj):
    return (isinstance(obj, (list, tuple)) and 3 <= len(obj) <= 4
            and isinstance(obj[0], str)
            and all(isinstance(x, int) and not isinstance(x, bool)
                    for x in obj[1:3]))


def _collect_keras2_refs(obj, out):
    if _is_keras_ref(obj):
        out.append((obj[0], int(obj[1]), int(obj[2])))
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _collect_keras2_refs(item, out)
    return out


def _collect_keras3_refs(obj, out):
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            hist = obj["config"]["keras_history"]
            out.append((hist[0], int(hist[1]), int(hist[2])))
        else:
            for value in obj.values():
                _collect_keras3_refs(value, out)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _collect_keras3_refs(item, out)
    return out


def _node_refs(node, layer_name):
    """(layer name, node index, tensor index) of a node's inputs."""
    if isinstance(node, dict):  # Keras 3
        refs = _collect_keras3_refs(node.get("args", []), [])
        if _collect_keras3_refs(node.get("kwargs", {}), []):
            raise ConversionError(
                "Layer '%s' is called with tensors as keyword arguments "
                "(%s); this is not supported" % (layer_name,
                                                 sorted(node["kwargs"])))
        return refs
    return _collect_keras2_refs(node, [])


def _io_refs(spec):
    """Normalize config['input_layers'] / ['output_layers']."""
    if _is_keras_ref(spec):
        return [(spec[0], int(spec[1]), int(spec[2]))]
    if isinstance(spec, dict):
        spec = list(spec.values())
    return _collect_keras2_refs(spec, [])


def _first_batch_shape(entries):
    """Batch input shape of a Sequential model's layer list."""
    if not entries:
        return None
    cls = entries[0].get("class_name")
    config = entries[0].get("config")
    if isinstance(config, dict):
        for key in ("batch_input_shape", "batch_shape"):
            if config.get(key) is not None:
                return config[key]
    if cls == "Sequential":
        return _first_batch_shape(
            readers.container_layer_entries(cls, config))
    if cls in _FUNCTIONALS:
        inputs = [e for e in config.get("layers", [])
                  if e.get("class_name") == "InputLayer"]
        if len(inputs) == 1:
            return _first_batch_shape(inputs)
    return None


def _nodes_numbered_from_1(entry):
    """Whether Keras 2 numbers the nodes of this layer from 1: nested
    functional models, and nested Sequential models that start with an
    InputLayer."""
    cls = entry.get("class_name")
    if cls == "Sequential":
        entries = readers.container_layer_entries(cls, entry.get("config"))
        return bool(entries) and entries[0].get("class_name") == "InputLayer"
    return cls in _FUNCTIONALS


# --------------------------------------------------------------------------
# the converter
# --------------------------------------------------------------------------

class _Converter(object):
    """Converts one model config with the given options (the arguments of
    the public ``convert_*`` functions): :meth:`convert`."""

    def __init__(self, nonlinear_mxts_mode, dense_mxts_mode, conv_mxts_mode,
                 maxpool_deeplift_mode, layer_overrides,
                 custom_conversion_funcs, verbose):
        self.modes = dict(nonlinear_mxts_mode=nonlinear_mxts_mode,
                          dense_mxts_mode=dense_mxts_mode,
                          conv_mxts_mode=conv_mxts_mode,
                          maxpool_deeplift_mode=maxpool_deeplift_mode)
        self.layer_overrides = layer_overrides or {}
        self.custom = dict(custom_conversion_funcs or {})
        self.verbose = verbose
        self.keras_version = None
        self.name_to_layer = OrderedDict()
        self.aliases = {}
        self._ambiguous_aliases = set()
        self.input_layer_names = []

    # ---- entry point ----------------------------------------------------

    def convert(self, model_config, kind=None, store=None, source=None):
        """Convert a model config, bare or as ``{"class_name", "config"[,
        "keras_version"]}``: a Sequential one (``kind="Sequential"``), a
        functional one (``kind="Functional"``) or, with ``kind=None``, a
        wrapped one of either kind. ``store``: a weight store whose weights
        are inserted into the layer configs first; ``source``: the model
        file(s) or object, named in error messages."""
        if kind is None:
            class_name = model_config["class_name"]
            if class_name == "Sequential":
                kind = "Sequential"
            elif class_name in _FUNCTIONALS:
                kind = "Functional"
            else:
                raise ConversionError(
                    "%s: don't know how to convert a model of class '%s' "
                    "(only Sequential and functional Model/Functional)"
                    % (source, class_name))
        config, self.keras_version = _unwrap(
            model_config,
            ("Sequential",) if kind == "Sequential" else _FUNCTIONALS)
        if kind == "Functional" and not isinstance(config, dict):
            raise ConversionError("A functional model config must be a dict")
        entries = readers.container_layer_entries(kind, config)
        _check_supported(entries, self.custom)
        if store is not None:
            readers.insert_weights(entries, store)
        self._log("nonlinear_mxts_mode is set to: %s",
                  self.modes["nonlinear_mxts_mode"])
        try:
            if kind == "Sequential":
                return self._sequential_model(config, entries)
            return self._functional_model(config)
        except UnsupportedLayerError:
            raise
        except ConversionError as exc:
            if source is None or source in str(exc):
                raise
            raise type(exc)("%s: %s" % (source, exc)) from exc

    def _sequential_model(self, config, entries):
        if not entries:
            raise ConversionError("The Sequential model has no layers")
        batch_shape = _first_batch_shape(entries)
        if batch_shape is None and isinstance(config, dict):
            batch_shape = config.get("build_input_shape")
        if batch_shape is None:
            raise ConversionError(
                "Cannot determine the input shape of the Sequential model: "
                "its first layer has no batch_input_shape/batch_shape (build "
                "the model with an Input or input_shape before saving)")
        input_layer = layers.Input(batch_shape=list(batch_shape),
                                   name="input")
        self._register(input_layer)
        converted = [input_layer] + self.sequential(entries, "", input_layer,
                                                    True)
        converted[-1].build_fwd_pass_vars()
        return models.SequentialModel(converted)

    def _functional_model(self, config):
        output_layers, _ = self.functional(config, "", None)
        if not output_layers:
            raise ConversionError("The functional model has no outputs")
        for output_layer in output_layers:
            output_layer.build_fwd_pass_vars()
        return models.GraphModel(name_to_layer=self.name_to_layer,
                                 input_layer_names=self.input_layer_names,
                                 name_aliases=self.finish_aliases())

    # ---- helpers --------------------------------------------------------

    def _log(self, msg, *args):
        logger.log(logging.INFO if self.verbose else logging.DEBUG, msg,
                   *args)

    def _modes_for(self, keys):
        """The modes, with those of the first of ``keys`` (a layer's index
        or names) found in ``layer_overrides``."""
        modes = dict(self.modes)
        for key in keys:
            if key in self.layer_overrides:
                override = self.layer_overrides[key]
                modes.update((mode, override[mode]) for mode in self.modes
                             if mode in override)
                break
        return modes

    def _register(self, layer):
        if not isinstance(layer, layers.Layer):
            raise ConversionError("A conversion function returned %r, which "
                                  "is not a deeplift layer" % (layer,))
        name = layer.get_name()
        if name in self.name_to_layer and self.name_to_layer[name] is not \
                layer:
            raise ConversionError("Two converted layers are both named '%s'"
                                  % name)
        self.name_to_layer[name] = layer

    def _add_alias(self, alias, target):
        if alias == target or alias in self._ambiguous_aliases:
            return
        if alias in self.aliases and self.aliases[alias] != target:
            del self.aliases[alias]
            self._ambiguous_aliases.add(alias)
            return
        self.aliases[alias] = target

    def convert_leaf(self, class_name, config, name, override_keys=()):
        func = registry.lookup(class_name, self.custom)
        if func is None:
            raise UnsupportedLayerError(
                {class_name: [config.get("name", name)
                              if isinstance(config, dict) else name]})
        result = func(config=config, name=name, verbose=self.verbose,
                      keras_version=self.keras_version,
                      **self._modes_for(override_keys))
        if not isinstance(result, (list, tuple)):
            raise ConversionError(
                "The conversion function for %s (layer '%s') returned %r "
                "instead of a list of deeplift layers.\n%s"
                % (class_name, name, type(result).__name__,
                   CONVERSION_FUNCTION_CONTRACT))
        result = list(result)
        for prev, layer in zip(result[:-1], result[1:]):
            layer.set_inputs(prev)
        for layer in result:
            self._register(layer)
        return result

    @staticmethod
    def _wire(layer, inputs, class_name):
        if len(inputs) == 1 and class_name not in \
                registry.MULTI_INPUT_CLASSES:
            layer.set_inputs(inputs[0])
        else:
            layer.set_inputs(list(inputs))

    # ---- Sequential ------------------------------------------------------

    def sequential(self, entries, prefix, prev, top_level):
        """Convert a Sequential layer list after ``prev``; returns the list
        of created layers in order."""
        created = []
        for idx, entry in enumerate(entries):
            cls = entry.get("class_name")
            config = entry.get("config")
            name = prefix + str(idx)
            builtin = cls not in self.custom
            if builtin and cls == "InputLayer":
                self._log("Encountered an Input layer in sequential "
                          "container; skipping due to redundancy")
                continue
            if builtin and cls in _FUNCTIONALS:
                outputs, sub = self.functional(config, name + "_", [prev])
                if len(outputs) != 1:
                    raise ConversionError(
                        "Nested model '%s' at index %d of a Sequential model "
                        "has %d outputs; expected 1"
                        % (config.get("name"), idx, len(outputs)))
                created.extend(sub)
                prev = outputs[0]
                continue
            if builtin and cls == "Sequential":
                converted = self.sequential(
                    readers.container_layer_entries(cls, config),
                    name + "-", prev, False)
            else:
                converted = self.convert_leaf(
                    cls, config, name, ([idx] if top_level else []) + [name])
                if converted:
                    self._wire(converted[0], [prev], cls)
            created.extend(converted)
            if converted:
                prev = converted[-1]
        return created

    # ---- functional -----------------------------------------------------

    def functional(self, config, prefix, outer_inputs=None):
        """Convert a functional model config.

        Returns ``(output_layers, created_layers)``; with ``outer_inputs``
        (nested model) the model's inputs become NoOp layers fed by them.
        """
        entries = config.get("layers")
        if not isinstance(entries, list):
            raise ConversionError("Functional model config without 'layers'")
        keras3 = any(isinstance(node, dict) for e in entries
                     for node in (e.get("inbound_nodes") or []))
        # per layer: its entry and the input refs of each of its nodes (a
        # layer without inbound nodes has one node without inputs)
        by_name = OrderedDict()
        for entry in entries:
            lname = entry.get("name") or readers.layer_entry_name(entry)
            by_name[lname] = dict(
                entry=entry,
                refs=[_node_refs(n, lname)
                      for n in entry.get("inbound_nodes") or []] or [[]])
        input_refs = _io_refs(config.get("input_layers", []))
        output_refs = _io_refs(config.get("output_layers", []))

        # Keras numbers the nodes of nested models from 1 in Keras 2 files
        # (and in Keras 3 output_layers); infer each layer's numbering from
        # the references to it.
        referenced = {}
        for info in by_name.values():
            for refs in info["refs"]:
                for ref_name, k, _ in refs:
                    referenced.setdefault(ref_name, []).append(k)
        for lname, info in by_name.items():
            if lname in referenced:
                info["offset"] = min(referenced[lname])
            else:
                info["offset"] = int(not keras3 and
                                     _nodes_numbered_from_1(info["entry"]))

        def resolve(ref, from_outputs):
            ref_name, k, t = ref
            if ref_name not in by_name:
                raise ConversionError("The model config refers to layer "
                                      "'%s', which is not in its layer list"
                                      % ref_name)
            info = by_name[ref_name]
            n_nodes = len(info["refs"])
            if n_nodes == 1:
                local = 0
            elif (from_outputs and keras3 and
                  info["entry"].get("class_name") in _FUNCTIONALS):
                local = k - 1
            else:
                local = k - info["offset"]
            if not 0 <= local < n_nodes:
                raise ConversionError("The model config refers to node %d "
                                      "of layer '%s', which does not exist"
                                      % (k, ref_name))
            return (ref_name, local), t

        # topological order of the nodes
        node_deps = OrderedDict(
            ((lname, local), [resolve(r, False)[0] for r in refs])
            for lname, info in by_name.items()
            for local, refs in enumerate(info["refs"]))
        order = []
        done = set()
        pending = list(node_deps)
        while pending:
            remaining = []
            for key in pending:
                if all(dep in done for dep in node_deps[key]):
                    order.append(key)
                    done.add(key)
                else:
                    remaining.append(key)
            if len(remaining) == len(pending):
                raise ConversionError("The model graph has a cycle or refers "
                                      "to missing nodes: %s"
                                      % [k[0] for k in remaining])
            pending = remaining

        input_names = [r[0] for r in input_refs]
        if outer_inputs is not None and len(outer_inputs) != len(input_names):
            raise ConversionError(
                "Nested model '%s' has %d inputs but is called on %d tensors"
                % (config.get("name"), len(input_names), len(outer_inputs)))

        outputs_of = {}
        created = []
        node_id_of = {}
        for key in order:
            lname, local = key
            info = by_name[lname]
            entry = info["entry"]
            cls = entry.get("class_name")
            layer_config = entry.get("config")
            builtin = cls not in self.custom
            node_id = "%s%s_%d" % (prefix, lname, local + info["offset"])
            node_id_of[key] = node_id
            refs = info["refs"][local]
            inputs = []
            for ref in refs:
                dep, t = resolve(ref, False)
                dep_outputs = outputs_of[dep]
                if t >= len(dep_outputs):
                    raise ConversionError(
                        "Layer '%s' uses output %d of '%s', which has only "
                        "%d output(s)" % (lname, t, dep[0], len(dep_outputs)))
                inputs.append(dep_outputs[t])
            keys = (node_id, lname)

            if not refs and builtin and cls == "InputLayer":
                if outer_inputs is not None:
                    if lname not in input_names:
                        raise ConversionError("Nested model input '%s' is not "
                                              "listed in its input_layers"
                                              % lname)
                    noop = layers.NoOp(name=node_id, verbose=self.verbose)
                    noop.set_inputs(outer_inputs[input_names.index(lname)])
                    self._register(noop)
                    converted = [noop]
                else:
                    converted = self.convert_leaf(cls, layer_config, node_id,
                                                  keys)
                    if prefix == "":
                        self._add_alias(lname, converted[-1].get_name())
                outputs_of[key] = [converted[-1]]
                created.extend(converted)
                continue

            if builtin and cls == "Sequential":
                if len(inputs) != 1:
                    raise ConversionError("Nested Sequential '%s' has %d "
                                          "inputs" % (lname, len(inputs)))
                sub = self.sequential(
                    readers.container_layer_entries(cls, layer_config),
                    node_id + "-", inputs[0], False)
                created.extend(sub)
                outputs_of[key] = [sub[-1] if sub else inputs[0]]
                continue
            if builtin and cls in _FUNCTIONALS:
                sub_outputs, sub = self.functional(layer_config,
                                                   node_id + "_", inputs)
                created.extend(sub)
                outputs_of[key] = sub_outputs
                continue

            converted = self.convert_leaf(cls, layer_config, node_id, keys)
            if converted:
                if not inputs:
                    raise ConversionError("Layer '%s' (%s) has no inputs"
                                          % (lname, cls))
                self._wire(converted[0], inputs, cls)
                outputs_of[key] = [converted[-1]]
                created.extend(converted)
                if prefix == "" and len(info["refs"]) == 1:
                    for layer in converted:
                        lyr_name = layer.get_name()
                        if lyr_name.endswith(node_id):
                            self._add_alias(
                                lyr_name[:len(lyr_name) - len(node_id)]
                                + lname, lyr_name)
            else:  # identity (e.g. a linear Activation layer)
                if len(inputs) != 1:
                    raise ConversionError("Layer '%s' (%s) converts to an "
                                          "identity but has %d inputs"
                                          % (lname, cls, len(inputs)))
                outputs_of[key] = [inputs[0]]

        output_layers = []
        for ref in output_refs:
            dep, t = resolve(ref, True)
            dep_outputs = outputs_of[dep]
            if t >= len(dep_outputs):
                raise ConversionError("Model output refers to output %d of "
                                      "'%s', which has only %d output(s)"
                                      % (t, dep[0], len(dep_outputs)))
            output_layers.append(dep_outputs[t])
        if outer_inputs is None:
            self.input_layer_names = [
                node_id_of[resolve(r, False)[0]] for r in input_refs]
        return output_layers, created

    def finish_aliases(self):
        return {alias: target for alias, target in self.aliases.items()
                if alias not in self.name_to_layer}


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------

def convert_sequential_model(
        model_config,
        nonlinear_mxts_mode=NonlinearMxtsMode.DeepLIFT_GenomicsDefault,
        verbose=True,
        dense_mxts_mode=DenseMxtsMode.Linear,
        conv_mxts_mode=ConvMxtsMode.Linear,
        maxpool_deeplift_mode=default_maxpool_deeplift_mode,
        layer_overrides={},
        custom_conversion_funcs={}):
    """Convert a Sequential model config (list of layer entries, or dict
    with 'layers', bare or wrapped as ``{"class_name", "config"}``, where a
    ``"keras_version"`` next to them gives the Keras version's activation
    definitions) whose layer configs carry their weights under
    'weights'. Returns a :class:`deeplift.models.SequentialModel`.

    ``layer_overrides`` maps a Keras layer index (or a deeplift layer name)
    to a dict of modes (``nonlinear_mxts_mode``, ``dense_mxts_mode``,
    ``conv_mxts_mode``, ``maxpool_deeplift_mode``) used for that layer.
    """
    return _Converter(nonlinear_mxts_mode, dense_mxts_mode, conv_mxts_mode,
                      maxpool_deeplift_mode, layer_overrides,
                      custom_conversion_funcs, verbose).convert(
                          model_config, "Sequential")


def convert_functional_model(
        model_config,
        nonlinear_mxts_mode=NonlinearMxtsMode.DeepLIFT_GenomicsDefault,
        verbose=True,
        dense_mxts_mode=DenseMxtsMode.Linear,
        conv_mxts_mode=ConvMxtsMode.Linear,
        maxpool_deeplift_mode=default_maxpool_deeplift_mode,
        layer_overrides={},
        custom_conversion_funcs={}):
    """Convert a functional model config (dict with 'layers',
    'input_layers', 'output_layers', bare or wrapped as in
    :func:`convert_sequential_model`) whose layer configs carry their
    weights under 'weights'. Returns a :class:`deeplift.models.GraphModel`.

    ``layer_overrides`` maps a deeplift node name (``dense_2_0``) or a Keras
    layer name to a dict of modes used for that layer.
    """
    return _Converter(nonlinear_mxts_mode, dense_mxts_mode, conv_mxts_mode,
                      maxpool_deeplift_mode, layer_overrides,
                      custom_conversion_funcs, verbose).convert(
                          model_config, "Functional")


def convert_model_from_saved_files(
        h5_file, json_file=None, yaml_file=None,
        nonlinear_mxts_mode=NonlinearMxtsMode.DeepLIFT_GenomicsDefault,
        verbose=True,
        dense_mxts_mode=DenseMxtsMode.Linear,
        conv_mxts_mode=ConvMxtsMode.Linear,
        maxpool_deeplift_mode=default_maxpool_deeplift_mode,
        layer_overrides={},
        custom_conversion_funcs={}):
    """Convert a saved Keras model.

    ``h5_file``: a whole-model HDF5 file (Keras 1/2, tf_keras or Keras 3
    ``.h5``), a weights-only HDF5 file (then give ``json_file`` or
    ``yaml_file``, as written by ``model.to_json()``/``to_yaml()``), or a
    Keras 3 ``.keras`` archive. Returns a ``SequentialModel`` for Sequential
    models and a ``GraphModel`` for functional ones. Activations are those
    of the Keras version that wrote the model (Keras 1/2's
    ``hard_sigmoid`` differs from Keras 3's).

    Raises :class:`UnsupportedLayerError` (a ``ValueError``) listing every
    layer without a conversion; ``custom_conversion_funcs={"ClassName":
    fn}`` supplies conversions (contract in
    ``deeplift.conversion.errors.CONVERSION_FUNCTION_CONTRACT``).
    """
    model_class_and_config, store = readers.read_saved_files(
        h5_file, json_file=json_file, yaml_file=yaml_file)
    config_file = json_file if json_file is not None else yaml_file
    source = os.fspath(h5_file)
    if config_file is not None:
        source = "%s + %s" % (os.fspath(config_file), source)
    return _Converter(nonlinear_mxts_mode, dense_mxts_mode, conv_mxts_mode,
                      maxpool_deeplift_mode, layer_overrides,
                      custom_conversion_funcs, verbose).convert(
                          model_class_and_config, store=store, source=source)


def convert_keras_model(
        model,
        nonlinear_mxts_mode=NonlinearMxtsMode.DeepLIFT_GenomicsDefault,
        verbose=True,
        dense_mxts_mode=DenseMxtsMode.Linear,
        conv_mxts_mode=ConvMxtsMode.Linear,
        maxpool_deeplift_mode=default_maxpool_deeplift_mode,
        layer_overrides={},
        custom_conversion_funcs={}):
    """Convert an in-memory Keras 3 ``keras.Model`` or ``tf_keras`` model
    (Sequential or functional). Same options and results as
    :func:`convert_model_from_saved_files`."""
    model_class_and_config, store = readers.read_keras_model(model)
    return _Converter(nonlinear_mxts_mode, dense_mxts_mode, conv_mxts_mode,
                      maxpool_deeplift_mode, layer_overrides,
                      custom_conversion_funcs, verbose).convert(
                          model_class_and_config, store=store,
                          source=store.source)
