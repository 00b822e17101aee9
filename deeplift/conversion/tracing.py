"""Op-level conversion: a live Keras layer without a converter, traced
into its TensorFlow graph, becomes a :class:`deeplift.layers.traced.
TracedLayer` with one node per op that depends on the layer's inputs.

:func:`trace_layer` calls the layer (inference mode) in a
``tf.function`` on the shapes of its deeplift inputs, then walks the
graph's ops in order:

* variables are read once (constants); an op whose operands are all
  constants is evaluated now (masks, causal masks, position indices,
  reshaped kernels); an op that reads only the shape of a varying tensor
  (``tf.shape(x)``) and what follows from it is kept as a function of the
  batch size;
* an op with a varying operand becomes node(s) by its entry in
  ``deeplift.conversion.op_rules.OP_RULES``, named
  ``<layer>/<op type>_<n>``;
* integer / bool inputs of the layer (token ids, masks) carry no
  attribution: an op on such values only becomes an
  :class:`~deeplift.layers.unattributed.Unattributed` node (a mask: its
  reference is its actual value), except a lookup of rows of a constant
  table (``GatherV2``), which becomes an :class:`~deeplift.layers.
  Embedding` node;
* a layer whose output depends on its inputs' shapes only (a position
  table broadcast to the input) becomes a :class:`~deeplift.layers.
  unattributed.ShapeConstant`;
* the body of a nested ``tf.function`` (a PartitionedCall op) is
  converted in place;
* control flow (``tf.cond`` / ``tf.while_loop``), random and stateful
  ops, and op types without a rule are collected: one
  :class:`~deeplift.conversion.errors.UnsupportedLayerError` lists each
  with its layer. Nothing falls back to a gradient.

The traced layer is then run on two random examples together and on each
alone (:func:`mixes_batch`): when a node is not computed example by
example (a Reshape folding the batch axis into another, a Transpose
moving it), a shared batch-1 reference is broadcast to the batch at the
layer's entrance.
"""
import inspect
import logging
from collections import OrderedDict

import numpy as np
import tensorflow as tf

from deeplift.conversion.errors import UnsupportedLayerError
from deeplift.conversion.keras_config import TensorArg
from deeplift.conversion.op_rules import OP_RULES, OpRuleError
from deeplift.layers import traced
from deeplift.layers.bilinear import Bilinear
from deeplift.layers.composite import Port
from deeplift.layers.embedding import Embedding
from deeplift.layers.unattributed import ShapeConstant, Unattributed
from deeplift.layers.merge import (Multiply, Maximum, Minimum,
                                   GRADIENT_LIKE_MODES)
from deeplift.modes import NonlinearMxtsMode, MaxPoolDeepLiftMode

logger = logging.getLogger(__name__)

#: ops whose output is their (first) input. StopGradient too: DeepLIFT
#: follows the forward values (so Gradient mode differs from
#: tf.GradientTape only where a layer stops a gradient on purpose;
#: tf.nn.moments' stopped mean has a zero derivative anyway)
PASS_THROUGH = frozenset(["Identity", "StopGradient", "Snapshot",
                          "PreventGradient", "EnsureShape"])
#: ops that read only the shape of their first operand
SHAPE_OPS = frozenset(["Shape", "Size", "Rank", "ZerosLike", "OnesLike",
                       "ShapeN"])
#: ops with no effect on values (control dependencies)
IGNORED = frozenset(["NoOp", "Assert"])
#: linear ops that keep DeepLIFT_GenomicsDefault's "preceding linear
#: layer" (a bias, a reshape)
_TRANSPARENT = frozenset(["BiasAdd", "AddV2", "Add", "Sub", "Reshape",
                          "Squeeze", "ExpandDims", "Identity"])


class Value(object):
    """A tensor of the trace: ``kind`` ``"const"`` (``value`` a numpy
    array), ``"batch"`` (``value(batch_size) -> tensor``) or ``"vary"``
    (``value`` a deeplift layer); ``dtype`` its TensorFlow dtype in the
    trace; ``shape`` its static shape; ``hint``: ``"dense"`` / ``"conv"``
    when it is (a bias or reshape away from) a matmul / convolution with a
    constant kernel; ``attributed``: False for a varying value that carries
    no attribution (an integer or boolean input of the layer, and what is
    computed from such inputs only: masks, shifted indices)."""

    def __init__(self, kind, value, dtype, shape, hint=None,
                 attributed=True):
        self.kind = kind
        self.value = value
        self.dtype = tf.as_dtype(dtype)
        self.shape = shape
        self.hint = hint
        self.attributed = attributed


_SIGNATURES = {}
#: the batch size of the second trace that tells how a tensor's first axis
#: relates to the batch axis
_PROBE_BATCH = 7


