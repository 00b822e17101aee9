"""Worked example: converting a model with a custom Keras layer.

The model uses ``ScaledDense``, a custom layer computing
``scale * (x @ kernel + bias)``.  deeplift cannot know its code, so the
conversion raises ``UnsupportedLayerError`` naming the class and the layer.
A conversion function maps it onto deeplift layers: here a single ``Dense``
whose kernel and bias absorb ``scale``.

Contract of a conversion function (see
``deeplift.conversion.errors.CONVERSION_FUNCTION_CONTRACT``): it is called
with keyword arguments ``config`` (the layer's Keras config, with its
weights as a list of numpy arrays under ``config['weights']``), ``name``
(the deeplift name to give), ``verbose``, ``nonlinear_mxts_mode``,
``dense_mxts_mode``, ``conv_mxts_mode``, ``maxpool_deeplift_mode`` (accept
``**kwargs`` for the rest) and returns a list of deeplift layers wired in
sequence: the first receives the Keras layer's inputs, the last is its
output.

    python examples/custom_layer/convert_custom_layer.py
"""
import os
import tempfile

import keras
import numpy as np

import deeplift.layers as layers
from deeplift.conversion import kerasapi_conversion as kc
from deeplift.conversion.errors import UnsupportedLayerError


@keras.saving.register_keras_serializable(package="example")
class ScaledDense(keras.layers.Layer):
    def __init__(self, units, scale=2.0, **kwargs):
        super().__init__(**kwargs)
        self.units, self.scale = units, scale

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                      name="kernel")
        self.bias = self.add_weight(shape=(self.units,), name="bias",
                                    initializer="random_normal")

    def call(self, x):
        return self.scale * (x @ self.kernel + self.bias)

    def get_config(self):
        return dict(super().get_config(), units=self.units, scale=self.scale)


def scaled_dense_conversion(config, name, verbose, dense_mxts_mode,
                            **kwargs):
    kernel, bias = config["weights"]
    scale = config["scale"]
    return [layers.Dense(kernel=scale * kernel, bias=scale * bias,
                         dense_mxts_mode=dense_mxts_mode, name=name,
                         verbose=verbose)]


def main():
    inp = keras.Input((5,))
    hidden = keras.layers.Dense(4, activation="relu")(inp)
    out = ScaledDense(2, scale=3.0, name="scaled")(hidden)
    model = keras.Model(inp, out)
    path = os.path.join(tempfile.mkdtemp(), "custom.keras")
    model.save(path)
    try:
        kc.convert_model_from_saved_files(path, verbose=False)
    except UnsupportedLayerError as err:
        print("without a custom conversion:", err)
    converted = kc.convert_model_from_saved_files(
        path, verbose=False,
        custom_conversion_funcs={"ScaledDense": scaled_dense_conversion})
    x = np.random.RandomState(0).randn(8, 5).astype("float32")
    name = converted.get_input_layer_names()[0]
    ours = converted.get_prediction_function([name], "scaled_0")([x], 8)
    print("max |deeplift - keras| =",
          float(np.abs(ours - model.predict(x, verbose=0)).max()))
    scores = converted.get_target_contribs_func(
        find_scores_layer_name=name,
        pre_activation_target_layer_name="scaled_0")(
        task_idx=1, input_data_list=[x], batch_size=8, progress_update=None)
    delta = model.predict(x, verbose=0)[:, 1] - model.predict(
        np.zeros_like(x), verbose=0)[:, 1]
    print("summation to delta, max error =",
          float(np.abs(scores.sum(axis=1) - delta).max()))
    return ours, model.predict(x, verbose=0), scores, delta


if __name__ == "__main__":
    main()
