"""SequentialModel and GraphModel: the original's model API over the
compiled scorer in :mod:`deeplift.scoring`."""
import logging

import numpy as np

from deeplift.modes import enum
from deeplift.layers.core import Input, Layer, ScoringMode, check_mode
from deeplift.layers.activations import Activation
from deeplift.graph import topological_order
from deeplift.scoring import Scorer, Predictor, CONTRIBS, MULTIPLIERS

logger = logging.getLogger(__name__)

FuncType = enum(
    contribs="contribs", multipliers="multipliers",
    contribs_of_input_with_filter_refs="contribs_of_input_with_filter_refs")


def _shape(layer):
    """A layer's output shape as text, '?' when unknown."""
    try:
        return str(tuple(layer.get_shape()))
    except Exception:   # a placeholder or unbuilt layer: shape unknown
        return "?"


class ScoringFunction(object):
    """What ``get_target_contribs_func`` / ``get_target_multipliers_func``
    return: ``f(task_idx, input_data_list, batch_size=100,
    progress_update=None, input_references_list=None, target_weights=None,
    fuse=None)``.

    ``task_idx``: an int, or a list of T ints (then each array gets a
    leading task axis, (T, N, ...), and one forward pass per batch serves
    all T tasks).  ``input_data_list``: one array per input (or a dict by
    input name); ``input_references_list``: None (zeros), one array per
    input, shared (no batch axis or batch 1) or one per example.
    ``target_weights`` (optional): (N or 1,) + target shape array of
    target multipliers used instead of the one-hot task.  ``fuse``: run
    the rules' large elementwise math XLA-compiled (same numbers; None:
    from ``deeplift.scoring.FUSE_MIN_EXAMPLES`` examples on).  Returns a
    numpy array (a list of arrays when several layers were asked for).

    ``scorer``: the underlying :class:`deeplift.scoring.Scorer`;
    ``accepts_task_lists``: True (helpers such as
    ``deeplift.util.get_shuffle_seq_ref_function`` then pass a task list
    in one call).
    """

    accepts_task_lists = True

    def __init__(self, scorer, single, scoring_mode=None):
        self.scorer = scorer
        self.single = single
        self.scoring_mode = scoring_mode

    def __call__(self, task_idx, input_data_list, batch_size=100,
                 progress_update=None, input_references_list=None,
                 target_weights=None, fuse=None):
        results = self.scorer.run(
            input_data_list=input_data_list,
            input_references_list=input_references_list,
            task_idx=task_idx, batch_size=batch_size,
            progress_update=progress_update, target_weights=target_weights,
            scoring_mode=self.scoring_mode, fuse=fuse)
        return results[0] if self.single else results


