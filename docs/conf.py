"""Sphinx configuration of the deeplift documentation.

Built by ``scripts/build_docs.sh`` with ``-W --keep-going -n``: every
warning (a broken cross-reference, a docstring that is not valid
reStructuredText, a notebook cell that raises) fails the build.
"""
import inspect
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))        # the repository's deeplift
sys.path.insert(0, os.path.join(HERE, "_ext"))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("DEEPLIFT_NO_PROGRESS", "1")

import deeplift  # noqa: E402
from sphinx.util import logging as _logging  # noqa: E402

logger = _logging.getLogger("deeplift-docs")

project = "deeplift"
author = "the deeplift developers"
copyright = "the deeplift developers"
release = deeplift.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "myst_nb",
    "sphinx_design",
    "deeplift_cli",
    "deeplift_refs",
]

exclude_patterns = ["_build", "**.ipynb_checkpoints", "jupyter_execute"]
html_theme = "furo"
# "--format" stays two hyphens (no en dashes in option names)
smartquotes = False
html_title = "deeplift %s" % release

# ----- autodoc ------------------------------------------------------------
# every page names ``:members:`` itself (a default ``members`` would
# override the explicit member lists of api/internals.rst)
autodoc_default_options = {"member-order": "bysource"}
autodoc_inherit_docstrings = True
autodoc_typehints = "description"
autodoc_class_signature = "mixed"
# defaults as written in the source (``colors=default_colors``), not the
# repr of the value
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = True

# ----- cross-references -----------------------------------------------------
nitpicky = True
# Types of other libraries (no intersphinx: the build needs no network).
nitpick_ignore_regex = [
    (r"py:.*", r"(np|numpy|tf|tensorflow|keras|tf_keras|zarr|dask|"
               r"distributed|pyfaidx|matplotlib|h5py|pandas)(\..*)?"),
    (r"py:class", r"(int|float|str|bool|bytes|dict|list|tuple|set|object|"
                  r"callable|None|Ellipsis|type|Exception|ValueError|"
                  r"RuntimeError|KeyError|TypeError|ImportError|"
                  r"NotImplementedError|enum\.Enum|Enum)"),
    (r"py:class", r"(typing|collections\.abc|concurrent\.futures|"
                  r"dataclasses|pathlib|os|argparse)\..*"),
    (r"py:mod", r"(random|json|logging|argparse|concurrent\.futures)"),
    # defined inside deeplift.distributed._worker_plugin_class (it
    # subclasses distributed.WorkerPlugin, imported only when needed)
    (r"py:class", r"ModelPlugin"),
]

# ----- notebooks (myst-nb) ----------------------------------------------
nb_execution_mode = "force"          # every tutorial runs at every build
nb_execution_timeout = 300
nb_execution_raise_on_error = True   # a cell error fails the build
nb_execution_show_tb = True
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type"]


#: the modules of the API reference whose every public name must have a
#: docstring (the list of tests/test_docstrings.py)
API_MODULES = (
    "deeplift.layers", "deeplift.conversion.kerasapi_conversion",
    "deeplift.models", "deeplift.multiref", "deeplift.targets",
    "deeplift.genomics", "deeplift.deepexplain",
    "deeplift.integrated_gradients", "deeplift.util", "deeplift.dinuc_shuffle",
    "deeplift.visualization", "deeplift.methods", "deeplift.tokens",
    "deeplift.conversion.loading", "deeplift.conversion.tracing",
)


def _has_doc(obj):
    """As tests/test_docstrings.py: a class needs its own docstring, a
    method or property may inherit the one of the method it overrides."""
    if inspect.isclass(obj):
        doc = vars(obj).get("__doc__")
        return isinstance(doc, str) and bool(doc.strip())
    if isinstance(obj, property):
        return bool((obj.__doc__ or "").strip())
    return bool((inspect.getdoc(obj) or "").strip())


def _skip_member(app, what, name, obj, skip, options):
    """Document only the objects defined in deeplift on pages of packages
    that re-export (``deeplift.layers``), and warn (so fail the build) when
    autodoc leaves out a public deeplift function, class, method or
    property because it has no docstring."""
    module = getattr(obj, "__module__", None)
    if what == "module" and module and not module.startswith("deeplift"):
        return True
    if not skip or name.startswith("_") or what not in ("module", "class"):
        return None
    target = obj.__func__ if isinstance(obj, (staticmethod, classmethod)) \
        else obj
    if not (inspect.isfunction(target) or inspect.isclass(target)
            or isinstance(target, property)):
        return None
    home = getattr(target.fget if isinstance(target, property) else target,
                   "__module__", None) or ""
    current = app.env.temp_data.get("autodoc:module") or ""
    if not (home == current or home.startswith(current + ".")):
        return None          # defined elsewhere (its own page checks it)
    if not any(current == m or current.startswith(m + ".")
               for m in API_MODULES):
        return None          # api/internals.rst: reference only
    names = getattr(sys.modules.get(current), "__all__", None)
    if what == "module" and names is not None and name not in names:
        return None          # not public: the module's __all__ leaves it out
    if not _has_doc(target):
        logger.warning("%s.%s has no docstring (public names need one)",
                       current, name, type="deeplift", subtype="docstring")
    return None


def _prose_fields():
    """deeplift's docstrings are prose: a ``Returns:`` section or an
    attribute's docstring never starts with a type, so napoleon must not
    turn ``For a string: ...`` or ``families: ...`` into a type (which
    nitpicky mode would then look up)."""
    from sphinx.ext.napoleon.docstring import GoogleDocstring

    def consume_inline_attribute(self):
        lines = [self._lines.next(), *self._dedent(self._consume_to_end())]
        return "", self.__class__(lines, self._config).lines()

    def consume_returns_section(self, preprocess_types=False):
        lines = self._dedent(self._consume_to_next_section())
        return [("", "", lines)] if lines else []

    GoogleDocstring._consume_inline_attribute = consume_inline_attribute
    GoogleDocstring._consume_returns_section = consume_returns_section


_prose_fields()


def _plural_literals(app, what, name, obj, options, lines):
    """``tf.function``s: an inline literal followed by a letter is not
    valid reStructuredText; separate them with an escaped space."""
    for i, line in enumerate(lines):
        lines[i] = re.sub(r"(``[^`]+``)([A-Za-z])", r"\1\\ \2", line)


def _require_docstring(app, what, name, obj, options, lines):
    """A public function, class, method or property documented without a
    docstring is a warning, so the build fails (tests/test_docstrings.py
    checks the same without Sphinx)."""
    if what not in ("function", "class", "method", "property", "exception"):
        return
    if name.rpartition(".")[2].startswith("_"):
        return
    if not any(line.strip() for line in lines):
        logger.warning("%s %s has no docstring", what, name,
                       type="deeplift", subtype="docstring")


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("autodoc-process-docstring", _require_docstring)
    # before napoleon (priority 500), which parses the docstring
    app.connect("autodoc-process-docstring", _plural_literals, priority=400)
