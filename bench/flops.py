"""Analytic forward FLOPs of a Keras model (issue 20, item 1).

``model_flops(model, output=None)`` -> ``{layer name: FLOPs per example}``
for the layers that ``output`` (a layer name; default: every output)
depends on, counting a multiply-add as 2 FLOPs:

* Conv1D / Conv2D: ``2 * out_positions * out_channels * kernel_taps *
  in_channels / groups`` plus one add per output for the bias (dilation
  changes which inputs are read, not how many);
* Dense: ``2 * in * out`` plus the bias (per position for a sequence
  input);
* a fused activation: one FLOP per output element (ReLU and the like);
* Add / Subtract / Multiply / Average: ``(inputs - 1)`` per output element;
* GlobalAveragePooling / GlobalMaxPooling: one per input element;
  Activation layers one per element;
* AveragePooling1D/2D: ``taps`` per output element (``taps - 1`` adds and
  one multiply by ``1 / taps``); MaxPooling1D/2D: ``taps - 1`` comparisons
  per output element (``taps``: the product of ``pool_size``);
* LayerNormalization over the last axes: 5 per element (the mean's add,
  the centring, the square, the variance's add, the multiply by the
  inverse standard deviation), plus one each for ``scale`` (gamma) and
  ``center`` (beta), plus 4 per normalised row (the two divisions by the
  row's length, ``+ epsilon`` and the inverse square root);
* MultiHeadAttention (self- or cross-attention, one attention axis; query
  ``(Tq, dq)``, key ``(Tk, dk)``, value ``(Tk, dv)``, ``H`` heads of
  ``key_dim`` / ``value_dim``, output width ``do``), the sum of
  :func:`attention_parts`: the projections ``2 * Tq * dq * H * key_dim``
  (query), ``2 * Tk * dk * H * key_dim`` (key), ``2 * Tk * dv * H *
  value_dim`` (value), ``2 * Tq * H * value_dim * do`` (output), each plus
  one add per output element for its bias; the query's scaling by ``1 /
  sqrt(key_dim)``, one per query element; ``q k^T``, ``2 * H * Tq * Tk *
  key_dim``; the softmax, 5 per score element (max, subtract, exp, sum,
  divide; ``exp`` counted as one FLOP); the weighted sum of the values,
  ``2 * H * Tq * Tk * value_dim``.  Masks are not counted;
* Input, Cropping, Flatten, Reshape, Dropout and other data movement: 0.

Any other layer kind raises ValueError.  Works on tf_keras (Keras 2) and
Keras 3 functional models built with one call per layer.  The backward
pass of a linear layer to its input costs what its forward pass costs (the
transposed product), so "the useful work of one (sequence, reference)
pair" with K references per sequence is about ``(2 + 1/K) * forward`` for
a target's layers.  A bilinear product of two varying operands (``q k^T``
and the weighted sum in attention) has a backward pass to both factors, 2x
its forward: :func:`model_bilinear_flops` gives those forward FLOPs, to be
added once more to that estimate.
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


def _call_arguments(layer):
    """(positional args, keyword args) of the layer's first call (tf_keras
    or Keras 3)."""
    node = layer._inbound_nodes[0]
    arguments = getattr(node, "arguments", None)
    if arguments is not None:                           # Keras 3
        return list(arguments.args), dict(arguments.kwargs)
    return list(node.call_args), dict(node.call_kwargs)


#: the parts of :func:`attention_parts` that multiply two varying operands
BILINEAR_PARTS = ("scores", "weighted_sum")


def attention_parts(layer):
    """``{part: forward FLOPs per example}`` of a MultiHeadAttention layer
    (the rule in the module docstring): ``query``, ``key``, ``value`` and
    ``output`` projections, ``scale``, ``scores`` (``q k^T``), ``softmax``,
    ``weighted_sum``.  ValueError for settings the rule does not cover
    (several attention axes, a gate, a sliding window)."""
    config = layer.get_config()
    args, kwargs = _call_arguments(layer)
    names = ("query", "value", "key")
    given = dict(zip(names, args))
    given.update((n, kwargs[n]) for n in names if kwargs.get(n) is not None)
    query, value = _shape(given["query"]), _shape(given["value"])
    key = _shape(given["key"]) if given.get("key") is not None else value
    axes = config.get("attention_axes")
    if len(query) != 2 or axes not in (None, 1, (1,), [1]) or config.get(
            "use_gate") or config.get("sliding_window"):
        raise ValueError(
            "no FLOP rule for layer %s (MultiHeadAttention over inputs %s, "
            "attention_axes %r, use_gate %r, sliding_window %r): the rule "
            "covers (length, width) inputs with one attention axis"
            % (layer.name, query, axes, config.get("use_gate"),
               config.get("sliding_window")))
    (tq, dq), (tk, dk), dv = query, key, value[-1]
    heads, kd = int(config["num_heads"]), int(config["key_dim"])
    vd = int(config.get("value_dim") or kd)
    out = config.get("output_shape")
    do = dq if not out else int(np.prod(out))
    bias = 1 if config.get("use_bias", True) else 0
    return {"query": 2 * tq * dq * heads * kd + bias * tq * heads * kd,
            "key": 2 * tk * dk * heads * kd + bias * tk * heads * kd,
            "value": 2 * tk * dv * heads * vd + bias * tk * heads * vd,
            "scale": tq * heads * kd,
            "scores": 2 * heads * tq * tk * kd,
            "softmax": 5 * heads * tq * tk,
            "weighted_sum": 2 * heads * tq * tk * vd,
            "output": 2 * tq * heads * vd * do + bias * tq * do}


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
    if kind in ("GlobalAveragePooling1D", "GlobalAveragePooling2D",
                "GlobalMaxPooling1D", "GlobalMaxPooling2D"):
        return int(np.prod(ins[0]))
    if kind in ("AveragePooling1D", "AveragePooling2D", "MaxPooling1D",
                "MaxPooling2D"):
        taps = int(np.prod(config["pool_size"]))
        return out_elems * (taps if kind.startswith("Average") else taps - 1)
    if kind == "LayerNormalization":
        axes = config["axis"] if isinstance(config["axis"], (list, tuple)) \
            else [config["axis"]]
        row = int(np.prod([out[a if a < 0 else a - 1] for a in axes]))
        per_element = 5 + bool(config.get("scale", True)) + bool(
            config.get("center", True))
        return per_element * out_elems + 4 * (out_elems // row)
    if kind == "MultiHeadAttention":
        return sum(attention_parts(layer).values())
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


def _needed_layers(model, output):
    """The layers that ``output`` (a layer name; None: every output)
    depends on, each once."""
    if output is None:
        todo = [t._keras_history[0] for t in model.outputs]
    else:
        todo = [model.get_layer(output)]
    seen = {}
    while todo:
        layer = todo.pop()
        if layer.name in seen:
            continue
        seen[layer.name] = layer
        if type(layer).__name__ != "InputLayer":
            todo.extend(_parents(layer))
    return list(seen.values())


def model_flops(model, output=None):
    """``{layer name: forward FLOPs per example}`` of the layers that
    ``output`` (a layer name; default every output layer) needs."""
    return dict((layer.name, layer_flops(layer))
                for layer in _needed_layers(model, output))


def model_bilinear_flops(model, output=None):
    """Forward FLOPs per example of the products of two varying operands
    among the layers ``output`` needs (attention's ``q k^T`` and weighted
    sum, :data:`BILINEAR_PARTS`); 0 for a model without attention."""
    return sum(attention_parts(layer)[part]
               for layer in _needed_layers(model, output)
               if type(layer).__name__ == "MultiHeadAttention"
               for part in BILINEAR_PARTS)
