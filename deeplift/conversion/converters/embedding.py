"""Embedding."""
from deeplift import layers
from deeplift.conversion.converters.common import layer_err, weights


def embedding_conversion(config, name, verbose=True, **kwargs):
    """Scores of models starting with an Embedding are found at the
    embedding layer (see :class:`deeplift.layers.Embedding`)."""
    if config.get("mask_zero"):
        raise layer_err(name, config, "mask_zero=True is not supported "
                        "(masked time steps would change what the layers "
                        "after it compute)")
    (embeddings,) = weights(config, name, 1)
    return [layers.Embedding(embeddings=embeddings, name=name,
                             verbose=verbose)]
