"""Keras 3 op nodes: the functions of ``keras.ops`` applied to symbolic
tensors (``x + 3.0``, ``x * (1 / 6)``, ``ops.mean(x, axis=1)``, ``a + b``),
which Keras 3 saves as entries whose ``module`` is ``keras.src.ops.*``.

``OPS`` maps an op's class name (``Add``, ``Multiply``, ``Mean``, ...) to
its conversion function, called with keyword arguments ``args`` /
``kwargs`` (the node's call arguments, every tensor replaced by a
:class:`deeplift.conversion.keras_config.TensorArg` giving its position in
``inputs``), ``inputs`` (the deeplift layers of the tensor arguments, in
order), ``config`` (the op's config: ``axis``, ``keepdims``, ...),
``name``, ``verbose``, the modes and ``keras_version``. It returns the
deeplift layers it created, wired to ``inputs``, the last one the op's
output (``input_dtypes``: the Keras dtypes of the tensor arguments, when
recorded). Every conversion is exact (the same forward pass as Keras); an
argument form that is not supported raises :class:`OpNotSupported`, never
a guess.
"""
import numpy as np
import tensorflow as tf

from deeplift import layers
from deeplift.conversion.converters.activations import activation_table
from deeplift.conversion.errors import ConversionError
from deeplift.conversion.keras_config import TensorArg
from deeplift.layers import arithmetic


class OpNotSupported(ConversionError):
    """A known op called with arguments (or settings) the converter does
    not support."""


def _single_tensor(args, name, what):
    """The one tensor argument of a unary op (first positional)."""
    if not args or not isinstance(args[0], TensorArg):
        raise OpNotSupported("op '%s' (%s): expected a tensor as first "
                             "argument" % (name, what))
    return args[0]


def _constant(value, name):
    if isinstance(value, TensorArg):
        return None
    array = np.asarray(value)
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        raise OpNotSupported("op '%s': argument %r is neither a tensor nor "
                             "a number" % (name, value))
    return array


def _wired(layer, inputs):
    layer.set_inputs(inputs[0] if len(inputs) == 1 else list(inputs))
    return [layer]


def _binary(args, name, what):
    if len(args) != 2:
        raise OpNotSupported("op '%s' (%s) with %d arguments"
                             % (name, what, len(args)))
    return args[0], args[1], _constant(args[0], name), \
        _constant(args[1], name)


def add_op(args, inputs, name, verbose=True, **kwargs):
    a, b, ca, cb = _binary(args, name, "add")
    if ca is None and cb is None:
        return _wired(layers.Add(name=name, verbose=verbose), inputs)
    return _wired(arithmetic.Affine(offset=cb if ca is None else ca,
                                    name=name, verbose=verbose), inputs)


def subtract_op(args, inputs, name, verbose=True, **kwargs):
    a, b, ca, cb = _binary(args, name, "subtract")
    if ca is None and cb is None:
        return _wired(layers.Subtract(name=name, verbose=verbose), inputs)
    if ca is None:  # x - c
        return _wired(arithmetic.Affine(offset=-cb, name=name,
                                        verbose=verbose), inputs)
    # c - x == -x + c exactly
    return _wired(arithmetic.Affine(scale=-1.0, offset=ca, name=name,
                                    verbose=verbose), inputs)


def multiply_op(args, inputs, name, nonlinear_mxts_mode, verbose=True,
                **kwargs):
    a, b, ca, cb = _binary(args, name, "multiply")
    if ca is None and cb is None:
        return _wired(layers.Multiply(
            name=name, verbose=verbose,
            nonlinear_mxts_mode=nonlinear_mxts_mode), inputs)
    return _wired(arithmetic.Affine(scale=cb if ca is None else ca,
                                    name=name, verbose=verbose), inputs)


