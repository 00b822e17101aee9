"""Reading Keras model configurations and weights without building a model.

Supported sources:

* whole-model HDF5 files written by Keras 1/2 (standalone or ``tf_keras``)
  and by Keras 3's legacy ``.h5`` writer (``model_config`` attribute plus a
  ``model_weights`` group);
* weights-only HDF5 files in the same layout (``layer_names`` attribute at
  the root), together with a JSON or YAML configuration file;
* Keras 3 ``.keras`` zip archives (``config.json`` + ``model.weights.h5``)
  and Keras 3 ``.weights.h5`` files (``layers/<key>/vars/<i>`` layout);
* in-memory ``keras.Model`` / ``tf_keras`` models.

Every reader returns the configuration as plain Python data and a *weight
store*; :func:`insert_weights` then puts each layer's weights into its
config under ``'weights'`` (nested models included), as deeplift's
converters expect.
"""
import io
import json
import os
import re
import zipfile
from collections import OrderedDict

import h5py
import numpy as np
import yaml

from deeplift.conversion.errors import (ConversionError,
                                        InvalidModelFileError,
                                        WeightsMismatchError)


CONTAINER_CLASSES = ("Sequential", "Model", "Functional")
FUNCTIONAL_CLASSES = ("Model", "Functional")


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------

def to_str(value):
    """Decode bytes / numpy bytes to str; leave other values alone."""
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8")
    return value


def read_attr_list(group, name):
    """Read a list-valued HDF5 attribute as a list of str.

    Keras splits attributes too large for one HDF5 attribute header into
    ``name0``, ``name1``, ... chunks; both forms are handled.
    """
    if name in group.attrs:
        chunks = [group.attrs[name]]
    else:
        chunks = []
        idx = 0
        while "%s%d" % (name, idx) in group.attrs:
            chunks.append(group.attrs["%s%d" % (name, idx)])
            idx += 1
        if not chunks:
            return None
    result = []
    for chunk in chunks:
        arr = np.asarray(chunk)
        if arr.ndim == 0:
            item = to_str(arr.item())
            if isinstance(item, str):
                result.append(item)
            continue
        result.extend(to_str(x) for x in arr.tolist())
    return [x for x in result if isinstance(x, str)]


def snake_case(name):
    """Keras 3's class-name -> weights-file key conversion."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name


def layer_entry_name(entry):
    """Name of a layer from its entry in a model config."""
    config = entry.get("config")
    if isinstance(config, dict) and "name" in config:
        return config["name"]
    if "name" in entry:
        return entry["name"]
    raise ConversionError("Layer entry without a name in the model config: "
                          "%r" % (_short(entry),))


def container_layer_entries(class_name, config):
    """The list of layer entries of a (nested) Sequential/functional config."""
    if isinstance(config, list):
        return config
    if isinstance(config, dict) and isinstance(config.get("layers"), list):
        return config["layers"]
    raise ConversionError("Config of %s model has no list of layers"
                          % class_name)


def _short(obj, limit=300):
    text = repr(obj)
    return text if len(text) <= limit else text[:limit] + "..."


def _weight_path_components(weight_name):
    name = weight_name
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    return name.split("/")


# --------------------------------------------------------------------------
# weight stores
# --------------------------------------------------------------------------

class _WeightStore(object):
    """Base of the weight stores: ``get(name, class_name)`` -> the arrays
    of a layer, ``nested(name, class_name)`` -> the store of a nested
    model, ``prepare(entries)`` before the layers of ``entries`` are
    looked up."""

    def __init__(self, source):
        self.source = source

    def prepare(self, entries):
        pass


class _LegacyWeights(_WeightStore):
    """Keras 1/2 (and Keras 3 legacy h5) layout: one group per top-level
    layer, arrays listed in the group's ``weight_names`` attribute."""

    def __init__(self, layers, source):
        super(_LegacyWeights, self).__init__(source)
        # layers: OrderedDict layer_name -> list of (weight_name, array)
        self.layers = layers

    def _named_arrays(self, name, class_name):
        if name not in self.layers:
            raise WeightsMismatchError(
                "%s: layer '%s' (%s) of the model config has no weights "
                "group in the weights file; the file has groups for "
                "layers: %s" % (self.source, name, class_name,
                                ", ".join(self.layers.keys()) or "(none)"))
        return self.layers[name]

    def get(self, name, class_name):
        return [arr for _, arr in self._named_arrays(name, class_name)]

    def nested(self, name, class_name):
        return _FlatNamedWeights(self._named_arrays(name, class_name),
                                 self.source)


