"""ChromBPNet's full model (bias model + bias-free BPNet), built with
ChromBPNet's own layer recipe under tf_keras (its
``chrombpnet_with_bias_model.py`` and ``bpnet_model.py``), small.

Both sub-models are nested ``Model`` layers applied to one input
``sequence``; the profile logits are ``Add``-ed (layer
``logits_profile_predictions``, shape (None, out_len)); the two counts
(None, 1) are concatenated and combined by ChromBPNet's ``Lambda``
``tf.math.reduce_logsumexp(x, axis=-1, keepdims=True)`` (layer
``logcount_predictions``).  Random weights, scaled so that activations
stay O(1).
"""
import numpy as np
import tensorflow as tf   # a global of the Lambda, as in ChromBPNet


def _bpnet(k2, filters, n_dil_layers, sequence_len, out_pred_len, prefix,
           name, conv1_kernel_size=7, profile_kernel_size=9):
    """ChromBPNet's ``bpnet_model`` (smaller kernels by default)."""
    inp = k2.Input(shape=(sequence_len, 4), name="sequence")
    x = k2.layers.Conv1D(filters, kernel_size=conv1_kernel_size,
                         padding="valid", activation="relu",
                         name=prefix + "bpnet_1st_conv")(inp)
    for i in range(1, n_dil_layers + 1):
        conv_x = k2.layers.Conv1D(filters, kernel_size=3, padding="valid",
                                  activation="relu", dilation_rate=2 ** i,
                                  name=prefix + "bpnet_%dconv" % i)(x)
        x_len, conv_x_len = x.shape[1], conv_x.shape[1]
        x = k2.layers.Cropping1D((x_len - conv_x_len) // 2,
                                 name=prefix + "bpnet_%dcrop" % i)(x)
        x = k2.layers.add([conv_x, x])
    prof_out_precrop = k2.layers.Conv1D(
        filters=1, kernel_size=profile_kernel_size, padding="valid",
        name=prefix + "bpnet_prof_out_precrop")(x)
    cropsize = int(prof_out_precrop.shape[1] / 2) - int(out_pred_len / 2)
    assert cropsize >= 0 and prof_out_precrop.shape[1] % 2 == 0
    prof = k2.layers.Cropping1D(
        cropsize, name=prefix + "bpnet_logitt_before_flatten")(
            prof_out_precrop)
    profile_out = k2.layers.Flatten(
        name=prefix + "bpnet_logits_profile_predictions")(prof)
    gap_combined_conv = k2.layers.GlobalAvgPool1D(name=prefix + "gap")(x)
    count_out = k2.layers.Dense(
        1, name=prefix + "bpnet_logcount_predictions")(gap_combined_conv)
    return k2.Model(inputs=[inp], outputs=[profile_out, count_out],
                    name=name)


def chrombpnet_full(sequence_len=96, out_pred_len=40, filters=8,
                    n_dil_layers=3, bias_filters=4, bias_dil_layers=2,
                    seed=0):
    """The tf_keras model: outputs [logits_profile_predictions (None,
    out_pred_len), logcount_predictions (None, 1)]."""
    import tf_keras as k2
    k2.utils.set_random_seed(seed)
    bias_model = _bpnet(k2, bias_filters, bias_dil_layers, sequence_len,
                        out_pred_len, "", "model_bias")
    for layer in bias_model.layers:
        layer.trainable = False
    bpnet_model_wo_bias = _bpnet(k2, filters, n_dil_layers, sequence_len,
                                 out_pred_len, "wo_bias_", "model_wo_bias")
    inp = k2.Input(shape=(sequence_len, 4), name="sequence")
    bias_output = bias_model(inp)
    output_wo_bias = bpnet_model_wo_bias(inp)
    profile_out = k2.layers.Add(name="logits_profile_predictions")(
        [output_wo_bias[0], bias_output[0]])
    concat_counts = k2.layers.Concatenate(axis=-1)(
        [output_wo_bias[1], bias_output[1]])
    count_out = k2.layers.Lambda(
        lambda x: tf.math.reduce_logsumexp(x, axis=-1, keepdims=True),
        name="logcount_predictions")(concat_counts)
    model = k2.Model(inputs=[inp], outputs=[profile_out, count_out])
    rng = np.random.RandomState(seed)
    for sub in (bias_model, bpnet_model_wo_bias):
        for layer in sub.layers:
            if layer.get_weights():
                layer.set_weights([rng.uniform(-0.4, 0.4, w.shape)
                                   for w in layer.get_weights()])
    return model
