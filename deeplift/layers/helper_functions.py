"""0.6.13's ``deeplift.layers.helper_functions``: small tensor helpers.

The masks and the pseudocount are those of :mod:`deeplift.rules.ops`
(the rules use them); the rest keep 0.6.13's names and arguments with
TensorFlow 2 ops.  All take and return tensors.
"""
import tensorflow as tf

from deeplift.rules.ops import (gt_mask, lt_mask, gte_mask,  # noqa: F401
                                lte_mask, eq_mask, pseudocount_near_zero,
                                shapley_product_coefficients)


def conv1d_transpose_via_conv2d(value, kernel, tensor_with_output_shape,
                                stride, padding):
    """The transpose of a 1-D convolution of ``kernel`` (width, in, out)
    applied to ``value`` (batch, length, out), shaped like
    ``tensor_with_output_shape`` (batch, length_in, in)."""
    return tf.squeeze(tf.nn.conv2d_transpose(
        tf.expand_dims(value, 1), kernel[None, :, :, :],
        output_shape=tf.shape(tf.expand_dims(tensor_with_output_shape, 1)),
        strides=(1, 1, stride, 1), padding=padding), 1)


def distribute_over_product(def_act_var1, diff_def_act_var1,
                            def_act_var2, diff_def_act_var2, mult_output):
    """Multipliers of the two factors of a product (the Shapley split):
    each factor's multiplier is ``mult_output`` times the mean of the
    other factor's reference (``def_act``) and actual value
    (``def_act + diff``).  Returns ``(mult_var1, mult_var2)``."""
    coef_of_2, coef_of_1 = shapley_product_coefficients(
        def_act_var1 + diff_def_act_var1, def_act_var1,
        def_act_var2 + diff_def_act_var2, def_act_var2)
    return mult_output * coef_of_1, mult_output * coef_of_2


def add_val_to_col(var, col, val):
    """``var`` (batch, n) with ``val`` added to column ``col``."""
    var = tf.convert_to_tensor(var)
    column = tf.one_hot(col, tf.shape(var)[1], dtype=var.dtype)
    return var + tf.cast(val, var.dtype) * column[None, :]