def op_arguments(op):
    """``(arg_sizes, attrs)`` of a graph op for
    ``deeplift.layers.traced.run_raw_op``."""
    if op.type not in _SIGNATURES:
        fn = getattr(tf.raw_ops, op.type, None)
        if fn is None:
            raise OpRuleError("TensorFlow has no raw op %s" % op.type)
        _SIGNATURES[op.type] = list(inspect.signature(fn).parameters)
    params = _SIGNATURES[op.type]
    sizes = []
    # tf.raw_ops names the inputs first, in the op definition's order (but
    # not always by the definition's names: Sum's reduction_indices is
    # raw_ops' axis)
    for param, arg in zip(params, op.op_def.input_arg):
        if arg.number_attr:
            sizes.append((param, int(op.get_attr(arg.number_attr))))
        elif arg.type_list_attr:
            sizes.append((param, len(op.get_attr(arg.type_list_attr))))
        else:
            sizes.append((param, None))
    # the attributes tf.raw_ops takes: those not inferred from the inputs,
    # by name, and those it renames (Squeeze's squeeze_dims is raw_ops'
    # axis) in order
    inferred = set()
    for arg in op.op_def.input_arg:
        inferred.update([arg.type_attr, arg.number_attr,
                         arg.type_list_attr])
    defined = [a.name for a in op.op_def.attr if a.name not in inferred]
    wanted = [p for p in params[len(sizes):] if p != "name"]
    matched = {p: p for p in wanted if p in defined}
    for p, a in zip([p for p in wanted if p not in matched],
                    [a for a in defined if a not in matched]):
        matched[p] = a
    attrs = {p: op.get_attr(a) for p, a in matched.items()
             if a in op.node_def.attr}
    return sizes, attrs


# plain Python over the call's structure: autograph (on for the traced
# function, whose Keras layer may need it) need not rewrite it, which cost
# about 0.07 s per conversion
@tf.autograph.experimental.do_not_convert
def _substitute(obj, xs):
    """``obj`` (a layer call's arguments) with every ``TensorArg`` replaced
    by the tensor of ``xs`` it names."""
    if isinstance(obj, TensorArg):
        return xs[obj.index]
    if isinstance(obj, dict):
        return {k: _substitute(v, xs) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_substitute(v, xs) for v in obj)
    return obj


