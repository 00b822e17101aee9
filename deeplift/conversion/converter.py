"""Building a deeplift model from a Keras model config: the Sequential and
functional walks, layer naming, mode overrides and aliases.

:class:`ConversionOptions` holds the options shared by the four public
``convert_*`` functions of :mod:`deeplift.conversion.kerasapi_conversion`;
:class:`Converter` converts one model config with them.
"""
import dataclasses
import logging
import re
from collections import OrderedDict
from typing import Any

from deeplift import layers, models
from deeplift.conversion import keras_config, readers, registry, tracing
from deeplift.conversion.errors import (CONVERSION_FUNCTION_CONTRACT,
                                        ConversionError,
                                        UnsupportedLayerError,
                                        WeightsMismatchError)
from deeplift.conversion.placeholder import Placeholder
from deeplift.conversion.converters.activations import (ACTIVATIONS,
                                                        activation_name)
from deeplift.rules.resolve import RuleResolver
from deeplift.layers import (NonlinearMxtsMode, DenseMxtsMode, ConvMxtsMode,
                             MaxPoolDeepLiftMode)

logger = logging.getLogger(__name__)

FUNCTIONALS = keras_config.FUNCTIONALS

#: the modes a conversion function receives (and ``layer_overrides`` set)
MODE_NAMES = ("nonlinear_mxts_mode", "dense_mxts_mode", "conv_mxts_mode",
              "maxpool_deeplift_mode")


@dataclasses.dataclass
class ConversionOptions:
    """The options of every ``convert_*`` function (same names and
    defaults as deeplift 0.6.13's keyword arguments).

    ``layer_overrides`` maps a Keras layer index (Sequential), a deeplift
    node name or a Keras layer name to a dict of modes for that layer;
    ``custom_conversion_funcs`` maps Keras class names to conversion
    functions (taking precedence over the registry).  ``trust_model`` and
    ``import_packages``: how a saved model may be loaded by Keras (see
    :mod:`deeplift.conversion.loading`).
    """
    nonlinear_mxts_mode: Any = NonlinearMxtsMode.DeepLIFT_GenomicsDefault
    verbose: bool = True
    dense_mxts_mode: Any = DenseMxtsMode.Linear
    conv_mxts_mode: Any = ConvMxtsMode.Linear
    maxpool_deeplift_mode: Any = MaxPoolDeepLiftMode.gradient
    layer_overrides: dict = dataclasses.field(default_factory=dict)
    custom_conversion_funcs: dict = dataclasses.field(default_factory=dict)
    #: Keras layer name -> live Keras layer object: a layer whose class has
    #: no conversion is traced into TensorFlow ops (deeplift.conversion.
    #: tracing) when its live object is here
    keras_layers: dict = None
    #: trust the model's own Python code: let Keras load a saved model's
    #: Lambda layers, and trace Lambda layers
    trust_model: bool = False
    #: packages whose modules a saved model may name (imported to load it)
    import_packages: tuple = ()

    def modes(self):
        return {name: getattr(self, name) for name in MODE_NAMES}


_LAYER_PREFIX = re.compile(r"^(Layer|op) '[^']*'( \(deeplift name "
                           r"'[^']*'\))?: ")


def _as_blocker(exc, cls, lname):
    """An :class:`UnsupportedLayerError` for an error converting layer
    ``lname`` of class ``cls``: itself when it is one, else an unsupported
    setting described by the error's message."""
    if isinstance(exc, UnsupportedLayerError):
        return exc
    message = _LAYER_PREFIX.sub("", str(exc).split("\n")[0])
    return UnsupportedLayerError({}, settings={"%s: %s" % (cls, message):
                                               [lname]})


def _unknown_activation(config):
    """Whether a layer config names an activation function that has no
    conversion (:data:`deeplift.conversion.converters.activations.
    ACTIVATIONS`)."""
    if not isinstance(config, dict) or "activation" not in config:
        return False
    return activation_name(config) not in ACTIVATIONS


