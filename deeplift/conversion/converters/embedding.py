"""Embedding."""
from deeplift import layers
from deeplift.conversion.converters.common import weights


def embedding_conversion(config, name, verbose=True, **kwargs):
    """Scores of models starting with an Embedding are found at the
    embedding layer (see :class:`deeplift.layers.Embedding`)."""
    (embeddings,) = weights(config, name, 1)
    return [layers.Embedding(embeddings=embeddings, name=name,
                             verbose=verbose)]
