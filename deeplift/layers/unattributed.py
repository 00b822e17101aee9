"""Nodes whose values carry no attribution: what a model computes from
the *shape* of its inputs only (a position-embedding table broadcast to
the batch), and what it computes from integer or boolean inputs (a
padding mask ``token_ids != pad``, token types).

Neither has a difference from reference that DeepLIFT could explain:

* :class:`ShapeConstant`: its value depends on the input's shape only, so
  the reference gives the same value (difference 0);
* :class:`Unattributed`: a function of inputs that carry no attribution
  (integer ids, boolean masks).  Its reference is its *actual* value, as
  for a mask input whose reference is the mask itself: the model's
  difference from reference is then carried by the attributed inputs
  (the token embeddings) alone, and a token's reference embedding does
  not also switch the mask.  Exception: nodes that compute the indices
  of an :class:`~deeplift.layers.Embedding` lookup (Keras' wrap of
  negative ids) follow the reference ids (the Embedding marks them).

Both send zero multipliers back to their inputs.
"""
import tensorflow as tf

from deeplift.layers.core import ListInputMixin, Node, zero_multipliers


def _float_dtype(xs, default=tf.float32):
    for x in xs:
        if x.dtype.is_floating:
            return x.dtype
    return tf.as_dtype(default)


class _NoAttribution(ListInputMixin, Node):
    """Zero contributions, zero multipliers to every input."""

    def _check_inputs(self):
        if not isinstance(self.inputs, (list, tuple)):
            self.inputs = [self.inputs]
        ListInputMixin._check_inputs(self)

    def contribs(self, state):
        zeros = tf.zeros_like(state.act)
        return zeros, zeros

    def backward(self, state, pos_mxts, neg_mxts):
        out = []
        for s in state.inputs:
            zeros = zero_multipliers(s.act)
            out.append((zeros, zeros))
        return out


class ShapeConstant(_NoAttribution):
    """A value fixed by the input's shape: ``value`` a numpy array (the
    output, of shape ``shape``) or ``fn(batch_size) -> tensor`` (computed
    from the batch size of the first input); ``shape``: the output's
    static shape (batch axis None when it follows the batch).
    ``keras_class``: the Keras layer it was traced from (reports)."""

    #: reports show it as a constant, not as traced ops
    constant_output = True

    def __init__(self, value, shape, keras_class=None, **kwargs):
        super(ShapeConstant, self).__init__(**kwargs)
        self.value = value
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.keras_class = keras_class
        self.op_counts = {}

    def forward(self, xs):
        """The constant for the batch size of ``xs[0]``, in the data's
        float dtype."""
        dtype = _float_dtype(xs)
        if callable(self.value):
            out = self.value(tf.shape(xs[0])[0])
        else:
            out = tf.constant(self.value)
        return tf.cast(out, dtype) if out.dtype != dtype else out

    def _compute_shape(self, input_shapes):
        return self.shape


class Unattributed(_NoAttribution):
    """``fn(xs)`` of inputs that carry no attribution (``xs``: their
    values, integer or float tensors; the result is cast to the data's
    float dtype, booleans to 0/1).  Its reference is its actual value
    (difference 0, see the module docstring); ``op``: what it computes,
    for reports (``"NotEqual"``); ``dtype``: the float dtype of the
    result when no input is float (default float32; a traced layer's
    compute dtype); ``dtype_from``: the index of an input whose float
    dtype the result takes (the data a mask will meet), else the first
    float input's."""

    #: deeplift.graph.forward_sweep takes the reference equal to the
    #: actual value; an Embedding reading it (indices computed from token
    #: ids) sets it False on the nodes before it, which then follow the
    #: reference ids
    reference_is_actual = True

    def __init__(self, fn, op=None, dtype=None, dtype_from=None, **kwargs):
        super(Unattributed, self).__init__(**kwargs)
        self.fn = fn
        self.op = op
        self.dtype = tf.as_dtype(dtype or tf.float32)
        self.dtype_from = dtype_from

    def forward(self, xs):
        """``fn`` on ``xs``, as a float tensor."""
        out = self.fn(list(xs))
        dtype = _float_dtype(xs if self.dtype_from is None
                             else [xs[self.dtype_from]], self.dtype)
        return tf.cast(out, dtype) if out.dtype != dtype else out

    def _compute_shape(self, input_shapes):
        specs = [tf.TensorSpec(s, tf.float32) for s in input_shapes]
        concrete = tf.function(
            lambda *xs: self.forward(list(xs)),
            autograph=False).get_concrete_function(*specs)
        return tuple(concrete.structured_outputs.shape.as_list())


__all__ = ["ShapeConstant", "Unattributed"]
