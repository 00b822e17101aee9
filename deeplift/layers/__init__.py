"""deeplift layers, re-exported as in the original package."""
from deeplift.layers.core import *  # noqa: F401,F403
from deeplift.layers.core import (ScoringMode, NonlinearMxtsMode,  # noqa
                                  DenseMxtsMode, ConvMxtsMode,
                                  MaxPoolDeepLiftMode, ActivationNames,
                                  Layer, Input, Node, NoOp, Flatten, Merge,
                                  Concat, Dense, LinearLayer, StructuralLayer,
                                  SingleInputMixin, ListInputMixin,
                                  SymbolicVar)
from deeplift.layers.activations import (Activation, PReLU, ReLU,  # noqa
                                         Sigmoid, Tanh, Softmax)
from deeplift.layers.convolutional import (Conv, Conv1D, Conv2D,  # noqa
                                           PaddingMode, DataFormat)
from deeplift.layers.pooling import (MaxPool1D, AvgPool1D,  # noqa
                                     MaxPool2D, AvgPool2D, GlobalMaxPool1D,
                                     GlobalAvgPool1D, GlobalMaxPool2D,
                                     GlobalAvgPool2D)
from deeplift.layers.normalization import BatchNormalization  # noqa
