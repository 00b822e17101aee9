"""Embedding: integer indices -> rows of a table (Keras' ``Embedding``)."""
import numpy as np
import tensorflow as tf

from deeplift.layers.core import (SingleInputMixin, Node, as_float_array,
                                  zero_multipliers)


class Embedding(SingleInputMixin, Node):
    """Row lookup: integer indices (given as numbers) -> rows of
    ``embeddings`` (``(input_dim, output_dim)``).

    Indices are not differentiable, so scoring starts here: no multipliers
    go back to the index input, and contributions are reported at *this*
    layer's output (pass it as the layer to find scores for).  The
    reference of the index input selects the reference rows (e.g. the
    padding token), so the contributions of each position's embedding
    vector are relative to the reference token's vector.

    Indices computed from the integer input by nodes without attribution
    (:class:`~deeplift.layers.unattributed.Unattributed`: Keras' wrap of
    negative indices in a traced ``take``) take their references from the
    input's references, not their actual values.

    The index ``input_dim`` (one past the table, which Keras refuses as an
    input) gives the zero vector: a reference of that index makes the
    reference embedding zeros (:func:`deeplift.tokens.score_tokens` with
    ``reference="zeros"``).  Other indices outside the table raise.
    """

    def __init__(self, embeddings, **kwargs):
        super(Embedding, self).__init__(**kwargs)
        self.embeddings = as_float_array(embeddings)
        if self.embeddings.ndim != 2:
            raise ValueError("Embedding weights must be (input_dim, "
                             "output_dim); got shape %s"
                             % (self.embeddings.shape,))

    def _on_built(self):
        # indices computed from integer inputs by nodes that carry no
        # attribution (negative ids wrapped, a cast: deeplift.layers.
        # unattributed.Unattributed) follow the reference token ids: only
        # masks hold their actual values
        stack = list(self.input_layers())
        while stack:
            layer = stack.pop()
            if getattr(layer, "reference_is_actual", False):
                layer.reference_is_actual = False
                stack.extend(layer.input_layers())

    @property
    def zero_index(self):
        """The index whose row is the zero vector (``input_dim``)."""
        return int(self.embeddings.shape[0])

    def forward(self, xs):
        x = xs[0]
        # integer indices: the table's dtype (float64 tables stay exact)
        dtype = x.dtype if x.dtype.is_floating else tf.as_dtype(
            self.embeddings.dtype)
        table = tf.constant(np.concatenate(
            [self.embeddings, np.zeros((1, self.embeddings.shape[1]))]),
            dtype=dtype)
        if x.dtype.is_floating:
            x = tf.round(x)
        return tf.gather(table, tf.cast(x, tf.int32))

    def _compute_shape(self, input_shapes):
        return tuple(input_shapes[0]) + (int(self.embeddings.shape[1]),)

    def backward(self, state, pos_mxts, neg_mxts):
        zeros = zero_multipliers(state.input.act)
        return [(zeros, zeros)]
