"""Analytic forward FLOPs of a Keras model (issue 20, item 1).

``model_flops(model, output=None)`` -> ``{layer name: FLOPs per example}``
for the layers that ``output`` (a layer name; default: every output)
depends on, counting a multiply-add as 2 FLOPs:

* Conv1D / Conv2D: ``2 * out_positions * out_channels * kernel_taps *
  in_channels / groups`` plus one add per output for the bias (dilation
  changes which inputs are read, not how many);
* Dense: ``2 * in * out`` plus the bias;
* a fused activation: one FLOP per output element (ReLU and the like);
* Add / Subtract / Multiply / Average: ``(inputs - 1)`` per output element;
* GlobalAveragePooling: one per input element; Activation layers one per
  element;
* Input, Cropping, Flatten, Reshape, Dropout and other data movement: 0.

Works on tf_keras (Keras 2) and Keras 3 functional models built with one
call per layer.  The backward pass of a linear layer to its input costs
what its forward pass costs (the transposed product), so "the useful work
of one (sequence, reference) pair" with K references per sequence is
about ``(2 + 1/K) * forward`` for a target's layers.
"""
import numpy as np

LINEAR = {"Conv1D", "Conv2D", "Dense"}
MERGE = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}
FREE = {"InputLayer", "Cropping1D", "Cropping2D", "Flatten", "Reshape",
        "Dropout", "ZeroPadding1D", "ZeroPadding2D", "Permute"}


def _shape(tensor):
    return tuple(int(d) for d in tensor.shape[1:])


def _io(layer):
    inputs = layer.input if isinstance(layer.input, (list, tuple)) \
        else [layer.input]
    return [_shape(t) for t in inputs], _shape(layer.output)


def layer_flops(layer):
    """Forward FLOPs per example of one layer (see the module docstring);
    raises ValueError for a layer kind it does not know."""
    kind = type(layer).__name__
    if kind in FREE:
        return 0
    ins, out = _io(layer)
    out_elems = int(np.prod(out))
    config = layer.get_config()
    act = config.get("activation")
    act_flops = out_elems if act not in (None, "linear") else 0
    bias = out_elems if config.get("use_bias", False) else 0
    if kind in ("Conv1D", "Conv2D"):
        taps = int(np.prod(config["kernel_size"]))
        in_ch = ins[0][-1] // int(config.get("groups", 1))
        return 2 * out_elems * taps * in_ch + bias + act_flops
    if kind == "Dense":
        return 2 * out_elems * ins[0][-1] + bias + act_flops
    if kind in MERGE:
        return (len(ins) - 1) * out_elems
    if kind in ("GlobalAveragePooling1D", "GlobalAveragePooling2D"):
        return int(np.prod(ins[0]))
    if kind in ("Activation", "ReLU"):
        return out_elems
    raise ValueError("no FLOP rule for layer %s (%s)" % (layer.name, kind))


def _parents(layer):
    """The layers feeding ``layer`` (tf_keras or Keras 3)."""
    node = layer._inbound_nodes[0]
    found = getattr(node, "inbound_layers", None)
    if found is None:                                   # Keras 3
        found = [parent.operation for parent in node.parent_nodes]
    if not isinstance(found, (list, tuple)):
        found = [found]
    return list(found)


def model_flops(model, output=None):
    """``{layer name: forward FLOPs per example}`` of the layers that
    ``output`` (a layer name; default every output layer) needs."""
    if output is None:
        todo = [t._keras_history[0] for t in model.outputs]
    else:
        todo = [model.get_layer(output)]
    seen = {}
    while todo:
        layer = todo.pop()
        if layer.name in seen:
            continue
        seen[layer.name] = layer_flops(layer)
        if type(layer).__name__ != "InputLayer":
            todo.extend(_parents(layer))
    return seen
