"""DeepLIFT's rules: the math (:mod:`deeplift.rules.ops`), rule functions
in registries keyed by mode, and the one object that says which rule a
layer uses (:mod:`deeplift.rules.resolve`)."""
