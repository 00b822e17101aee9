"""Random test networks built twice: as a Keras model (the independent
truth for forward passes and gradients) and as a hand-wired deeplift layer
chain with the same weights.  Independent of deeplift.conversion."""
import numpy as np
import keras

import deeplift.layers as L
from deeplift.layers import NonlinearMxtsMode
from deeplift.models import SequentialModel

ACT_CLASSES = {"relu": L.ReLU, "sigmoid": L.Sigmoid, "tanh": L.Tanh}


def _activation(name, mode):
    return ACT_CLASSES[name](nonlinear_mxts_mode=mode)


def build(spec, input_shape, mode=NonlinearMxtsMode.Rescale, seed=0,
          maxpool_mode="gradient", dtype="float32"):
    """``spec``: list of tuples, e.g. ("dense", 8, "relu"),
    ("conv1d", filters, width, stride, dilation, padding, act),
    ("conv2d", filters, (kh, kw), strides, padding, act),
    ("maxpool1d", size, stride, padding), ("avgpool1d", ...),
    ("maxpool2d", size, strides, padding), ("avgpool2d", ...),
    ("gmaxpool1d",), ("gavgpool1d",), ("gmaxpool2d",), ("gavgpool2d",),
    ("bn",), ("flatten",), ("prelu",), ("act", name).
    A Dense/Conv with an activation becomes two deeplift layers
    (pre-activation then activation).  Returns (keras_model,
    deeplift SequentialModel, index of the last pre-activation layer).
    """
    rng = np.random.RandomState(seed)
    keras.utils.set_random_seed(seed)
    kin = keras.Input(shape=input_shape, dtype=dtype)
    x = kin
    dl = [L.Input(batch_shape=(None,) + tuple(input_shape), name="input")]

    def add(layer):
        layer.set_inputs(dl[-1])
        dl.append(layer)

    def randomize(klayer, scale=0.5):
        klayer.set_weights([rng.uniform(-1, 1, w.shape) * scale + (
            0.1 * rng.randn(*w.shape) if w.ndim == 1 else 0)
            for w in klayer.get_weights()])

    for item in spec:
        kind = item[0]
        if kind == "dense":
            _, units, act = item
            kl = keras.layers.Dense(units, dtype=dtype)
            x = kl(x)
            randomize(kl)
            w, b = kl.get_weights()
            add(L.Dense(kernel=w, bias=b))
        elif kind == "conv1d":
            _, filters, width, stride, dilation, padding, act = item
            kl = keras.layers.Conv1D(filters, width, strides=stride,
                                     dilation_rate=dilation, padding=padding,
                                     dtype=dtype)
            x = kl(x)
            randomize(kl)
            w, b = kl.get_weights()
            add(L.Conv1D(kernel=w, bias=b, stride=stride, padding=padding,
                         dilation=dilation))
        elif kind == "conv2d":
            _, filters, ksize, strides, padding, act = item
            kl = keras.layers.Conv2D(filters, ksize, strides=strides,
                                     padding=padding, dtype=dtype)
            x = kl(x)
            randomize(kl)
            w, b = kl.get_weights()
            add(L.Conv2D(kernel=w, bias=b, strides=strides, padding=padding,
                         data_format="channels_last"))
        elif kind in ("maxpool1d", "avgpool1d"):
            _, size, stride, padding = item
            klass = (keras.layers.MaxPooling1D if kind == "maxpool1d"
                     else keras.layers.AveragePooling1D)
            x = klass(size, strides=stride, padding=padding, dtype=dtype)(x)
            if kind == "maxpool1d":
                add(L.MaxPool1D(pool_length=size, stride=stride,
                                padding=padding,
                                maxpool_deeplift_mode=maxpool_mode))
            else:
                add(L.AvgPool1D(pool_length=size, stride=stride,
                                padding=padding))
        elif kind in ("maxpool2d", "avgpool2d"):
            _, size, strides, padding = item
            klass = (keras.layers.MaxPooling2D if kind == "maxpool2d"
                     else keras.layers.AveragePooling2D)
            x = klass(size, strides=strides, padding=padding,
                      dtype=dtype)(x)
            if kind == "maxpool2d":
                add(L.MaxPool2D(pool_size=size, strides=strides,
                                padding=padding,
                                data_format="channels_last",
                                maxpool_deeplift_mode=maxpool_mode))
            else:
                add(L.AvgPool2D(pool_size=size, strides=strides,
                                padding=padding,
                                data_format="channels_last"))
        elif kind in ("gmaxpool1d", "gmaxpool2d"):
            klass = (keras.layers.GlobalMaxPooling1D if kind == "gmaxpool1d"
                     else keras.layers.GlobalMaxPooling2D)
            x = klass(dtype=dtype)(x)
            add((L.GlobalMaxPool1D if kind == "gmaxpool1d"
                 else L.GlobalMaxPool2D)(maxpool_deeplift_mode=maxpool_mode))
        elif kind in ("gavgpool1d", "gavgpool2d"):
            klass = (keras.layers.GlobalAveragePooling1D
                     if kind == "gavgpool1d"
                     else keras.layers.GlobalAveragePooling2D)
            x = klass(dtype=dtype)(x)
            add(L.GlobalAvgPool1D() if kind == "gavgpool1d"
                else L.GlobalAvgPool2D())
        elif kind == "bn":
            kl = keras.layers.BatchNormalization(epsilon=1e-3, dtype=dtype)
            x = kl(x)
            ch = kl.get_weights()[0].shape[0]
            gamma = rng.uniform(-1.5, 1.5, ch)
            beta = rng.randn(ch) * 0.2
            mean = rng.randn(ch) * 0.2
            var = rng.uniform(0.5, 2.0, ch)
            kl.set_weights([gamma, beta, mean, var])
            add(L.BatchNormalization(gamma=gamma, beta=beta, axis=-1,
                                     mean=mean, var=var, epsilon=1e-3))
        elif kind == "flatten":
            x = keras.layers.Flatten(dtype=dtype)(x)
            add(L.Flatten())
        elif kind == "prelu":
            kl = keras.layers.PReLU(dtype=dtype)
            x = kl(x)
            alpha = rng.uniform(0.05, 0.4, kl.get_weights()[0].shape)
            kl.set_weights([alpha])
            add(L.PReLU(alpha=alpha, nonlinear_mxts_mode=mode))
            act = None
        elif kind == "act":
            act = item[1]
        else:
            raise ValueError(kind)
        if kind in ("dense", "conv1d", "conv2d", "act") and act:
            x = keras.layers.Activation(act, dtype=dtype)(x)
            add(_activation(act, mode))
    model = keras.Model(kin, x)
    dmodel = SequentialModel(dl)
    # last layer that is not an activation
    target = max(i for i, l in enumerate(dl)
                 if not isinstance(l, L.Activation))
    return model, dmodel, target


def keras_preactivation(model, target_idx_from_end=None):
    """A Keras model from the input to the last non-Activation layer."""
    last = model.layers[-1]
    if isinstance(last, keras.layers.Activation):
        return keras.Model(model.inputs, model.layers[-2].output)
    return model


def random_data(shape, n, seed=1, dtype=np.float32):
    """``n`` random inputs of ``shape`` and ``n`` references (with 0.3
    times their spread), both drawn from ``RandomState(seed)``."""
    rng = np.random.RandomState(seed)
    return (rng.randn(n, *shape).astype(dtype),
            (0.3 * rng.randn(n, *shape)).astype(dtype))
