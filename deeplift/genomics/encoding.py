"""One-hot encoding of DNA: columns A, C, G, T; N (and any other letter)
an all-zero row."""
import numpy as np

#: the bases of the one-hot columns, in order (A, C, G, T)
BASES = "ACGT"

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