class Model(object):
    """Common scoring logic and model navigation; subclasses resolve layer
    references."""

    def input_layers(self):
        """The Input layers, in the order data is given."""
        raise NotImplementedError()

    def layer(self, ref, what=None):
        """The layer ``ref`` designates: a Layer, or an index or name
        (Sequential) / a name or alias (Graph); ``what`` names the argument
        in errors."""
        raise NotImplementedError()

    def input_names(self):
        """The names of the model's input layers (a list of strings)."""
        return [l.get_name() for l in self.input_layers()]

    def all_layers(self):
        """Every layer of the model (inputs first, in topological order)."""
        raise NotImplementedError()

    def input_layer(self):
        """The single Input layer; a ValueError naming the inputs when the
        model has several."""
        inputs = self.input_layers()
        if len(inputs) != 1:
            raise ValueError("this needs a model with one input; this one "
                             "has %d: %s" % (len(inputs), self.input_names()))
        return inputs[0]

    def output_layers(self):
        """The layers that feed no other layer (the model's outputs)."""
        return [l for l in self.all_layers() if not l.get_output_layers()]

    def output_layer(self):
        """The single output layer; a ValueError naming the outputs when
        there are several."""
        outputs = self.output_layers()
        if len(outputs) != 1:
            raise ValueError(
                "the model has %d output layers (%s); give the target layer "
                "by name: target_layer=<name> (usually the layer before an "
                "output's activation)" % (len(outputs), ", ".join(
                    "%s %s" % (l.get_name(), _shape(l)) for l in outputs)))
        return outputs[0]

    @staticmethod
    def pre_activation(layer):
        """The layer before ``layer`` when ``layer`` is an activation with
        one input (e.g. the logits before a softmax), else ``layer``."""
        if isinstance(layer, Activation) and len(layer.input_layers()) == 1:
            return layer.input_layers()[0]
        return layer

    def default_target(self):
        """The usual target layer: the single output, or the layer before
        it when the output is an activation (its pre-activation, e.g. the
        logits before a softmax).  A ValueError names the outputs when
        there are several."""
        return self.pre_activation(self.output_layer())

    def output_chain(self):
        """``[output, the layer feeding it, ...]``: from the single output
        layer back through layers that have one input (ValueError as
        :meth:`output_layer` when there are several outputs)."""
        chain = [self.output_layer()]
        while len(chain[-1].input_layers()) == 1:
            chain.append(chain[-1].input_layers()[0])
        return chain

    def resolve(self, ref, what=None):
        """The layer ``ref`` designates: a Layer, an index or a layer name
        (Sequential), a name or alias (Graph); same as :meth:`layer`.
        ``what`` (e.g. ``"target_layer"``) is named in the error for an
        unknown name."""
        return self.layer(ref, what)

    def score_layer(self, ref):
        """A layer to score: as :meth:`resolve`, except that for a
        GraphModel an int ``i`` is the model's ``i``-th input."""
        return self.layer(ref)

    def target_layer(self, ref=None, what="target_layer"):
        """The target layer ``ref`` designates: None -> the
        :meth:`default_target`; a Layer; an index (Sequential: a layer
        index; Graph: a negative int counts back along
        :meth:`output_chain`, -1 the output, -2 the layer feeding it); a
        name."""
        if ref is None:
            return self.default_target()
        return self.resolve(ref, what)

    def check_target(self, target_layer):
        """Refuse an activation layer as target (as the original did);
        warn about unusual targets."""
        if isinstance(target_layer, Activation):
            raise RuntimeError(
                "You set the target layer to an activation layer (%r), "
                "which is unusual so I am throwing an error - did you mean "
                "to set the target layer to the layer *before* the "
                "activation layer instead? (recommended for classification)"
                "%s" % (target_layer.get_name(), (
                    "; that is %r" % self.pre_activation(
                        target_layer).get_name()
                    if self.pre_activation(target_layer) is not target_layer
                    else "")))
        outputs = target_layer.get_output_layers()
        if len(outputs) > 1:
            logger.warning("the target layer %r has multiple output layers "
                           "%s", target_layer.get_name(),
                           [o.get_name() for o in outputs])
        elif len(outputs) == 1 and not isinstance(outputs[0], Activation):
            logger.warning("There is a layer after your target layer %r but "
                           "it is not an activation layer, which is unusual; "
                           "double check you have set the target layer "
                           "correctly.", target_layer.get_name())

    def _get_func(self, find_scores_layers, target_layer, input_layers,
                  func_type, scoring_mode=None):
        single = not isinstance(find_scores_layers, (list, tuple))
        layers = [find_scores_layers] if single else list(find_scores_layers)
        self.check_target(target_layer)
        if scoring_mode is not None:
            check_mode(scoring_mode, ScoringMode, "scoring_mode")
        kind = {FuncType.contribs: CONTRIBS,
                FuncType.multipliers: MULTIPLIERS}[func_type]
        scorer = Scorer(input_layers=input_layers, score_layers=layers,
                        target_layer=target_layer, kind=kind,
                        input_names=self.input_names())

        return ScoringFunction(scorer, single, scoring_mode=scoring_mode)

    def get_target_contribs_func(self, *args, **kwargs):
        """Returns ``func(task_idx, input_data_list, batch_size,
        progress_update, input_references_list=None)`` giving the
        contributions of the scored layer(s) to target unit ``task_idx``
        (an int, or a list of ints for a leading task axis)."""
        return self._get_func(*args, func_type=FuncType.contribs, **kwargs)

    def get_target_multipliers_func(self, *args, **kwargs):
        """Like :meth:`get_target_contribs_func` but returns multipliers."""
        return self._get_func(*args, func_type=FuncType.multipliers,
                              **kwargs)

    def get_target_contribs_of_input_with_filter_ref_func(self, *args,
                                                          **kwargs):
        """0.6.13 had this name, but no layer of it implemented the scores
        it asked for (calling it raised AttributeError); this raises a
        NotImplementedError saying so."""
        raise NotImplementedError(
            "get_target_contribs_of_input_with_filter_ref_func was never "
            "implemented by any deeplift layer (0.6.13 raised "
            "AttributeError); use get_target_contribs_func")

    def rebuild_fwd_pass_vars(self, target_layer):
        """Forget and re-infer the shapes and wiring of ``target_layer`` and
        its ancestors (the original rebuilt its TF1 graph here)."""
        target_layer.reset_built_fwd_pass_vars()
        target_layer.build_fwd_pass_vars()

    def save_to_yaml_only(self, file_name):
        """Not implemented, as in 0.6.13 (NotImplementedError)."""
        raise NotImplementedError("saving a deeplift model to YAML was not "
                                  "implemented in 0.6.13 either; convert "
                                  "the Keras model again instead")

    @classmethod
    def load_model_from_yaml_contents_only(cls, yaml_contents):
        """Not implemented, as in 0.6.13 (NotImplementedError)."""
        raise NotImplementedError("loading a deeplift model from YAML was "
                                  "not implemented in 0.6.13 either; "
                                  "convert the Keras model instead")

    @staticmethod
    def load_model_from_yaml_file_only(file_name):
        """Not implemented, as in 0.6.13 (NotImplementedError)."""
        return Model.load_model_from_yaml_contents_only(None)

    def prediction_function(self, input_layers, output_layer):
        """``f(input_data_list, batch_size, progress_update=None)`` -> the
        activations of ``output_layer`` given the ``input_layers``."""
        predictor = Predictor(input_layers, output_layer,
                              input_names=[l.get_name()
                                           for l in input_layers])

        def prediction_function(input_data_list, batch_size=100,
                                progress_update=None):
            return predictor.run(input_data_list, batch_size=batch_size,
                                 progress_update=progress_update)
        return prediction_function


