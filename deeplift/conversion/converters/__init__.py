"""Conversion functions from Keras layer configs to deeplift layers, one
module per Keras concept (core, activations, convolutional, embedding,
pooling, normalization, merge, reshaping); :mod:`.common` holds the config
and weight checks they share. The class-name table is
:data:`deeplift.conversion.registry.REGISTRY`."""
