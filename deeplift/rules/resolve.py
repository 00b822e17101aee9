"""Which rule a layer uses: one object, :class:`RuleResolver`.

It combines, in this order of precedence:

1. substitutions of a method (e.g. epsilon-LRP replaces the rule of every
   elementwise activation; DeepExplain sends softmax through its
   gradient): ``substitutions={"activation": fn, "softmax": mode}``;
2. per-layer overrides by layer name: ``layer_overrides={name: {mode
   argument: value}}``;
3. the global modes (``nonlinear_mxts_mode``, ``maxpool_deeplift_mode``);

and resolves ``DeepLIFT_GenomicsDefault`` (:func:`genomics_default_mode`).
It imports no layer module (layers are recognised by class name along
their MRO, as 0.6.13 did), so every module may use it.
"""
import logging

from deeplift.modes import (NonlinearMxtsMode, MaxPoolDeepLiftMode,
                            check_mode)

logger = logging.getLogger(__name__)

#: layers DeepLIFT_GenomicsDefault looks through to find the linear layer
TRANSPARENT_FOR_GENOMICS_DEFAULT = ("BatchNormalization", "NoOp")


def _class_names(layer):
    return [klass.__name__ for klass in type(layer).__mro__]


def genomics_default_mode(layer):
    """The mode DeepLIFT_GenomicsDefault means for activation ``layer``:
    RevealCancel after a Dense layer, Rescale after a convolution (any
    class with 'Conv' in its name), looking through BatchNormalization and
    NoOp layers.  After anything else 0.6.13 raised a RuntimeError, and so
    does this."""
    preceding = layer.get_inputs()
    while any(name in TRANSPARENT_FOR_GENOMICS_DEFAULT
              for name in _class_names(preceding)):
        preceding = preceding.get_inputs()
    names = _class_names(preceding)
    if "Dense" in names:
        mode = NonlinearMxtsMode.RevealCancel
    elif any("Conv" in name for name in names):
        mode = NonlinearMxtsMode.Rescale
    else:
        raise RuntimeError(
            "Unsure how to resolve %s for layer %r: the preceding linear "
            "layer %r is of type %s, neither Dense nor a convolution (as in "
            "0.6.13); choose nonlinear_mxts_mode='Rescale' or "
            "'RevealCancel' for this layer (layer_overrides={%r: "
            "{'nonlinear_mxts_mode': ...}})"
            % (NonlinearMxtsMode.DeepLIFT_GenomicsDefault, layer.get_name(),
               preceding.get_name(), type(preceding).__name__,
               layer.get_name()))
    if getattr(layer, "verbose", False):
        logger.info("For layer %s the preceding linear layer is %s of type "
                    "%s; in accordance with nonlinear_mxts_mode=%s we are "
                    "setting the NonlinearMxtsMode to %s", layer.get_name(),
                    preceding.get_name(), type(preceding).__name__,
                    NonlinearMxtsMode.DeepLIFT_GenomicsDefault, mode)
    return mode


class RuleResolver(object):
    """Says which rule each layer uses (see the module docstring).

    ``nonlinear_mxts_mode``: the global mode of activations and nonlinear
    merges; ``maxpool_deeplift_mode``: that of max pooling;
    ``layer_overrides``: ``{layer name: {"nonlinear_mxts_mode": ...,
    "maxpool_deeplift_mode": ...}}``; ``substitutions``: ``{"activation":
    rule function (layer, state, pos_mxts, neg_mxts) -> list of one
    (pos, neg) increment, or None for the layer's own rule; "softmax":
    mode}``.
    """

    def __init__(self, nonlinear_mxts_mode=NonlinearMxtsMode.Rescale,
                 maxpool_deeplift_mode=MaxPoolDeepLiftMode.gradient,
                 layer_overrides=None, substitutions=None):
        self.nonlinear_mxts_mode = check_mode(
            nonlinear_mxts_mode, NonlinearMxtsMode, "nonlinear_mxts_mode")
        self.maxpool_deeplift_mode = check_mode(
            maxpool_deeplift_mode, MaxPoolDeepLiftMode,
            "maxpool_deeplift_mode")
        self.layer_overrides = dict(layer_overrides or {})
        self.substitutions = dict(substitutions or {})
        unknown = set(self.substitutions) - {"activation", "softmax"}
        if unknown:
            raise ValueError("unknown substitution(s) %s; valid: activation, "
                             "softmax" % sorted(unknown))

    def _override(self, layer_name, key, default):
        return self.layer_overrides.get(layer_name, {}).get(key, default)

    def modes_for(self, keys, defaults):
        """The mode arguments of one layer known by ``keys`` (its Keras
        index and names; the first found in ``layer_overrides`` wins):
        ``defaults`` (a dict of mode argument -> value) updated with that
        layer's overrides.  The converters call this for every Keras layer,
        so overrides given to a ``convert_*`` function and to this object
        mean the same thing."""
        modes = dict(defaults)
        for key in keys:
            if key in self.layer_overrides:
                override = self.layer_overrides[key]
                modes.update((mode, override[mode]) for mode in defaults
                             if mode in override)
                break
        return modes

    def nonlinear_mode(self, layer_name):
        """The nonlinear mode asked for ``layer_name`` (GenomicsDefault not
        yet resolved: that needs the graph, see :meth:`activation_mode`)."""
        return check_mode(self._override(layer_name, "nonlinear_mxts_mode",
                                         self.nonlinear_mxts_mode),
                          NonlinearMxtsMode, "nonlinear_mxts_mode")

    def maxpool_mode(self, layer_name):
        return check_mode(self._override(layer_name, "maxpool_deeplift_mode",
                                         self.maxpool_deeplift_mode),
                          MaxPoolDeepLiftMode, "maxpool_deeplift_mode")

    @staticmethod
    def activation_mode(layer, mode):
        """``mode`` with DeepLIFT_GenomicsDefault resolved for ``layer``
        (a wired activation layer)."""
        if mode == NonlinearMxtsMode.DeepLIFT_GenomicsDefault:
            return genomics_default_mode(layer)
        return mode

    def apply(self, layers):
        """Set the modes of already converted ``layers`` (an iterable):
        overrides and the softmax substitution.  Returns ``layers``."""
        layers = list(layers)
        for layer in layers:
            names = _class_names(layer)
            if "Softmax" in names and "softmax" in self.substitutions:
                layer.nonlinear_mxts_mode = check_mode(
                    self.substitutions["softmax"], NonlinearMxtsMode,
                    "softmax substitution")
            elif layer.get_name() in self.layer_overrides:
                if hasattr(layer, "nonlinear_mxts_mode"):
                    layer.nonlinear_mxts_mode = self.nonlinear_mode(
                        layer.get_name())
                if hasattr(layer, "maxpool_deeplift_mode"):
                    layer.maxpool_deeplift_mode = self.maxpool_mode(
                        layer.get_name())
        return layers

    def backward_override(self):
        """The sweep-time override of the graph's backward sweep
        (``override(layer, state, pos, neg)`` -> increments or None), or
        None when nothing is substituted at sweep time."""
        rule = self.substitutions.get("activation")
        if rule is None:
            return None

        def override(layer, state, pos_mxts, neg_mxts):
            names = _class_names(layer)
            if "Activation" in names and "Softmax" not in names:
                return rule(layer, state, pos_mxts, neg_mxts)
            return None
        return override