class TraceContext(object):
    """Builds the nodes of one traced layer: what the builders of
    ``deeplift.conversion.op_rules`` call."""

    def __init__(self, name, nonlinear_mxts_mode, maxpool_deeplift_mode,
                 trace_dtype, verbose=False):
        self.name = name
        self.mode = nonlinear_mxts_mode
        self.maxpool_mode = maxpool_deeplift_mode
        self.trace_dtype = tf.as_dtype(trace_dtype)
        self.verbose = verbose
        self.counts = OrderedDict()
        self.node_counts = {}
        #: the Unattributed nodes made (masks, computed indices)
        self.unattributed_nodes = []

    # ---- naming and wiring -------------------------------------------------

    def add(self, layer, inputs, stage):
        """Name ``layer`` ``<layer>/<stage>_<n>``, wire it to ``inputs``
        (deeplift layers) and build it; returns it."""
        n = self.node_counts.get(stage, 0)
        self.node_counts[stage] = n + 1
        layer.name = "%s/%s_%d" % (self.name, stage, n)
        layer.verbose = False
        layer.set_inputs(list(inputs))
        layer.build_fwd_pass_vars()
        return layer

    def call(self, op, operands, role, out_index=0):
        """``(OpCall, varying layers)`` of ``op``; constant float operands
        get ``role``."""
        sizes, attrs = op_arguments(op)
        parts, inputs = [], []
        for value in operands:
            if value.kind == "vary":
                parts.append(traced.Varying(len(inputs), value.dtype))
                inputs.append(value.value)
            else:
                parts.append(traced.Fixed(
                    value.value, role if value.dtype.is_floating
                    else "other", value.dtype))
        batch_index = None
        if any(value.kind == "batch" for value in operands):
            # an operand computed from the batch size: the node also takes
            # the traced layer's first input, whose axis 0 is the batch
            batch_index = len(inputs)
            inputs.append(self.batch_source)
        return traced.OpCall(op.type, sizes, attrs, parts, out_index,
                             op.outputs[out_index].dtype,
                             self.trace_dtype, batch_index), inputs

    def nonlinear_mode(self, value):
        """The nonlinear mode of a node whose (first) varying input is
        ``value``: DeepLIFT_GenomicsDefault becomes RevealCancel after a
        matmul (Dense), Rescale after a convolution and otherwise (as
        inside composite layers)."""
        if self.mode != NonlinearMxtsMode.DeepLIFT_GenomicsDefault:
            return self.mode
        if value.hint == "dense":
            return NonlinearMxtsMode.RevealCancel
        if value.hint != "conv":
            logger.debug("%s: %s means %s for a traced op not after a "
                         "matmul or convolution", self.name,
                         NonlinearMxtsMode.DeepLIFT_GenomicsDefault,
                         NonlinearMxtsMode.Rescale)
        return NonlinearMxtsMode.Rescale

    def _vary(self, layer, op, index=0, hint=None):
        out = op.outputs[index]
        return Value("vary", layer, out.dtype, _shape(out), hint)

    # ---- families ----------------------------------------------------------

    def linear(self, op, operands, role, signed):
        """Node(s) for ``op``, affine in its varying ``operands``
        (``role``: "coef" when a constant operand multiplies them,
        ``signed``: whether the op can flip signs); DeepLIFT's Linear rule.
        Returns the list of the op's output values."""
        hint = None
        varying = [v for v in operands if v.kind == "vary"]
        if role == "coef" and op.type in ("MatMul", "BatchMatMulV2",
                                          "BatchMatMul", "Einsum"):
            hint = "dense"
        elif role == "coef" and "Conv" in op.type:
            hint = "conv"
        elif op.type in _TRANSPARENT and len(varying) == 1:
            hint = varying[0].hint
        outs = []
        for index in range(len(op.outputs)):
            call, inputs = self.call(op, operands, role, index)
            layer = traced.LinearOp(call, _shape(op.outputs[index]),
                                    signed=signed)
            outs.append(self._vary(self.add(layer, inputs,
                                            op.type.lower()),
                                   op, index, hint))
        return outs

    def _broadcast(self, value, shape):
        """``value`` (varying) broadcast to the static ``shape`` (a
        structural node), or itself when it has that shape."""
        if tuple(value.shape) == tuple(shape):
            return value
        if len(value.shape) != len(shape) or value.shape[:1] != (None,) \
                or tuple(shape[:1]) != (None,):
            raise OpRuleError("a varying operand of shape %s broadcast to "
                              "%s" % (value.shape, shape))
        target = [int(d) for d in shape[1:]]

        def fn(xs, variant=None):
            x = xs[0]
            return tf.broadcast_to(x, tf.concat(
                [tf.shape(x)[:1], tf.constant(target, tf.int32)], 0))
        layer = traced.LinearOp(fn, shape, signed=False)
        return Value("vary", self.add(layer, [value.value], "broadcast_to"),
                     value.dtype, tuple(shape), value.hint)

    def elementwise(self, op, operands):
        """One varying operand: broadcast to the output's shape, then an
        :class:`~deeplift.layers.traced.ElementwiseOp`."""
        out_shape = _shape(op.outputs[0])
        index = [i for i, v in enumerate(operands) if v.kind == "vary"][0]
        operands = list(operands)
        operands[index] = self._broadcast(operands[index], out_shape)
        call, inputs = self.call(op, operands, "other")
        if call.batch_index is not None:
            # an operand computed from the batch size needs the batch
            # source as a second input: the one player's Shapley value
            # (Rescale's ratio; the gradient under gradient-like modes)
            layer = traced.ElementwiseShapley(
                call, out_shape, nonlinear_mxts_mode=self.nonlinear_mode(
                    operands[index]), players=1)
            return [self._vary(self.add(layer, inputs, op.type.lower()),
                               op)]
        layer = traced.ElementwiseOp(
            call, op.type, nonlinear_mxts_mode=self.nonlinear_mode(
                operands[index]))
        return [self._vary(self.add(layer, inputs, op.type.lower()), op)]

    def shapley(self, op, operands):
        """An :class:`~deeplift.layers.traced.ElementwiseShapley` node for
        an elementwise ``op`` of several varying ``operands`` (each gets its
        exact Shapley share). Returns the op's output values."""
        if len(op.outputs) != 1:
            raise OpRuleError("%s with %d outputs" % (op.type,
                                                      len(op.outputs)))
        call, inputs = self.call(op, operands, "other")
        varying = [v for v in operands if v.kind == "vary"]
        layer = traced.ElementwiseShapley(
            call, _shape(op.outputs[0]),
            nonlinear_mxts_mode=self.nonlinear_mode(varying[0]),
            players=len(varying))
        return [self._vary(self.add(layer, inputs, op.type.lower()), op)]

    def multiply(self, op, operands):
        """A :class:`~deeplift.layers.merge.Multiply` node for an
        elementwise product of varying ``operands`` (Shapley product rule).
        Returns the op's output values."""
        varying = [v for v in operands if v.kind == "vary"]
        layer = Multiply(nonlinear_mxts_mode=self.nonlinear_mode(varying[0]))
        return [self._vary(self.add(layer, [v.value for v in varying],
                                    "mul"), op)]

    def merge_max(self, op, operands, minimum):
        """A Maximum (``minimum``: Minimum) merge node for an elementwise
        max/min of varying ``operands``. Returns the op's output values."""
        layer = (Minimum if minimum else Maximum)(
            nonlinear_mxts_mode=self.nonlinear_mode(operands[0]))
        return [self._vary(self.add(layer, [v.value for v in operands],
                                    op.type.lower()), op)]

    def bilinear(self, op, operands):
        """A :class:`~deeplift.layers.bilinear.Bilinear` node for a
        matmul/einsum whose two operands both vary (Shapley rule).
        Returns the op's output values."""
        call, inputs = self.call(op, operands, "other")
        layer = Bilinear(call, _shape(op.outputs[0]),
                         nonlinear_mxts_mode=self.nonlinear_mode(
                             operands[0]))
        return [self._vary(self.add(layer, inputs, op.type.lower()), op)]

    def unattributed(self, op, operands):
        """:class:`~deeplift.layers.unattributed.Unattributed` nodes for an
        op whose varying operands all carry no attribution (integer / bool
        inputs and what follows from them: a mask, shifted indices): the
        op on the actual values, reference equal to it. Returns the op's
        output values (``attributed`` False)."""
        outs = []
        for index in range(len(op.outputs)):
            call, inputs = self.call(op, operands, "other", index)
            layer = Unattributed(call, op=op.type, dtype=self.trace_dtype)
            node = self.add(layer, inputs, op.type.lower())
            self.unattributed_nodes.append(node)
            out = op.outputs[index]
            outs.append(Value("vary", node, out.dtype, _shape(out),
                              attributed=False))
        return outs

    def embedding(self, op, table, indices):
        """A :class:`~deeplift.layers.Embedding` node: rows of the constant
        ``table`` (a Value) at the varying integer ``indices``, which must
        carry no attribution (an integer input of the traced layer, or
        computed from such inputs only). Returns the op's output values."""
        if indices.attributed:
            raise OpRuleError("the indices of %s carry attribution (they "
                              "are computed from a float input of the "
                              "layer): a lookup has no rule for them"
                              % op.type)
        layer = Embedding(embeddings=np.asarray(table.value))
        return [self._vary(self.add(layer, [indices.value], "embedding"),
                           op)]

    def softmax(self, op, operands, log):
        """A :class:`~deeplift.layers.traced.SoftmaxOp` node (``log``:
        log-softmax) for the logits ``operands[0]``, exact by decomposition.
        Returns the op's output values.

        ``tf.nn.softmax(x, axis=k)`` is traced as a Transpose swapping axis
        k with the last, a Softmax and the same Transpose: logits that are
        such a transpose of a varying ``x`` give a node over axis k of
        ``x`` itself, then the transpose (which the second Transpose
        cancels, see :meth:`transpose`), so neither transpose is run."""
        logits = operands[0]
        mode = self.nonlinear_mode(logits)
        if mode == NonlinearMxtsMode.DeconvNet:
            raise OpRuleError(traced.SOFTMAX_DECONVNET_ERROR % (
                "layer %r, nonlinear_mxts_mode=%s" % (self.name, mode)))
        prior = self._transposes().get(id(logits.value))
        axis = _swapped_axis(prior[1]) if prior is not None else None
        if axis is None:
            layer = traced.SoftmaxOp(log=log, nonlinear_mxts_mode=mode)
            return [self._vary(self.add(layer, [logits.value],
                                        op.type.lower()), op)]
        source, perm, call = prior
        layer = traced.SoftmaxOp(log=log, axis=axis,
                                 nonlinear_mxts_mode=mode)
        node = self.add(layer, [source.value], op.type.lower())
        value = Value("vary", node, logits.dtype, tuple(source.shape))
        back = traced.LinearOp(traced.OpCall(
            call.op_type, call.arg_sizes, call.attrs, call.operands,
            call.out_index, call.out_dtype, call.trace_dtype),
            _shape(op.outputs[0]), signed=False)
        back = self.add(back, [node], "transpose")
        self._transposes()[id(back)] = (value, perm, back.call)
        return [self._vary(back, op)]

    def _transposes(self):
        """``{id(node): (input value, perm, call)}`` of the Transpose nodes
        of varying values made so far."""
        return self.__dict__.setdefault("_transposed", {})

    def transpose(self, op, operands):
        """A Transpose of a varying value: a structural node, or nothing
        when it is the identity or undoes the Transpose that made its
        operand (the value before that one; a transpose pair around a
        softmax, see :meth:`softmax`). Returns the op's output values."""
        source = operands[0]
        perm = None
        if source.kind == "vary" and operands[1].kind == "const":
            perm = [int(p) for p in np.asarray(operands[1].value).ravel()]
            if perm == list(range(len(perm))):
                # the identity (tf.tensordot makes one)
                return [Value("vary", source.value, source.dtype,
                              tuple(source.shape))]
            prior = self._transposes().get(id(source.value))
            if prior is not None and len(prior[1]) == len(perm) and all(
                    prior[1][p] == i for i, p in enumerate(perm)):
                before = prior[0]
                return [Value("vary", before.value, before.dtype,
                              tuple(before.shape))]
        outs = self.linear(op, operands, role="offset", signed=False)
        if perm is not None:
            node = outs[0].value
            self._transposes()[id(node)] = (source, perm, node.call)
        return outs

    def max_op(self, op, operands, negate, pool):
        """A max (``negate``: min) node: max pooling (``pool``) with the
        model's max-pooling mode, a max reduction with the
        summation-to-delta max rule. Returns the op's output values."""
        # max pooling: the model's max-pooling mode (as a native pooling
        # layer); max reductions: the summation-to-delta max rule (the
        # gradient under gradient-like modes, as merge.Maximum)
        if pool:
            mode = self.maxpool_mode
        elif self.mode in GRADIENT_LIKE_MODES:
            mode = MaxPoolDeepLiftMode.gradient
        else:
            mode = MaxPoolDeepLiftMode.summation_to_delta
        call, inputs = self.call(op, operands, "other")
        if negate:
            # min(x) == -max(-x): the max rule on -x, then a negation
            inner = call

            def call(xs, variant=None):
                return -inner(xs)
        layer = traced.MaxOp(call, _shape(op.outputs[0]),
                             maxpool_deeplift_mode=mode)
        node = self.add(layer, inputs, op.type.lower())
        if negate:
            neg = traced.LinearOp(_Negate(), _shape(op.outputs[0]),
                                  signed=True)
            node = self.add(neg, [node], "neg")
        return [self._vary(node, op)]


