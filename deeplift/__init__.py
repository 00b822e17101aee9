"""deeplift: DeepLIFT attribution for TensorFlow 2 / Keras 3.

A layer-graph engine with explicit multiplier propagation, compatible with
kundajelab/deeplift 0.6.13 (same module paths, names and numbers).
"""
__version__ = "1.0.0"
