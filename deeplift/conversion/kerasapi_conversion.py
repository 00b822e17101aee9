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
import logging
import os

from deeplift.layers import (NonlinearMxtsMode, DenseMxtsMode, ConvMxtsMode,
                             MaxPoolDeepLiftMode)
from deeplift.conversion import loading, readers, registry
from deeplift.conversion.converter import ConversionOptions, Converter
from deeplift.conversion.errors import (CONVERSION_FUNCTION_CONTRACT,
                                        ConversionError,
                                        InvalidModelFileError,
                                        UnsupportedLayerError,
                                        WeightsMismatchError)
from deeplift.conversion.registry import REGISTRY
# the conversion functions 0.6.13 exposed here (public names)
from deeplift.conversion.converters.activations import (  # noqa: F401
    ACTIVATIONS, activation_conversion, linear_conversion, relu_conversion,
    sigmoid_conversion, tanh_conversion, softmax_conversion, prelu_conversion)
from deeplift.conversion.converters.core import (  # noqa: F401
    input_layer_conversion, noop_conversion, dense_conversion)
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
    """The :class:`ConversionOptions` of a ``convert_*`` call's arguments
    (a field that is not among them keeps its default)."""
    return ConversionOptions(**{field.name: args[field.name] for field in
                                dataclasses.fields(ConversionOptions)
                                if field.name in args})


def _options_of_kwargs(func_name, kwargs):
    """The :class:`ConversionOptions` of ``kwargs``; ``TypeError`` naming
    an unknown option and the known ones."""
    known = [field.name for field in dataclasses.fields(ConversionOptions)]
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        raise TypeError("%s() got unexpected keyword argument(s) %s; its "
                        "options are: %s" % (func_name, ", ".join(
                            repr(k) for k in unknown), ", ".join(known)))
    return ConversionOptions(**kwargs)


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


