"""TimeDistributed (the inner layer's conversion applied per time step by
folding time into the batch axis) and Keras 3's ``GetItem`` op node
(``h[:, 0, :]`` and other constant indices), converted from memory,
``.keras`` and ``.h5``: forward == Keras, Gradient == tf.GradientTape,
Rescale and RevealCancel sum to the output difference
(tests/layer_checks.check_converted)."""
import numpy as np
import pytest
import keras
import tensorflow as tf

from tests.layer_checks import (  # noqa: F401 (fixture)
    restore_dtype_policy, randomized, converted_data, check_converted)


def _time_distributed(dtype):
    """DeepTopic-LSTM-like: a conv tower, TimeDistributed Dense and a
    TimeDistributed Conv1D over (N, T, L, C) windows, an LSTM."""
    keras.config.set_dtype_policy(dtype)
    keras.utils.set_random_seed(0)
    x = keras.Input((6, 5, 4), dtype=dtype, name="input")
    h = keras.layers.TimeDistributed(keras.layers.Conv1D(
        3, 2, activation="relu"), name="td_conv")(x)      # (N, 6, 4, 3)
    h = keras.layers.TimeDistributed(keras.layers.Flatten(),
                                     name="td_flat")(h)   # (N, 6, 12)
    h = keras.layers.TimeDistributed(keras.layers.Dense(
        5, activation="tanh"), name="td_dense")(h)        # (N, 6, 5)
    h = keras.layers.LSTM(4, name="lstm")(h)
    return keras.Model(x, keras.layers.Dense(2, name="out")(h))


def _getitem(dtype):
    """ViT-like class-token read-out and other constant indices."""
    keras.config.set_dtype_policy(dtype)
    keras.utils.set_random_seed(1)
    x = keras.Input((7, 4), dtype=dtype, name="input")
    h = keras.layers.Dense(6, activation="tanh", name="proj")(x)
    cls = h[:, 0, :]                                       # (N, 6)
    every_other = h[:, 1:6:2]                              # (N, 3, 6)
    last = h[..., -1]                                      # (N, 7)
    rev = h[:, ::-1, None, 2]                              # (N, 7, 1)
    parts = [cls, keras.layers.Flatten()(every_other), last,
             keras.layers.Flatten()(rev)]
    h = keras.layers.Concatenate(name="cat")(parts)
    return keras.Model(x, keras.layers.Dense(3, name="out")(h))


def _cases():
    """(builder, tasks, fmt, dtype); the TimeDistributed model's float64
    rerun (15-20 s on 2 cores) runs in the slow set."""
    for builder, tasks in [(_time_distributed, (0, 1)), (_getitem, (0, 2))]:
        for fmt, dtype in [("memory", "float32"), ("keras", "float32"),
                           ("h5", "float32"), ("memory", "float64")]:
            slow = builder is _time_distributed and dtype == "float64"
            yield pytest.param(
                builder, tasks, fmt, dtype,
                id="%s-%s-%s" % (builder.__name__, fmt, dtype),
                marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize("builder,tasks,fmt,dtype", list(_cases()))
def test_converted(builder, tasks, fmt, dtype, tmp_path):
    kmodel = randomized(builder(dtype), scale=0.7)
    check_converted(kmodel, *converted_data(kmodel, dtype), fmt, tmp_path,
                    "out_0", tasks, full=(fmt == "memory"))


def test_getitem_keys():
    """Keras refuses to index the batch axis of a symbolic tensor; a
    config that does anyway, or an index tensor, is refused."""
    import deeplift.layers as L
    from deeplift.conversion.converters.ops import OpNotSupported, getitem_op
    from deeplift.conversion.keras_config import TensorArg
    inp = L.Input(batch_shape=(None, 4, 3), name="in")
    full = {"class_name": "__slice__",
            "config": {"start": None, "stop": None, "step": None}}
    first = {"class_name": "__slice__",
             "config": {"start": 0, "stop": 1, "step": None}}
    for key, message in (([first, 0], "batch axis"), (0, "batch axis"),
                         ([full, TensorArg(1)], "indexing with")):
        with pytest.raises(OpNotSupported, match=message):
            getitem_op(args=[TensorArg(0), key], inputs=[inp], name="g")
    layer, = getitem_op(args=[TensorArg(0), [full, 2]], inputs=[inp],
                        name="g")
    layer.build_fwd_pass_vars()
    assert tuple(layer.get_shape()) == (None, 3)
    x = np.arange(24.0).reshape(2, 4, 3)
    np.testing.assert_array_equal(np.asarray(layer.forward([tf.constant(x)])), x[:, 2])


def test_time_distributed_of_an_unknown_class_names_it():
    from deeplift.conversion.converters.wrappers import \
        timedistributed_conversion
    from deeplift.conversion.errors import UnsupportedLayerError
    config = {"name": "td", "layer": {"class_name": "Whatever",
                                      "config": {}}, "weights": []}
    with pytest.raises(UnsupportedLayerError, match="Whatever"):
        timedistributed_conversion(config=config, name="td_0",
                                   lookup=lambda *args: None)
