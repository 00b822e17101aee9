"""A small genomics attention model in Keras 3 (used by tests and bench/).

``attention_like(...)``: one-hot input (length, 4), layer ``"sequence"`` ->
Conv1D(filters, first_width, relu, same) ``"stem"`` -> AveragePooling1D(pool)
``"pool"`` (``length // pool`` tokens) -> one post-norm transformer block:
MultiHeadAttention(heads, key_dim) self-attention ``"mha"``, residual
``"attn_add"``, LayerNormalization ``"attn_norm"``, Dense(2 * filters, relu)
``"mlp_up"``, Dense(filters) ``"mlp_down"``, residual ``"mlp_add"``,
LayerNormalization ``"mlp_norm"`` -> GlobalAveragePooling1D ``"gap"`` ->
Dense(1) ``"counts"`` (a log-counts-like scalar, the one output).

Average rather than max pooling: every layer then converts, with the
default options, to rules whose contributions sum to the output difference
(the default max-pooling rule, ``gradient``, does not), so the scores that
``bench/flop_account.py`` times are the ones its tests check.  Keras 3
because the converter traces ``MultiHeadAttention`` from the live
layer (``kerasapi_conversion.convert_keras_model``).  Random weights
(``seed``); no positional encoding (the attention pattern does not matter
for FLOPs or for summation to delta).
"""


def attention_like(length=500, filters=64, first_width=21, pool=4, heads=4,
                   key_dim=16, seed=0):
    """The Keras 3 functional model, output layer ``"counts"`` (None, 1)."""
    import keras
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    inp = keras.Input((length, 4), name="sequence")
    h = layers.Conv1D(filters, first_width, padding="same",
                      activation="relu", name="stem")(inp)
    h = layers.AveragePooling1D(pool, name="pool")(h)
    a = layers.MultiHeadAttention(num_heads=heads, key_dim=key_dim,
                                  name="mha")(h, h)
    h = layers.LayerNormalization(name="attn_norm")(
        layers.Add(name="attn_add")([h, a]))
    f = layers.Dense(2 * filters, activation="relu", name="mlp_up")(h)
    f = layers.Dense(filters, name="mlp_down")(f)
    h = layers.LayerNormalization(name="mlp_norm")(
        layers.Add(name="mlp_add")([h, f]))
    out = layers.Dense(1, name="counts")(
        layers.GlobalAveragePooling1D(name="gap")(h))
    return keras.Model(inp, out)
