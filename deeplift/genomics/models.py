"""Methods (attribution rules) and converted models for genomics scoring:
loading a Keras model for a method, which methods a converted model can
compute, and the layers and scorer that explain one of its outputs."""
import os
import weakref

from deeplift import methods as _methods

#: canonical method name -> the ``NonlinearMxtsMode`` value its model is
#: converted with (from :mod:`deeplift.methods`, taken at import)
METHOD_TO_NONLINEAR_MXTS_MODE = {
    m.name: m.nonlinear_mxts_mode for m in _methods.METHODS.values()}
#: the canonical method names (those of :mod:`deeplift.methods`)
METHODS = tuple(METHOD_TO_NONLINEAR_MXTS_MODE)

#: the method :func:`score_sequences` uses for an already converted model
#: given with ``method=None``: the first of these that the model supports
_DEFAULT_METHODS = ("genomics_default", "gradient", "rescale",
                    "revealcancel", "guided_backprop")


def normalize_method(method):
    """The canonical method name for ``method`` (see
    :func:`deeplift.methods.normalize`: case-insensitive, '-' or '_',
    aliases such as ``ig`` and ``grad_times_input``).  Raises ValueError
    for unknown names."""
    return _methods.normalize(method)


def load_model(h5_file, json_file=None, yaml_file=None,
               method="genomics_default", verbose=False,
               maxpool_deeplift_mode=None, custom_conversion_funcs=None,
               trust_model=False, import_packages=()):
    """Convert a saved Keras model for ``method`` (see
    :mod:`deeplift.methods`).  ``maxpool_deeplift_mode`` (None: the
    converter's default, ``gradient`` as in 0.6.13),
    ``custom_conversion_funcs`` (a dict, or ``"module:name"``, see
    :func:`resolve_custom_conversions`), ``trust_model`` and
    ``import_packages`` (see :mod:`deeplift.conversion.loading`) are passed
    to the converter.  The
    returned model remembers the method in its ``deeplift_method`` attribute."""
    from deeplift.conversion import kerasapi_conversion as kc
    method = normalize_method(method)
    for path in (h5_file, json_file, yaml_file):
        if path is not None and not os.path.exists(os.fspath(path)):
            raise ValueError("model file %s does not exist" % (path,))
    options = {}
    if maxpool_deeplift_mode is not None:
        options["maxpool_deeplift_mode"] = maxpool_deeplift_mode
    if custom_conversion_funcs:
        options["custom_conversion_funcs"] = resolve_custom_conversions(
            custom_conversion_funcs)
    if trust_model:
        options["trust_model"] = True
    if import_packages:
        options["import_packages"] = tuple(import_packages)
    model = kc.convert_model_from_saved_files(
        os.fspath(h5_file),
        json_file=None if json_file is None else os.fspath(json_file),
        yaml_file=None if yaml_file is None else os.fspath(yaml_file),
        nonlinear_mxts_mode=_methods.mode_of(method),
        verbose=verbose, **options)
    model.deeplift_method = method
    return model


def resolve_custom_conversions(spec):
    """``custom_conversion_funcs`` for the converter from ``spec``: a dict
    (Keras class name -> conversion function) is returned as is; a string
    ``"module:name"`` names such a dict, or a function without arguments
    returning one, importable from ``module``.  Raises ValueError with the
    reason otherwise."""
    import importlib
    if isinstance(spec, dict):
        return spec
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise ValueError("custom conversions must be given as module:name, "
                         "got %r" % (spec,))
    module_name, name = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError("cannot import %s for custom conversions: %s"
                         % (module_name, exc))
    try:
        value = getattr(module, name)
    except AttributeError:
        raise ValueError("module %s has no %r (custom conversions)"
                         % (module_name, name))
    if callable(value) and not isinstance(value, dict):
        value = value()
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and callable(v) for k, v in value.items()):
        raise ValueError("%s must be (or return) a dict of Keras layer class "
                         "names to conversion functions" % (spec,))
    return value


def model_methods(model):
    """The methods ``model`` (an already converted deeplift model) can
    compute, judged from the modes of its hidden nonlinearities."""
    def using(*modes):
        return {m.name for m in _methods.METHODS.values()
                if m.nonlinear_mxts_mode in modes}

    explicit = getattr(model, "deeplift_method", None)
    if explicit is not None:     # and every method with the same rule
        return using(_methods.mode_of(explicit))
    from deeplift.layers import Activation
    modes = set()
    for layer in model.all_layers():
        if isinstance(layer, Activation) and layer.get_output_layers():
            modes.add(layer.nonlinear_mxts_mode)
    if not modes:      # linear model: every rule is the gradient
        return set(METHODS)
    # GenomicsDefault resolves to Rescale or RevealCancel per layer
    split = {"Rescale", "RevealCancel"}
    if modes <= split:
        found = using(*modes) if len(modes) == 1 else set()
        return found | using("DeepLIFT_GenomicsDefault")
    if len(modes) == 1:
        return using(*modes)
    return set()


