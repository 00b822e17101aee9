"""deeplift layers, one Keras concept per module (core, activations,
convolutional, embedding, pooling, normalization, merge, reshaping,
recurrent; composite holds the base of layers defined by an inner graph;
traced and bilinear hold the nodes of layers converted op by op),
all re-exported here as in the original package."""
from deeplift.layers.core import *  # noqa: F401,F403
from deeplift.layers.core import (ScoringMode, NonlinearMxtsMode,  # noqa
                                  DenseMxtsMode, ConvMxtsMode,
                                  MaxPoolDeepLiftMode, ActivationNames,
                                  Layer, Input, Node, NoOp, Flatten, Merge,
                                  Concat, Dense, LinearLayer, StructuralLayer,
                                  SingleInputMixin, ListInputMixin,
                                  SymbolicVar, OneDimOutputMixin)
from deeplift.layers.activations import (  # noqa
    Activation, PReLU, ReLU, Sigmoid, Tanh, Softmax, LeakyReLU, ELU, SELU,
    GELU, Swish, Softplus, Softsign, HardSigmoid, HardSwish, Exponential,
    ReLUGeneral,
    ACTIVATION_BY_NAME)
from deeplift.layers.convolutional import (  # noqa
    Conv, Conv1D, Conv2D, PaddingMode, DataFormat, PoolMode, Conv1DTranspose,
    Conv2DTranspose, DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D,
    SeparableConv2D)
from deeplift.layers.embedding import Embedding  # noqa
from deeplift.layers.unattributed import (ShapeConstant,  # noqa
                                          Unattributed)
from deeplift.layers.pooling import (  # noqa
    Pool1D, Pool2D, MaxPool1D, AvgPool1D, MaxPool2D, AvgPool2D,
    GlobalMaxPool1D, GlobalAvgPool1D, GlobalMaxPool2D, GlobalAvgPool2D)
from deeplift.layers.normalization import (  # noqa
    BatchNormalization, LayerNormalization, GroupNormalization,
    RMSNormalization)
from deeplift.layers.recurrent import (  # noqa
    SimpleRNN, LSTM, GRU, Bidirectional)
from deeplift.layers.merge import (Add, Subtract, Average,  # noqa
                                   Multiply, Maximum, Minimum)
from deeplift.layers.reshaping import (Reshape, Permute,  # noqa
                                       Cropping1D, Cropping2D,
                                       ZeroPadding1D, ZeroPadding2D,
                                       UpSampling1D, UpSampling2D,
                                       RepeatVector, GetItem)
from deeplift.layers.bilinear import Bilinear  # noqa
from deeplift.layers.traced import (TracedLayer, LinearOp,  # noqa
                                    ElementwiseOp, ElementwiseShapley,
                                    MaxOp, SoftmaxOp)
from deeplift.layers.wrappers import TimeDistributed  # noqa