class SequentialModel(Model):
    """A chain of layers; ``layers[0]`` is the Input."""

    def __init__(self, layers):
        super(SequentialModel, self).__init__()
        self._layers = list(layers)
        if not self._layers or not isinstance(self._layers[0], Input):
            raise ValueError("a SequentialModel's first layer must be an "
                             "Input layer")
        self._layers[-1].build_fwd_pass_vars()

    def get_layers(self):
        """The model's layers in order (the list itself, input first)."""
        return self._layers

    def all_layers(self):
        return list(self._layers)

    def input_layers(self):
        return [self._layers[0]]

    def output_layers(self):
        return [self._layers[-1]]

    def layer(self, ref, what=None):
        """A Layer, an index into :meth:`get_layers` or a layer's name (a
        ValueError lists the names for an unknown one, naming ``what``)."""
        if isinstance(ref, Layer):
            return ref
        if isinstance(ref, str):
            names = [l.get_name() for l in self._layers]
            if ref in names:
                return self._layers[names.index(ref)]
            raise ValueError("unknown layer name %r%s; the layers are: %s"
                             % (ref, " for %s" % what if what else "",
                                ", ".join(map(str, names))))
        return self._layer(ref)

    def _layer(self, idx):
        try:
            return self._layers[idx]
        except (IndexError, TypeError):
            raise ValueError("layer index %r is out of range: the model has "
                             "%d layers (0..%d)" % (idx, len(self._layers),
                                                    len(self._layers) - 1))

    def _get_func(self, find_scores_layer_idx, target_layer_idx=-2,
                  func_type=None, **kwargs):
        if isinstance(find_scores_layer_idx, (list, tuple)):
            find_scores_layers = [self._layer(i)
                                  for i in find_scores_layer_idx]
        else:
            find_scores_layers = self._layer(find_scores_layer_idx)
        return super(SequentialModel, self)._get_func(
            find_scores_layers=find_scores_layers,
            target_layer=self._layer(target_layer_idx),
            input_layers=self.input_layers(), func_type=func_type,
            **kwargs)

    def get_prediction_function(self, input_layer_idx=0,
                                output_layer_idx=-1):
        """``f(input_data_list, batch_size, progress_update=None)`` -> the
        activations of layer ``output_layer_idx``."""
        return self.prediction_function([self._layer(input_layer_idx)],
                                         self._layer(output_layer_idx))


def _one_of(by_name, by_idx, name_arg, idx_arg, what):
    """The one of ``by_name`` / ``by_idx`` that was given; a TypeError
    naming both arguments when neither or both were."""
    if by_name is not None and by_idx is not None:
        raise TypeError("give either %s or %s, not both" % (name_arg, idx_arg))
    if by_name is None and by_idx is None:
        raise TypeError("missing %s: pass %s or %s" % (what, name_arg,
                                                         idx_arg))
    return by_name if by_name is not None else by_idx