class _Negate(object):
    """``-x``; its |L| is the identity."""

    def __call__(self, xs, variant=None):
        return xs[0] if variant == "abs" else -xs[0]


def _swapped_axis(perm):
    """k when ``perm`` swaps axis k (neither the batch nor the last axis)
    with the last one and keeps the others, else None."""
    last = len(perm) - 1
    for k in range(1, last):
        swap = list(range(len(perm)))
        swap[k], swap[last] = last, k
        if list(perm) == swap:
            return k
    return None


def _shape(tensor):
    shape = tensor.shape
    if shape.rank is None:
        raise OpRuleError("a tensor of unknown rank")
    return tuple(shape.as_list())


def _describe(op_type):
    if op_type in ("If", "StatelessIf", "Case", "StatelessCase", "Switch",
                   "Merge"):
        return "control flow: tf.cond / Python if on a tensor"
    if op_type in ("While", "StatelessWhile", "For", "Enter", "Exit",
                   "NextIteration", "LoopCond"):
        return "control flow: tf.while_loop / Python loop over a tensor"
    if op_type in ("PartitionedCall", "StatefulPartitionedCall",
                   "RemoteCall"):
        return "a nested tf.function"
    if "Random" in op_type:
        return "a random op"
    return None


def _ancestors(tensors):
    """The ops the ``tensors`` depend on (data inputs only)."""
    seen, stack = set(), [t.op for t in tensors]
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        stack.extend(t.op for t in op.inputs)
    return seen


