"""The 0.6.13 public surface, name by name.

``tests/data/original/surface_0613.json`` lists every public module-level
name of kundajelab/deeplift 0.6.13 with the parameters of its functions and
of its classes' public methods; ``scripts/surface_0613.py`` generates it
from the original sdist (read with ``ast``).  Each name must exist here, and
every call the original accepted (the same positional order, the same
keyword names, no new required parameter) must be accepted here.
"""
import importlib
import inspect
import json
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SURFACE = os.path.join(HERE, "data", "original", "surface_0613.json")

with open(SURFACE) as _f:
    _MODULES = json.load(_f)["modules"]


#: signature differences kept on purpose: (module, name) -> the exact
#: problems the checker reports, and why.  The test fails if a listed
#: problem disappears or another appears.
KEPT_DIFFERENCES = {
    # this package's max pooling takes the pool geometry first (1.0 API,
    # used positionally); 0.6.13 took the mode first and the geometry by
    # keyword, which works here too
    ("deeplift.layers", "MaxPool1D"): [
        "__init__: positional argument 0 is 'pool_length', was "
        "'maxpool_deeplift_mode'"],
    ("deeplift.layers", "MaxPool2D"): [
        "__init__: positional argument 0 is 'pool_size', was "
        "'maxpool_deeplift_mode'"],
}
for _module in ("deeplift.layers.pooling",):
    for _name in ("MaxPool1D", "MaxPool2D"):
        KEPT_DIFFERENCES[(_module, _name)] = KEPT_DIFFERENCES[
            ("deeplift.layers", _name)]


def _entries():
    for module, names in sorted(_MODULES.items()):
        for name, entry in sorted(names.items()):
            yield pytest.param(module, name, entry,
                               id="%s.%s" % (module, name))


def signature_problems(original, func, skip_self):
    """Why ``func`` cannot take every call that a function with the
    original's parameters ``[[name, kind, has_default], ...]`` took
    (``skip_self``: ``func``'s first parameter is self/cls)."""
    try:
        ours = inspect.signature(func)
    except (TypeError, ValueError):
        return []  # builtins without a signature: nothing to compare
    params = list(ours.parameters.values())
    P = inspect.Parameter
    if skip_self and params and params[0].kind in (
            P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD):
        params = params[1:]
    has_varkw = any(p.kind == P.VAR_KEYWORD for p in params)
    has_varargs = any(p.kind == P.VAR_POSITIONAL for p in params)
    positional = [p for p in params
                  if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)]
    by_name = {p.name: p for p in params
               if p.kind in (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY)}
    orig = list(original)
    problems = []
    orig_positional = [p for p in orig if p[1] == "positional"]
    for i, (name, _, has_default) in enumerate(orig_positional):
        if i >= len(positional):
            if not has_varargs:
                problems.append("argument %r can no longer be passed by "
                                "position" % name)
            continue
        if positional[i].name != name:
            problems.append("positional argument %d is %r, was %r"
                            % (i, positional[i].name, name))
        elif has_default and positional[i].default is P.empty:
            problems.append("argument %r had a default, has none" % name)
    for name, kind, has_default in orig:
        if kind == "kwonly" and name not in by_name and not has_varkw:
            problems.append("keyword argument %r is missing" % name)
        if kind == "varargs" and not has_varargs:
            problems.append("*%s is missing" % name)
        if kind == "varkw" and not has_varkw:
            problems.append("**%s is missing" % name)
    orig_required = {p[0] for p in orig if not p[2]}
    for p in params:
        if p.default is P.empty and p.kind in (
                P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY) \
                and p.name not in orig_required:
            problems.append("new required argument %r" % p.name)
    return problems


@pytest.mark.parametrize("module,name,entry", list(_entries()))
def test_name_exists_with_compatible_signature(module, name, entry):
    mod = importlib.import_module(module)
    assert hasattr(mod, name), "%s.%s (0.6.13) is missing" % (module, name)
    obj = getattr(mod, name)
    problems = []
    if entry["kind"] == "function":
        assert callable(obj), "%s.%s should be callable" % (module, name)
        problems = signature_problems(entry["params"], obj, skip_self=False)
    elif entry["kind"] == "class":
        assert inspect.isclass(obj), "%s.%s should be a class" % (module, name)
        for method, params in sorted(entry["methods"].items()):
            if not hasattr(obj, method):
                problems.append("method %s is missing" % method)
                continue
            raw = inspect.getattr_static(obj, method)
            if isinstance(raw, (staticmethod, classmethod)):
                func = raw.__func__
                skip = isinstance(raw, classmethod)
            else:
                func, skip = raw, True
            problems += ["%s: %s" % (method, p) for p in signature_problems(
                params, func, skip_self=skip)]
    kept = KEPT_DIFFERENCES.get((module, name), [])
    assert problems == kept, "%s.%s: %s" % (module, name,
                                            "; ".join(problems))