def divide_op(args, inputs, name, verbose=True, **kwargs):
    a, b, ca, cb = _binary(args, name, "divide")
    if ca is None and cb is not None:
        if np.any(cb == 0):
            raise OpNotSupported("op '%s': division by zero" % name)
        return _wired(arithmetic.Affine(divisor=cb, name=name,
                                        verbose=verbose), inputs)
    raise OpNotSupported("op '%s': division by a tensor is not supported "
                         "(only a tensor divided by a constant)" % name)


def negative_op(args, inputs, name, verbose=True, **kwargs):
    _single_tensor(args, name, "negative")
    return _wired(arithmetic.Affine(scale=-1.0, name=name, verbose=verbose),
                  inputs)


def _elementwise(cls, **fixed):
    def convert(args, inputs, name, nonlinear_mxts_mode, verbose=True,
                **kwargs):
        _single_tensor(args, name, cls.__name__)
        return _wired(cls(name=name, verbose=verbose,
                          nonlinear_mxts_mode=nonlinear_mxts_mode, **fixed),
                      inputs)
    convert.__name__ = "%s_op" % cls.__name__.lower()
    return convert


def power_op(args, inputs, name, nonlinear_mxts_mode, verbose=True,
             **kwargs):
    a, b, ca, cb = _binary(args, name, "power")
    if ca is None and cb is not None and cb.size == 1 and float(cb) == 2:
        return _wired(arithmetic.Square(
            name=name, verbose=verbose,
            nonlinear_mxts_mode=nonlinear_mxts_mode), inputs)
    raise OpNotSupported("op '%s': only power(x, 2) is supported" % name)


def clip_op(args, inputs, config, name, nonlinear_mxts_mode, verbose=True,
            **kwargs):
    _single_tensor(args, name, "clip")
    low = args[1] if len(args) > 1 else config.get("x_min")
    high = args[2] if len(args) > 2 else config.get("x_max")
    if _constant(low, name) is None or _constant(high, name) is None:
        raise OpNotSupported("op '%s': clip bounds must be numbers" % name)
    return _wired(arithmetic.Clip(low=float(low), high=float(high), name=name,
                                  verbose=verbose,
                                  nonlinear_mxts_mode=nonlinear_mxts_mode),
                  inputs)


def _extremum(merge_cls):
    def convert(args, inputs, name, nonlinear_mxts_mode, verbose=True,
                keras_version=None, **kwargs):
        a, b, ca, cb = _binary(args, name, merge_cls.__name__.lower())
        if ca is None and cb is None:
            return _wired(merge_cls(name=name, verbose=verbose,
                                    nonlinear_mxts_mode=nonlinear_mxts_mode),
                          inputs)
        const = cb if ca is None else ca
        if merge_cls is layers.Maximum and const.size == 1 and \
                float(const) == 0:
            return _wired(layers.ReLU(name=name, verbose=verbose,
                                      nonlinear_mxts_mode=nonlinear_mxts_mode),
                          inputs)
        raise OpNotSupported("op '%s': %s with the constant %s is not "
                             "supported (only maximum(x, 0))"
                             % (name, merge_cls.__name__.lower(),
                                const.tolist()))
    convert.__name__ = "%s_op" % merge_cls.__name__.lower()
    return convert


def _axis(config, args, name, position=1):
    axis = args[position] if len(args) > position else config.get("axis")
    if axis is None:
        raise OpNotSupported("op '%s': axis=None (all axes, the batch axis "
                             "included) is not supported" % name)
    axes = [axis] if np.ndim(axis) == 0 else list(axis)
    if any(int(a) == 0 for a in axes):
        raise OpNotSupported("op '%s': an op over the batch axis (axis 0) "
                             "is not supported" % name)
    return axis


def _reduce(op):
    def convert(args, inputs, config, name, verbose=True, **kwargs):
        _single_tensor(args, name, op)
        axis = _axis(config, args, name)
        return _wired(arithmetic.Reduce(
            axis=axis, op=op, keepdims=bool(config.get("keepdims", False)),
            name=name, verbose=verbose), inputs)
    convert.__name__ = "%s_op" % op
    return convert