class _FlatNamedWeights(_WeightStore):
    """Weights of a nested model in a legacy file: one flat list of named
    arrays; a layer's arrays are those whose name has the layer's name as
    the path component just before the variable name (else anywhere in
    the path)."""

    def __init__(self, named_arrays, source):
        super(_FlatNamedWeights, self).__init__(source)
        self.named_arrays = [(_weight_path_components(wname)[:-1], arr)
                             for wname, arr in named_arrays]

    def get(self, name, class_name):
        picked = [arr for path, arr in self.named_arrays
                  if path and path[-1] == name]
        if not picked:
            picked = [arr for path, arr in self.named_arrays if name in path]
        return picked

    def nested(self, name, class_name):
        return self


def _tree_vars(node):
    """A layer's arrays in Keras' ``get_weights()`` order: its own, then
    those of the layers it holds (a recurrent layer's ``cell``, a
    Bidirectional's ``forward_layer`` before its ``backward_layer``, which
    HDF5 lists alphabetically)."""
    held = sorted(node["held"].items(),
                  key=lambda item: item[0] == "backward_layer")
    out = list(node["vars"])
    for _, child in held:
        out.extend(_tree_vars(child))
    return out


class _TreeWeights(_WeightStore):
    """Keras 3 layout (``.keras`` archives, ``.weights.h5``): nested groups
    ``layers/<key>/vars/<i>`` where ``<key>`` is the snake-cased class name
    (deduplicated with ``_1``, ``_2``...); recent Keras versions also store
    the layer name as attribute ``name`` of the ``vars`` group."""

    def __init__(self, node, source):
        super(_TreeWeights, self).__init__(source)
        # node: dict(vars=[arrays], name=str|None, children=OrderedDict)
        self.node = node
        self._fallback_keys = {}

    def prepare(self, entries):
        counts = {}
        self._fallback_keys = {}
        for entry in entries:
            if is_op_node(entry):  # not a layer: not in the weights file
                continue
            base = snake_case(entry.get("class_name", ""))
            n = counts.get(base, 0)
            counts[base] = n + 1
            self._fallback_keys[layer_entry_name(entry)] = \
                base if n == 0 else "%s_%d" % (base, n)

    def _find(self, name):
        children = self.node["children"]
        for child in children.values():
            if child.get("name") == name:
                return child
        return children.get(self._fallback_keys.get(name))

    def get(self, name, class_name):
        child = self._find(name)
        return [] if child is None else _tree_vars(child)

    def nested(self, name, class_name):
        child = self._find(name)
        if child is None:
            raise WeightsMismatchError(
                "%s: nested model '%s' (%s) of the model config has no "
                "weights group in the weights file" % (self.source, name,
                                                       class_name))
        return _TreeWeights(child, self.source)


class _ObjectWeights(_WeightStore):
    """Weights taken from an in-memory Keras model, by layer name."""

    def __init__(self, model, source):
        super(_ObjectWeights, self).__init__(source)
        self.model = model

    def _layer(self, name, class_name):
        try:
            return self.model.get_layer(name)
        except (ValueError, KeyError, AttributeError):
            raise WeightsMismatchError(
                "%s: layer '%s' (%s) of the config was not found in the "
                "model object" % (self.source, name, class_name))

    def get(self, name, class_name):
        return [np.asarray(w) for w in
                self._layer(name, class_name).get_weights()]

    def nested(self, name, class_name):
        return _ObjectWeights(self._layer(name, class_name),
                              "%s/%s" % (self.source, name))


