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
from deeplift.layers.merge import (Add, Subtract, Average,  # noqa
                                   Multiply, Maximum, Minimum)
from deeplift.layers.reshaping import (Reshape, Permute,  # noqa
                                       Cropping1D, Cropping2D,
                                       ZeroPadding1D, ZeroPadding2D,
                                       UpSampling1D, UpSampling2D,
                                       RepeatVector)
from deeplift.layers.convolutional_extra import (  # noqa
    Conv1DTranspose, Conv2DTranspose, DepthwiseConv1D, DepthwiseConv2D,
    SeparableConv1D, SeparableConv2D, Embedding)
from deeplift.layers.activations_extra import (  # noqa
    LeakyReLU, ELU, SELU, GELU, Swish, SiLU, Softplus, Softsign,
    HardSigmoid, Exponential, ReLUGeneral, ACTIVATION_BY_NAME)
