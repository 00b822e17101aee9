"""Genomics helpers: one-hot encoding, FASTA reading, references, scoring
of DNA sequences and a small simulation of the DeepLIFT paper's data.

The main entry point is :func:`score_sequences`::

    from deeplift import genomics
    onehot = genomics.one_hot_encode(["ACGTN...", ...])      # (N, L, 4)
    hyp, contribs = genomics.score_sequences(
        "model.h5", onehot, task_idx=0, method="genomics_default",
        reference="dinuc-shuffle:20", seed=0)

``hyp`` holds the hypothetical contributions (for every position, the
contribution each of the four bases would have there), averaged over the
references; ``contribs = hyp * onehot`` is the actual contribution of the
observed base (zero for the other bases and for N positions).

Methods (the name of the attribution rule; in this package the rule is
chosen when the Keras model is converted, see
:data:`METHOD_TO_NONLINEAR_MXTS_MODE`):

* ``rescale``, ``revealcancel``: DeepLIFT with that rule everywhere;
* ``genomics_default``: DeepLIFT with Rescale for nonlinearities after
  convolutions and RevealCancel after dense layers (the original default);
* ``gradient``: gradient x (input - reference), i.e. gradient x input with
  the ``zeros`` reference;
* ``guided_backprop``: guided backpropagation x (input - reference);
* ``integrated_gradients``: gradients averaged over ``ig_steps`` points of
  the straight path from the reference to the input, x (input - reference).

References (``reference=``):

* ``"zeros"``: an all-zero sequence;
* ``"gc"``: every position holds the sequence's own base composition,
  ``[(1-g)/2, g/2, g/2, (1-g)/2]`` with ``g`` its GC fraction (N positions
  excluded); ``"gc:0.41"`` uses a fixed GC fraction;
* ``"dinuc-shuffle:N"``: N dinucleotide-shuffled versions of each sequence
  (seeded by ``seed``), scores averaged over them;
* an array: ``(4,)`` (the same at every position), ``(L, 4)`` or
  ``(1, L, 4)`` shared by all sequences,
  ``(N, L, 4)`` one per sequence, ``(N, R, L, 4)`` R per sequence or
  ``(1, R, L, 4)`` R shared ones (scores averaged over the R references).
"""
import gzip
import logging
import os
import re
import weakref

import numpy as np

from deeplift.layers import NonlinearMxtsMode
from deeplift.progress import progress_bar
from deeplift.scoring import is_task_list, should_fuse

logger = logging.getLogger(__name__)

__all__ = ["one_hot_encode", "read_fasta", "gc_reference", "parse_reference",
           "make_references", "normalize_method", "load_model",
           "score_sequences", "simulate_sequences", "motif_mask_auroc",
           "METHODS", "METHOD_TO_NONLINEAR_MXTS_MODE", "TASK_NAMES",
           "GATA_PWM", "TAL1_PWM", "BACKGROUND"]

BASES = "ACGT"

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
#: ``batch_size``
_REFERENCE_CHUNK = 128
#: integrated gradients: path points evaluated per call
_IG_POINTS_PER_BLOCK = 8192
#: the method :func:`score_sequences` uses for an already converted model
#: given with ``method=None``: the first of these that the model supports
_DEFAULT_METHODS = ("genomics_default", "gradient", "rescale",
                    "revealcancel", "guided_backprop")


# ---------------------------------------------------------------------------
# encoding and files
# ---------------------------------------------------------------------------

_LOOKUP = np.full(256, 4, dtype=np.intp)
for _i, _b in enumerate(BASES):
    _LOOKUP[ord(_b)] = _i
    _LOOKUP[ord(_b.lower())] = _i