def is_op_node(entry):
    """Whether a layer-list entry is a Keras 3 op node (a ``keras.ops``
    function applied to symbolic tensors, e.g. ``x + 3.0``) rather than a
    layer: its ``module`` is ``keras.src.ops.*``."""
    module = str(entry.get("module") or "")
    return module.startswith("keras.src.ops") or \
        module.startswith("keras.ops")


#: classes of keras.applications by the config keys that identify them in
#: Keras 3's legacy ``.h5`` files (which drop each entry's ``module``)
_APPLICATION_CLASSES = {
    "LayerScale": ("keras.src.applications.convnext",
                   {"init_values", "projection_dim"}),
    "CustomScaleLayer": ("keras.src.applications.inception_resnet_v2",
                         {"scale"}),
}


def restore_keras3_modules(entries):
    """Put back the ``module`` that Keras 3's legacy ``.h5`` writer drops
    (in place, nested models included): op nodes (``x + 3.0``) are the
    entries whose config lacks the ``trainable`` and ``dtype`` every Keras 3
    layer config has; the classes of keras.applications that deeplift
    converts are recognised by their config keys."""
    for entry in entries:
        config = entry.get("config")
        cls = entry.get("class_name")
        if entry.get("module") or not isinstance(config, dict):
            continue
        if cls in CONTAINER_CLASSES:
            restore_keras3_modules(container_layer_entries(cls, config))
        elif cls != "InputLayer" and "trainable" not in config and \
                "dtype" not in config:
            entry["module"] = "keras.src.ops"
        elif cls in _APPLICATION_CLASSES:
            module, keys = _APPLICATION_CLASSES[cls]
            if keys <= set(config):
                entry["module"] = module


def insert_weights(layer_entries, store, path=""):
    """Insert each layer's weights into its config under ``'weights'``
    (recursing into nested Sequential/functional models)."""
    store.prepare(layer_entries)
    for entry in layer_entries:
        class_name = entry.get("class_name")
        name = layer_entry_name(entry)
        config = entry.get("config")
        if class_name in ("InputLayer", "TFOpLambda") or is_op_node(entry):
            # inputs and Keras 3 op nodes (``x + 3.0``) have no weights
            if isinstance(config, dict):
                config.setdefault("weights", [])
            continue
        if class_name in CONTAINER_CLASSES:
            sub_store = store.nested(name, class_name)
            insert_weights(container_layer_entries(class_name, config),
                           sub_store, path + name + "/")
        else:
            if not isinstance(config, dict):
                raise ConversionError("Layer '%s' has a malformed config: %s"
                                      % (path + name, _short(config)))
            config["weights"] = store.get(name, class_name)


# --------------------------------------------------------------------------
# reading files
# --------------------------------------------------------------------------

class _LenientYamlLoader(yaml.SafeLoader):
    """A yaml SafeLoader that also accepts the python tuple / unicode tags
    Keras 2's ``to_yaml`` emitted."""


_LenientYamlLoader.add_constructor(
    "tag:yaml.org,2002:python/tuple",
    lambda loader, node: loader.construct_sequence(node, deep=True))
_LenientYamlLoader.add_constructor(
    "tag:yaml.org,2002:python/unicode",
    lambda loader, node: loader.construct_scalar(node))


def _check_model_config(data, source):
    if not (isinstance(data, dict) and "class_name" in data
            and "config" in data):
        raise InvalidModelFileError(
            "%s does not hold a Keras model configuration (expected an "
            "object with 'class_name' and 'config')" % source)
    return data