def _fold(op, operands):
    """Evaluate ``op`` on constant operands (eagerly); numpy outputs."""
    sizes, attrs = op_arguments(op)
    flat = [tf.constant(v.value, dtype=v.dtype) for v in operands]
    out = traced.run_raw_op(op.type, sizes, attrs, flat)
    if not isinstance(out, (list, tuple)):
        out = [out]
    return [np.asarray(t.numpy()) for t in out]


def _batch_program(op, operands):
    """``fn(batch) -> list of output tensors`` of an op whose operands are
    constants or functions of the batch size."""
    sizes, attrs = op_arguments(op)

    def fn(batch):
        flat = [v.value(batch) if v.kind == "batch"
                else tf.constant(v.value, dtype=v.dtype) for v in operands]
        out = traced.run_raw_op(op.type, sizes, attrs, flat)
        return list(out) if isinstance(out, (list, tuple)) else [out]
    return fn


def _shape_program(op, value, factor):
    """What a shape op (``tf.shape(x)``, ``zeros_like(x)``...) of a varying
    ``value`` whose axis 0 has ``factor`` times the batch size gives, as a
    function of the batch size."""
    rest = list(value.shape[1:])
    if any(d is None for d in rest):
        raise OpRuleError("%s of a tensor of shape %s (only the batch axis "
                          "may be unknown)" % (op.type, value.shape))
    out_dtype = op.outputs[0].dtype
    if op.type == "Rank":
        return Value("const", np.asarray(len(value.shape), np.int32),
                     out_dtype, ())
    if value.shape[0] is not None:
        factor = None
    elif factor is None:
        raise OpRuleError("%s of a tensor whose first axis is not known to "
                          "be a multiple of the batch axis" % op.type)

    def first(batch):
        if factor is None:
            return tf.constant([value.shape[0]], batch.dtype)
        return tf.reshape(batch * factor, [1])
    if op.type == "Shape":
        def fn(batch):
            return tf.cast(tf.concat([first(batch), tf.constant(
                rest, batch.dtype)], 0), out_dtype)
    elif op.type == "Size":
        def fn(batch):
            return tf.cast(first(batch)[0] * int(np.prod(rest)), out_dtype)
    elif op.type in ("ZerosLike", "OnesLike"):
        filler = tf.zeros if op.type == "ZerosLike" else tf.ones

        def fn(batch):
            return filler(tf.concat([first(batch), tf.constant(
                rest, batch.dtype)], 0), dtype=out_dtype)
    else:
        raise OpRuleError("%s of a varying tensor" % op.type)
    return Value("batch", fn, out_dtype, _shape(op.outputs[0]))


