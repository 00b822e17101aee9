"""References for one-hot DNA: zeros, base composition, dinucleotide
shuffles or arrays given by the user."""
import re

import numpy as np


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


def make_references(onehot, reference="dinuc-shuffle:20", seed=0,
                    first_index=0):
    """References for one-hot sequences ``onehot`` (N, L, 4) as an array
    of shape (N, R, L, 4) (R references per sequence).  Same rules as
    :func:`score_sequences`; sequence ``i`` is number ``first_index + i``
    of its job (its shuffles are seeded by ``(seed, first_index + i)``)."""
    onehot = np.asarray(onehot, dtype=np.float32)
    spec = ReferenceSpec(reference, len(onehot) + first_index,
                         onehot.shape[1], seed)
    if len(onehot) == 0:
        return np.zeros((0, spec.per_sequence) + onehot.shape[1:],
                        dtype=np.float32)
    return spec.references(onehot, first_index)


class ReferenceSpec:
    """A checked reference specification for the sequences of one job.

    ``ReferenceSpec(reference, num, length, seed)``: ``reference`` as for
    :func:`score_sequences`, for a job of ``num`` sequences of ``length``;
    ``per_sequence`` is R.  :meth:`references` gives the references of any
    run of the job's sequences.  Shuffles of sequence ``i`` of the job are
    drawn from a generator seeded by ``(seed, i)`` alone, so they do not
    depend on how the job is cut into chunks, on their order or on how
    many processes score them.
    """

    def __init__(self, reference, num, length, seed=0):
        self.kind, self.value = parse_reference(reference)
        if self.kind == "array":
            self.value = _check_reference_array(self.value, num, length)
            self.per_sequence = int(self.value.shape[1])
        elif self.kind == "dinuc-shuffle":
            self.per_sequence = int(self.value)
        else:
            self.per_sequence = 1
        if seed is None:      # one fresh seed for the whole job
            seed = int(np.random.SeedSequence().entropy)
        seed = int(seed)
        if seed < 0:
            raise ValueError("the seed must be >= 0, got %d" % seed)
        self.seed = seed

    def shared(self, length):
        """The single reference (``length``, 4) float32 that every sequence
        of the job gets (zeros, a fixed GC fraction, or an array of one
        reference for all), or None when references differ between
        sequences or there are several per sequence."""
        if self.kind == "zeros":
            return np.zeros((length, 4), dtype=np.float32)
        if self.kind == "gc" and self.value is not None:
            return gc_reference(np.zeros((length, 4), np.float32),
                                self.value)
        if self.kind == "array" and self.value.shape[:2] == (1, 1):
            return np.ascontiguousarray(self.value[0, 0], dtype=np.float32)
        return None

    def references(self, chunk, first_index):
        """References (n, R, L, 4) float32 of ``chunk`` (n, L, 4), the
        job's sequences ``first_index .. first_index + n - 1``."""
        chunk = np.asarray(chunk, dtype=np.float32)
        kind, value = self.kind, self.value
        if kind == "zeros":
            return np.zeros((len(chunk), 1) + chunk.shape[1:],
                            dtype=np.float32)
        if kind == "gc":
            return gc_reference(chunk, value)[:, None]
        if kind == "dinuc-shuffle":
            from deeplift.dinuc_shuffle import dinuc_shuffle_batch
            out = np.empty((len(chunk), value) + chunk.shape[1:],
                           dtype=np.float32)
            for i in range(len(chunk)):
                rng = np.random.default_rng([self.seed, first_index + i])
                out[i] = dinuc_shuffle_batch(chunk[i:i + 1], value,
                                             rng=rng)[0]
            return out
        if kind == "array":     # (1 or N, R, L, 4)
            refs = (value if len(value) == 1
                    else value[first_index:first_index + len(chunk)])
            return np.broadcast_to(refs, (len(chunk),) + refs.shape[1:])
        raise AssertionError(kind)