def _parse_json_config(text, source, what):
    """The model config in the JSON ``text`` (``what`` of ``source``)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidModelFileError("%s: %s is not valid JSON: %s"
                                    % (source, what, exc))
    return _check_model_config(data, source)


def _read_config_file(path, kind, load, errors):
    try:
        with open(path, "r") as fh:
            data = load(fh)
    except FileNotFoundError:
        raise FileNotFoundError("%s model file not found: %s" % (kind, path))
    except errors + (UnicodeDecodeError,) as exc:
        raise InvalidModelFileError("%s is not a valid %s file: %s"
                                    % (path, kind, exc))
    return _check_model_config(data, path)


def read_json_config(json_file):
    return _read_config_file(json_file, "JSON", json.load, (ValueError,))


def read_yaml_config(yaml_file):
    return _read_config_file(
        yaml_file, "YAML", lambda fh: yaml.load(fh, Loader=_LenientYamlLoader),
        (yaml.YAMLError,))


def _attr_str(value):
    """A string HDF5 attribute (str, bytes, or an array of one of them)."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    return to_str(value)


def _read_array(dataset, source, where):
    try:
        return np.asarray(dataset[()])
    except (OSError, KeyError, ValueError) as exc:
        raise InvalidModelFileError("%s: cannot read weights %s (file "
                                    "truncated or corrupted?): %s"
                                    % (source, where, exc))


def _read_legacy_weights(group, source):
    layer_names = read_attr_list(group, "layer_names")
    if layer_names is None:
        layer_names = list(group.keys())
    layers = OrderedDict()
    for lname in layer_names:
        if lname not in group:
            raise InvalidModelFileError(
                "%s: layer '%s' is listed in the weights file but has no "
                "group (file truncated or corrupted?)" % (source, lname))
        lgroup = group[lname]
        wnames = read_attr_list(lgroup, "weight_names") or []
        arrays = []
        for wname in wnames:
            if wname not in lgroup:
                raise InvalidModelFileError(
                    "%s: weight '%s' of layer '%s' is missing from the file"
                    % (source, wname, lname))
            arrays.append((wname, _read_array(lgroup[wname], source,
                                              "%s of layer %s"
                                              % (wname, lname))))
        layers[lname] = arrays
    return _LegacyWeights(layers, source)


def _read_tree(group, source, path=""):
    node = {"vars": [], "name": None, "children": OrderedDict(),
            "held": OrderedDict()}
    if "vars" in group and isinstance(group["vars"], h5py.Group):
        vgroup = group["vars"]
        node["name"] = to_str(vgroup.attrs.get("name"))
        keys = sorted((k for k in vgroup.keys() if k.isdigit()), key=int)
        node["vars"] = [_read_array(vgroup[k], source, path + "vars/" + k)
                        for k in keys]
    if "layers" in group and isinstance(group["layers"], h5py.Group):
        for key in group["layers"].keys():
            child = group["layers"][key]
            if isinstance(child, h5py.Group):
                node["children"][key] = _read_tree(
                    child, source, path + "layers/" + key + "/")
    for key in group.keys():
        # layers a layer holds (a recurrent layer's cell, Bidirectional's
        # forward_layer / backward_layer)
        if key not in ("vars", "layers") and isinstance(group[key],
                                                        h5py.Group):
            node["held"][key] = _read_tree(group[key], source,
                                           path + key + "/")
    return node


def _read_weights_from_h5(h5f, source):
    if "model_weights" in h5f:
        return _read_legacy_weights(h5f["model_weights"], source)
    if read_attr_list(h5f, "layer_names") is not None:
        return _read_legacy_weights(h5f, source)
    if "layers" in h5f:
        return _TreeWeights(_read_tree(h5f, source), source)
    raise InvalidModelFileError(
        "%s: no model weights found in this HDF5 file (neither a "
        "'model_weights' group, a 'layer_names' attribute nor a Keras 3 "
        "'layers' group)" % source)


def _open_h5(target, source):
    try:
        return h5py.File(target, "r")
    except OSError as exc:
        raise InvalidModelFileError(
            "%s could not be opened as an HDF5 file (truncated or "
            "corrupted?): %s" % (source, exc))


