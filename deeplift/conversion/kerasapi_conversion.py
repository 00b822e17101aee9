"""Conversion of Keras models (Sequential and functional) to deeplift models.

Entry points:

* :func:`convert_model_from_saved_files` -- a saved model: whole-model HDF5
  (Keras 1/2, ``tf_keras``, Keras 3 ``.h5``), a weights HDF5 file plus a
  JSON/YAML config, or a Keras 3 ``.keras`` archive. Files are read with
  h5py/zipfile/json/yaml; no Keras model is built.
* :func:`convert_keras_model` -- an in-memory ``keras`` or ``tf_keras``
  model.
* :func:`convert_sequential_model` / :func:`convert_functional_model` -- a
  model config in which every layer config carries its weights under
  ``'weights'``.

Naming (identical to deeplift 0.6.13):

* Sequential models: the input layer is named ``"input"``; every other
  layer is named by the index of its Keras layer in the config's layer list
  (an ``InputLayer`` entry in that list takes an index and is skipped).
  Layers of a nested Sequential at index ``i`` are named ``"i-j"``.
* Functional models: ``<keras layer name>_<node index>`` (e.g.
  ``dense_2_0``); layers of a nested functional model get the nested
  model's node name plus ``_`` as a prefix. When a Keras layer also has an
  activation, the linear part is named ``preact_<name>``. The plain Keras
  name (``dense_2``, ``preact_dense_2``) is registered as an alias when it
  is unambiguous.

Unsupported layer classes raise :class:`UnsupportedLayerError` (listing all
of them); layers can be added with ``custom_conversion_funcs`` -- see
:data:`deeplift.conversion.errors.CONVERSION_FUNCTION_CONTRACT`.
"""
import dataclasses
import os

from deeplift.layers import (NonlinearMxtsMode, DenseMxtsMode, ConvMxtsMode,
                             MaxPoolDeepLiftMode)
from deeplift.conversion import readers, registry
from deeplift.conversion.converter import ConversionOptions, Converter
from deeplift.conversion.errors import (CONVERSION_FUNCTION_CONTRACT,
                                        ConversionError,
                                        InvalidModelFileError,
                                        UnsupportedLayerError,
                                        WeightsMismatchError)
from deeplift.conversion.registry import REGISTRY
# the conversion functions 0.6.13 exposed here (public names)
from deeplift.conversion.converters.activations import (  # noqa: F401
    ACTIVATIONS, activation_conversion, activation_to_conversion_function,
    linear_conversion, relu_conversion, sigmoid_conversion, tanh_conversion,
    softmax_conversion, prelu_conversion)
from deeplift.conversion.converters.core import (  # noqa: F401
    input_layer_conversion, noop_conversion, dense_conversion,
    flatten_conversion)
from deeplift.conversion.converters.normalization import (  # noqa: F401
    batchnorm_conversion)
from deeplift.conversion.converters.convolutional import (  # noqa: F401
    conv1d_conversion, conv2d_conversion)
from deeplift.conversion.converters.pooling import (  # noqa: F401
    maxpool1d_conversion, avgpool1d_conversion, maxpool2d_conversion,
    avgpool2d_conversion, globalmaxpool1d_conversion,
    globalavgpool1d_conversion, globalmaxpool2d_conversion,
    globalavgpool2d_conversion)
from deeplift.conversion.converters.merge import \
    concat_conversion as concat_conversion_function  # noqa: F401
from deeplift.modes import enum

__all__ = ["convert_model_from_saved_files", "convert_keras_model",
           "convert_sequential_model", "convert_functional_model",
           "ConversionOptions", "ConversionError", "UnsupportedLayerError",
           "InvalidModelFileError", "WeightsMismatchError", "REGISTRY",
           "ACTIVATIONS", "CONVERSION_FUNCTION_CONTRACT",
           "default_maxpool_deeplift_mode"]

default_maxpool_deeplift_mode = MaxPoolDeepLiftMode.gradient

# names of the original module, kept for scripts that use them
KerasKeys = enum(
    name="name", data_format="data_format", activation="activation",
    filters="filters", kernel_size="kernel_size", padding="padding",
    output_dim="output_dim", stride="stride", pool_size="pool_size",
    strides="strides", mode="mode", weights="weights",
    batch_input_shape="batch_input_shape", axis="axis", epsilon="epsilon")

ActivationTypes = enum(relu="relu", prelu="prelu", sigmoid="sigmoid",
                       tanh="tanh", softmax="softmax", linear="linear")


def layer_name_to_conversion_function(layer_name):
    """The built-in conversion function for a Keras class name (matched
    case-insensitively); raises UnsupportedLayerError when there is none."""
    func = registry.lookup(layer_name)
    if func is None:
        raise UnsupportedLayerError({layer_name: ["(class lookup)"]})
    return func