class Converter(object):
    """Converts one model config with :class:`ConversionOptions`:
    :meth:`convert`."""

    def __init__(self, options):
        self.options = options
        self.modes = options.modes()
        self.layer_overrides = options.layer_overrides or {}
        #: the one rule-resolution object (deeplift.rules.resolve)
        self.resolver = RuleResolver(
            nonlinear_mxts_mode=options.nonlinear_mxts_mode,
            maxpool_deeplift_mode=options.maxpool_deeplift_mode,
            layer_overrides=self.layer_overrides)
        self.custom = dict(options.custom_conversion_funcs or {})
        self.verbose = options.verbose
        self.keras_version = None
        self.name_to_layer = OrderedDict()
        self.aliases = {}
        self._ambiguous_aliases = set()
        self.input_layer_names = []
        #: the model's output layers (in Keras' order) once converted
        self.output_layers = []
        #: every blocker met (an UnsupportedLayerError, maybe empty)
        self.blockers = UnsupportedLayerError({})

    # ---- entry point ----------------------------------------------------

    def convert(self, model_config, kind=None, store=None, source=None):
        """Convert a model config, bare or as ``{"class_name", "config"[,
        "keras_version"]}``: a Sequential one (``kind="Sequential"``), a
        functional one (``kind="Functional"``) or, with ``kind=None``, a
        wrapped one of either kind. ``store``: a weight store whose weights
        are inserted into the layer configs first; ``source``: the model
        file(s) or object, named in error messages."""
        if kind is None:
            class_name = model_config["class_name"]
            if class_name == "Sequential":
                kind = "Sequential"
            elif class_name in FUNCTIONALS:
                kind = "Functional"
            else:
                raise ConversionError(
                    "%s: don't know how to convert a model of class '%s' "
                    "(only Sequential and functional Model/Functional)"
                    % (source, class_name))
        config, self.keras_version = keras_config.unwrap(
            model_config,
            ("Sequential",) if kind == "Sequential" else FUNCTIONALS)
        if kind == "Functional" and not isinstance(config, dict):
            raise ConversionError("A functional model config must be a dict")
        entries = readers.container_layer_entries(kind, config)
        if store is not None:
            readers.insert_weights(entries, store)
        self._log("nonlinear_mxts_mode is set to: %s",
                  self.modes["nonlinear_mxts_mode"])
        try:
            if kind == "Sequential":
                return self._sequential_model(config, entries)
            return self._functional_model(config)
        except UnsupportedLayerError:
            raise
        except ConversionError as exc:
            if source is None or source in str(exc):
                raise
            raise type(exc)("%s: %s" % (source, exc)) from exc

    def _sequential_model(self, config, entries):
        if not entries:
            raise ConversionError("The Sequential model has no layers")
        batch_shape = keras_config.first_batch_shape(entries)
        if batch_shape is None and isinstance(config, dict):
            batch_shape = config.get("build_input_shape")
        if batch_shape is None:
            raise ConversionError(
                "Cannot determine the input shape of the Sequential model: "
                "its first layer has no batch_input_shape/batch_shape (build "
                "the model with an Input or input_shape before saving)")
        input_layer = layers.Input(batch_shape=list(batch_shape),
                                   name="input")
        self._register(input_layer)
        converted = [input_layer] + self.sequential(entries, "", input_layer,
                                                    True)
        converted[-1].build_fwd_pass_vars()
        self.output_layers = [converted[-1]]
        return models.SequentialModel(converted)

    def _functional_model(self, config):
        output_layers, _ = self.functional(config, "", None)
        if not output_layers:
            raise ConversionError("The functional model has no outputs")
        if all(isinstance(o, Placeholder) for o in output_layers):
            raise self.blockers
        holders = [l for l in self.name_to_layer.values()
                   if isinstance(l, Placeholder)]
        if holders:
            logger.warning(
                "%d layer(s) were not converted and are placeholders (an "
                "error if a target needs them): %s", len(holders),
                "; ".join("%s (%s)" % (h.get_name(), h.reason)
                          for h in holders))
        for output_layer in output_layers:
            if not isinstance(output_layer, Placeholder):
                output_layer.build_fwd_pass_vars()
        self.output_layers = list(output_layers)
        return models.GraphModel(name_to_layer=self.name_to_layer,
                                 input_layer_names=self.input_layer_names,
                                 name_aliases=self.finish_aliases())

    # ---- helpers --------------------------------------------------------

    def _log(self, msg, *args):
        logger.log(logging.INFO if self.verbose else logging.DEBUG, msg,
                   *args)

    def _modes_for(self, keys):
        """The modes of the Keras layer known by ``keys`` (its index or
        names), overrides applied by the rule resolver."""
        return self.resolver.modes_for(keys, self.modes)

    def _register(self, layer):
        if not isinstance(layer, layers.Layer):
            raise ConversionError("A conversion function returned %r, which "
                                  "is not a deeplift layer" % (layer,))
        name = layer.get_name()
        if name in self.name_to_layer and self.name_to_layer[name] is not \
                layer:
            raise ConversionError("Two converted layers are both named '%s'"
                                  % name)
        self.name_to_layer[name] = layer

    def _add_alias(self, alias, target):
        if alias == target or alias in self._ambiguous_aliases:
            return
        if alias in self.aliases and self.aliases[alias] != target:
            del self.aliases[alias]
            self._ambiguous_aliases.add(alias)
            return
        self.aliases[alias] = target

    def convert_leaf(self, class_name, config, name, override_keys=(),
                     entry=None, inputs=None, node=None):
        """The deeplift layers of one Keras layer (``entry``: its entry in
        the layer list, for its module and build config). A class without
        a conversion is traced (:meth:`convert_traced`) when ``inputs``
        (its deeplift input layers) are given and its live Keras layer is
        in ``options.keras_layers``; ``node``: its Keras 3 node (the call's
        arguments)."""
        entry = entry or {}
        func = registry.lookup(class_name, self.custom, entry.get("module"))
        lname = (config.get("name", name) if isinstance(config, dict)
                 else name)
        if func is not None and keras_config.has_tensor_kwargs(node):
            raise ConversionError(
                "Layer '%s' is called with tensors as keyword arguments "
                "(%s); this is not supported" % (lname,
                                                 sorted(node["kwargs"])))
        if func is None:
            live = (self.options.keras_layers or {}).get(lname)
            if live is None or inputs is None:
                raise UnsupportedLayerError({class_name: [lname]})
            layer = self.convert_traced(class_name, live, name, inputs, node,
                                        override_keys)
            self._register(layer)
            return [layer]
        try:
            result = func(config=config, name=name, verbose=self.verbose,
                          keras_version=self.keras_version,
                          build_config=entry.get("build_config"),
                          **self._modes_for(override_keys))
        except WeightsMismatchError:
            raise
        except ConversionError as refused:
            # an activation function the converters do not know (e.g. a
            # registered custom one): the layer is traced when its live
            # object is at hand; when tracing fails too, the converter's
            # own error. (Other refused settings stay refused.)
            live = (self.options.keras_layers or {}).get(lname)
            if live is None or inputs is None or class_name in \
                    self.custom or not _unknown_activation(config):
                raise
            try:
                layer = self.convert_traced(class_name, live, name, inputs,
                                            node, override_keys)
            except ConversionError:
                raise refused
            self._log("Layer %s (%s): %s; traced instead", lname,
                      class_name, str(refused).split("\n")[0])
            self._register(layer)
            return [layer]
        if not isinstance(result, (list, tuple)):
            raise ConversionError(
                "The conversion function for %s (layer '%s') returned %r "
                "instead of a list of deeplift layers.\n%s"
                % (class_name, name, type(result).__name__,
                   CONVERSION_FUNCTION_CONTRACT))
        result = list(result)
        for prev, layer in zip(result[:-1], result[1:]):
            layer.set_inputs(prev)
        for layer in result:
            self._register(layer)
        return result

    def convert_traced(self, class_name, keras_layer, name, inputs, node,
                       override_keys=()):
        """A :class:`deeplift.layers.traced.TracedLayer` for the live
        ``keras_layer`` called on ``inputs`` (deeplift layers) as ``node``
        says (``layer(x)`` without a node). ``Lambda`` layers only with
        ``trust_model``."""
        lname = getattr(keras_layer, "name", name)
        if class_name == "Lambda" and not self.options.trust_model:
            # (the error's text names trust_model=True / --trust-model)
            raise UnsupportedLayerError({"Lambda": [lname]})
        if any(isinstance(i, Placeholder) for i in inputs):
            # not traceable without its inputs' shapes: listed as a class
            # without a conversion, as without tracing
            raise UnsupportedLayerError({class_name: [lname]})
        call, dtypes = None, None
        if isinstance(node, dict):
            call = keras_config.op_call(node)
            dtypes = keras_config.node_input_dtypes(node)
        modes = self._modes_for(override_keys)
        layer = tracing.trace_layer(
            keras_layer, name, list(inputs), call=call, input_dtypes=dtypes,
            nonlinear_mxts_mode=modes["nonlinear_mxts_mode"],
            maxpool_deeplift_mode=modes["maxpool_deeplift_mode"],
            verbose=self.verbose, keras_class=class_name)
        self._log("Traced layer %s (%s) into %d TensorFlow ops", lname,
                  class_name, sum(layer.op_counts.values()))
        return layer

    def convert_op(self, entry, node, inputs, name, override_keys=()):
        """The deeplift layers of one Keras 3 op node (wired to
        ``inputs``, the last one its output)."""
        if keras_config.is_tf_op_layer(entry):
            cls, args = keras_config.tf_op_call(entry, node)
            kwargs = {}
        else:
            cls = entry.get("class_name")
            args, kwargs = keras_config.op_call(node)
        func = registry.OPS.get(cls)
        if func is None:
            raise UnsupportedLayerError(
                {}, ops={cls: [entry.get("name", name)]})
        config = entry.get("config") or {}
        dtypes = keras_config.node_input_dtypes(node) \
            if isinstance(node, dict) else []
        result = list(func(args=args, kwargs=kwargs, inputs=inputs,
                           config=config, name=name, verbose=self.verbose,
                           input_dtypes=dtypes,
                           keras_version=self.keras_version,
                           **self._modes_for(override_keys)))
        for layer in result:
            self._register(layer)
        return result

    @staticmethod
    def _wire(layer, inputs, class_name, module=None):
        if len(inputs) == 1 and registry.registry_key(class_name, module) \
                not in registry.MULTI_INPUT_CLASSES:
            layer.set_inputs(inputs[0])
        else:
            layer.set_inputs(list(inputs))

    # ---- blockers and placeholders ---------------------------------------

    def _attempt(self, convert, cls, lname):
        """Run ``convert()``; returns ``(result, None)``, or ``(None,
        blocker)`` when it raises an :class:`UnsupportedLayerError` or a
        :class:`ConversionError` about an unsupported setting (layers it
        registered are removed). Weight and file errors propagate."""
        mark = list(self.name_to_layer)
        try:
            return convert(), None
        except WeightsMismatchError:
            raise
        except ConversionError as exc:
            self._rollback(mark)
            return None, _as_blocker(exc, cls, lname)

    def _rollback(self, mark):
        keep = set(mark)
        for name in list(self.name_to_layer):
            if name not in keep:
                del self.name_to_layer[name]

    def _placeholder(self, node_id, cls, own, inputs):
        """A :class:`Placeholder` for a node with its own blocker ``own``
        (or None) and/or placeholder ``inputs``."""
        blocked = [i for i in inputs if isinstance(i, Placeholder)]
        blockers = own if own is not None else UnsupportedLayerError({})
        for parent in blocked:
            blockers = blockers.merged(parent.blockers)
        if own is not None:
            reason = "; ".join(
                ["Keras class %s has no conversion" % c
                 for c in own.unsupported]
                + ["op %s has no conversion" % o for o in own.ops]
                + list(own.settings))
        else:
            reason = "depends on %s" % ", ".join(p.get_name()
                                                 for p in blocked)
        self.blockers = self.blockers.merged(blockers)
        holder = Placeholder(node_id, reason, blockers, parents=inputs,
                             keras_class=cls)
        self._register(holder)
        return holder

    # ---- Sequential ------------------------------------------------------

    def sequential(self, entries, prefix, prev, top_level):
        """Convert a Sequential layer list after ``prev``; returns the list
        of created layers in order. Raises one
        :class:`UnsupportedLayerError` with every blocker of the list
        (its single output needs all of them)."""
        created = []
        blockers = UnsupportedLayerError({})
        for idx, entry in enumerate(entries):
            cls = entry.get("class_name")
            config = entry.get("config")
            name = prefix + str(idx)
            builtin = cls not in self.custom
            if builtin and cls == "InputLayer":
                self._log("Encountered an Input layer in sequential "
                          "container; skipping due to redundancy")
                continue
            if builtin and cls in FUNCTIONALS:
                result, blocker = self._attempt(
                    lambda: self.functional(config, name + "_", [prev]),
                    cls, readers.layer_entry_name(entry))
                if blocker is not None:
                    blockers = blockers.merged(blocker)
                    continue
                outputs, sub = result
                if len(outputs) != 1:
                    raise ConversionError(
                        "Nested model '%s' at index %d of a Sequential model "
                        "has %d outputs; expected 1"
                        % (config.get("name"), idx, len(outputs)))
                if isinstance(outputs[0], Placeholder):
                    blockers = blockers.merged(outputs[0].blockers)
                    continue
                created.extend(sub)
                prev = outputs[0]
                continue
            if builtin and cls == "Sequential":
                converted, blocker = self._attempt(
                    lambda: self.sequential(
                        readers.container_layer_entries(cls, config),
                        name + "-", prev, False),
                    cls, readers.layer_entry_name(entry))
            else:
                def convert_leaf():
                    out = self.convert_leaf(
                        cls, config, name,
                        ([idx] if top_level else []) + [name], entry,
                        inputs=[prev])
                    if out:
                        self._wire(out[0], [prev], cls, entry.get("module"))
                    return out
                converted, blocker = self._attempt(
                    convert_leaf, cls, readers.layer_entry_name(entry))
            if blocker is not None:
                blockers = blockers.merged(blocker)
                continue
            created.extend(converted)
            if converted:
                prev = converted[-1]
        if not blockers.is_empty():
            raise blockers
        return created

    # ---- functional -----------------------------------------------------

    def functional(self, config, prefix, outer_inputs=None):
        """Convert a functional model config.

        Returns ``(output_layers, created_layers)``; with ``outer_inputs``
        (nested model) the model's inputs become NoOp layers fed by them.
        A node that cannot be converted, or depends on one that cannot,
        becomes a :class:`Placeholder`.
        """
        graph = keras_config.FunctionalGraph(config)
        input_names = graph.input_names
        if outer_inputs is not None and len(outer_inputs) != len(input_names):
            raise ConversionError(
                "Nested model '%s' has %d inputs but is called on %d tensors"
                % (config.get("name"), len(input_names), len(outer_inputs)))

        outputs_of = {}
        created = []
        node_id_of = {}
        for key in graph.order:
            lname, local = key
            info = graph.info[lname]
            entry = info["entry"]
            cls = entry.get("class_name")
            layer_config = entry.get("config")
            builtin = cls not in self.custom
            node_id = prefix + graph.node_name(key)
            node_id_of[key] = node_id
            refs = info["refs"][local]
            inputs = []
            for ref in refs:
                dep, t = graph.resolve(ref)
                dep_outputs = outputs_of[dep]
                if t >= len(dep_outputs):
                    raise ConversionError(
                        "Layer '%s' uses output %d of '%s', which has only "
                        "%d output(s)" % (lname, t, dep[0], len(dep_outputs)))
                inputs.append(dep_outputs[t])
            keys = (node_id, lname)
            blocked = any(isinstance(i, Placeholder) for i in inputs)

            if not refs and builtin and cls == "InputLayer":
                if outer_inputs is not None:
                    if lname not in input_names:
                        raise ConversionError("Nested model input '%s' is not "
                                              "listed in its input_layers"
                                              % lname)
                    outer = outer_inputs[input_names.index(lname)]
                    if isinstance(outer, Placeholder):
                        outputs_of[key] = [outer]
                        continue
                    noop = layers.NoOp(name=node_id, verbose=self.verbose)
                    noop.set_inputs(outer)
                    self._register(noop)
                    converted = [noop]
                else:
                    converted = self.convert_leaf(cls, layer_config, node_id,
                                                  keys, entry)
                    if prefix == "":
                        self._add_alias(lname, converted[-1].get_name())
                outputs_of[key] = [converted[-1]]
                created.extend(converted)
                continue

            if builtin and cls in ("Sequential",) + FUNCTIONALS:
                if blocked:
                    outputs_of[key] = [self._placeholder(node_id, cls, None,
                                                         inputs)]
                    continue
                if cls == "Sequential":
                    if len(inputs) != 1:
                        raise ConversionError("Nested Sequential '%s' has %d "
                                              "inputs" % (lname, len(inputs)))
                    result, blocker = self._attempt(
                        lambda: self.sequential(
                            readers.container_layer_entries(cls,
                                                            layer_config),
                            node_id + "-", inputs[0], False), cls, lname)
                    if blocker is None:
                        created.extend(result)
                        outputs_of[key] = [result[-1] if result
                                           else inputs[0]]
                else:
                    result, blocker = self._attempt(
                        lambda: self.functional(layer_config, node_id + "_",
                                                inputs), cls, lname)
                    if blocker is None:
                        created.extend(result[1])
                        outputs_of[key] = result[0]
                if blocker is not None:
                    outputs_of[key] = [self._placeholder(node_id, cls,
                                                         blocker, inputs)]
                continue

            if keras_config.is_op_node(entry) or (
                    builtin and keras_config.is_tf_op_layer(entry)):
                def convert():
                    return self.convert_op(entry, info["nodes"][local],
                                           inputs, node_id, keys)
            else:
                node = info["nodes"][local]
                if not entry.get("build_config") and node is not None:
                    # the input shape, for converters that need the rank
                    shapes = keras_config.node_input_shapes(node)
                    if len(shapes) == 1 and shapes[0] is not None:
                        entry = dict(entry, build_config={
                            "input_shape": shapes[0]})

                def convert():
                    out = self.convert_leaf(cls, layer_config, node_id, keys,
                                            entry, inputs=inputs, node=node)
                    if out:
                        if not inputs:
                            raise ConversionError("Layer '%s' (%s) has no "
                                                  "inputs" % (lname, cls))
                        self._wire(out[0], inputs, cls, entry.get("module"))
                    return out
            mark = list(self.name_to_layer)
            converted, blocker = self._attempt(convert, cls, lname)
            if blocker is not None or (blocked and converted):
                # a layer after a placeholder is one too (its own blockers,
                # if any, are listed with those it depends on)
                self._rollback(mark)
                outputs_of[key] = [self._placeholder(node_id, cls, blocker,
                                                     inputs)]
                continue
            if converted:
                outputs_of[key] = [converted[-1]]
                created.extend(converted)
                if prefix == "" and len(info["refs"]) == 1:
                    for layer in converted:
                        lyr_name = layer.get_name()
                        if lyr_name.endswith(node_id):
                            self._add_alias(
                                lyr_name[:len(lyr_name) - len(node_id)]
                                + lname, lyr_name)
            else:  # identity (e.g. a linear Activation layer)
                if len(inputs) != 1:
                    raise ConversionError("Layer '%s' (%s) converts to an "
                                          "identity but has %d inputs"
                                          % (lname, cls, len(inputs)))
                outputs_of[key] = [inputs[0]]
                # its names refer to its input (e.g. a model's output
                # 'predictions' with classifier_activation=None)
                self._add_alias(node_id, inputs[0].get_name())
                if prefix == "" and len(info["refs"]) == 1:
                    self._add_alias(lname, inputs[0].get_name())

        output_layers = []
        for ref in graph.output_refs:
            dep, t = graph.resolve(ref, True)
            dep_outputs = outputs_of[dep]
            if t >= len(dep_outputs):
                raise ConversionError("Model output refers to output %d of "
                                      "'%s', which has only %d output(s)"
                                      % (t, dep[0], len(dep_outputs)))
            output_layers.append(dep_outputs[t])
        if outer_inputs is None:
            self.input_layer_names = [
                node_id_of[graph.resolve(r)[0]] for r in graph.input_refs]
        return output_layers, created

    def finish_aliases(self):
        return {alias: target for alias, target in self.aliases.items()
                if alias not in self.name_to_layer}
