"""Loading a saved model with Keras, safely, when its configs alone do not
convert.

A model whose every layer class has a conversion is converted from its
configs and weights (read with h5py / zipfile / json): no Keras model is
built and nothing in the file runs.  Otherwise (a custom or third-party
class, a ``Lambda``, a ``TimeDistributed`` around such a class) the live
Keras layers are needed, so that the converter can trace them
(``ConversionOptions.keras_layers``), and the model is loaded by Keras,
under these rules:

* Python modules.  A Keras 3 config names the module of every class
  (``"module": "crested.layers"``, ``"registered_name": "crested>gelu_enf"``)
  and Keras imports some of them while loading.  deeplift never lets a
  module a model file names be imported unless the user named its package
  (``import_packages=["crested"]``, CLI ``--import crested``); Keras' own
  modules (``keras.*``) are allowed.  Any other module stops loading with
  one :class:`ModelLoadingError` naming the module, a layer using it and
  the option.  The named packages are imported by deeplift (so that their
  classes register with Keras) before Keras reads the file; one that does
  not import is a :class:`ModelLoadingError` too.  When Keras cannot load
  the model for another reason, a warning says why and the converter
  reports the layers it cannot convert, as without loading.
* Python code.  A ``Lambda`` holds Python bytecode that loading runs; it
  is loaded only with ``trust_model=True`` (CLI ``--trust-model``).  Keras
  3 loads with ``safe_mode=not trust_model``.  Without trust, a model
  whose only unconverted layers are Lambdas is converted from its configs
  as before (each Lambda a placeholder: the outputs that do not need it
  are scored, e.g. ChromBPNet's profile head); with other unconverted
  classes besides, it is not loaded either (those become placeholders too)
  and a warning says why.
"""
import importlib
import logging
import os

from deeplift.conversion import readers, registry
from deeplift.conversion.errors import UnsupportedLayerError

logger = logging.getLogger(__name__)

#: top-level packages whose modules a model file may name without the
#: user naming them (Keras' own; ``builtins`` for serialized Python values)
KERAS_PACKAGES = frozenset(["keras", "tf_keras", "builtins"])

#: classes that hold Python code loading would run
CODE_CLASSES = frozenset(["Lambda"])


class ModelLoadingError(UnsupportedLayerError):
    """The model cannot be loaded with Keras under the loading rules (a
    module the user did not name, a package that does not import), so
    layers that need Keras stay unconverted.  An
    :class:`UnsupportedLayerError` (its ``unsupported`` / ``ops`` /
    ``settings`` are the converter's, when it got that far) whose message
    names the module or package and the option."""

    def __init__(self, message, unsupported=None, ops=None, settings=None):
        self._message = message
        super(ModelLoadingError, self).__init__(unsupported, ops=ops,
                                                settings=settings)

    def _build_message(self):
        return self._message

    def __reduce__(self):
        return (self.__class__, (self._message, self.unsupported, self.ops,
                                 self.settings))


class ModuleNotNamedError(ModelLoadingError):
    """The model file names a module whose package the user did not name
    (``import_packages``)."""


def _entries(model_config):
    cls = model_config.get("class_name")
    if cls not in readers.CONTAINER_CLASSES:
        return []
    return readers.container_layer_entries(cls, model_config.get("config"))


def walk_layers(model_config, path=""):
    """``(path/name, entry)`` of every layer entry of a model config as
    ``deeplift.conversion.readers.read_saved_files`` returns it,
    nested models' layers included (after their model's own entry)."""
    for entry in _entries(model_config):
        name = path + readers.layer_entry_name(entry)
        yield name, entry
        if entry.get("class_name") in readers.CONTAINER_CLASSES:
            for item in walk_layers(entry, name + "/"):
                yield item