def _read_keras_archive(source, model_config):
    """``(model_config, store, keras_version)`` of a ``.keras`` archive;
    ``model_config`` (None: the archive's config.json) is passed on."""
    try:
        with zipfile.ZipFile(source, "r") as archive:
            names = set(archive.namelist())
            needed = ["model.weights.h5"]
            if model_config is None:
                needed.insert(0, "config.json")
            for member in needed:
                if member not in names:
                    raise InvalidModelFileError(
                        "%s is a zip archive without %s: not a Keras .keras "
                        "file" % (source, member))
            if model_config is None:
                model_config = _parse_json_config(
                    archive.read("config.json"), source, "config.json")
            metadata = archive.read("metadata.json") \
                if "metadata.json" in names else b"{}"
            weights_file = io.BytesIO(archive.read("model.weights.h5"))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError,
            EOFError) as exc:
        raise InvalidModelFileError("%s: cannot read the zip archive "
                                    "(truncated or corrupted?): %s"
                                    % (source, exc))
    try:
        keras_version = json.loads(metadata).get("keras_version")
    except (ValueError, AttributeError):
        keras_version = None
    wsource = source + ":model.weights.h5"
    with _open_h5(weights_file, wsource) as h5f:
        return model_config, _read_weights_from_h5(h5f, wsource), \
            keras_version


def _read_h5_file(source, model_config):
    """``(model_config, store, keras_version)`` of an HDF5 file;
    ``model_config`` (None: the file's model_config attribute) is passed
    on."""
    with _open_h5(source, source) as h5f:
        if model_config is None:
            if "model_config" not in h5f.attrs:
                raise InvalidModelFileError(
                    "%s holds no model configuration (a weights-only "
                    "file?): pass json_file= or yaml_file=" % source)
            model_config = _parse_json_config(
                _attr_str(h5f.attrs["model_config"]), source,
                "the model_config attribute")
        return model_config, _read_weights_from_h5(h5f, source), \
            _attr_str(h5f.attrs.get("keras_version"))


def read_saved_files(h5_file, json_file=None, yaml_file=None):
    """Read a saved Keras model.

    Returns ``(model_class_and_config, weight_store)``; the config is the
    ``{"class_name": ..., "config": ...}`` dict of the model, with the
    version of Keras that wrote it under ``"keras_version"`` when known
    (from the JSON/YAML config, else from the HDF5 file or the archive's
    metadata), as in the JSON configs of Keras 1/2.
    """
    if json_file is not None and yaml_file is not None:
        raise ValueError("At most one of json_file and yaml_file can be "
                         "specified")
    source = os.fspath(h5_file)
    if not os.path.exists(source):
        raise FileNotFoundError("Model/weights file not found: %s" % source)
    if os.path.isdir(source):
        raise InvalidModelFileError(
            "%s is a directory (a TensorFlow SavedModel?); expected an HDF5 "
            "file or a .keras archive" % source)

    model_config = None
    if json_file is not None:
        model_config = read_json_config(json_file)
    elif yaml_file is not None:
        model_config = read_yaml_config(yaml_file)

    if zipfile.is_zipfile(source):
        read = _read_keras_archive
    elif h5py.is_hdf5(source):
        read = _read_h5_file
    else:
        raise InvalidModelFileError(
            "%s is neither an HDF5 file nor a Keras .keras (zip) archive"
            % source)
    model_config, store, keras_version = read(source, model_config)
    if keras_version is not None:
        model_config.setdefault("keras_version", keras_version)
    major = str(model_config.get("keras_version")).split(".", 1)[0]
    if read is _read_h5_file and major.isdigit() and int(major) >= 3:
        cls = model_config.get("class_name")
        if cls in CONTAINER_CLASSES:
            restore_keras3_modules(container_layer_entries(
                cls, model_config.get("config")))
    return model_config, store


def read_keras_model(model):
    """Config and weight store of an in-memory keras / tf_keras model."""
    try:
        model_config = json.loads(model.to_json())
    except (NotImplementedError, TypeError, ValueError, AttributeError) as exc:
        raise ConversionError(
            "Cannot read the configuration of %r (only Sequential and "
            "functional models can be converted, not subclassed models): %s"
            % (getattr(model, "name", model), exc))
    return _check_model_config(model_config, "model"), \
        _ObjectWeights(model, "model '%s'" % getattr(model, "name", "?"))
