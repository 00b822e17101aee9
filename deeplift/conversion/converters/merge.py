"""Merges: Concatenate, Add, Subtract, Average, Multiply, Maximum, Minimum.

``MULTI_INPUT_CLASSES``: the Keras classes whose deeplift layer takes a list
of inputs.
"""
from deeplift import layers


def concat_conversion(config, name, verbose, **kwargs):
    return [layers.Concat(axis=int(config.get("axis", -1)), name=name,
                          verbose=verbose)]


def _linear_merge(cls):
    def convert(name, verbose=True, **kwargs):
        return [cls(name=name, verbose=verbose)]
    convert.__name__ = "%s_conversion" % cls.__name__.lower()
    return convert


def _nonlinear_merge(cls):
    def convert(name, nonlinear_mxts_mode, verbose=True, **kwargs):
        return [cls(name=name, verbose=verbose,
                    nonlinear_mxts_mode=nonlinear_mxts_mode)]
    convert.__name__ = "%s_conversion" % cls.__name__.lower()
    return convert


add_conversion = _linear_merge(layers.Add)
subtract_conversion = _linear_merge(layers.Subtract)
average_conversion = _linear_merge(layers.Average)
multiply_conversion = _nonlinear_merge(layers.Multiply)
maximum_conversion = _nonlinear_merge(layers.Maximum)
minimum_conversion = _nonlinear_merge(layers.Minimum)

#: Keras classes whose deeplift layer takes a list of inputs
MULTI_INPUT_CLASSES = frozenset(["Concatenate", "Add", "Subtract", "Average",
                                 "Multiply", "Maximum", "Minimum"])