class GraphModel(Model):
    """A DAG of named layers with named inputs.

    ``name_aliases`` (optional): extra names (e.g. plain Keras layer names)
    mapping to layer names, usable wherever a layer name is accepted.
    """

    def __init__(self, name_to_layer, input_layer_names, name_aliases=None):
        super(GraphModel, self).__init__()
        self._name_to_layer = name_to_layer
        self._input_layer_names = list(input_layer_names)
        self._name_aliases = dict(name_aliases or {})
        for name in self._input_layer_names:
            self._resolve(name)
        for layer in self._name_to_layer.values():
            if not layer.get_output_layers():
                layer.build_fwd_pass_vars()

    def get_name_to_layer(self):
        """The dict of layer name to layer (the model's own, not a copy)."""
        return self._name_to_layer

    def all_layers(self):
        return topological_order([l for l in self._name_to_layer.values()
                                  if not l.get_output_layers()])

    def get_input_layer_names(self):
        """The names of the input layers, in the model's input order."""
        return self._input_layer_names

    def input_layers(self):
        return [self._resolve(n) for n in self._input_layer_names]

    def input_names(self):
        return list(self._input_layer_names)

    def _resolve(self, name):
        if name in self._name_to_layer:
            return self._name_to_layer[name]
        if name in self._name_aliases:
            return self._name_to_layer[self._name_aliases[name]]
        close = sorted(n for n in self._name_to_layer
                       if str(name) in n or n in str(name))[:10]
        raise KeyError("no layer named %r in this model%s; layer names: %s"
                       % (name, (" (similar: %s)" % close) if close else "",
                          list(self._name_to_layer)[:50]))

    def get_layer(self, name):
        """The layer called ``name`` (or one of its aliases)."""
        return self._resolve(name)

    def layer(self, ref, what=None):
        """A Layer, or a layer's name or alias (KeyError listing the names
        for an unknown one)."""
        if isinstance(ref, Layer):
            return ref
        return self._resolve(ref)

    def score_layer(self, ref):
        if isinstance(ref, (int, np.integer)) and not isinstance(ref, bool):
            inputs = self.input_layers()
            if not -len(inputs) <= ref < len(inputs):
                raise ValueError("the model has %d input(s); input index %d "
                                 "is out of range" % (len(inputs), ref))
            return inputs[ref]
        return self.layer(ref)

    def target_layer(self, ref=None, what="target_layer"):
        if isinstance(ref, (int, np.integer)) and not isinstance(ref, bool):
            if ref >= 0:
                raise ValueError("for a GraphModel an int %s counts back "
                                 "from the output (-1, -2, ...); got %d"
                                 % (what, ref))
            chain = self.output_chain()
            if -ref > len(chain):
                raise ValueError("%s %d is out of range: the output chain "
                                 "has %d layer(s)" % (what, ref, len(chain)))
            return chain[-ref - 1]
        return super(GraphModel, self).target_layer(ref, what)

    def _get_func(self, find_scores_layer_name=None,
                  pre_activation_target_layer_name=None, func_type=None,
                  find_scores_layer_idx=None, target_layer_idx=None,
                  **kwargs):
        """As 0.6.13 (layer names), and also with a SequentialModel's
        arguments: ``find_scores_layer_idx`` is an input index (or list),
        ``target_layer_idx`` a negative int counting back from the output
        (-2: the layer feeding the output, e.g. the logits before a fused
        softmax).  A plain Keras layer name (an alias) of a layer with a
        fused or separate activation, given as
        ``pre_activation_target_layer_name``, means the layer before that
        activation, as the argument's name says."""
        scores = _one_of(find_scores_layer_name, find_scores_layer_idx,
                         "find_scores_layer_name", "find_scores_layer_idx",
                         "the layer to score (usually the input, e.g. "
                         "find_scores_layer_idx=0 or find_scores_layer_name="
                         "%r)" % (self._input_layer_names[:1] or ["input"])[0])
        target = _one_of(pre_activation_target_layer_name, target_layer_idx,
                         "pre_activation_target_layer_name",
                         "target_layer_idx",
                         "the target layer (e.g. target_layer_idx=-2, the "
                         "layer before the output's activation, or "
                         "pre_activation_target_layer_name=<layer name>)")
        if isinstance(scores, (list, tuple)):
            find_scores_layers = [self.score_layer(n) for n in scores]
        else:
            find_scores_layers = self.score_layer(scores)
        if isinstance(target, str):
            target_layer = self._resolve(target)
            before = self.pre_activation(target_layer)
            if target not in self._name_to_layer and before is not \
                    target_layer:
                logger.info("pre_activation_target_layer_name %r is the "
                            "Keras name of an activation (%r); using the "
                            "layer before it, %r", target,
                            target_layer.get_name(), before.get_name())
                target_layer = before
        else:
            target_layer = self.target_layer(target,
                                             "pre_activation_target_layer")
        return super(GraphModel, self)._get_func(
            find_scores_layers=find_scores_layers,
            target_layer=target_layer,
            input_layers=self.input_layers(), func_type=func_type,
            **kwargs)

    def get_prediction_function(self, input_layer_names, output_layer_name):
        """``f(input_data_list, batch_size, progress_update=None)`` -> the
        activations (numpy array) of the layer ``output_layer_name`` for the
        inputs named in ``input_layer_names`` (a list of names)."""
        return self.prediction_function(
            [self._resolve(n) for n in input_layer_names],
            self._resolve(output_layer_name))
