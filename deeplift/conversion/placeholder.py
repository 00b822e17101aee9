"""Placeholders: what conversion leaves for the layers it cannot convert
when the model has other outputs that do not need them.

A :class:`Placeholder` stands for a Keras layer (or op node) that has no
conversion, has an unsupported setting, or depends on such a layer. It sits
in the model's layer graph under the layer's name, so the model converts
and every target that does not depend on it can be scored; asking for its
output (scores or predictions with it as target, or through it) raises its
:class:`~deeplift.conversion.errors.UnsupportedLayerError`, the same error
a model with only that output gives at conversion.
"""
from deeplift.conversion.errors import UnsupportedLayerError
from deeplift.layers.core import Layer


class Placeholder(Layer):
    """An unconverted layer. ``reason``: why (its own blocker, or the
    placeholders it depends on); ``blockers``: the
    :class:`UnsupportedLayerError` of every blocker it depends on (its own
    included); ``parents``: the deeplift layers its inputs came from."""

    def __init__(self, name, reason, blockers, parents=(), keras_class=None):
        super(Placeholder, self).__init__(name=name, verbose=False)
        self.reason = reason
        self.blockers = blockers
        self.parents = list(parents)
        self.keras_class = keras_class

    def input_layers(self):
        return list(self.parents)

    def _build(self):
        pass  # nothing to infer: building a model never fails on it

    def _fail(self, *args, **kwargs):
        raise UnsupportedLayerError(self.blockers.unsupported,
                                    ops=self.blockers.ops,
                                    settings=self.blockers.settings,
                                    target=self.name)

    get_shape = forward = contribs = backward = _fail

    def __repr__(self):
        return "<Placeholder %r: %s>" % (self.name, self.reason)
