"""Modes, enums and constants shared by every part of deeplift.

A leaf module: it imports nothing from deeplift, so any module may import
it without creating a cycle.  The 0.6.13 import paths
(``deeplift.layers.NonlinearMxtsMode``, ``deeplift.util.enum``,
``deeplift.util.NEAR_ZERO_THRESHOLD``, ...) re-export these names.
"""

#: differences smaller than this are treated as zero by the Rescale and
#: RevealCancel rules (same constant as the original package)
NEAR_ZERO_THRESHOLD = 10 ** (-7)


def enum(**enums):
    """A tiny enum: ``E = enum(a='a')`` gives ``E.a == 'a'``, ``E.vals`` and
    ``E.the_dict``, as in the original package."""
    class Enum(object):
        pass
    for key, val in enums.items():
        if callable(val):
            setattr(Enum, key, staticmethod(val))
        else:
            setattr(Enum, key, val)
    Enum.vals = list(enums.values())
    Enum.the_dict = dict(enums)
    return Enum


def check_mode(value, the_enum, what):
    """Raise a ValueError naming the valid choices if ``value`` is not one
    of ``the_enum``'s values; returns ``value``."""
    if value not in the_enum.vals:
        raise ValueError("unknown %s %r; valid choices: %s"
                         % (what, value, ", ".join(sorted(the_enum.vals))))
    return value


#: what the target layer's multipliers are seeded with
ScoringMode = enum(OneAndZeros="OneAndZeros",
                   SoftmaxPreActivation="SoftmaxPreActivation")

#: the rule for elementwise nonlinearities
NonlinearMxtsMode = enum(
    Gradient="Gradient",
    Rescale="Rescale",
    DeconvNet="DeconvNet",
    GuidedBackprop="GuidedBackprop",
    GuidedBackpropRescale="GuidedBackpropRescale",
    RevealCancel="RevealCancel",
    PassThrough="PassThrough",
    DeepLIFT_GenomicsDefault="DeepLIFT_GenomicsDefault")

#: accepted for 0.6.13 compatibility; Dense and convolutions always use the
#: Linear rule and nothing reads these values
DenseMxtsMode = enum(Linear="Linear")
ConvMxtsMode = enum(Linear="Linear")

#: Keras activation names the original's converter knew
ActivationNames = enum(sigmoid="sigmoid", hard_sigmoid="hard_sigmoid",
                       tanh="tanh", relu="relu", linear="linear")

#: the rule for max pooling: the original's gradient (the default of the
#: 0.6.13 API) or one that keeps summation-to-delta
MaxPoolDeepLiftMode = enum(gradient='gradient',
                           summation_to_delta='summation_to_delta')

#: how 0.6.13 pooling layers name their padding (``padding_mode``)
PaddingMode = enum(same='SAME', valid='VALID')

#: channel ordering of convolution and pooling inputs
DataFormat = enum(channels_first='channels_first',
                  channels_last='channels_last')

#: 0.6.13's ``deeplift.layers.convolutional.PoolMode``
PoolMode = enum(max='max', avg='avg')
