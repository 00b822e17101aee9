"""Methods (attribution rules) and converted models for genomics scoring:
loading a Keras model for a method, which methods a converted model can
compute, and the layers and scorer that explain one of its outputs."""
import os
import weakref

from deeplift.layers import NonlinearMxtsMode

METHOD_TO_NONLINEAR_MXTS_MODE = {
    "rescale": NonlinearMxtsMode.Rescale,
    "revealcancel": NonlinearMxtsMode.RevealCancel,
    "genomics_default": NonlinearMxtsMode.DeepLIFT_GenomicsDefault,
    "gradient": NonlinearMxtsMode.Gradient,
    "guided_backprop": NonlinearMxtsMode.GuidedBackprop,
    "integrated_gradients": NonlinearMxtsMode.Gradient,
}
METHODS = tuple(METHOD_TO_NONLINEAR_MXTS_MODE)

_METHOD_ALIASES = {
    "reveal_cancel": "revealcancel",
    "genomicsdefault": "genomics_default",
    "deeplift_genomicsdefault": "genomics_default",
    "deeplift_genomics_default": "genomics_default",
    "grad": "gradient",
    "grad_times_input": "gradient",
    "gradient_times_input": "gradient",
    "gradxinput": "gradient",
    "guidedbackprop": "guided_backprop",
    "ig": "integrated_gradients",
    "integratedgradients": "integrated_gradients",
}

#: number of sequences whose references are drawn together; fixed so that
#: the shuffled references depend only on the seed and the sequences, not on

#: the method :func:`score_sequences` uses for an already converted model
#: given with ``method=None``: the first of these that the model supports
_DEFAULT_METHODS = ("genomics_default", "gradient", "rescale",
                    "revealcancel", "guided_backprop")



def normalize_method(method):
    """The canonical method name (one of :data:`METHODS`) for ``method``
    (case-insensitive, '-' or '_'; a few aliases such as ``ig`` and
    ``grad_times_input``).  Raises ValueError for unknown names."""
    if not isinstance(method, str):
        raise ValueError("unknown method %r; choose from: %s"
                         % (method, ", ".join(METHODS)))
    key = method.strip().lower().replace("-", "_").replace(" ", "_")
    key = _METHOD_ALIASES.get(key, key)
    if key not in METHOD_TO_NONLINEAR_MXTS_MODE:
        raise ValueError("unknown method %r; choose from: %s"
                         % (method, ", ".join(METHODS)))
    return key


def load_model(h5_file, json_file=None, yaml_file=None,
               method="genomics_default", verbose=False):
    """Convert a saved Keras model for ``method`` (see
    :data:`METHOD_TO_NONLINEAR_MXTS_MODE`).  The returned model remembers
    the method in its ``deeplift_method`` attribute."""
    from deeplift.conversion import kerasapi_conversion as kc
    method = normalize_method(method)
    for path in (h5_file, json_file, yaml_file):
        if path is not None and not os.path.exists(os.fspath(path)):
            raise ValueError("model file %s does not exist" % (path,))
    model = kc.convert_model_from_saved_files(
        os.fspath(h5_file),
        json_file=None if json_file is None else os.fspath(json_file),
        yaml_file=None if yaml_file is None else os.fspath(yaml_file),
        nonlinear_mxts_mode=METHOD_TO_NONLINEAR_MXTS_MODE[method],
        verbose=verbose)
    model.deeplift_method = method
    return model


def _all_layers(model):
    if hasattr(model, "get_layers"):
        return list(model.get_layers())
    return list(model.get_name_to_layer().values())


def model_methods(model):
    """The methods ``model`` (an already converted deeplift model) can
    compute, judged from the modes of its hidden nonlinearities."""
    explicit = getattr(model, "deeplift_method", None)
    if explicit is not None:
        if explicit in ("gradient", "integrated_gradients"):
            return {"gradient", "integrated_gradients"}
        return {explicit}
    from deeplift.layers import Activation
    modes = set()
    for layer in _all_layers(model):
        if isinstance(layer, Activation) and layer.get_output_layers():
            modes.add(layer.nonlinear_mxts_mode)
    N = NonlinearMxtsMode
    if not modes:      # linear model: every rule is the gradient
        return set(METHODS)
    if modes == {N.Gradient}:
        return {"gradient", "integrated_gradients"}
    if modes == {N.GuidedBackprop}:
        return {"guided_backprop"}
    if modes == {N.Rescale}:
        return {"rescale", "genomics_default"}
    if modes == {N.RevealCancel}:
        return {"revealcancel", "genomics_default"}
    if modes == {N.Rescale, N.RevealCancel}:
        return {"genomics_default"}
    return set()


def _input_layer(model):
    if hasattr(model, "get_layers"):
        return model.get_layers()[0]
    names = model.get_input_layer_names()
    if len(names) != 1:
        raise ValueError("score_sequences needs a model with one input; "
                         "this one has %d: %s" % (len(names), names))
    return model.get_layer(names[0])


def _layer_refs(model, find_scores_layer, target_layer):
    """``find_scores_layer`` and ``target_layer`` as :class:`MultiRefScorer`
    takes them: indices for a Sequential model; names for a GraphModel,
    where the integers 0 / -2 / -1 mean the input / the layer before the
    output activation / the output."""
    if hasattr(model, "get_layers"):
        return find_scores_layer, target_layer
    if isinstance(find_scores_layer, int):
        if find_scores_layer != 0:
            raise ValueError("for a functional model give find_scores_layer "
                             "as a layer name (or 0 for the input)")
        find_scores_layer = model.get_input_layer_names()[0]
    if isinstance(target_layer, int):
        if target_layer not in (-1, -2):
            raise ValueError("for a functional model give target_layer as a "
                             "layer name (or -2 for the layer before the "
                             "output activation, -1 for the output)")
        outputs = [l for l in model.get_name_to_layer().values()
                   if not l.get_output_layers()]
        if len(outputs) != 1:
            raise ValueError("the model has %d outputs (%s); give "
                             "target_layer as a layer name"
                             % (len(outputs),
                                [l.get_name() for l in outputs]))
        out = outputs[0]
        if target_layer == -2:
            from deeplift.layers import Activation
            if not isinstance(out, Activation):
                raise ValueError("the output layer %r is not an activation; "
                                 "give target_layer as a layer name"
                                 % (out.get_name(),))
            out = out.inputs
        target_layer = out.get_name()
    return find_scores_layer, target_layer


_SCORER_CACHE = weakref.WeakKeyDictionary()


def _scorer(model, find_scores_layer, target_layer):
    """A :class:`deeplift.multiref.MultiRefScorer` of ``find_scores_layer``
    for ``target_layer``, built once per model and layers (so it compiles
    once)."""
    cache = _SCORER_CACHE.setdefault(model, {})
    key = (find_scores_layer, target_layer)
    if key not in cache:
        from deeplift.multiref import MultiRefScorer
        score_ref, target_ref = _layer_refs(model, find_scores_layer,
                                            target_layer)
        try:
            scorer = MultiRefScorer(model, score_ref, target_ref)
        except RuntimeError as exc:   # e.g. an activation as the target
            raise ValueError(str(exc))
        cache[key] = scorer
    return cache[key]