def trace_layer(keras_layer, name, input_layers, call=None,
                input_dtypes=None,
                nonlinear_mxts_mode=NonlinearMxtsMode.Rescale,
                maxpool_deeplift_mode=MaxPoolDeepLiftMode.gradient,
                verbose=False, keras_class=None, **kwargs):
    """Trace ``keras_layer`` into a :class:`~deeplift.layers.traced.
    TracedLayer` named ``name``, wired to ``input_layers`` (built deeplift
    layers, one per tensor the layer is called on) and built.

    ``call``: ``(args, kwargs)`` of the layer's call with
    ``deeplift.conversion.keras_config.TensorArg`` for the tensors
    (``None``: ``layer(x)`` on the one input); ``input_dtypes``: the
    TensorFlow dtypes of those tensors (default: the layer's compute
    dtype). Raises :class:`UnsupportedLayerError` listing every op that
    has no exact rule, with the layer's name."""
    label = getattr(keras_layer, "name", name)
    cls = keras_class or type(keras_layer).__name__
    for layer in input_layers:
        layer.build_fwd_pass_vars()
    shapes = [tuple(layer.get_shape()) for layer in input_layers]
    compute = getattr(keras_layer, "compute_dtype", None) or "float32"
    if not tf.as_dtype(compute).is_floating:
        compute = "float32"
    dtypes = [tf.as_dtype(d or compute) for d in
              (input_dtypes or [None] * len(shapes))]
    args, call_kwargs = call if call is not None else (
        [TensorArg(0)], {})

    def fn(*xs):
        a = _substitute(list(args), xs)
        k = _substitute(dict(call_kwargs), xs)
        k.setdefault("training", False)
        return keras_layer(*a, **k)
    specs = [tf.TensorSpec(s, d) for s, d in zip(shapes, dtypes)]
    try:
        concrete = tf.function(fn).get_concrete_function(*specs)
    except Exception as exc:  # the layer's own code failed on the specs
        raise UnsupportedLayerError({}, settings={
            "%s: tracing failed (%s: %s)" % (cls, type(exc).__name__,
                                            str(exc).split("\n")[0][:200]):
            [label]})
    graph = concrete.graph
    _refine_static_shapes(graph, fn, shapes, dtypes)
    outputs = tf.nest.flatten(concrete.structured_outputs)
    if len(outputs) != 1:
        raise UnsupportedLayerError({}, settings={
            "%s: a traced layer must return one tensor (it returns %d)"
            % (cls, len(outputs)): [label]})
    output = graph.outputs[0] if graph.outputs else outputs[0]

    ctx = TraceContext(name, nonlinear_mxts_mode, maxpool_deeplift_mode,
                       compute, verbose)
    values = {}
    ports = []
    for i, (placeholder, shape) in enumerate(zip(graph.inputs, shapes)):
        port = Port(batch_shape=shape, name="%s/input_%d" % (name, i))
        ports.append(port)
        values[placeholder.name] = Value(
            "vary", port, dtypes[i], shape,
            attributed=tf.as_dtype(dtypes[i]).is_floating)
    ctx.batch_source = ports[0]
    floating = [i for i, d in enumerate(dtypes) if d.is_floating]
    for i, placeholder in enumerate(graph.inputs[:len(shapes)]):
        if dtypes[i].is_floating or not floating:
            continue
        # an integer / bool input (a mask) travels in the float dtype of
        # the layer's float data, which it meets in the layer's ops
        node = ctx.add(Unattributed(_first, op="Cast", dtype=compute,
                                    dtype_from=1),
                       [ports[i], ports[floating[0]]], "input_cast")
        ctx.unattributed_nodes.append(node)
        values[placeholder.name] = Value("vary", node, dtypes[i], shapes[i],
                                         attributed=False)
    port_names = set(p.name for p in graph.inputs[:len(shapes)])
    factors = {}

    def batch_factor(tensor_name):
        """How many times the batch size the first axis of a traced tensor
        is (1 for the inputs; others from a second trace at batch size
        7), or None when unknown."""
        if tensor_name in port_names:
            return 1
        if not factors:
            fixed = tf.function(fn).get_concrete_function(
                *[tf.TensorSpec((_PROBE_BATCH,) + tuple(s[1:]), d)
                  for s, d in zip(shapes, dtypes)])
            for fop in fixed.graph.get_operations():
                for t in fop.outputs:
                    dims = t.shape.as_list() if t.shape.rank else None
                    if dims and dims[0] is not None and \
                            dims[0] % _PROBE_BATCH == 0:
                        factors[t.name] = dims[0] // _PROBE_BATCH
            factors.setdefault(None, None)
        return factors.get(tensor_name)
    ctx.batch_factor = batch_factor
    problems = OrderedDict()

    def problem(what):
        problems.setdefault(what, [label])

    def walk(graph, values, outputs, depth=0):
        """Convert the ops of ``graph`` that ``outputs`` need, ``values``
        holding the Values of its inputs (filled in with the others)."""
        captured = {internal.name: external
                    for external, internal in graph.captures}
        needed = _ancestors(outputs)
        for op in graph.get_operations():
            if op.name in needed and op.type not in IGNORED:
                visit(graph, op, values, captured, depth)

    def inline(graph, op, operands, depth):
        """The output Values of a nested tf.function call, its body
        converted in place; None when it cannot be read."""
        try:
            body = graph._get_function(op.get_attr("f").name).graph
        except Exception:  # private API of TensorFlow's function library
            return None
        if depth > 8 or len(body.inputs) != len(operands):
            return None
        inner = {ph.name: v for ph, v in zip(body.inputs, operands)}
        walk(body, inner, body.outputs, depth + 1)
        return [inner.get(t.name) for t in body.outputs]

    def visit(graph, op, values, captured, depth):
        if op.type == "Placeholder":
            tensor = op.outputs[0]
            if tensor.name in values:
                return
            external = captured.get(tensor.name)
            if external is None:
                problem("%s: an input placeholder that is not a call "
                        "argument" % cls)
                return
            if tensor.dtype == tf.resource:
                values[tensor.name] = Value("resource", external,
                                            tensor.dtype, ())
            else:
                values[tensor.name] = Value("const",
                                            np.asarray(external.numpy()),
                                            tensor.dtype, _shape(tensor))
            return
        operands = [values.get(t.name) for t in op.inputs]
        if any(v is None for v in operands):
            return  # after an op already listed
        if op.type in ("PartitionedCall", "StatefulPartitionedCall"):
            outs = inline(graph, op, operands, depth)
            if outs is not None:
                for tensor, value in zip(op.outputs, outs):
                    if value is not None:
                        values[tensor.name] = value
                return
        described = _describe(op.type)
        if described is not None:
            problem("TensorFlow op %s (%s) in traced layer of class %s"
                    % (op.type, described, cls))
            return
        if op.type == "ReadVariableOp":
            if operands[0].kind != "resource":
                problem("%s: ReadVariableOp of a computed resource" % cls)
                return
            value = tf.raw_ops.ReadVariableOp(
                resource=operands[0].value, dtype=op.get_attr("dtype"))
            values[op.outputs[0].name] = Value(
                "const", np.asarray(value.numpy()), value.dtype,
                tuple(value.shape))
            return
        if op.type == "Const":
            values[op.outputs[0].name] = Value(
                "const", tf.make_ndarray(op.get_attr("value")),
                op.outputs[0].dtype, _shape(op.outputs[0]))
            return
        if any(v.kind == "resource" for v in operands) or (
                op.op_def.is_stateful and op.type not in OP_RULES):
            problem("TensorFlow op %s (stateful) in traced layer of class %s"
                    % (op.type, cls))
            return
        try:
            outs = _convert_op(ctx, op, operands)
        except OpRuleError as exc:
            problem("TensorFlow op %s in traced layer of class %s: %s"
                    % (op.type, cls, exc))
            return
        except UnsupportedLayerError:
            raise
        except (ValueError, TypeError, tf.errors.OpError) as exc:
            problem("TensorFlow op %s in traced layer of class %s could not "
                    "be converted (%s)" % (op.type, cls,
                                           str(exc).split("\n")[0][:150]))
            return
        if outs is None:
            problem("TensorFlow op %s has no DeepLIFT rule (traced layer of "
                    "class %s)" % (op.type, cls))
            return
        if op.type not in PASS_THROUGH and op.type != "IdentityN" and \
                any(o.kind == "vary" for o in outs):
            ctx.counts[op.type] = ctx.counts.get(op.type, 0) + 1
        for tensor, value in zip(op.outputs, outs):
            values[tensor.name] = value

    walk(graph, values, [output])
    for node in ctx.unattributed_nodes:
        # a value that follows the reference ids (it indexes a table) must
        # not also be held as a mask
        if not node.reference_is_actual and any(
                not isinstance(o, (Unattributed, Embedding))
                for o in node.get_output_layers()):
            problem("%s: an integer value computed in the layer both "
                    "indexes a table and feeds other ops (a mask): it "
                    "cannot both follow the reference ids and hold its "
                    "value" % cls)
            break
    if problems:
        raise UnsupportedLayerError({}, settings=problems)
    out_value = values.get(output.name)
    if out_value is not None and out_value.kind in ("const", "batch"):
        return _constant_layer(out_value, output, input_layers, cls, name,
                               verbose)
    if out_value is None or out_value.kind != "vary":
        raise UnsupportedLayerError({}, settings={
            "%s: the traced output does not depend on the layer's inputs"
            % cls: [label]})
    layer = traced.TracedLayer(
        ports, out_value.value,
        op_counts={k: v for k, v in ctx.counts.items() if v},
        keras_class=cls, name=name, verbose=verbose)
    mixing = mixes_batch(layer, shapes, dtypes, compute)
    layer.mixes_batch = bool(mixing)
    layer.full_batch_reference = mixing is True or \
        out_value.value.get_name() in mixing
    layer.set_inputs(list(input_layers))
    layer.build_fwd_pass_vars()
    return layer