def reshape_op(args, inputs, config, name, verbose=True, **kwargs):
    _single_tensor(args, name, "reshape")
    shape = args[1] if len(args) > 1 else config.get("newshape",
                                                     config.get("new_shape"))
    shape = list(shape) if shape is not None else None
    if not shape or shape[0] not in (-1, None) or \
            any(d in (-1, None) for d in shape[1:]):
        raise OpNotSupported("op '%s': reshape to %s is not supported (the "
                             "first axis must be the batch, -1, with every "
                             "other size given)" % (name, shape))
    return _wired(layers.Reshape(target_shape=[int(d) for d in shape[1:]],
                                 name=name, verbose=verbose), inputs)


def transpose_op(args, inputs, config, name, verbose=True, **kwargs):
    _single_tensor(args, name, "transpose")
    axes = args[1] if len(args) > 1 else config.get("axes")
    if axes is None or int(list(axes)[0]) != 0:
        raise OpNotSupported("op '%s': transpose with axes=%s moves the "
                             "batch axis" % (name, axes))
    return _wired(layers.Permute(dims=[int(a) for a in list(axes)[1:]],
                                 name=name, verbose=verbose), inputs)


def expand_dims_op(args, inputs, config, name, verbose=True, **kwargs):
    return _shape_change(args, inputs, config, name, verbose, "expand_dims")


def squeeze_op(args, inputs, config, name, verbose=True, **kwargs):
    return _shape_change(args, inputs, config, name, verbose, "squeeze")


def _shape_change(args, inputs, config, name, verbose, what):
    _single_tensor(args, name, what)
    axis = _axis(config, args, name)
    return _wired(arithmetic.AxisReshape(op=what, axis=axis, name=name,
                                         verbose=verbose), inputs)


def concatenate_op(args, inputs, config, name, verbose=True, **kwargs):
    tensors = args[0] if args else None
    if not isinstance(tensors, (list, tuple)) or not all(
            isinstance(t, TensorArg) for t in tensors):
        raise OpNotSupported("op '%s': concatenate of something other than "
                             "a list of tensors" % name)
    axis = _axis(config, args, name)
    if len(inputs) == 1:
        inputs = list(inputs)
    layer = layers.Concat(axis=int(axis), name=name, verbose=verbose)
    layer.set_inputs(list(inputs))
    return [layer]


def _index_entry(item, name):
    """One entry of a serialized ``GetItem`` key as Python (int, slice,
    None, Ellipsis); an index tensor raises :class:`OpNotSupported`."""
    if isinstance(item, dict):
        cls = item.get("class_name")
        if cls == "__ellipsis__":
            return Ellipsis
        if cls == "__slice__":
            cfg = item.get("config") or {}
            parts = [cfg.get(k) for k in ("start", "stop", "step")]
            if all(p is None or isinstance(p, (int, np.integer))
                   and not isinstance(p, bool) for p in parts):
                return slice(*parts)
    elif item is None or (isinstance(item, (int, np.integer))
                          and not isinstance(item, bool)):
        return item
    elif isinstance(item, np.ndarray) and item.ndim == 0 and \
            np.issubdtype(item.dtype, np.integer):
        return int(item)
    raise OpNotSupported("op '%s': indexing with %r is not supported (only "
                         "constant ints, slices, None and ...)"
                         % (name, item))


def getitem_op(args, inputs, name, verbose=True, **kwargs):
    """``x[key]`` with a constant key (``h[:, 0, :]``, ``h[:, ::2]``,
    ``h[..., 2]``); the batch axis must be kept whole."""
    _single_tensor(args, name, "getitem")
    if len(args) != 2:
        raise OpNotSupported("op '%s' (getitem) with %d arguments"
                             % (name, len(args)))
    key = args[1]
    key = key if isinstance(key, (list, tuple)) else [key]
    key = tuple(_index_entry(item, name) for item in key)
    if key and key[0] is not Ellipsis and key[0] != slice(None):
        raise OpNotSupported("op '%s': indexing the batch axis with %r is "
                             "not supported (the first index must be ':')"
                             % (name, key[0]))
    try:
        layer = layers.GetItem(key, name=name, verbose=verbose)
    except ValueError as exc:
        raise OpNotSupported("op '%s': %s" % (name, exc))
    return _wired(layer, inputs)