def _module_refs(obj, out):
    """Module names an entry's JSON refers to (``module`` keys; the package
    of ``registered_name`` values ``"pkg>Name"``)."""
    if isinstance(obj, dict):
        module = obj.get("module")
        # (a Keras 2 Lambda's ``module`` is where its function was defined:
        # its globals are taken from it when already imported, never
        # imported)
        if isinstance(module, str) and module and \
                "function_type" not in obj:
            out.append(module)
        registered = obj.get("registered_name")
        if isinstance(registered, str) and ">" in registered:
            out.append(registered.split(">", 1)[0])
        for key, value in obj.items():
            if key != "layers":       # nested layers are walked on their own
                _module_refs(value, out)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _module_refs(item, out)
    return out


def referenced_modules(model_config):
    """``{module name: [(layer path, layer class)]}`` of every module the
    config names."""
    found = {}
    for name, entry in walk_layers(model_config):
        for module in _module_refs(entry, []):
            users = found.setdefault(module, [])
            if (name, entry.get("class_name")) not in users:
                users.append((name, entry.get("class_name")))
    return found


def _package(module):
    return module.split(".", 1)[0]


def check_modules(model_config, import_packages=(), source=None):
    """Raise :class:`ModelLoadingError` for the first module the config
    names whose package is neither Keras' own nor in
    ``import_packages``."""
    allowed = KERAS_PACKAGES | set(import_packages or ())
    found = referenced_modules(model_config)
    # full module names before the bare packages of registered names
    for module in sorted(found, key=lambda m: ("." not in m, m)):
        if _package(module) in allowed:
            continue
        name, cls = found[module][0]
        package = _package(module)
        raise ModuleNotNamedError(
            "%s%s (layer %s) comes from Python module '%s', which deeplift "
            "imports only when you name its package: import_packages=[%r] "
            "(CLI: --import %s); or convert the class yourself with "
            "custom_conversion_funcs (CLI: --custom-conversions MODULE:NAME)"
            % ("%s: " % source if source else "", cls, name, module,
               package, package))


def unconverted_layers(model_config, custom_conversion_funcs=None):
    """``{class name: [layer paths]}`` of the layers whose class has no
    conversion (nested models' layers included; op nodes by their op
    table; ``TimeDistributed`` by its wrapped class), of every ``Lambda``,
    and of the layers whose config names a module outside Keras (a
    registered activation of another package)."""
    custom = custom_conversion_funcs or {}
    found = {}
    for name, entry in walk_layers(model_config):
        cls = entry.get("class_name")
        if cls in readers.CONTAINER_CLASSES and cls not in custom:
            continue
        module = entry.get("module")
        if readers.is_op_node(entry):
            known = cls in registry.OPS
        else:
            known = (registry.lookup(cls, custom, module) is not None
                     and cls not in CODE_CLASSES or cls in custom)
            inner = (entry.get("config") or {}).get("layer") \
                if cls == "TimeDistributed" else None
            if known and isinstance(inner, dict) and cls not in custom:
                inner_cls = inner.get("class_name")
                known = registry.lookup(inner_cls, custom,
                                        inner.get("module")) is not None \
                    and inner_cls not in CODE_CLASSES
            if known and cls not in custom and any(
                    _package(m) not in KERAS_PACKAGES
                    for m in _module_refs(entry, [])):
                # e.g. a Dense whose activation is a registered function of
                # another package ("crested>gelu_enf"): only Keras has it
                known = False
        if not known:
            found.setdefault(cls, []).append(name)
    return found


def import_packages_named(import_packages):
    """Import each package the user named (so that its classes register
    with Keras); a :class:`ModelLoadingError` names one that fails."""
    for package in import_packages or ():
        try:
            importlib.import_module(package)
        except Exception as exc:
            raise ModelLoadingError(
                "cannot import package '%s' named by import_packages "
                "(--import): %s: %s" % (package, type(exc).__name__, exc))


def _keras_major(model_config):
    major = str(model_config.get("keras_version") or "3").split(".")[0]
    return int(major) if major.isdigit() else 3


