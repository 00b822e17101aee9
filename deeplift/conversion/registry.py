"""The Keras class name -> conversion function table.

``REGISTRY`` is a plain dict: supporting a new Keras class is one function
(in the ``deeplift.conversion.converters`` module of its concept) plus one
entry here. Users add or override entries per call with
``custom_conversion_funcs``. The contract of a conversion function (also
for user-supplied ones) is appended below (see
``deeplift.conversion.errors.CONVERSION_FUNCTION_CONTRACT``).
"""
from deeplift.conversion.converters import (activations, convolutional,
                                            core, embedding, merge,
                                            normalization, pooling,
                                            recurrent, reshaping, scaling,
                                            wrappers)
from deeplift.conversion.converters.activations import ACTIVATIONS  # noqa
from deeplift.conversion.converters.ops import OPS  # noqa: F401
from deeplift.conversion.errors import CONVERSION_FUNCTION_CONTRACT

__doc__ = __doc__ + "\n" + CONVERSION_FUNCTION_CONTRACT

REGISTRY = {
    # core
    "InputLayer": core.input_layer_conversion,
    "Dense": core.dense_conversion,
    "Flatten": core.flatten_conversion,

    # identities at inference time
    "Dropout": core.noop_conversion,
    "SpatialDropout1D": core.noop_conversion,
    "SpatialDropout2D": core.noop_conversion,
    "SpatialDropout3D": core.noop_conversion,
    "GaussianNoise": core.noop_conversion,
    "GaussianDropout": core.noop_conversion,
    "AlphaDropout": core.noop_conversion,
    "ActivityRegularization": core.noop_conversion,

    # activations
    "Activation": activations.activation_conversion,
    "Softmax": activations.softmax_layer_conversion,
    "PReLU": activations.prelu_conversion,
    "LeakyReLU": activations.leakyrelu_conversion,
    "ELU": activations.elu_conversion,
    "ReLU": activations.relu_layer_conversion,
    "ThresholdedReLU": activations.thresholdedrelu_conversion,

    # convolutions
    "Conv1D": convolutional.conv1d_conversion,
    "Convolution1D": convolutional.conv1d_conversion,
    "Conv2D": convolutional.conv2d_conversion,
    "Convolution2D": convolutional.conv2d_conversion,
    "Conv1DTranspose": convolutional.conv1dtranspose_conversion,
    "Convolution1DTranspose": convolutional.conv1dtranspose_conversion,
    "Conv2DTranspose": convolutional.conv2dtranspose_conversion,
    "Convolution2DTranspose": convolutional.conv2dtranspose_conversion,
    "DepthwiseConv1D": convolutional.depthwiseconv1d_conversion,
    "DepthwiseConv2D": convolutional.depthwiseconv2d_conversion,
    "SeparableConv1D": convolutional.separableconv1d_conversion,
    "SeparableConvolution1D": convolutional.separableconv1d_conversion,
    "SeparableConv2D": convolutional.separableconv2d_conversion,
    "SeparableConvolution2D": convolutional.separableconv2d_conversion,

    # embedding
    "Embedding": embedding.embedding_conversion,

    # pooling
    "MaxPooling1D": pooling.maxpool1d_conversion,
    "MaxPool1D": pooling.maxpool1d_conversion,
    "AveragePooling1D": pooling.avgpool1d_conversion,
    "AvgPool1D": pooling.avgpool1d_conversion,
    "GlobalMaxPooling1D": pooling.globalmaxpool1d_conversion,
    "GlobalMaxPool1D": pooling.globalmaxpool1d_conversion,
    "GlobalAveragePooling1D": pooling.globalavgpool1d_conversion,
    "GlobalAvgPool1D": pooling.globalavgpool1d_conversion,
    "MaxPooling2D": pooling.maxpool2d_conversion,
    "MaxPool2D": pooling.maxpool2d_conversion,
    "AveragePooling2D": pooling.avgpool2d_conversion,
    "AvgPool2D": pooling.avgpool2d_conversion,
    "GlobalMaxPooling2D": pooling.globalmaxpool2d_conversion,
    "GlobalMaxPool2D": pooling.globalmaxpool2d_conversion,
    "GlobalAveragePooling2D": pooling.globalavgpool2d_conversion,
    "GlobalAvgPool2D": pooling.globalavgpool2d_conversion,

    # normalization
    "BatchNormalization": normalization.batchnorm_conversion,
    "LayerNormalization": normalization.layernorm_conversion,
    "GroupNormalization": normalization.groupnorm_conversion,
    "RMSNormalization": normalization.rmsnorm_conversion,

    # recurrent layers
    "SimpleRNN": recurrent.simplernn_conversion,
    "LSTM": recurrent.lstm_conversion,
    "GRU": recurrent.gru_conversion,
    "Bidirectional": recurrent.bidirectional_conversion,
    "Masking": recurrent.masking_conversion,

    # elementwise affine maps
    "Rescaling": scaling.rescaling_conversion,
    "Normalization": scaling.normalization_conversion,
    # classes of keras.applications, by module: another "LayerScale" may
    # mean something else
    "keras.src.applications.convnext.LayerScale":
        scaling.layerscale_conversion,
    "keras.src.applications.inception_resnet_v2.CustomScaleLayer":
        scaling.customscale_conversion,

    # merges
    "Concatenate": merge.concat_conversion,
    "Add": merge.add_conversion,
    "Subtract": merge.subtract_conversion,
    "Average": merge.average_conversion,
    "Multiply": merge.multiply_conversion,
    "Maximum": merge.maximum_conversion,
    "Minimum": merge.minimum_conversion,

    # wrappers
    # (the wrapped layer's conversion is looked up here)
    "TimeDistributed": lambda **kwargs: wrappers.timedistributed_conversion(
        lookup=lookup, **kwargs),

    # reshaping
    "Reshape": reshaping.reshape_conversion,
    "Permute": reshaping.permute_conversion,
    "Cropping1D": reshaping.cropping1d_conversion,
    "Cropping2D": reshaping.cropping2d_conversion,
    "ZeroPadding1D": reshaping.zeropadding1d_conversion,
    "ZeroPadding2D": reshaping.zeropadding2d_conversion,
    "UpSampling1D": reshaping.upsampling1d_conversion,
    "UpSampling2D": reshaping.upsampling2d_conversion,
    "RepeatVector": reshaping.repeatvector_conversion,
}

#: Keras classes whose first deeplift layer takes a list of inputs
MULTI_INPUT_CLASSES = merge.MULTI_INPUT_CLASSES | frozenset(
    ["keras.src.applications.inception_resnet_v2.CustomScaleLayer"])


def registry_key(class_name, module=None):
    """The REGISTRY key of a class: ``module.class_name`` when the
    registry has that (classes of keras.applications), else the name."""
    if module and "%s.%s" % (module, class_name) in REGISTRY:
        return "%s.%s" % (module, class_name)
    return class_name


def lookup(class_name, custom_conversion_funcs=None, module=None):
    """The conversion function for a Keras class name (and the module
    of its config entry), or None.

    ``custom_conversion_funcs`` entries take precedence; then the
    module-qualified name; built-in names are matched case-insensitively
    (older Keras versions varied the case).
    """
    if custom_conversion_funcs and class_name in custom_conversion_funcs:
        return custom_conversion_funcs[class_name]
    class_name = registry_key(class_name, module)
    if class_name in REGISTRY:
        return REGISTRY[class_name]
    lowered = str(class_name).lower()
    for key, func in REGISTRY.items():
        if key.lower() == lowered:
            return func
    return None
