"""Exceptions raised while converting Keras models to deeplift models."""

__all__ = ["ConversionError", "InvalidModelFileError", "WeightsMismatchError",
           "UnsupportedLayerError", "CONVERSION_FUNCTION_CONTRACT"]


#: what a conversion function is called with and must return (text)
CONVERSION_FUNCTION_CONTRACT = """\
A conversion function is called with keyword arguments only:
  config                -- the layer's Keras config dict, with the layer's
                           weights inserted under config['weights'] as a
                           list of numpy arrays (in Keras' get_weights() order)
  name                  -- the deeplift name to give to the (last) layer
  verbose               -- bool, pass it on to the deeplift layers
  nonlinear_mxts_mode, dense_mxts_mode, conv_mxts_mode,
  maxpool_deeplift_mode -- the modes in force for this layer
  keras_version         -- the version of Keras that wrote the model (e.g.
                           '2.15.0'; None when unknown, i.e. Keras 3)
  **kwargs              -- anything else; accept and ignore it
and returns a list of deeplift layers. The layers of the list are connected
in sequence (each takes the previous one as input); the first one receives
the Keras layer's input(s) and the last one is the layer's output. An empty
list means the layer is an identity (its input is passed through)."""


class ConversionError(ValueError):
    """A Keras model (or its saved files) could not be converted."""


class InvalidModelFileError(ConversionError):
    """A file is not a readable Keras model / weights / config file."""


class WeightsMismatchError(ConversionError):
    """The weights do not fit the model configuration (missing layer,
    wrong number or shape of arrays)."""


class UnsupportedLayerError(ConversionError):
    """The model contains layers that cannot be converted.

    Attributes (each maps to the list of the layer names concerned):
    ``unsupported``: Keras class name -> layers of a class without a
    converter; ``ops``: Keras 3 op name (``keras.ops`` functions applied to
    tensors) -> op nodes the converter does not know; ``settings``: a
    description of an unsupported setting -> layers using it.
    """

    def __init__(self, unsupported, ops=None, settings=None, target=None):
        self.target = target
        self.unsupported = {cls: list(names)
                            for cls, names in (unsupported or {}).items()}
        self.ops = {op: list(names) for op, names in (ops or {}).items()}
        self.settings = {what: list(names)
                         for what, names in (settings or {}).items()}
        super().__init__(self._build_message())

    def _build_message(self):
        n_layers = (sum(len(v) for v in self.unsupported.values())
                    + sum(len(v) for v in self.ops.values())
                    + sum(len(v) for v in self.settings.values()))
        if self.target is None:
            lines = ["Cannot convert this model: %d layer(s) cannot be "
                     "converted:" % n_layers]
        else:
            lines = ["Layer '%s' was not converted (it is a placeholder): it "
                     "depends on %d layer(s) that cannot be converted:"
                     % (self.target, n_layers)]
        if self.unsupported:
            lines.append("Keras classes that have no deeplift conversion:")
            for cls, names in self.unsupported.items():
                lines.append("  - %s: %s" % (cls, ", ".join(names)))
        if self.ops:
            lines.append("Keras 3 op nodes (keras.ops functions applied to "
                         "tensors) that have no deeplift conversion:")
            for op, names in self.ops.items():
                lines.append("  - %s: %s" % (op, ", ".join(names)))
        if self.settings:
            lines.append("Unsupported settings:")
            for what, names in self.settings.items():
                lines.append("  - %s: %s" % (what, ", ".join(names)))
        if "Lambda" in self.unsupported:
            lines.append(
                "Lambda layers wrap arbitrary Python code: it is converted "
                "(traced into TensorFlow ops) only for a model you trust, "
                "with trust_model=True (CLI: --trust-model); otherwise "
                "replace each Lambda layer by a supported Keras layer, or "
                "provide a custom conversion for 'Lambda'.")
        if self.unsupported:
            lines.append(
                "To convert such a class yourself, pass "
                "custom_conversion_funcs={\"ClassName\": fn} to the "
                "conversion function.")
            lines.append(CONVERSION_FUNCTION_CONTRACT)
        return "\n".join(lines)

    def __reduce__(self):
        return (self.__class__, (self.unsupported, self.ops, self.settings,
                                 self.target))

    def merged(self, other):
        """A new error with the blockers of both."""
        def union(a, b):
            out = {k: list(v) for k, v in a.items()}
            for k, names in b.items():
                out.setdefault(k, [])
                out[k].extend(n for n in names if n not in out[k])
            return out
        return UnsupportedLayerError(
            union(self.unsupported, other.unsupported),
            ops=union(self.ops, other.ops),
            settings=union(self.settings, other.settings))

    def is_empty(self):
        return not (self.unsupported or self.ops or self.settings)