def load_with_keras(h5_file, model_config, json_file=None, yaml_file=None,
                    trust_model=False):
    """The Keras model of a saved file: Keras 3 (``safe_mode=not
    trust_model``) for Keras 3 files, ``tf_keras`` for Keras 1/2 ones
    (only reached when the file holds no Lambda or ``trust_model``).
    Raises :class:`ModelLoadingError` with Keras' first line."""
    if yaml_file is not None:
        raise ModelLoadingError("a YAML model config cannot be loaded by "
                                "current Keras; save the model as .keras")
    keras2 = _keras_major(model_config) < 3 and not str(
        h5_file).endswith(".keras")
    name = "tf_keras" if keras2 else "keras"
    try:
        keras = importlib.import_module(name)
    except ImportError as exc:
        raise ModelLoadingError("loading this Keras %s model needs %s: %s"
                                % ("2" if keras2 else "3", name, exc))
    try:
        if json_file is not None:
            with open(json_file) as handle:
                text = handle.read()
            if keras2:
                model = keras.models.model_from_json(text)
            else:
                from keras.src.saving.serialization_lib import SafeModeScope
                with SafeModeScope(safe_mode=not trust_model):
                    model = keras.models.model_from_json(text)
            model.load_weights(os.fspath(h5_file))
        elif keras2:
            model = keras.models.load_model(os.fspath(h5_file),
                                            compile=False)
        else:
            model = keras.models.load_model(os.fspath(h5_file),
                                            compile=False,
                                            safe_mode=not trust_model)
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        raise ModelLoadingError(
            "%s could not load %s: %s%s" % (
                name, os.fspath(h5_file),
                lines[0][:300] if lines else type(exc).__name__,
                "; if its custom classes come from a package, name it: "
                "import_packages=['PACKAGE'] (CLI: --import PACKAGE)"))
    return model


def live_layers(model):
    """``{name: layer}`` of a Keras model's layers, nested models' layers
    included (also under ``outer/inner``; a plain name taken twice keeps
    the outermost first one)."""
    found = {}

    def walk(container, prefix):
        for layer in getattr(container, "layers", []):
            found.setdefault(layer.name, layer)
            found[prefix + layer.name] = layer
            if getattr(layer, "layers", None):
                walk(layer, prefix + layer.name + "/")
    walk(model, "")
    return found


def keras_layers_for(model_config, h5_file, json_file=None, yaml_file=None,
                     custom_conversion_funcs=None, trust_model=False,
                     import_packages=(), source=None):
    """The live Keras layers (:func:`live_layers`) of a saved model whose
    configs do not all convert, loaded under the module's rules; None when
    every layer converts from its config (nothing is loaded) or when only
    ``Lambda`` layers do not and ``trust_model`` is False."""
    missing = unconverted_layers(model_config, custom_conversion_funcs)
    if not missing:
        return None
    code = sorted(set(sum((missing[c] for c in missing
                           if c in CODE_CLASSES), [])))
    if code and not trust_model:
        others = sorted(c for c in missing if c not in CODE_CLASSES)
        if others:
            logger.warning(
                "%s: not loaded with Keras, so layers of %s are not traced: "
                "Lambda layer(s) %s hold Python code that loading runs; "
                "pass trust_model=True (CLI: --trust-model) for a file you "
                "trust", source or h5_file, ", ".join(others),
                ", ".join(code))
        return None
    check_modules(model_config, import_packages, source)
    import_packages_named(import_packages)
    try:
        model = load_with_keras(h5_file, model_config, json_file, yaml_file,
                                trust_model)
    except ModelLoadingError as exc:
        # the converter then reports the layers it cannot convert
        logger.warning("%s: layers of %s are not traced: %s",
                       source or h5_file, ", ".join(sorted(missing)), exc)
        return None
    logger.info("%s: loaded with Keras to trace %s", source or h5_file,
                ", ".join(sorted(missing)))
    return live_layers(model)
