"""The TensorFlow op type -> node builder table of op-level conversion
(:mod:`deeplift.conversion.tracing`).

``OP_RULES`` maps an op type to the builder of its rule family; a builder
is called as ``builder(ctx, op, operands)`` for an op with at least one
varying operand (``operands``: one :class:`~deeplift.conversion.tracing.
Value` per input of the op: a folded constant, a value computed from the
batch size only, or a varying deeplift layer) and returns one Value per
output of the op, made with ``ctx`` (see :class:`~deeplift.conversion.
tracing.TraceContext`). A builder raises :class:`OpRuleError` for an
operand pattern it has no exact rule for (e.g. a convolution whose kernel
varies); the tracer lists it with the op type and layer. Supporting a new
op is one entry here (an existing family) or one builder plus entries.

Families (rules in :mod:`deeplift.layers.traced`,
:mod:`deeplift.layers.bilinear`, :mod:`deeplift.layers.merge`):

* ``linear``: affine in what varies; constant float operands are offsets
  of additive/structural ops and coefficients of multiplicative ones.
* ``product`` (Mul), ``contraction`` (MatMul, BatchMatMulV2, Einsum):
  linear with one varying operand, the exact two-operand Shapley rule
  with two.
* ``elementwise``: one varying operand: an activation (every nonlinear
  mode); several: their exact Shapley split.
* ``softmax``: softmax / log-softmax, exact.
* ``gather``: structural with constant indices; an embedding lookup
  (:class:`deeplift.layers.Embedding`) with varying integer indices
  (the traced layer's integer inputs) into a constant table.
* ``max_reduce``, ``min_reduce``, ``max_pool``: the max rule;
  ``maximum`` (Maximum / Minimum of two varying tensors): the merge
  layers' summation-to-delta rule.
* ``transpose``: linear; an identity, or one that undoes the transpose
  that made its operand (the pair around a softmax over a middle axis),
  is no node.
"""
from deeplift.conversion.errors import ConversionError


class OpRuleError(ConversionError):
    """An op called with operands its rule family does not cover."""


def _varying(operands):
    return [i for i, v in enumerate(operands) if v.kind == "vary"]


def linear(ctx, op, operands):
    """Ops affine in their varying operands: structural ops, sums,
    additions (constant float operands are offsets)."""
    if op.type in _NEEDS_FIXED:
        for index in _NEEDS_FIXED[op.type]:
            if operands[index].kind == "vary":
                raise OpRuleError("operand %d of %s varies (only its data "
                                  "operand may)" % (index, op.type))
    if op.type == "Cast" and not (operands[0].dtype.is_floating
                                  and op.outputs[0].dtype.is_floating):
        return elementwise(ctx, op, operands)
    signed = op.type == "Neg" or (op.type == "Sub"
                                  and operands[1].kind == "vary")
    return ctx.linear(op, operands, role="offset", signed=signed)


#: operands that must not vary (shapes, axes, indices, paddings)
_NEEDS_FIXED = {
    "GatherV2": (1,), "Reshape": (1,), "Transpose": (1,), "Tile": (1,),
    "BroadcastTo": (1,), "Pad": (1,), "PadV2": (1,), "MirrorPad": (1,),
    "StridedSlice": (1, 2, 3), "Slice": (1, 2), "ExpandDims": (1,),
    "Sum": (1,), "Mean": (1,), "Cumsum": (1,), "ReverseV2": (1,),
    "Split": (0,), "SplitV": (1, 2), "MatrixBandPart": (1, 2),
    "Conv2D": (1,), "Conv3D": (1,), "DepthwiseConv2dNative": (1,),
    "Conv2DBackpropInput": (0, 1),
}


def gather(ctx, op, operands):
    """``GatherV2``: with constant indices, structural (``linear``); with
    varying (integer) indices into a constant table, an embedding lookup:
    a :class:`deeplift.layers.Embedding` node (the indices carry no
    attribution; scores are found on its output)."""
    if operands[1].kind != "vary":
        return linear(ctx, op, operands)
    if operands[0].kind != "const" or operands[2].kind != "const":
        raise OpRuleError("the indices of GatherV2 vary and so does its "
                          "table or axis (only a lookup of integer inputs "
                          "in a constant table has a rule)")
    table = operands[0]
    if not table.dtype.is_floating or len(table.shape) != 2 or \
            int(operands[2].value) not in (0, -2) or \
            int(op.get_attr("batch_dims")) != 0:
        raise OpRuleError("a lookup with varying indices in a table of "
                          "shape %s (dtype %s, axis %s, batch_dims %s): "
                          "only rows of a 2-D float table (an embedding) "
                          "are supported" % (
                              tuple(table.shape), table.dtype.name,
                              operands[2].value, op.get_attr("batch_dims")))
    return ctx.embedding(op, table, operands[1])


def coefficient(ctx, op, operands):
    """Convolutions and other ops linear in their data operand with a
    constant kernel (float constants are coefficients)."""
    for index in _NEEDS_FIXED.get(op.type, ()):
        if operands[index].kind == "vary":
            raise OpRuleError("the kernel/shape operand %d of %s varies"
                              % (index, op.type))
    return ctx.linear(op, operands, role="coef", signed=True)