def one_hot_encode(seqs):
    """One-hot encode DNA sequences as a float32 array of shape (N, L, 4).

    Columns are A, C, G, T; lowercase bases are accepted; N and any other
    character give an all-zero row.  ``seqs`` is a list of equal-length
    strings (a single string is treated as a list of one).
    """
    if isinstance(seqs, (str, bytes)):
        seqs = [seqs]
    seqs = [s.decode("ascii", "replace") if isinstance(s, bytes) else s
            for s in seqs]
    for i, s in enumerate(seqs):
        if not isinstance(s, str):
            raise ValueError("sequence %d is a %s, not a string"
                             % (i, type(s).__name__))
    if not seqs:
        return np.zeros((0, 0, 4), dtype=np.float32)
    bad = length_mismatch(seqs)
    if bad is not None:
        raise ValueError(
            "sequences must all have the same length; sequence 0 has length "
            "%d but sequence %d has length %d"
            % (len(seqs[0]), bad, len(seqs[bad])))
    length = len(seqs[0])
    raw = "".join(seqs).encode("ascii", "replace")
    codes = _LOOKUP[np.frombuffer(raw, dtype=np.uint8)]
    table = np.concatenate([np.eye(4, dtype=np.float32),
                            np.zeros((1, 4), dtype=np.float32)])
    return table[codes].reshape(len(seqs), length, 4)


def length_mismatch(seqs):
    """The index of the first sequence whose length differs from that of
    ``seqs[0]``, or None when they all have the same length."""
    return next((i for i, s in enumerate(seqs) if len(s) != len(seqs[0])),
                None)


def onehot_to_sequences(onehot):
    """Inverse of :func:`one_hot_encode` (all-zero rows become ``N``)."""
    onehot = np.asarray(onehot)
    letters = np.array(list(BASES + "N"))
    idx = np.where(onehot.sum(-1) > 0, onehot.argmax(-1), 4)
    return ["".join(letters[row]) for row in idx]


_FASTA_OK = re.compile(r"^[A-Za-z\-\.\*]*$")