def _options(args):
    """The :class:`ConversionOptions` of a ``convert_*`` call's arguments."""
    return ConversionOptions(**{field.name: args[field.name] for field in
                                dataclasses.fields(ConversionOptions)})


def convert_sequential_model(
        model_config,
        nonlinear_mxts_mode=NonlinearMxtsMode.DeepLIFT_GenomicsDefault,
        verbose=True,
        dense_mxts_mode=DenseMxtsMode.Linear,
        conv_mxts_mode=ConvMxtsMode.Linear,
        maxpool_deeplift_mode=default_maxpool_deeplift_mode,
        layer_overrides={},
        custom_conversion_funcs={}):
    """Convert a Sequential model config (list of layer entries, or dict
    with 'layers', bare or wrapped as ``{"class_name", "config"}``, where a
    ``"keras_version"`` next to them gives the Keras version's activation
    definitions) whose layer configs carry their weights under
    'weights'. Returns a :class:`deeplift.models.SequentialModel`.

    ``layer_overrides`` maps a Keras layer index (or a deeplift layer name)
    to a dict of modes (``nonlinear_mxts_mode``, ``dense_mxts_mode``,
    ``conv_mxts_mode``, ``maxpool_deeplift_mode``) used for that layer.
    """
    return Converter(_options(locals())).convert(model_config, "Sequential")


def convert_functional_model(
        model_config,
        nonlinear_mxts_mode=NonlinearMxtsMode.DeepLIFT_GenomicsDefault,
        verbose=True,
        dense_mxts_mode=DenseMxtsMode.Linear,
        conv_mxts_mode=ConvMxtsMode.Linear,
        maxpool_deeplift_mode=default_maxpool_deeplift_mode,
        layer_overrides={},
        custom_conversion_funcs={}):
    """Convert a functional model config (dict with 'layers',
    'input_layers', 'output_layers', bare or wrapped as in
    :func:`convert_sequential_model`) whose layer configs carry their
    weights under 'weights'. Returns a :class:`deeplift.models.GraphModel`.

    ``layer_overrides`` maps a deeplift node name (``dense_2_0``) or a Keras
    layer name to a dict of modes used for that layer.
    """
    return Converter(_options(locals())).convert(model_config, "Functional")


def convert_model_from_saved_files(
        h5_file, json_file=None, yaml_file=None,
        nonlinear_mxts_mode=NonlinearMxtsMode.DeepLIFT_GenomicsDefault,
        verbose=True,
        dense_mxts_mode=DenseMxtsMode.Linear,
        conv_mxts_mode=ConvMxtsMode.Linear,
        maxpool_deeplift_mode=default_maxpool_deeplift_mode,
        layer_overrides={},
        custom_conversion_funcs={}):
    """Convert a saved Keras model.

    ``h5_file``: a whole-model HDF5 file (Keras 1/2, tf_keras or Keras 3
    ``.h5``), a weights-only HDF5 file (then give ``json_file`` or
    ``yaml_file``, as written by ``model.to_json()``/``to_yaml()``), or a
    Keras 3 ``.keras`` archive. Returns a ``SequentialModel`` for Sequential
    models and a ``GraphModel`` for functional ones. Activations are those
    of the Keras version that wrote the model (Keras 1/2's
    ``hard_sigmoid`` differs from Keras 3's).

    Raises :class:`UnsupportedLayerError` (a ``ValueError``) listing every
    layer without a conversion; ``custom_conversion_funcs={"ClassName":
    fn}`` supplies conversions (contract in
    ``deeplift.conversion.errors.CONVERSION_FUNCTION_CONTRACT``).
    """
    model_class_and_config, store = readers.read_saved_files(
        h5_file, json_file=json_file, yaml_file=yaml_file)
    config_file = json_file if json_file is not None else yaml_file
    source = os.fspath(h5_file)
    if config_file is not None:
        source = "%s + %s" % (os.fspath(config_file), source)
    return Converter(_options(locals())).convert(
        model_class_and_config, store=store, source=source)


def convert_keras_model(
        model,
        nonlinear_mxts_mode=NonlinearMxtsMode.DeepLIFT_GenomicsDefault,
        verbose=True,
        dense_mxts_mode=DenseMxtsMode.Linear,
        conv_mxts_mode=ConvMxtsMode.Linear,
        maxpool_deeplift_mode=default_maxpool_deeplift_mode,
        layer_overrides={},
        custom_conversion_funcs={}):
    """Convert an in-memory Keras 3 ``keras.Model`` or ``tf_keras`` model
    (Sequential or functional). Same options and results as
    :func:`convert_model_from_saved_files`."""
    model_class_and_config, store = readers.read_keras_model(model)
    return Converter(_options(locals())).convert(
        model_class_and_config, store=store, source=store.source)