#: examples of the check of :func:`mixes_batch`, and the length it gives
#: the axes of unknown length
_MIX_CHECK_EXAMPLES = 2
_MIX_CHECK_LENGTH = 8


def mixes_batch(layer, shapes, dtypes, compute):
    """The names of the inner nodes of the traced ``layer`` not computed
    example by example (a Reshape folding the batch into another axis, a
    Transpose moving it, an op over it), or True when the check cannot
    run; when any, a batch-1 reference must be broadcast to the batch at
    the layer's entrance (:class:`~deeplift.layers.traced.TracedLayer`).

    Found by value, whatever the op: the inner graph runs on two random
    examples together and on each alone (inputs of the static ``shapes``
    with their batch axis, 8 for other unknown axes, floats of dtype
    ``compute``; inputs whose trace ``dtypes`` are not floats get 0/1
    values); a node whose output on the pair is not the stack of its
    outputs on each example mixes the batch.  A check that cannot run
    says True (broadcasting is always correct, only slower); otherwise a
    list (empty: example by example)."""
    rng = np.random.RandomState(0)
    xs = []
    for shape, dtype in zip(shapes, dtypes):
        # unknown lengths: a small one (a layer that needs another fails
        # the check: the safe answer)
        full = (_MIX_CHECK_EXAMPLES,) + tuple(
            _MIX_CHECK_LENGTH if d is None else int(d) for d in shape[1:])
        value = (rng.randn(*full) if tf.as_dtype(dtype).is_floating
                 else rng.randint(0, 2, full))
        xs.append(value.astype(tf.as_dtype(compute).as_numpy_dtype))
    try:
        names = layer.batch_mixing_nodes(xs)
    except Exception as exc:
        # any failure (an op that rejects random values...): broadcasting
        # is always right
        logger.debug("%s: the example-by-example check failed (%s); its "
                     "references are broadcast to the batch", layer.name,
                     str(exc).split("\n")[0][:150])
        return True
    if names:
        logger.debug("%s: %s not computed example by example; its "
                     "references are broadcast to the batch", layer.name,
                     ", ".join(names[:5]))
    return names