def product(ctx, op, operands):
    """``Mul``: linear in one varying factor; the Shapley product of two
    (:class:`deeplift.layers.merge.Multiply`)."""
    if len(_varying(operands)) == 1:
        return ctx.linear(op, operands, role="coef", signed=True)
    return ctx.multiply(op, operands)


def division(ctx, op, operands):
    """``RealDiv`` / ``Div`` of floats: linear when only the numerator
    varies, else elementwise."""
    if _varying(operands) == [0] and op.outputs[0].dtype.is_floating:
        return ctx.linear(op, operands, role="coef", signed=True)
    return elementwise(ctx, op, operands)


def contraction(ctx, op, operands):
    """MatMul, BatchMatMulV2, Einsum: linear with one varying operand,
    :class:`deeplift.layers.bilinear.Bilinear` with two."""
    varying = _varying(operands)
    if len(operands) > 2:
        raise OpRuleError("%s of %d operands" % (op.type, len(operands)))
    if len(varying) == 1:
        role = "coef" if len(operands) == 2 else "other"
        return ctx.linear(op, operands, role=role, signed=len(operands) == 2)
    return ctx.bilinear(op, operands)


def elementwise(ctx, op, operands):
    """Elementwise functions: an activation of one varying operand, the
    Shapley split between several."""
    if len(_varying(operands)) == 1:
        return ctx.elementwise(op, operands)
    return ctx.shapley(op, operands)


def maximum(ctx, op, operands):
    """``Maximum`` / ``Minimum``: elementwise with a constant, the merge
    layers' max rule between two varying tensors."""
    if len(_varying(operands)) == 1:
        return ctx.elementwise(op, operands)
    return ctx.merge_max(op, operands, minimum=op.type == "Minimum")


def select(ctx, op, operands):
    """``SelectV2`` / ``Select``: linear (0/1 coefficients) in the
    branches when the condition is constant, else elementwise."""
    if operands[0].kind != "vary":
        return ctx.linear(op, operands, role="offset", signed=False)
    return elementwise(ctx, op, operands)


def softmax(ctx, op, operands):
    """``Softmax`` / ``LogSoftmax`` (last axis, or axis k when the logits
    are a transpose swapping k with the last), exact."""
    return ctx.softmax(op, operands, log=op.type == "LogSoftmax")


def transpose(ctx, op, operands):
    """``Transpose`` with a constant permutation: structural; one that
    undoes the transpose that made its operand is no node at all."""
    if operands[1].kind == "vary":
        raise OpRuleError("the permutation of Transpose varies")
    return ctx.transpose(op, operands)


def max_reduce(ctx, op, operands):
    if operands[1].kind == "vary":
        raise OpRuleError("the axes of %s vary" % op.type)
    return ctx.max_op(op, operands, negate=op.type == "Min", pool=False)


def max_pool(ctx, op, operands):
    return ctx.max_op(op, operands, negate=False, pool=True)


_LINEAR = ["Identity", "StopGradient", "Snapshot", "PreventGradient",
           "EnsureShape", "AddV2", "Add", "AddN", "BiasAdd", "Sub", "Neg",
           "Reshape", "Transpose", "ExpandDims", "Squeeze", "StridedSlice",
           "Slice", "ConcatV2", "Pack", "Unpack", "Split",
           "SplitV", "Pad", "PadV2", "MirrorPad", "Tile", "BroadcastTo",
           "Cast", "Sum", "Mean", "Cumsum", "ReverseV2", "AvgPool",
           "AvgPool3D", "DepthToSpace", "SpaceToDepth", "MatrixBandPart"]
_COEFFICIENT = ["Conv2D", "Conv3D", "DepthwiseConv2dNative",
                "Conv2DBackpropInput"]
_ELEMENTWISE = ["Relu", "Relu6", "Elu", "Selu", "Sigmoid", "Tanh", "Exp",
                "Expm1", "Log", "Log1p", "Softplus", "Softsign", "Erf",
                "Erfc", "Sqrt", "Rsqrt", "Square", "Reciprocal", "Inv",
                "Pow", "Abs", "LeakyRelu", "Sin", "Cos", "Atan", "Floor",
                "Ceil", "Round", "Sign", "SquaredDifference", "ClipByValue",
                "LogicalAnd", "LogicalOr", "LogicalNot", "Greater",
                "GreaterEqual", "Less", "LessEqual", "Equal", "NotEqual",
                "DivNoNan", "Xlogy", "Atan2", "IsFinite", "IsNan", "IsInf"]

#: TensorFlow op type -> builder (see the module docstring)
OP_RULES = dict(
    [(t, linear) for t in _LINEAR]
    + [(t, coefficient) for t in _COEFFICIENT]
    + [(t, elementwise) for t in _ELEMENTWISE]
    + [("Mul", product), ("RealDiv", division), ("Div", division),
       ("MatMul", contraction), ("BatchMatMulV2", contraction),
       ("BatchMatMul", contraction), ("Einsum", contraction),
       ("Maximum", maximum), ("Minimum", maximum), ("GatherV2", gather),
       ("SelectV2", select), ("Select", select),
       ("Softmax", softmax), ("LogSoftmax", softmax),
       ("Max", max_reduce), ("Min", max_reduce),
       ("MaxPool", max_pool), ("MaxPool3D", max_pool)])
OP_RULES["Transpose"] = transpose   # (not ``linear``: pairs cancel)
