"""Batch normalization (inference form: a per-channel affine map)."""
import numpy as np
import tensorflow as tf

from deeplift.layers.core import (SingleInputMixin, Node, positive_part,
                                  negative_part, as_float_array)


class BatchNormalization(SingleInputMixin, Node):
    """``gamma * (x - mean) / sqrt(var + epsilon) + beta`` along ``axis``.

    Contributions and multipliers scale by ``gamma / std``; a negative
    ``gamma`` swaps the positive and negative parts.
    """

    def __init__(self, gamma, beta, axis, mean, var, epsilon, **kwargs):
        super(BatchNormalization, self).__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise ValueError("BatchNormalization over several axes %s is "
                                 "not supported" % (axis,))
            axis = axis[0]
        self.axis = int(axis)
        self.mean = as_float_array(mean)
        self.var = as_float_array(var)
        self.gamma = (np.ones_like(self.mean) if gamma is None
                      else as_float_array(gamma))
        self.beta = (np.zeros_like(self.mean) if beta is None
                     else as_float_array(beta))
        self.epsilon = float(epsilon)
        for label, arr in (("mean", self.mean), ("var", self.var),
                           ("gamma", self.gamma), ("beta", self.beta)):
            if arr.ndim != 1:
                raise ValueError("BatchNormalization %s must be 1-D, got "
                                 "shape %s" % (label, arr.shape))

    def _compute_shape(self, input_shapes):
        return tuple(input_shapes[0])

    def _reshaped(self, array, ndim, dtype):
        axis = self.axis % ndim
        shape = [1] * ndim
        shape[axis] = array.shape[0]
        return tf.constant(array.reshape(shape), dtype=dtype)

    def _scale_and_offset(self, ndim, dtype):
        """``gamma / sqrt(var + epsilon)`` and ``beta - mean * scale`` in
        ``dtype``, computed with the ops (and in the order) of
        ``tf.nn.batch_normalization``, as 0.6.13 did: RevealCancel's
        pseudocount finite differences downstream turn last-bit changes of
        the reference into multiplier changes (tests/reference/README.md,
        "RevealCancel and the last bits")."""
        np_dtype = np.dtype(dtype.as_numpy_dtype)
        var = self._reshaped(self.var.astype(np_dtype)
                             + np_dtype.type(self.epsilon), ndim, dtype)
        inv = tf.math.rsqrt(var) * self._reshaped(self.gamma, ndim, dtype)
        offset = (self._reshaped(self.beta, ndim, dtype)
                  - self._reshaped(self.mean, ndim, dtype) * inv)
        return inv, offset

    def forward(self, xs):
        x = xs[0]
        scale, offset = self._scale_and_offset(len(x.shape), x.dtype)
        return x * scale + offset

    def contribs(self, state):
        pos_in, neg_in = state.input.contribs
        scale, _ = self._scale_and_offset(len(pos_in.shape), pos_in.dtype)
        spos, sneg = positive_part(scale), negative_part(scale)
        return pos_in * spos + neg_in * sneg, neg_in * spos + pos_in * sneg

    def backward(self, state, pos_mxts, neg_mxts):
        scale, _ = self._scale_and_offset(len(pos_mxts.shape),
                                          pos_mxts.dtype)
        if neg_mxts is pos_mxts:
            out = pos_mxts * scale
            return [(out, out)]
        spos, sneg = positive_part(scale), negative_part(scale)
        return [(pos_mxts * spos + neg_mxts * sneg,
                 pos_mxts * sneg + neg_mxts * spos)]
