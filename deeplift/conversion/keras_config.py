"""Reading the structure of Keras model configs (Keras 1/2 and 3): model
wrappers, node references, input shapes, and a functional model's node
graph in topological order (:class:`FunctionalGraph`). Nothing here builds
deeplift layers; :mod:`deeplift.conversion.converter` does.
"""
from collections import OrderedDict

import numpy as np

from deeplift.conversion import readers
from deeplift.conversion.errors import ConversionError, UnsupportedLayerError

CONTAINERS = readers.CONTAINER_CLASSES
FUNCTIONALS = readers.FUNCTIONAL_CLASSES


def unwrap(model_config, expected):
    """``(config, keras_version)`` from either a bare model config or
    ``{"class_name", "config"[, "keras_version"]}`` (keras_version None
    when unknown)."""
    if (isinstance(model_config, dict) and "class_name" in model_config
            and "config" in model_config
            and model_config["class_name"] in expected):
        return model_config["config"], model_config.get("keras_version")
    return model_config, None


def is_keras_ref(obj):
    """Whether ``obj`` is a Keras 2 node reference ``[name, node, tensor
    (, kwargs)]``."""
    return (isinstance(obj, (list, tuple)) and 3 <= len(obj) <= 4
            and isinstance(obj[0], str)
            and all(isinstance(x, int) and not isinstance(x, bool)
                    for x in obj[1:3]))


def collect_keras2_refs(obj, out):
    """Append the ``(layer, node, tensor)`` references nested in ``obj``
    (Keras 2 form, keyword arguments included) to ``out``; returns
    ``out``."""
    if is_keras_ref(obj) and obj[0] != TF_CONSTANT:
        out.append((obj[0], int(obj[1]), int(obj[2])))
        if len(obj) == 4 and isinstance(obj[3], dict):
            collect_keras2_refs(list(obj[3].values()), out)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            collect_keras2_refs(item, out)
    elif isinstance(obj, dict):  # the keyword arguments of a TFOpLambda
        for value in obj.values():  # called on a constant first
            collect_keras2_refs(value, out)
    return out


#: tf_keras' marker of a constant first argument of a TFOpLambda call
TF_CONSTANT = "_CONSTANT_VALUE"

#: TFOpLambda functions (``x + 3.0`` in tf_keras) -> the Keras 3 op of
#: the same meaning (deeplift.conversion.converters.ops.OPS), called as
#: ``fn(x, y)`` or ``fn(x)``
TF_OP_FUNCTIONS = {
    "__operators__.add": "Add", "math.add": "Add",
    "math.subtract": "Subtract", "math.multiply": "Multiply",
    "math.truediv": "TrueDivide", "math.divide": "TrueDivide",
    "math.negative": "Negative", "math.square": "Square",
    "math.sqrt": "Sqrt", "math.exp": "Exp", "math.abs": "Absolute",
    "nn.relu": "Relu", "nn.relu6": "Relu6", "math.sigmoid": "Sigmoid",
    "nn.sigmoid": "Sigmoid", "math.tanh": "Tanh", "nn.silu": "Silu",
}


def is_tf_op_layer(entry):
    """Whether a layer-list entry is tf_keras' TFOpLambda (a TensorFlow
    function applied to symbolic tensors)."""
    return entry.get("class_name") == "TFOpLambda"


def tf_op_call(entry, node):
    """``(op name, args)`` of a TFOpLambda node (Keras 2 form), tensors
    replaced by :class:`TensorArg` in :func:`node_refs`' order; raises
    ConversionError for a function or argument it does not know."""
    function = (entry.get("config") or {}).get("function")
    name = entry.get("name") or (entry.get("config") or {}).get("name")
    if function not in TF_OP_FUNCTIONS:
        raise UnsupportedLayerError({}, ops={"TFOpLambda %s" % function:
                                             [name]})
    # tf_keras writes a TFOpLambda node as its one call, or as a list of it
    if isinstance(node, list) and len(node) == 1 and \
            isinstance(node[0], list):
        node = node[0]
    if not isinstance(node, list) or len(node) < 3 or \
            not isinstance(node[0], str):
        raise ConversionError("op '%s': expected one call, got %r"
                              % (name, node))
    call = node
    kwargs = dict(call[3]) if len(call) > 3 and isinstance(call[3], dict) \
        else {}
    extra = sorted(set(kwargs) - {"y", "name"})
    if extra:
        raise ConversionError("op '%s': arguments %s of '%s' are not "
                              "supported" % (name, extra, function))
    counter = [0]

    def arg(value, is_ref):
        if is_ref:
            counter[0] += 1
            return TensorArg(counter[0] - 1)
        return np.asarray(value)
    args = [arg(call[2], False) if call[0] == TF_CONSTANT
            else arg(None, True)]
    if "y" in kwargs:
        y = kwargs["y"]
        args.append(arg(y, is_keras_ref(y) and y[0] != TF_CONSTANT))
    return TF_OP_FUNCTIONS[function], args