def _activation(act_name, **config_keys):
    """An op that is a Keras activation (``ops.relu``, ``ops.silu``, ...);
    ``config_keys`` maps the activation layer's keyword to the op config's
    key."""
    def convert(args, inputs, config, name, nonlinear_mxts_mode,
                verbose=True, keras_version=None, **kwargs):
        _single_tensor(args, name, act_name)
        table = activation_table(None)  # ops exist only in Keras 3
        if act_name not in table:
            raise OpNotSupported("op '%s': activation '%s' has no deeplift "
                                 "layer" % (name, act_name))
        options = {key: config[ckey] for key, ckey in config_keys.items()
                   if ckey in config}
        if act_name == "softmax" and config.get("axis", -1) not in (-1, [-1]):
            raise OpNotSupported("op '%s': softmax over axis %s (only the "
                                 "last axis)" % (name, config.get("axis")))
        layer = table[act_name](nonlinear_mxts_mode, name=name,
                                verbose=verbose, **options)
        return _wired(layer, inputs)
    convert.__name__ = "%s_op" % act_name
    return convert


def _carries_no_attribution(index, inputs, input_dtypes):
    """Whether tensor argument ``index`` is integer / boolean in Keras (token
    ids, masks) or made by a deeplift node without attribution."""
    dtypes = list(input_dtypes or [])
    dtype = dtypes[index] if index < len(dtypes) else None
    if dtype is not None:
        name = str(dtype)
        if name == "bool" or "int" in name:
            return True
    return isinstance(inputs[index], (layers.ShapeConstant,
                                      layers.Unattributed))


def _tensor_fn(args, fn, cast_to=None):
    """``f(xs)``: ``fn`` of ``args`` with each :class:`TensorArg` replaced
    by its tensor of ``xs`` (``cast_to``: a dtype for every argument) and
    numbers made tensors of the first tensor's dtype."""

    def apply(xs):
        first = xs[0]
        values = []
        for arg in args:
            if isinstance(arg, TensorArg):
                value = xs[arg.index]
            else:
                value = tf.constant(np.asarray(arg), dtype=first.dtype) \
                    if cast_to is None else tf.constant(np.asarray(arg))
            if cast_to is not None and value.dtype != cast_to:
                value = tf.cast(value, cast_to)
            elif cast_to is None and value.dtype != first.dtype:
                value = tf.cast(value, first.dtype)
            values.append(value)
        return fn(*values)
    return apply


def _unattributed(op_name, tf_name, logical=False):
    """A comparison or logical op (``ops.not_equal(ids, 0)``): on inputs
    that carry no attribution (integer / boolean tensors: token ids,
    masks) an :class:`~deeplift.layers.unattributed.Unattributed` node
    (its reference is its actual value); on a tensor that carries
    attribution an error (the op's result would cut it)."""
    def convert(args, inputs, name, verbose=True, input_dtypes=None,
                **kwargs):
        tensors = [a for a in args if isinstance(a, TensorArg)]
        if not tensors or any(not isinstance(a, TensorArg) and
                              _constant(a, name) is None for a in args):
            raise OpNotSupported("op '%s' (%s): expected tensors and "
                                 "numbers as arguments" % (name, op_name))
        attributed = [a.index for a in tensors if not
                      _carries_no_attribution(a.index, inputs,
                                              input_dtypes)]
        if attributed:
            raise OpNotSupported(
                "op '%s' (%s) of a tensor that carries attribution (a float "
                "tensor, input %s): it has no DeepLIFT rule (its 0/1 result "
                "would cut the attribution). Comparisons and logical ops "
                "are converted on integer or boolean tensors only (token "
                "ids, masks), whose values are held fixed"
                % (name, op_name, ", ".join(str(i) for i in attributed)))
        fn = _tensor_fn(args, getattr(tf.math, tf_name),
                        cast_to=tf.bool if logical else None)
        return _wired(layers.Unattributed(fn, op=op_name, name=name,
                                   verbose=verbose), list(inputs))
    convert.__name__ = "%s_op" % tf_name
    return convert