def test_surface_file_covers_the_original_modules():
    """The committed list is the whole package, not a hand-picked part."""
    assert {"deeplift.util", "deeplift.models", "deeplift.layers.core",
            "deeplift.layers.convolutional", "deeplift.layers.pooling",
            "deeplift.layers.helper_functions",
            "deeplift.conversion.kerasapi_conversion",
            "deeplift.visualization.viz_sequence",
            "deeplift.dinuc_shuffle"} <= set(_MODULES)
    assert sum(len(v) for v in _MODULES.values()) > 150


def test_signature_checker_catches_incompatibilities():
    """The checker itself: each kind of break is reported."""
    orig = [["a", "positional", False], ["b", "positional", True]]

    def same(a, b=1):
        pass

    def renamed(a, c=1):
        pass

    def no_default(a, b):
        pass

    def new_required(a, b=1, *, c):
        pass

    def via_kwargs(a, **kwargs):
        pass

    assert signature_problems(orig, same, False) == []
    assert signature_problems(orig, renamed, False)
    assert signature_problems(orig, no_default, False)
    assert signature_problems(orig, new_required, False)
    assert signature_problems(orig, via_kwargs, False)
    assert signature_problems([["a", "positional", False],
                               ["b", "kwonly", True]], via_kwargs,
                              False) == []


# --------------------------------------------------------------------------
# the original's behaviours on misuse
# --------------------------------------------------------------------------
def _chain(*layers_after_input, shape=(None, 6)):
    import numpy as np
    from deeplift import layers
    from deeplift.models import SequentialModel
    chain = [layers.Input(batch_shape=shape, name="in")]
    for i, make in enumerate(layers_after_input):
        chain.append(make(np, layers, "l%d" % i).set_inputs(chain[-1]))
    return SequentialModel(chain)


def _dense(np, L, name):
    return L.Dense(kernel=np.ones((6, 6)), bias=np.zeros(6), name=name)


def _bn(np, L, name):
    return L.BatchNormalization(gamma=np.ones(6), beta=np.zeros(6), axis=-1,
                                mean=np.zeros(6), var=np.ones(6),
                                epsilon=1e-3, name=name)


def _relu(np, L, name):
    return L.ReLU(nonlinear_mxts_mode="DeepLIFT_GenomicsDefault", name=name)


def _tanh(np, L, name):
    return L.Tanh(nonlinear_mxts_mode="Rescale", name=name)


def _noop(np, L, name):
    return L.NoOp(name=name)


def _conv(np, L, name):
    return L.Conv1D(kernel=np.ones((2, 6, 6)), bias=np.zeros(6), stride=1,
                    padding="VALID", name=name)


def _pool(np, L, name):
    return L.AvgPool1D(pool_length=2, stride=1, padding="VALID", name=name)


def test_genomics_default_resolves_like_0613():
    """RevealCancel after Dense, Rescale after a convolution, looking
    through BatchNormalization and NoOp."""
    model = _chain(_dense, _bn, _noop, _relu)
    assert model.get_layers()[-1].nonlinear_mxts_mode == "RevealCancel"
    model = _chain(_conv, _noop, _relu, shape=(None, 5, 6))
    assert model.get_layers()[-1].nonlinear_mxts_mode == "Rescale"


@pytest.mark.parametrize("chain,shape", [
    ((_dense, _tanh, _relu), (None, 6)),       # activation after activation
    ((_relu,), (None, 6)),                     # directly after the input
    ((_conv, _pool, _relu), (None, 5, 6)),     # after pooling
], ids=["after_activation", "after_input", "after_pooling"])
def test_genomics_default_after_other_layers_raises_runtime_error(chain,
                                                                  shape):
    """0.6.13 raised RuntimeError('Unsure how to resolve ...') when the
    layer before a DeepLIFT_GenomicsDefault activation was neither Dense
    nor a convolution; so does this package, naming the layers and the
    fix."""
    with pytest.raises(RuntimeError, match="Unsure how to resolve "
                       "DeepLIFT_GenomicsDefault.*layer_overrides"):
        _chain(*chain, shape=shape)


def test_activation_target_raises_runtime_error():
    """0.6.13 refused an activation layer as the target layer."""
    model = _chain(_dense, _relu)
    with pytest.raises(RuntimeError, match="activation layer"):
        model.get_target_contribs_func(find_scores_layer_idx=0,
                                       target_layer_idx=-1)


def test_unimplemented_0613_methods_say_so():
    model = _chain(_dense, _relu)
    with pytest.raises(NotImplementedError):
        model.get_target_contribs_of_input_with_filter_ref_func(
            find_scores_layer_idx=0, target_layer_idx=1)
    with pytest.raises(NotImplementedError):
        model.save_to_yaml_only("x.yaml")
    import deeplift.util
    with pytest.raises(RuntimeError, match="compile_func"):
        deeplift.util.get_session()
