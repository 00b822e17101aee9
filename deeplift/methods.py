"""The attribution methods offered by the front ends (``deeplift`` CLI,
the demo, :mod:`deeplift.genomics`, DeepExplain): one registry.

Each :class:`Method` says which nonlinearity rule a model is converted
with (a :data:`deeplift.layers.NonlinearMxtsMode` value, as a string so
this module imports only the leaf :mod:`deeplift.modes`), its family
(``deeplift``, ``gradient`` or ``integrated_gradients``), its aliases,
its help text and, for integrated gradients, the default number of path
points.
Adding a method is one :func:`register` call (or one entry in
:data:`_BUILTIN`).

    >>> get("IG").name
    'integrated_gradients'
    >>> get("rescale").nonlinear_mxts_mode
    'Rescale'
"""
from dataclasses import dataclass, field

from deeplift.modes import NonlinearMxtsMode as _MODE

__all__ = ["Method", "METHODS", "get", "normalize", "names", "register",
           "mode_of", "help_text", "DEEPLIFT", "GRADIENT",
           "INTEGRATED_GRADIENTS"]

#: families: DeepLIFT multipliers; plain gradients (x (input - reference));
#: gradients averaged along the straight path from the reference
DEEPLIFT, GRADIENT, INTEGRATED_GRADIENTS = ("deeplift", "gradient",
                                            "integrated_gradients")


@dataclass(frozen=True)
class Method:
    """One attribution method.

    ``name``: canonical name; ``nonlinear_mxts_mode``: the
    ``NonlinearMxtsMode`` value the model is converted with; ``family``:
    one of :data:`DEEPLIFT`, :data:`GRADIENT`, :data:`INTEGRATED_GRADIENTS`;
    ``label``: a human-readable name (the demo's table); ``help``: one
    phrase for ``--help``; ``aliases``: other accepted spellings
    (compared after lower-casing and mapping '-' and ' ' to '_');
    ``ig_steps``: default path points (integrated gradients only);
    ``deepexplain``: the DeepExplain name of the same computation, if any.
    """
    name: str
    nonlinear_mxts_mode: str
    family: str
    label: str
    help: str
    aliases: tuple = field(default=())
    ig_steps: int = None
    deepexplain: str = None


#: the built-in methods, registered at import in this order
_BUILTIN = (
    Method("rescale", _MODE.Rescale, DEEPLIFT, "DeepLIFT Rescale",
           "DeepLIFT with the Rescale rule everywhere",
           deepexplain="deeplift"),
    Method("revealcancel", _MODE.RevealCancel, DEEPLIFT,
           "DeepLIFT RevealCancel",
           "DeepLIFT with the RevealCancel rule everywhere",
           aliases=("reveal_cancel",)),
    Method("genomics_default", _MODE.DeepLIFT_GenomicsDefault, DEEPLIFT,
           "DeepLIFT genomics default",
           "DeepLIFT with Rescale after convolutions and RevealCancel after "
           "dense layers",
           aliases=("genomicsdefault", "deeplift_genomicsdefault",
                    "deeplift_genomics_default")),
    Method("gradient", _MODE.Gradient, GRADIENT, "gradient x input",
           "gradient x (input - reference)",
           aliases=("grad", "grad_times_input", "gradient_times_input",
                    "gradxinput", "grad*input"),
           deepexplain="grad*input"),
    Method("guided_backprop", _MODE.GuidedBackprop, GRADIENT,
           "guided backprop x input",
           "guided backpropagation x (input - reference)",
           aliases=("guidedbackprop",)),
    Method("integrated_gradients", _MODE.Gradient, INTEGRATED_GRADIENTS,
           "integrated gradients",
           "gradients averaged along the straight path from the reference, "
           "x (input - reference)",
           aliases=("ig", "integratedgradients", "intgrad"), ig_steps=20,
           deepexplain="intgrad"),
)

#: canonical name -> :class:`Method`, in registration order
METHODS = {}
_ALIASES = {}


def _key(text):
    return text.strip().lower().replace("-", "_").replace(" ", "_")


def register(method):
    """Add ``method`` (a :class:`Method`) to the registry; its name and
    aliases must be new.  Returns it."""
    keys = [_key(method.name)] + [_key(a) for a in method.aliases]
    taken = [k for k in keys if k in _ALIASES]
    if taken:
        raise ValueError("method name or alias %r is already registered"
                         % (taken[0],))
    if method.family not in (DEEPLIFT, GRADIENT, INTEGRATED_GRADIENTS):
        raise ValueError("unknown method family %r" % (method.family,))
    METHODS[method.name] = method
    for k in keys:
        _ALIASES[k] = method.name
    return method


for _method in _BUILTIN:
    register(_method)


def names():
    """The canonical method names, in registration order."""
    return tuple(METHODS)


def normalize(name):
    """The canonical name for ``name`` (case-insensitive; '-' or '_'; the
    aliases).  Raises ValueError naming the valid choices otherwise."""
    if isinstance(name, str):
        canonical = _ALIASES.get(_key(name))
        if canonical is not None:
            return canonical
    raise ValueError("unknown method %r; choose from: %s"
                     % (name, ", ".join(METHODS)))


def get(name):
    """The :class:`Method` called ``name`` (or an alias of it)."""
    return METHODS[normalize(name)]


def mode_of(name):
    """The ``NonlinearMxtsMode`` value (a string) a model is converted with
    for method ``name``."""
    return get(name).nonlinear_mxts_mode


def help_text():
    """One sentence listing every method and what it computes (for the
    CLI's ``--method`` help)."""
    return "; ".join("%s (%s)" % (m.name, m.help) for m in METHODS.values())