def cast_op(args, inputs, config, name, verbose=True, input_dtypes=None,
            **kwargs):
    """``ops.cast`` of a tensor that carries no attribution (an integer or
    boolean mask): an :class:`~deeplift.layers.unattributed.Unattributed`
    node. Casts of attributed tensors have no conversion."""
    x = _single_tensor(args, name, "cast")
    dtype = args[1] if len(args) > 1 else config.get("dtype")
    if isinstance(dtype, dict):  # a serialized DTypePolicy
        dtype = (dtype.get("config") or {}).get("name")
    try:
        target = tf.as_dtype(dtype)
    except TypeError:
        raise OpNotSupported("op '%s': cast to %r" % (name, dtype))
    if not _carries_no_attribution(x.index, inputs, input_dtypes):
        raise OpNotSupported("op '%s' (cast to %s) of a tensor that carries "
                             "attribution: only casts of integer or boolean "
                             "tensors (masks) are converted"
                             % (name, target.name))

    def fn(xs):
        return tf.cast(xs[0], target)
    return _wired(layers.Unattributed(fn, op="Cast", name=name,
                                      verbose=verbose), list(inputs))


#: op class name (``keras.src.ops.numpy`` / ``keras.src.ops.nn``) ->
#: conversion function
OPS = {
    "Add": add_op,
    "Subtract": subtract_op,
    "Multiply": multiply_op,
    "Divide": divide_op,
    "TrueDivide": divide_op,
    "Negative": negative_op,
    "Square": _elementwise(arithmetic.Square),
    "Sqrt": _elementwise(arithmetic.Sqrt),
    "Absolute": _elementwise(arithmetic.Abs),
    "Abs": _elementwise(arithmetic.Abs),
    "Exp": _elementwise(layers.Exponential),
    "Power": power_op,
    "Clip": clip_op,
    "Maximum": _extremum(layers.Maximum),
    "Minimum": _extremum(layers.Minimum),
    "Mean": _reduce("mean"),
    "Sum": _reduce("sum"),
    "Reshape": reshape_op,
    "Transpose": transpose_op,
    "ExpandDims": expand_dims_op,
    "Squeeze": squeeze_op,
    "Concatenate": concatenate_op,
    "GetItem": getitem_op,
    "Equal": _unattributed("Equal", "equal"),
    "NotEqual": _unattributed("NotEqual", "not_equal"),
    "Less": _unattributed("Less", "less"),
    "LessEqual": _unattributed("LessEqual", "less_equal"),
    "Greater": _unattributed("Greater", "greater"),
    "GreaterEqual": _unattributed("GreaterEqual", "greater_equal"),
    "LogicalAnd": _unattributed("LogicalAnd", "logical_and", True),
    "LogicalOr": _unattributed("LogicalOr", "logical_or", True),
    "LogicalXor": _unattributed("LogicalXor", "logical_xor", True),
    "LogicalNot": _unattributed("LogicalNot", "logical_not", True),
    "Cast": cast_op,
    "Tanh": _activation("tanh"),
    "Relu": _activation("relu"),
    "Relu6": _activation("relu6"),
    "Sigmoid": _activation("sigmoid"),
    "Softmax": _activation("softmax"),
    "Silu": _activation("silu"),
    "Swish": _activation("swish"),
    "Gelu": _activation("gelu", approximate="approximate"),
    "HardSigmoid": _activation("hard_sigmoid"),
    "HardSilu": _activation("hard_silu"),
    "HardSwish": _activation("hard_silu"),
    "LeakyRelu": _activation("leaky_relu", negative_slope="negative_slope"),
    "Elu": _activation("elu", alpha="alpha"),
    "Selu": _activation("selu"),
    "Softplus": _activation("softplus"),
    "Softsign": _activation("softsign"),
}