def is_keras3_tensor(obj):
    """Whether ``obj`` is a serialized Keras 3 ``__keras_tensor__``."""
    return isinstance(obj, dict) and \
        obj.get("class_name") == "__keras_tensor__"


def keras3_ref(obj):
    """``(layer, node, tensor)`` of a serialized Keras 3 tensor."""
    hist = obj["config"]["keras_history"]
    return (hist[0], int(hist[1]), int(hist[2]))


def collect_keras3_refs(obj, out):
    """Append the references of the Keras 3 tensors nested in ``obj`` to
    ``out``; returns ``out``."""
    if is_keras3_tensor(obj):
        out.append(keras3_ref(obj))
    elif isinstance(obj, dict):
        for value in obj.values():
            collect_keras3_refs(value, out)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            collect_keras3_refs(item, out)
    return out


is_op_node = readers.is_op_node


class TensorArg(object):
    """A tensor among an op node's call arguments: ``index`` is its
    position in the node's input references."""

    def __init__(self, index):
        self.index = index

    def __repr__(self):
        return "TensorArg(%d)" % self.index


def _decode_arg(obj, counter):
    if is_keras3_tensor(obj):
        counter.append(None)
        return TensorArg(len(counter) - 1)
    if isinstance(obj, dict):
        if obj.get("class_name") in ("__numpy__", "__tensor__") and \
                isinstance(obj.get("config"), dict):
            return np.asarray(obj["config"]["value"],
                              dtype=obj["config"].get("dtype"))
        return {k: _decode_arg(v, counter) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_decode_arg(item, counter) for item in obj]
    return obj


def op_call(node):
    """``(args, kwargs)`` of a Keras 3 op node's call: tensors replaced by
    :class:`TensorArg` (numbered as :func:`node_refs` orders them),
    serialized numpy arrays / tensors by numpy arrays."""
    counter = []
    args = _decode_arg(list(node.get("args", [])), counter)
    kwargs = _decode_arg(dict(node.get("kwargs", {})), counter)
    return args, kwargs


def node_refs(node, layer_name):
    """(layer name, node index, tensor index) of a node's inputs."""
    if isinstance(node, dict):  # Keras 3
        # tensors passed as keyword arguments come after the positional
        # ones (op_call numbers them the same way); only traced layers
        # accept them (see has_tensor_kwargs)
        refs = collect_keras3_refs(node.get("args", []), [])
        return collect_keras3_refs(node.get("kwargs", {}), refs)
    return collect_keras2_refs(node, [])


def has_tensor_kwargs(node):
    """Whether a Keras 3 node passes tensors as keyword arguments."""
    return isinstance(node, dict) and bool(
        collect_keras3_refs(node.get("kwargs", {}), []))


def _tensor_configs(node, with_kwargs):
    """The configs of a Keras 3 node's serialized tensor arguments, in
    :func:`node_refs`' order (the keyword arguments' after the positional
    ones when ``with_kwargs``); [] for Keras 1/2 nodes."""
    if not isinstance(node, dict):
        return []
    configs = []

    def walk(obj):
        if is_keras3_tensor(obj):
            configs.append(obj["config"])
        elif isinstance(obj, dict):
            for value in obj.values():
                walk(value)
        elif isinstance(obj, (list, tuple)):
            for item in obj:
                walk(item)
    walk(node.get("args", []))
    if with_kwargs:
        walk(node.get("kwargs", {}))
    return configs


def node_input_dtypes(node):
    """dtypes (strings, or None when not recorded) of a Keras 3 node's
    tensor arguments, in :func:`node_refs`' order; [] for Keras 1/2."""
    return [c.get("dtype") for c in _tensor_configs(node, True)]