def _first(xs):
    """The first of ``xs`` (an input cast to the data's dtype)."""
    return xs[0]


def _refine_static_shapes(graph, fn, shapes, dtypes):
    """Fill in the non-batch axes that the trace at batch size None left
    unknown (``reshape(o, [b, s, -1])`` with ``b = shape(x)[0]``) from two
    traces at fixed batch sizes, where they agree (so they do not depend
    on the batch size). Only when some op output has such an axis."""
    def unknown(t):
        return t.shape.rank is not None and any(
            d is None for d in t.shape.as_list()[1:])
    ops = [op for op in graph.get_operations()
           if any(unknown(t) for t in op.outputs)]
    if not ops or any(s[:1] != (None,) for s in shapes):
        return
    probes = []
    for batch in (5, 7):
        probe = tf.function(fn).get_concrete_function(
            *[tf.TensorSpec((batch,) + tuple(s[1:]), d)
              for s, d in zip(shapes, dtypes)])
        probes.append({t.name: t.shape for op in
                       probe.graph.get_operations() for t in op.outputs})
    for op in ops:
        for t in op.outputs:
            found = [p.get(t.name) for p in probes]
            if not unknown(t) or any(f is None or f.rank != t.shape.rank
                                     for f in found):
                continue
            dims = t.shape.as_list()
            a, b = found[0].as_list(), found[1].as_list()
            refined = [d if d is not None or i == 0 or a[i] != b[i]
                       else a[i] for i, d in enumerate(dims)]
            if refined != dims:
                t.set_shape(refined)


def _constant_layer(value, output, input_layers, cls, name, verbose):
    """A :class:`~deeplift.layers.unattributed.ShapeConstant` for a traced
    layer whose output depends on its inputs' shapes only (a position
    table broadcast to the input's shape): the value, computed for the
    batch size, has no difference from reference and no attribution."""
    logger.info("%s (%s): the output depends on the input's shape only; "
                "converted to a constant (no attribution)", name, cls)
    layer = ShapeConstant(value.value, _shape(output), keras_class=cls,
                          name=name, verbose=verbose)
    layer.set_inputs(list(input_layers))
    layer.build_fwd_pass_vars()
    return layer


def _convert_op(ctx, op, operands):
    """The output Values of one op (None: no rule)."""
    kinds = set(v.kind for v in operands)
    if "vary" not in kinds:
        if "batch" in kinds:
            program = _batch_program(op, operands)
            return [Value("batch", (lambda b, i=i: program(b)[i]), t.dtype,
                          _shape(t)) for i, t in enumerate(op.outputs)]
        return [Value("const", array, t.dtype, _shape(t))
                for array, t in zip(_fold(op, operands), op.outputs)]
    if op.type in SHAPE_OPS:
        if op.type == "ShapeN":
            return [_shape_program(_ShapeOf(op, i), v,
                                   ctx.batch_factor(t.name))
                    for i, (v, t) in enumerate(zip(operands, op.inputs))]
        return [_shape_program(op, operands[0],
                               ctx.batch_factor(op.inputs[0].name))]
    if op.type in PASS_THROUGH:
        return [operands[0]]
    if op.type == "IdentityN":  # e.g. tf.custom_gradient's forward
        return list(operands)
    if not any(v.attributed for v in operands if v.kind == "vary") and \
            not _is_lookup(op, operands):
        # masks and indices computed from integer / bool inputs
        return ctx.unattributed(op, operands)
    builder = OP_RULES.get(op.type)
    if builder is None:
        return None
    return builder(ctx, op, operands)


def _is_lookup(op, operands):
    """Whether ``op`` looks rows up in a constant float table (an
    embedding: its output carries attribution)."""
    return op.type == "GatherV2" and operands[0].kind == "const" and \
        operands[0].dtype.is_floating


class _ShapeOf(object):
    """Output ``i`` of a ShapeN op seen as a Shape op."""

    type = "Shape"

    def __init__(self, op, i):
        self.outputs = [op.outputs[i]]