def _layer_refs(model, find_scores_layer, target_layer):
    """``find_scores_layer`` and ``target_layer`` as the layers they
    designate (see :mod:`deeplift.models`' navigation): indices or names
    for a Sequential model; names for a GraphModel, where the integers
    0 / -2 / -1 mean the input / the layer before the output activation /
    the output."""
    from deeplift.models import GraphModel
    if not isinstance(model, GraphModel):
        return (model.resolve(find_scores_layer, "find_scores_layer"),
                model.resolve(target_layer, "target_layer"))
    if isinstance(find_scores_layer, int):
        if find_scores_layer != 0:
            raise ValueError("for a functional model give find_scores_layer "
                             "as a layer name (or 0 for the input)")
    score = model.score_layer(find_scores_layer)
    if isinstance(target_layer, int):
        if target_layer not in (-1, -2):
            raise ValueError("for a functional model give target_layer as a "
                             "layer name (or -2 for the layer before the "
                             "output activation, -1 for the output)")
        out = model.output_layer()
        if target_layer == -2:
            if model.pre_activation(out) is out:
                raise ValueError("the output layer %r is not an activation; "
                                 "give target_layer as a layer name"
                                 % (out.get_name(),))
            out = model.pre_activation(out)
        return score, out
    return score, model.resolve(target_layer, "target_layer")


#: ``target=`` values of :func:`resolve_target`
TARGETS = ("counts", "profile")


def resolve_target(model, target):
    """The layer name (and whether it is the profile head) for ``target``
    ``"counts"`` or ``"profile"`` of a two-headed BPNet / ChromBPNet-style
    model: the profile head is the output whose shape is (None, L) or
    (None, L, C) with L > 1 (its logits: the layer before a final
    activation), the counts head the output of shape (None, 1) or
    (None, C) with C <= 2.  An output that was not converted (a
    ``deeplift.conversion.placeholder.Placeholder``, e.g.
    ChromBPNet's counts ``Lambda``) has no shape: when the other output is
    the profile head it is taken for the counts head, so ``"profile"``
    resolves without it and ``"counts"`` raises its
    :class:`~deeplift.conversion.errors.UnsupportedLayerError`.  Raises
    ValueError naming the outputs when the model does not have exactly one
    of each."""
    from deeplift.conversion.placeholder import Placeholder
    from deeplift.targets import is_track_target
    if is_track_target(target):
        return _track_output(model, target)
    if target not in TARGETS:
        raise ValueError("target must be one of %s, or 'track:T[:central:K]',"
                         " got %r" % (", ".join(TARGETS), target))
    outputs = model.output_layers()
    # a layer that feeds only a placeholder is no output of the Keras model
    feeding = set(id(parent) for l in model.all_layers()
                  if isinstance(l, Placeholder) for parent in l.parents)
    outputs = [l for l in outputs if id(l) not in feeding]
    described = ", ".join(
        "%s %s" % (l.get_name(), "(not converted)" if isinstance(
            l, Placeholder) else tuple(l.get_shape())) for l in outputs)
    profile, counts, unconverted = [], [], []
    for layer in outputs:
        if isinstance(layer, Placeholder):
            unconverted.append(layer)
            continue
        shape = tuple(layer.get_shape())[1:]
        if len(shape) >= 1 and shape[0] is not None and (
                len(shape) >= 2 or shape[0] > 2):
            profile.append(layer)
        elif len(shape) == 1 and shape[0] is not None and shape[0] <= 2:
            counts.append(layer)
    if len(outputs) == 2 and len(profile) == 1 and len(unconverted) == 1:
        counts = unconverted
    chosen = profile if target == "profile" else counts
    if len(outputs) != 2 or len(profile) != 1 or len(counts) != 1:
        raise ValueError(
            "cannot tell the %s head of this model: expected two outputs, "
            "profile logits (None, L[, C]) and counts (None, 1), but it has "
            "%s; give target_layer as a layer name" % (target, described))
    if isinstance(chosen[0], Placeholder):
        unsupported = chosen[0].blockers.unsupported
        if list(unsupported) == ["Lambda"] and not chosen[0].blockers.ops \
                and not chosen[0].blockers.settings:
            raise ValueError(
                "the %s head %s needs Lambda layer(s) %s, which hold Python "
                "code; convert with trust_model=True (CLI: --trust-model) to "
                "load and trace them (only for a file you trust)"
                % (target, chosen[0].get_name(),
                   ", ".join(unsupported["Lambda"])))
        chosen[0].get_shape()      # raises its UnsupportedLayerError
    # explain the pre-activation
    return model.pre_activation(chosen[0]).get_name()


def _track_output(model, target):
    """The layer a track target (``"track:T[:central:K]"``, see
    :func:`deeplift.targets.parse_track_target`) explains: the model's one
    output of shape (None, bins, tracks), before its final activation
    (e.g. softplus), as every DeepLIFT target;
    ValueError naming the outputs otherwise, or when the track or bins are
    out of range."""
    from deeplift.conversion.placeholder import Placeholder
    from deeplift.targets import parse_track_target, track_weights
    track, bins = parse_track_target(target)
    outputs = [l for l in model.output_layers()
               if not isinstance(l, Placeholder)]
    shaped = [l for l in outputs if len(tuple(l.get_shape())) == 3]
    if len(shaped) != 1:
        raise ValueError(
            "target %r needs one output of shape (None, bins, tracks), but "
            "the model's outputs are %s; give target_layer as a layer name "
            "and target_weights=deeplift.targets.track_target(...)"
            % (target, ", ".join("%s %s" % (l.get_name(),
                                            tuple(l.get_shape()))
                                 for l in outputs)))
    shape = tuple(shaped[0].get_shape())
    if shape[1] is None or shape[2] is None:
        raise ValueError("target %r: the output %s has shape %s; the bins "
                         "and tracks must be fixed" % (
                             target, shaped[0].get_name(), shape))
    track_weights((1,) + shape[1:], track, bins)   # range checks
    return model.pre_activation(shaped[0]).get_name()


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

