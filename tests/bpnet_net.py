"""A ChromBPNet-shaped model in tf_keras (used by tests and bench/).

``chrombpnet_like(...)``: one-hot input (length, 4) -> Conv1D(filters,
first_width, relu, valid) -> ``num_dilated`` residual blocks (Conv1D(filters,
3, dilation 2**i, relu, valid); the block's input cropped symmetrically to
the conv's output length; Add) -> two heads:

* profile: Conv1D(1, profile_width, valid) -> Cropping1D to
  ``profile_length`` -> Flatten: the profile logits, layer
  ``"profile_logits"``, shape (None, profile_length);
* counts: GlobalAveragePooling1D -> Dense(1): layer ``"logcounts"``.

As ChromBPNet's BPNet (filters 512, first width 21, 8 dilated layers,
profile width 75, input 2114, output 1000).  Random weights, scaled so
that activations stay O(1).
"""
import numpy as np


def chrombpnet_like(length=2114, filters=64, num_dilated=8, first_width=21,
                    profile_width=75, profile_length=1000, seed=0):
    """The tf_keras functional model (outputs [profile_logits,
    logcounts])."""
    import tf_keras as k2
    k2.utils.set_random_seed(seed)
    inp = k2.Input((length, 4), name="sequence")
    x = k2.layers.Conv1D(filters, first_width, activation="relu",
                         padding="valid", name="bpnet_1st_conv")(inp)
    for i in range(1, num_dilated + 1):
        conv = k2.layers.Conv1D(filters, 3, activation="relu",
                                padding="valid", dilation_rate=2 ** i,
                                name="bpnet_%d_conv" % i)(x)
        crop = (x.shape[1] - conv.shape[1]) // 2
        x = k2.layers.Cropping1D(crop, name="bpnet_%d_crop" % i)(x)
        x = k2.layers.Add(name="bpnet_%d_add" % i)([conv, x])
    prof = k2.layers.Conv1D(1, profile_width, padding="valid",
                            name="prof_out_precrop")(x)
    crop = (prof.shape[1] - profile_length) // 2
    if crop < 0:
        raise ValueError("input too short for a %d-long profile"
                         % profile_length)
    prof = k2.layers.Cropping1D(
        (crop, prof.shape[1] - profile_length - crop),
        name="prof_crop")(prof)
    prof = k2.layers.Flatten(name="profile_logits")(prof)
    counts = k2.layers.GlobalAveragePooling1D(name="gap")(x)
    counts = k2.layers.Dense(1, name="logcounts")(counts)
    model = k2.Model(inp, [prof, counts])
    # He-like scaling of the residual branches keeps activations O(1)
    for layer in model.layers:
        if isinstance(layer, k2.layers.Conv1D) and layer.name != \
                "bpnet_1st_conv":
            w, b = layer.get_weights()
            layer.set_weights([w * 0.5, b])
    return model


def random_onehot(n, length, seed=0):
    rng = np.random.RandomState(seed)
    return np.eye(4, dtype=np.float32)[rng.randint(0, 4, (n, length))]
