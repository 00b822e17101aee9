"""deeplift: DeepLIFT attribution for TensorFlow 2 / Keras 3.

A layer-graph engine with explicit multiplier propagation, compatible with
kundajelab/deeplift 0.6.13 (same module paths, names and numbers).
"""
__version__ = "1.0.0"

# Before TensorFlow's first operation in the process: keep XLA's compiled
# kernels (the fused rule math) on disk for later processes
# (deeplift.xla_cache; DEEPLIFT_CACHE_DIR=off turns it off).
from deeplift.xla_cache import use_xla_cache as _use_xla_cache  # noqa: E402

_use_xla_cache()