def read_fasta(path):
    """Read a FASTA file (optionally gzipped) into ``(names, sequences)``.

    Sequences may span several lines; blank lines and ``;`` comment lines
    are skipped; the name is the header line's text after ``>``.  Case is
    kept (:func:`one_hot_encode` accepts lowercase).  Raises ValueError for
    a file without records, sequence text before the first header or
    characters that are not letters (or ``-``, ``.``, ``*``).
    """
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    names, seqs, parts = [], [], None
    try:
        with opener(path, "rt") as handle:
            for lineno, line in enumerate(handle, 1):
                line = line.strip()
                if not line or line.startswith(";"):
                    continue
                if line.startswith(">"):
                    if parts is not None:
                        seqs.append("".join(parts))
                    names.append(line[1:].strip())
                    parts = []
                    continue
                if parts is None:
                    raise ValueError(
                        "%s line %d: sequence text before the first '>' "
                        "header (is this a FASTA file?)" % (path, lineno))
                line = "".join(line.split())
                if not _FASTA_OK.match(line):
                    bad = next(c for c in line if not _FASTA_OK.match(c))
                    raise ValueError("%s line %d: invalid character %r in "
                                     "a sequence" % (path, lineno, bad))
                parts.append(line)
    except UnicodeDecodeError:
        raise ValueError("%s is not a text FASTA file" % (path,))
    except (OSError, EOFError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError("cannot read FASTA file %s: %s" % (path, exc))
    if parts is not None:
        seqs.append("".join(parts))
    if not seqs:
        raise ValueError("%s contains no FASTA records" % (path,))
    return names, seqs


# ---------------------------------------------------------------------------
# references
# ---------------------------------------------------------------------------

def gc_reference(onehot, gc=None):
    """Base-composition references for one-hot sequences.

    Returns a float32 array shaped like ``onehot`` ((N, L, 4) or (L, 4))
    whose every position is ``[(1-g)/2, g/2, g/2, (1-g)/2]``, where ``g``
    is ``gc`` if given, else each sequence's own GC fraction over its
    non-N positions (0.5 for an all-N sequence).
    """
    onehot = np.asarray(onehot, dtype=np.float32)
    single = onehot.ndim == 2
    if single:
        onehot = onehot[None]
    if onehot.ndim != 3 or onehot.shape[-1] != 4:
        raise ValueError("gc_reference needs one-hot sequences of shape "
                         "(N, L, 4) or (L, 4); got %s" % (onehot.shape,))
    if gc is None:
        counts = onehot.sum(axis=1)                      # (N, 4)
        total = counts.sum(axis=1)
        g = np.where(total > 0, (counts[:, 1] + counts[:, 2])
                     / np.maximum(total, 1), 0.5)
    else:
        gc = float(gc)
        if not 0.0 <= gc <= 1.0:
            raise ValueError("GC fraction must be between 0 and 1, got %r"
                             % (gc,))
        g = np.full(len(onehot), gc)
    probs = np.stack([(1 - g) / 2, g / 2, g / 2, (1 - g) / 2],
                     axis=-1).astype(np.float32)         # (N, 4)
    ref = np.ascontiguousarray(np.broadcast_to(probs[:, None, :],
                                               onehot.shape))
    return ref[0] if single else ref


_DINUC_RE = re.compile(r"^dinuc[-_]?shuffle(?::(\d+))?$")
_GC_RE = re.compile(r"^gc(?::([0-9.eE+-]+))?$")


def parse_reference(spec):
    """Parse a reference specification.

    Returns ``("zeros", None)``, ``("gc", None or fraction)``,
    ``("dinuc-shuffle", n)`` or ``("array", ndarray)``.  A string ending in
    ``.npy`` is loaded as an array.  Raises ValueError for anything else.
    """
    if isinstance(spec, np.ndarray) or isinstance(spec, (list, tuple)):
        return ("array", np.asarray(spec, dtype=np.float32))
    if not isinstance(spec, str):
        raise ValueError("unknown reference %r; use 'zeros', 'gc', "
                         "'gc:<fraction>', 'dinuc-shuffle:<N>', a .npy file "
                         "or an array" % (spec,))
    text = spec.strip()
    low = text.lower()
    if low in ("zeros", "zero"):
        return ("zeros", None)
    match = _GC_RE.match(low)
    if match:
        if match.group(1) is None:
            return ("gc", None)
        try:
            gc = float(match.group(1))
        except ValueError:
            gc = -1.0
        if not 0.0 <= gc <= 1.0:
            raise ValueError("invalid reference %r: the GC fraction must be "
                             "a number between 0 and 1" % (spec,))
        return ("gc", gc)
    match = _DINUC_RE.match(low)
    if match:
        num = int(match.group(1)) if match.group(1) is not None else 20
        if num < 1:
            raise ValueError("invalid reference %r: the number of shuffles "
                             "must be at least 1" % (spec,))
        return ("dinuc-shuffle", num)
    if low.endswith(".npy"):
        try:
            array = np.load(text, allow_pickle=False)
        except FileNotFoundError:
            raise ValueError("reference file %s does not exist" % (text,))
        except (OSError, ValueError) as exc:
            raise ValueError("cannot read reference file %s: %s"
                             % (text, exc))
        if not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
            raise ValueError("reference file %s holds a non-numeric array"
                             % (text,))
        return ("array", array.astype(np.float32))
    raise ValueError("unknown reference %r; use 'zeros', 'gc', "
                     "'gc:<fraction>', 'dinuc-shuffle:<N>' or a .npy file"
                     % (spec,))


def _check_reference_array(array, num, length):
    """Reshape a reference array to (N or 1, R, L, 4)."""
    shape = array.shape
    if shape == (4,):
        return np.broadcast_to(array, (1, 1, length, 4))
    if array.ndim == 2 and shape == (length, 4):
        return array[None, None]
    if array.ndim == 3 and shape[1:] == (length, 4) and shape[0] in (1, num):
        return array[:, None]
    if array.ndim == 4 and shape[2:] == (length, 4) and shape[0] in (1, num):
        return array
    raise ValueError(
        "reference array has shape %s; for %d sequences of length %d use "
        "(4,), (%d, 4), (1, %d, 4), (%d, %d, 4), (%d, R, %d, 4) or "
        "(1, R, %d, 4)" % (shape, num, length, length, length, num, length,
                           num, length, length))


def make_references(onehot, reference="dinuc-shuffle:20", seed=0):
    """References for one-hot sequences ``onehot`` (N, L, 4) as an array
    of shape (N, R, L, 4) (R references per sequence).  Same rules as
    :func:`score_sequences`."""
    onehot = np.asarray(onehot, dtype=np.float32)
    parts = [refs for _, _, refs in _reference_chunks(onehot, reference,
                                                      seed)[0]]
    if not parts:
        return np.zeros((0, 1) + onehot.shape[1:], dtype=np.float32)
    return np.concatenate(parts, axis=0)


def _reference_chunks(onehot, reference, seed):
    """Check ``reference`` and return an iterator of ``(start, chunk,
    refs)``: the sequences ``onehot[start:start + len(chunk)]`` and their
    references, (len(chunk), R, L, 4), for chunks of
    :data:`_REFERENCE_CHUNK` sequences (shuffles are drawn chunk by chunk
    from one random stream seeded by ``seed``), and R."""
    kind, value = parse_reference(reference)
    if kind == "array":
        value = _check_reference_array(value, len(onehot), onehot.shape[1])
    if kind == "dinuc-shuffle":
        refs_per_sequence = value
    elif kind == "array":
        refs_per_sequence = value.shape[1]
    else:
        refs_per_sequence = 1
    rng = np.random.RandomState(seed)

    def chunks():
        for start in range(0, len(onehot), _REFERENCE_CHUNK):
            chunk = onehot[start:start + _REFERENCE_CHUNK]
            yield start, chunk, _chunk_references(chunk, start, kind, value,
                                                  rng)
    return chunks(), int(refs_per_sequence)


def _chunk_references(chunk, start, kind, value, rng):
    if kind == "zeros":
        return np.zeros((len(chunk), 1) + chunk.shape[1:], dtype=np.float32)
    if kind == "gc":
        return gc_reference(chunk, value)[:, None]
    if kind == "dinuc-shuffle":
        from deeplift.dinuc_shuffle import dinuc_shuffle_batch
        return dinuc_shuffle_batch(chunk, value, rng=rng).astype(np.float32)
    if kind == "array":     # (1 or N, R, L, 4)
        refs = value if len(value) == 1 else value[start:start + len(chunk)]
        return np.broadcast_to(refs, (len(chunk),) + refs.shape[1:])
    raise AssertionError(kind)


# ---------------------------------------------------------------------------
# models and methods
# ---------------------------------------------------------------------------

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


def _check_onehot(onehot, length):
    if isinstance(onehot, (list, tuple)) and onehot and isinstance(
            onehot[0], str):
        onehot = one_hot_encode(onehot)
    onehot = np.asarray(onehot)
    if onehot.ndim != 3 or onehot.shape[-1] != 4:
        raise ValueError("sequences must be one-hot encoded with shape "
                         "(N, L, 4); got shape %s" % (onehot.shape,))
    if not (np.issubdtype(onehot.dtype, np.number) or onehot.dtype == bool):
        raise ValueError("one-hot sequences must be numeric; got dtype %s"
                         % (onehot.dtype,))
    onehot = onehot.astype(np.float32)
    if length is not None and onehot.shape[1] != length:
        raise ValueError("the sequences have length %d but the model expects "
                         "length %d" % (onehot.shape[1], length))
    if not np.all(np.isfinite(onehot)):
        raise ValueError("the one-hot sequences contain NaN or infinite "
                         "values")
    return onehot


def score_sequences(model, onehot, task_idx=0, method="genomics_default",
                    reference="dinuc-shuffle:20", seed=0, batch_size=256,
                    find_scores_layer=0, target_layer=-2, progress=True,
                    ig_steps=20, json_file=None, yaml_file=None, fuse=None):
    """Hypothetical and actual contributions of one-hot DNA sequences.

    Arguments:
        model: a converted deeplift model, or the path of a saved Keras
            model (then ``json_file``/``yaml_file`` as for
            :func:`deeplift.conversion.kerasapi_conversion.convert_model_from_saved_files`);
            a path is converted for ``method``.
        onehot: (N, L, 4) one-hot sequences (or a list of strings).
        task_idx: the output unit of ``target_layer`` to explain, or a
            list of T units: one forward pass per batch then serves all T,
            and both returned arrays get a leading task axis, (T, N, L, 4).
        method: one of :data:`METHODS`; with an already converted model,
            ``None`` (use the model's rule) or a method that its conversion
            supports (a ValueError says how to reconvert otherwise).
        reference: see the module docstring.
        seed: seeds the dinucleotide shuffles.
        batch_size: (sequence, reference) pairs per compiled call.
        find_scores_layer, target_layer: layer indices (Sequential) or
            names (functional); by default the input and the layer before
            the final activation.
        progress: show a progress bar on stderr.
        ig_steps: path points for ``integrated_gradients``.
        fuse: run the rules' large elementwise math XLA-compiled (same
            numbers; see :func:`deeplift.scoring.should_fuse`); None decides
            once for the whole job by its number of (sequence, reference)
            pairs.

    Returns ``(hypothetical, contribs)``, two float32 arrays of shape
    (N, L, 4): the hypothetical contributions averaged over the references
    (see :func:`deeplift.util.get_hypothetical_contribs_func_onehot`;
    computed by :class:`deeplift.multiref.MultiRefScorer`) and
    ``hypothetical * onehot``.
    """
    if isinstance(model, (str, os.PathLike)):
        model = load_model(model, json_file=json_file, yaml_file=yaml_file,
                           method=("genomics_default" if method is None
                                   else method))
        method = model.deeplift_method
    else:
        supported = model_methods(model)
        if method is None:
            method = getattr(model, "deeplift_method", None) or next(
                (m for m in _DEFAULT_METHODS if m in supported),
                "genomics_default")
        method = normalize_method(method)
        if supported and method not in supported:
            raise ValueError(
                "method %r needs a model converted with nonlinear_mxts_mode="
                "%s, but this model supports %s; convert it again (or pass "
                "the model's file path, or method=None)"
                % (method, METHOD_TO_NONLINEAR_MXTS_MODE[method],
                   sorted(supported)))
    if batch_size is None or int(batch_size) < 1:
        raise ValueError("batch_size must be a positive integer, got %r"
                         % (batch_size,))
    batch_size = int(batch_size)
    ig_steps = int(ig_steps)
    if ig_steps < 1:
        raise ValueError("ig_steps must be at least 1, got %r" % (ig_steps,))
    in_shape = _input_layer(model).get_shape()
    if len(in_shape) != 3 or in_shape[-1] != 4:
        raise ValueError("the model's input has shape %s, not (None, L, 4) "
                         "one-hot DNA" % (tuple(in_shape),))
    onehot = _check_onehot(onehot, in_shape[1])
    scorer = _scorer(model, find_scores_layer, target_layer)
    # checks the task index or list (and that the target has such units)
    # before any reference is drawn
    scorer.scorer.seeds(task_idx, None, len(onehot), np.float32)
    several = is_task_list(task_idx)
    chunks, refs_per_sequence = _reference_chunks(onehot, reference, seed)
    if method != "integrated_gradients":
        ig_steps = None
    # decided for the whole job, not per chunk: compiling pays off over
    # all of its (sequence, reference) pairs
    fuse = should_fuse(fuse, len(onehot) * refs_per_sequence
                       * (ig_steps or 1))
    lead = (len(task_idx),) if several else ()
    hyp = np.empty(lead + onehot.shape, dtype=np.float32)
    with progress_bar(len(onehot), bool(progress),
                      "deeplift %s" % method) as bar:
        for start, chunk, refs in chunks:
            hyp[..., start:start + len(chunk), :, :] = _mean_hypothetical(
                scorer, chunk, refs, task_idx, batch_size, ig_steps, fuse)
            bar.update(len(chunk))
    return hyp, hyp * onehot


def _mean_hypothetical(scorer, chunk, refs, task_idx, batch_size, ig_steps,
                       fuse=None):
    """Hypothetical contributions of ``chunk`` (n, L, 4) averaged over its
    references ``refs`` (n, R, L, 4); with ``ig_steps``, integrated
    gradients along ``ig_steps`` points of each straight path.  A list of
    T tasks adds a leading task axis."""
    def hypothetical(inputs, references):
        return scorer.run(inputs, references, task_idx=task_idx, fuse=fuse,
                          batch_size=batch_size, hypothetical=True,
                          progress=False).hypothetical_contribs

    if ig_steps is None:
        return hypothetical(chunk, refs)
    # Every path point is scored with its pair's reference; hypothetical
    # contributions are linear in the multipliers, so their mean over the
    # points is that of the mean gradient.  A block of pairs at a time, to
    # bound memory.
    lead = (len(task_idx),) if is_task_list(task_idx) else ()
    xs = np.repeat(chunk, refs.shape[1], axis=0)          # (n*R, L, 4)
    rs = np.reshape(refs, xs.shape)
    alphas = ((np.arange(ig_steps) + 0.5) / ig_steps).astype(np.float32)
    hyp = np.empty(lead + xs.shape, dtype=np.float32)
    block = max(1, _IG_POINTS_PER_BLOCK // ig_steps)
    for start in range(0, len(xs), block):
        x_b, r_b = xs[start:start + block], rs[start:start + block]
        points = (r_b[:, None] + alphas[:, None, None]
                  * (x_b - r_b)[:, None])              # (b, steps, L, 4)
        hyp[..., start:start + block, :, :] = hypothetical(
            points.reshape((-1,) + xs.shape[1:]),
            np.repeat(r_b, ig_steps, axis=0)[:, None]).reshape(
                lead + points.shape).mean(axis=len(lead) + 1)
    return hyp.reshape(lead + refs.shape).mean(axis=len(lead) + 1)


# ---------------------------------------------------------------------------
# simulation of the paper's data (GATA / TAL1 motifs)
# ---------------------------------------------------------------------------

#: background base frequencies (A, C, G, T)
BACKGROUND = np.array([0.27, 0.23, 0.23, 0.27])

#: position probability matrices (A, C, G, T) approximating the ENCODE
#: motifs GATA_disc1 (10 bp, core GATAA) and TAL1_known1 (16 bp, E-box
#: CAGATG / CAGGTG) embedded in the original DeepLIFT simulation
GATA_PWM = np.array([
    [0.32, 0.19, 0.36, 0.13],
    [0.14, 0.46, 0.33, 0.07],
    [0.67, 0.10, 0.00, 0.23],
    [0.00, 0.00, 1.00, 0.00],
    [1.00, 0.00, 0.00, 0.00],
    [0.00, 0.00, 0.00, 1.00],
    [0.88, 0.00, 0.00, 0.12],
    [0.98, 0.02, 0.00, 0.00],
    [0.00, 0.05, 0.95, 0.00],
    [0.24, 0.26, 0.50, 0.00]])
TAL1_PWM = np.array([
    [0.23, 0.35, 0.28, 0.14],
    [0.15, 0.30, 0.22, 0.33],
    [0.13, 0.23, 0.45, 0.19],
    [0.65, 0.09, 0.14, 0.12],
    [0.61, 0.30, 0.03, 0.06],
    [0.00, 1.00, 0.00, 0.00],
    [1.00, 0.00, 0.00, 0.00],
    [0.00, 0.00, 1.00, 0.00],
    [0.87, 0.01, 0.10, 0.02],
    [0.00, 0.00, 0.00, 1.00],
    [0.00, 0.00, 1.00, 0.00],
    [0.01, 0.03, 0.60, 0.36],
    [0.03, 0.17, 0.01, 0.79],
    [0.19, 0.44, 0.17, 0.20],
    [0.27, 0.22, 0.31, 0.20],
    [0.23, 0.26, 0.31, 0.20]])

#: tasks of the simulation (and of the paper's genomics model): task 0 is
#: positive when both motifs are present, task 1 for GATA, task 2 for TAL1
TASK_NAMES = ("GATA+TAL1", "GATA", "TAL1")


def _sample(rng, probs, size):
    probs = np.asarray(probs, dtype=float)
    probs = probs / probs.sum(axis=-1, keepdims=True)
    cum = np.cumsum(probs, axis=-1)
    u = rng.random_sample(size + (1,) if probs.ndim == 1
                          else size + (len(probs), 1))
    idx = (u > cum).sum(axis=-1)
    return np.minimum(idx, 3)


def simulate_sequences(n, length=200, seed=0):
    """Simulated sequences like the DeepLIFT paper's genomics data.

    Each sequence is random background (A/C/G/T 27/23/23/27%) of one of
    four classes, drawn with equal probability: empty, GATA only (1-3 GATA
    instances), TAL1 only (1-3 TAL1 instances) or both (1-3 of each); the
    instances are sampled from :data:`GATA_PWM` / :data:`TAL1_PWM` and
    placed without overlap.

    Returns ``(sequences, labels, motif_mask)``: a list of ``n`` strings,
    an (n, 3) int array of labels for the tasks of :data:`TASK_NAMES`
    (both motifs, GATA, TAL1) and an (n, 3, length) bool array marking,
    for each task, the positions of the motifs that define it (task 0: all
    motif positions, task 1: GATA, task 2: TAL1).
    """
    n, length = int(n), int(length)
    if n < 0:
        raise ValueError("n must be >= 0")
    if length < len(TAL1_PWM) * 6 + len(GATA_PWM) * 3:
        raise ValueError("length must be at least %d to fit the motifs"
                         % (len(TAL1_PWM) * 6 + len(GATA_PWM) * 3))
    rng = np.random.RandomState(seed)
    tokens = _sample(rng, BACKGROUND, (n, length))
    classes = rng.randint(0, 4, size=n)      # 0 empty 1 gata 2 tal1 3 both
    labels = np.zeros((n, 3), dtype=np.int64)
    mask = np.zeros((n, 3, length), dtype=bool)
    for i in range(n):
        motifs = []
        if classes[i] in (1, 3):
            motifs += [(GATA_PWM, 1)] * rng.randint(1, 4)
        if classes[i] in (2, 3):
            motifs += [(TAL1_PWM, 2)] * rng.randint(1, 4)
        order = rng.permutation(len(motifs))
        occupied = np.zeros(length, dtype=bool)
        for j in order:
            pwm, task = motifs[j]
            width = len(pwm)
            for _ in range(1000):
                start = rng.randint(0, length - width + 1)
                if not occupied[start:start + width].any():
                    break
            else:  # pragma: no cover - lengths are checked above
                continue
            occupied[start:start + width] = True
            tokens[i, start:start + width] = _sample(rng, pwm, ())
            mask[i, task, start:start + width] = True
            labels[i, task] = 1
        labels[i, 0] = int(labels[i, 1] and labels[i, 2])
        mask[i, 0] = mask[i, 1] | mask[i, 2]
    letters = np.frombuffer(BASES.encode(), dtype=np.uint8)
    seqs = [letters[row].tobytes().decode() for row in tokens]
    return seqs, labels, mask


def auroc(scores, labels):
    """Area under the ROC curve of ``scores`` for binary ``labels`` (ties
    count one half); NaN if only one class is present."""
    scores = np.asarray(scores, dtype=float).ravel()
    labels = np.asarray(labels, dtype=bool).ravel()
    num_pos, num_neg = labels.sum(), (~labels).sum()
    if num_pos == 0 or num_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=float)
    sorted_scores = scores[order]
    # average ranks of ties
    _, first, counts = np.unique(sorted_scores, return_index=True,
                                 return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[labels].sum() - num_pos * (num_pos + 1) / 2.0)
                 / (num_pos * num_neg))


def motif_mask_auroc(contribs, mask):
    """Mean over sequences of the per-position AUROC of
    ``|contribs.sum(-1)|`` against the bool ``mask`` (N, L); sequences
    without motif positions are skipped."""
    scores = np.abs(np.asarray(contribs).sum(axis=-1))
    values = [auroc(s, m) for s, m in zip(scores, np.asarray(mask))
              if m.any() and not m.all()]
    return float(np.mean(values)) if values else float("nan")