def convert_model_from_saved_files(h5_file, json_file=None, yaml_file=None,
                                   **kwargs):
    """Convert a saved Keras model; ``kwargs`` are the options of
    :func:`convert_sequential_model` (:class:`ConversionOptions`: the
    modes, ``verbose``, ``layer_overrides``, ``custom_conversion_funcs``),
    as in 0.6.13; an unknown one raises ``TypeError`` before any file is
    read.

    A model with a layer class that has no conversion (or a ``Lambda``)
    is loaded by Keras so that the converter can trace it, safely (see
    :mod:`deeplift.conversion.loading`): ``import_packages=["crested"]``
    names the packages whose modules the model file may name (they are
    imported; Keras' own are allowed), and ``trust_model=True`` lets a
    ``Lambda``'s Python code run; otherwise a
    :class:`~deeplift.conversion.loading.ModelLoadingError` names the
    module and the option, and a Lambda stays a placeholder.

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
    options = _options_of_kwargs("convert_model_from_saved_files", kwargs)
    model_class_and_config, store = readers.read_saved_files(
        h5_file, json_file=json_file, yaml_file=yaml_file)
    config_file = json_file if json_file is not None else yaml_file
    source = os.fspath(h5_file)
    if config_file is not None:
        source = "%s + %s" % (os.fspath(config_file), source)
    blocked = None
    try:
        live = loading.keras_layers_for(
            model_class_and_config, h5_file, json_file=json_file,
            yaml_file=yaml_file,
            custom_conversion_funcs=options.custom_conversion_funcs,
            trust_model=options.trust_model,
            import_packages=options.import_packages, source=source)
    except loading.ModuleNotNamedError as exc:
        blocked, live = exc, None
    if live is not None:
        # the converter traces the layers it has no conversion for
        options.keras_layers = live
    try:
        model = Converter(options).convert(
            model_class_and_config, store=store, source=source)
    except UnsupportedLayerError as err:
        if blocked is None:
            raise
        raise loading.ModuleNotNamedError(
            str(blocked), err.unsupported, err.ops, err.settings) from err
    if blocked is not None:
        logging.getLogger(__name__).warning("%s", blocked)
    return model


def convert_keras_model(
        model,
        nonlinear_mxts_mode=NonlinearMxtsMode.DeepLIFT_GenomicsDefault,
        verbose=True,
        dense_mxts_mode=DenseMxtsMode.Linear,
        conv_mxts_mode=ConvMxtsMode.Linear,
        maxpool_deeplift_mode=default_maxpool_deeplift_mode,
        layer_overrides={},
        custom_conversion_funcs={},
        trust_model=False):
    """Convert an in-memory Keras 3 ``keras.Model`` or ``tf_keras`` model
    (Sequential or functional). Same options and results as
    :func:`convert_model_from_saved_files`. A layer whose class has no
    conversion (a custom layer, ``MultiHeadAttention``, a subclassed
    model inside the model) is traced into TensorFlow ops and converted op
    by op (README: "Models with layers deeplift has no converter for");
    ``Lambda`` layers (Python code of the model) are traced only with
    ``trust_model=True``."""
    model_class_and_config, store = readers.read_keras_model(model)
    options = _options(locals())
    options.keras_layers = live_keras_layers(model)
    return Converter(options).convert(
        model_class_and_config, store=store, source=store.source)


def live_keras_layers(model):
    """``{Keras layer name: layer object}`` of ``model`` and of the models
    nested in it (what op-level conversion traces)."""
    found = {}
    stack = [model]
    while stack:
        container = stack.pop()
        for layer in getattr(container, "layers", None) or []:
            found.setdefault(layer.name, layer)
            if getattr(layer, "layers", None) is not None and \
                    layer is not container:
                stack.append(layer)
    return found


# --------------------------------------------------------------------------
# the rest of 0.6.13's module surface: thin wrappers over the converter
# --------------------------------------------------------------------------
from collections import OrderedDict  # noqa: E402

from deeplift import layers  # noqa: E402
from deeplift.conversion import keras_config as _keras_config  # noqa: E402
from deeplift.conversion.converters import core as _core  # noqa: E402
from deeplift.conversion.converters import pooling as _pooling  # noqa: E402
from deeplift.conversion.converters import \
    activations as _activations  # noqa: E402
from deeplift.conversion.placeholder import Placeholder as _Placeholder  # noqa: E402,E501


def validate_keys(a_dict, required_keys):
    """Raise ``AssertionError`` (as 0.6.13 did) naming the first of
    ``required_keys`` missing from ``a_dict`` and the keys it has."""
    for required_key in required_keys:
        if required_key not in a_dict:
            raise AssertionError(
                "%s is a required key for the dict, but keys are only: %s"
                % (required_key, list(a_dict.keys())))


def prep_pool1d_kwargs(config, name, verbose):
    """The keyword arguments of ``MaxPool1D``/``AvgPool1D`` for a Keras
    1D pooling layer config: ``name``, ``verbose``, ``pool_length``,
    ``stride``, ``padding`` (upper case)."""
    return _pooling._pool1d_kwargs(config, name, verbose)


def prep_pool2d_kwargs(config, name, verbose):
    """The keyword arguments of ``MaxPool2D``/``AvgPool2D`` for a Keras
    2D pooling layer config: ``name``, ``verbose``, ``pool_size``,
    ``strides``, ``padding`` (upper case), ``data_format``."""
    return _pooling._pool2d_kwargs(config, name, verbose)


#: 0.6.13's names of the global 1D pooling conversions
globalmaxpooling1d_conversion = globalmaxpool1d_conversion
globalavgpooling1d_conversion = globalavgpool1d_conversion


def flatten_conversion(name, verbose, config=None, **kwargs):
    """``[Flatten]`` (0.6.13 signature: the config is optional; when
    given, a ``channels_first`` one is refused)."""
    return _core.flatten_conversion(config if config is not None else {},
                                    name, verbose, **kwargs)


def activation_to_conversion_function(activation_name):
    """The conversion function of a Keras activation name (any case),
    called as ``fn(name=, verbose=, nonlinear_mxts_mode=)`` and returning
    a list of deeplift layers (empty for ``linear``). An unknown name
    raises :class:`ConversionError` listing the supported ones."""
    return _activations.activation_to_conversion_function(activation_name)


def insert_weights_into_nested_model_config(nested_model_weights,
                                            nested_model_layer_config):
    """Set ``config["weights"]`` of each layer entry in
    ``nested_model_layer_config`` (recursing into nested Sequential and
    functional models) from ``nested_model_weights``, a mapping of weight
    names (``"dense_1/kernel:0"``, as in a nested model's HDF5 group) to
    arrays: a layer gets the arrays under its name, in mapping order."""
    store = readers._FlatNamedWeights(list(nested_model_weights.items()),
                                      "nested model weights")
    readers.insert_weights(nested_model_layer_config, store)


def _container_converter(verbose, nonlinear_mxts_mode, dense_mxts_mode,
                         conv_mxts_mode, maxpool_deeplift_mode,
                         layer_overrides, custom_conversion_funcs):
    return Converter(ConversionOptions(
        nonlinear_mxts_mode=nonlinear_mxts_mode, verbose=verbose,
        dense_mxts_mode=dense_mxts_mode, conv_mxts_mode=conv_mxts_mode,
        maxpool_deeplift_mode=maxpool_deeplift_mode,
        layer_overrides=layer_overrides or {},
        custom_conversion_funcs=custom_conversion_funcs or {}))


def sequential_container_conversion(config, name, verbose,
                                    nonlinear_mxts_mode, dense_mxts_mode,
                                    conv_mxts_mode, maxpool_deeplift_mode,
                                    converted_layers=None,
                                    layer_overrides={},
                                    custom_conversion_funcs={}):
    """Convert a Sequential layer list (``config``: entries whose configs
    carry their weights under ``'weights'``, or a config dict with
    ``'layers'``) and append its layers to ``converted_layers`` (which
    it returns), wired after its last layer; without ``converted_layers``
    the first layer is left unwired (``set_inputs`` it). Layers are named
    ``<name>-<index>`` (``<index>`` when ``name`` is empty);
    ``layer_overrides`` is keyed by index in the list."""
    if converted_layers is None:
        converted_layers = []
    entries = readers.container_layer_entries("Sequential", config)
    converter = _container_converter(
        verbose, nonlinear_mxts_mode, dense_mxts_mode, conv_mxts_mode,
        maxpool_deeplift_mode, layer_overrides, custom_conversion_funcs)
    prev = converted_layers[-1] if converted_layers else None
    stand_in = None
    if prev is None:
        stand_in = layers.Input(batch_shape=[None], name="\0unwired")
        prev = stand_in
    created = converter.sequential(entries, name + "-" if name else "",
                                   prev, True)
    if stand_in is not None:
        for layer in created:
            if layer.get_inputs() is stand_in:
                layer.inputs = None
    converted_layers.extend(created)
    return converted_layers


class ConvertedModelContainer(object):
    """What :func:`functional_container_conversion` returns:
    ``node_id_to_deeplift_layers`` (Keras node id -> its deeplift layers,
    the node's output last), ``node_id_to_input_node_info`` (node id ->
    ``None`` for an input, ``(input node id, 0)``, or a list of those for
    a layer with several inputs), ``name_to_deeplift_layer``,
    ``input_layer_names`` and ``output_layers`` (in the model's order)."""

    def __init__(self, node_id_to_deeplift_layers,
                 node_id_to_input_node_info, name_to_deeplift_layer,
                 input_layer_names, output_layers):
        self.node_id_to_deeplift_layers = node_id_to_deeplift_layers
        self.node_id_to_input_node_info = node_id_to_input_node_info
        self.name_to_deeplift_layer = name_to_deeplift_layer
        self.input_layer_names = input_layer_names
        self.output_layers = output_layers


def _node_id(layer_name):
    return (layer_name[len("preact_"):] if layer_name.startswith("preact_")
            else layer_name)


def _input_node_info(layer):
    inputs = layer.get_inputs()
    if inputs is None:
        return None
    if isinstance(inputs, (list, tuple)):
        return [(_node_id(i.get_name()), 0) for i in inputs]
    return (_node_id(inputs.get_name()), 0)


def functional_container_conversion(config, name, verbose,
                                    nonlinear_mxts_mode, dense_mxts_mode,
                                    conv_mxts_mode, maxpool_deeplift_mode,
                                    layer_overrides, custom_conversion_funcs,
                                    outer_inbound_node_infos=None,
                                    node_id_to_deeplift_layers=None,
                                    node_id_to_input_node_info=None,
                                    name_to_deeplift_layer=None):
    """Convert a functional model config (layer configs carrying their
    weights) into a :class:`ConvertedModelContainer`; node ids are
    ``<name>_<keras layer>_<node index>`` (no prefix when ``name`` is
    empty). With ``outer_inbound_node_infos`` (one ``(node id, tensor
    index)`` per model input, resolved in ``node_id_to_deeplift_layers``)
    the model's inputs become NoOps fed by those layers. The three dicts,
    when given, are extended and returned in the container. Raises
    :class:`UnsupportedLayerError` listing every layer without a
    conversion."""
    if node_id_to_deeplift_layers is None:
        node_id_to_deeplift_layers = OrderedDict()
    if node_id_to_input_node_info is None:
        node_id_to_input_node_info = OrderedDict()
    if name_to_deeplift_layer is None:
        name_to_deeplift_layer = OrderedDict()
    prefix = name + "_" if name else ""
    outer_inputs = None
    if outer_inbound_node_infos:
        outer_inputs = []
        for node_id, tensor_idx in outer_inbound_node_infos:
            if node_id not in node_id_to_deeplift_layers:
                raise ConversionError(
                    "outer_inbound_node_infos names node '%s', which is not "
                    "in node_id_to_deeplift_layers" % node_id)
            converted = node_id_to_deeplift_layers[node_id]
            outer_inputs.append(
                converted.output_layers[tensor_idx]
                if isinstance(converted, ConvertedModelContainer)
                else converted[-1])
    converter = _container_converter(
        verbose, nonlinear_mxts_mode, dense_mxts_mode, conv_mxts_mode,
        maxpool_deeplift_mode, layer_overrides, custom_conversion_funcs)
    output_layers, created = converter.functional(config, prefix,
                                                  outer_inputs)
    if any(isinstance(o, _Placeholder) for o in output_layers):
        raise converter.blockers
    for layer in created:
        group = node_id_to_deeplift_layers.setdefault(
            _node_id(layer.get_name()), [])
        if not group:
            node_id_to_input_node_info[_node_id(layer.get_name())] = \
                _input_node_info(layer)
        group.append(layer)
        name_to_deeplift_layer[layer.get_name()] = layer
    graph = _keras_config.FunctionalGraph(config)
    input_layer_names = [prefix + graph.node_name(graph.resolve(ref)[0])
                         for ref in graph.input_refs]
    return ConvertedModelContainer(
        node_id_to_deeplift_layers=node_id_to_deeplift_layers,
        node_id_to_input_node_info=node_id_to_input_node_info,
        name_to_deeplift_layer=name_to_deeplift_layer,
        input_layer_names=input_layer_names,
        output_layers=list(output_layers))