def node_input_shapes(node):
    """Shapes (batch axis None) of a Keras 3 node's positional tensor
    arguments, from the serialized tensors; [] for Keras 1/2 nodes."""
    return [c.get("shape") for c in _tensor_configs(node, False)]


def io_refs(spec):
    """Normalize config['input_layers'] / ['output_layers']."""
    if is_keras_ref(spec):
        return [(spec[0], int(spec[1]), int(spec[2]))]
    if isinstance(spec, dict):
        spec = list(spec.values())
    return collect_keras2_refs(spec, [])


def first_batch_shape(entries):
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
        return first_batch_shape(
            readers.container_layer_entries(cls, config))
    if cls in FUNCTIONALS:
        inputs = [e for e in config.get("layers", [])
                  if e.get("class_name") == "InputLayer"]
        if len(inputs) == 1:
            return first_batch_shape(inputs)
    return None


def nodes_numbered_from_1(entry):
    """Whether Keras 2 numbers the nodes of this layer from 1: nested
    functional models, and nested Sequential models that start with an
    InputLayer."""
    cls = entry.get("class_name")
    if cls == "Sequential":
        entries = readers.container_layer_entries(cls, entry.get("config"))
        return bool(entries) and entries[0].get("class_name") == "InputLayer"
    return cls in FUNCTIONALS


class FunctionalGraph(object):
    """The node graph of a functional model config.

    A node is ``(keras layer name, local node index)``; ``info[name]`` has
    the layer's config ``entry``, the input references ``refs`` of each of
    its nodes (a layer without inbound nodes has one node without inputs),
    its ``nodes`` (the raw inbound node entries, None for such a layer) and
    the ``offset`` of Keras' node numbering. :attr:`order` lists the nodes
    in topological order; :meth:`resolve` maps a reference to a node.
    """

    def __init__(self, config):
        entries = config.get("layers")
        if not isinstance(entries, list):
            raise ConversionError("Functional model config without 'layers'")
        self.name = config.get("name")
        self.keras3 = any(isinstance(node, dict) for e in entries
                          for node in (e.get("inbound_nodes") or []))
        self.info = OrderedDict()
        for entry in entries:
            lname = entry.get("name") or readers.layer_entry_name(entry)
            nodes = list(entry.get("inbound_nodes") or [])
            self.info[lname] = dict(
                entry=entry, nodes=nodes or [None],
                refs=[node_refs(n, lname) for n in nodes] or [[]])
        self.input_refs = io_refs(config.get("input_layers", []))
        self.output_refs = io_refs(config.get("output_layers", []))
        self.input_names = [r[0] for r in self.input_refs]
        self._number_nodes()
        self.order = self._topological_order()

    def _number_nodes(self):
        # Keras numbers the nodes of nested models from 1 in Keras 2 files
        # (and in Keras 3 output_layers); infer each layer's numbering from
        # the references to it.
        referenced = {}
        for info in self.info.values():
            for refs in info["refs"]:
                for ref_name, k, _ in refs:
                    referenced.setdefault(ref_name, []).append(k)
        for lname, info in self.info.items():
            if lname in referenced:
                info["offset"] = min(referenced[lname])
            else:
                info["offset"] = int(not self.keras3 and
                                     nodes_numbered_from_1(info["entry"]))

    def resolve(self, ref, from_outputs=False):
        """``((layer name, local node index), tensor index)`` of a
        reference ``(layer, node, tensor)``."""
        ref_name, k, t = ref
        if ref_name not in self.info:
            raise ConversionError("The model config refers to layer "
                                  "'%s', which is not in its layer list"
                                  % ref_name)
        info = self.info[ref_name]
        n_nodes = len(info["refs"])
        if n_nodes == 1:
            local = 0
        elif (from_outputs and self.keras3 and
              info["entry"].get("class_name") in FUNCTIONALS):
            local = k - 1
        else:
            local = k - info["offset"]
        if not 0 <= local < n_nodes:
            raise ConversionError("The model config refers to node %d "
                                  "of layer '%s', which does not exist"
                                  % (k, ref_name))
        return (ref_name, local), t

    def node_name(self, key):
        """Keras' numbering of a node: ``<layer name>_<node index>``."""
        lname, local = key
        return "%s_%d" % (lname, local + self.info[lname]["offset"])

    def _topological_order(self):
        node_deps = OrderedDict(
            ((lname, local), [self.resolve(r)[0] for r in refs])
            for lname, info in self.info.items()
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
        return order
