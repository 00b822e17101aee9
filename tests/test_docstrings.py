"""Every public name of the documented modules has a docstring.

The modules are those of the API reference (``docs/api/``).  A public name
is one in the module's ``__all__`` or, without ``__all__``, one not starting
with ``_``; of these, the functions and classes defined in the module (or,
for a package, in one of its submodules) are checked, and so are the
public methods and properties a class defines itself.  Fast: imports only,
no Sphinx.
"""
import importlib
import inspect

import pytest

#: the modules of the API reference (issue 19; docs/conf.py API_MODULES
#: makes the Sphinx build check the same); docs/api/*.rst has a page each
DOCUMENTED_MODULES = (
    "deeplift.layers",
    "deeplift.conversion.kerasapi_conversion",
    "deeplift.models",
    "deeplift.multiref",
    "deeplift.targets",
    "deeplift.genomics",
    "deeplift.deepexplain",
    "deeplift.integrated_gradients",
    "deeplift.util",
    "deeplift.dinuc_shuffle",
    "deeplift.visualization",
    "deeplift.visualization.viz_sequence",
    "deeplift.visualization.heatmap",
    "deeplift.visualization.matplotlib_helpers",
    "deeplift.methods",
    "deeplift.tokens",
    "deeplift.conversion.loading",
    "deeplift.conversion.tracing",
    "deeplift.visualization.tokens",
)


def _defined_in(obj, module):
    """Whether ``obj`` was defined in ``module`` (or, for a package, in one of
    its submodules)."""
    where = getattr(obj, "__module__", None) or ""
    if where == module.__name__:
        return True
    return (hasattr(module, "__path__")
            and where.startswith(module.__name__ + "."))


def public_names(module):
    """(qualified name, object) of every public function, class and class
    member of ``module`` that needs a docstring."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in dir(module) if not n.startswith("_")]
    found = []
    for name in names:
        obj = getattr(module, name)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        if not _defined_in(obj, module):
            continue
        found.append(("%s.%s" % (module.__name__, name), obj))
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                if inspect.isfunction(member) or isinstance(member, property):
                    found.append(("%s.%s.%s" % (module.__name__, name, attr),
                                  member))
    return found


def _has_doc(obj):
    """A class needs its own docstring (a subclass is a different layer or
    object); a method or property may inherit the docstring of the method
    it overrides (same contract), as Sphinx shows it."""
    if inspect.isclass(obj):
        doc = vars(obj).get("__doc__")
        return bool(isinstance(doc, str) and doc.strip())
    doc = obj.__doc__ if isinstance(obj, property) else inspect.getdoc(obj)
    if isinstance(obj, property) and not doc and obj.fget is not None:
        doc = obj.fget.__doc__
    return bool(doc and doc.strip())


@pytest.mark.parametrize("module_name", DOCUMENTED_MODULES)
def test_module_has_docstring(module_name):
    module = importlib.import_module(module_name)
    assert (module.__doc__ or "").strip(), "%s has no docstring" % module_name


@pytest.mark.parametrize("module_name", DOCUMENTED_MODULES)
def test_public_names_have_docstrings(module_name):
    module = importlib.import_module(module_name)
    names = public_names(module)
    if not hasattr(module, "__path__"):   # a package may only hold modules
        assert names, "no public functions or classes in %s" % module_name
    missing = [name for name, obj in names if not _has_doc(obj)]
    assert not missing, ("public names without a docstring (add one with the "
                         "contract: arguments, shapes, what is returned): "
                         + ", ".join(missing))
