"""Dinucleotide-preserving shuffles of sequences.

A dinucleotide shuffle of a sequence is a random sequence with exactly the
same first character and exactly the same count of every pair of adjacent
characters (and hence the same character composition and last character).
It is drawn as a random Eulerian path through the multigraph whose nodes are
the characters and whose edges are the adjacent pairs of the sequence
(Altschul & Erickson, 1985; Kandel et al., 1996):

* every character's list of outgoing edges (the characters that follow it)
  is put in a uniformly random order, except that the edge used by the
  character's *last* occurrence in the input is kept last; those "last exit"
  edges form a tree towards the final character, which guarantees that the
  walk below uses every edge;
* starting from the first character, the walk repeatedly leaves the current
  character along the next unused edge of its list.

This is the same distribution of shuffles as ``deeplift.dinuc_shuffle`` in
deeplift 0.6.13.  The random numbers are drawn differently (all shuffles of a
sequence at once), so a given seed does not give the same shuffles as that
version, but a seeded ``np.random.RandomState`` makes the results
reproducible.

The implementation is vectorised: the random orders of all out-edge lists of
all requested shuffles (and, with :func:`dinuc_shuffle_batch`, of all
sequences) are drawn at once by sorting random keys, and the walks are
advanced together, one position at a time, with NumPy.  Few walks (fewer
than 48) are instead followed one by one with a loop that runs inside
C-implemented builtins.  :func:`dinuc_shuffle_batch` is the fast way to
shuffle many sequences: the per-step overhead is shared by all their walks.

``string_to_char_array`` returns Unicode code points (uint32) rather than
the UTF-8 bytes of deeplift 0.6.13, so that any alphabet works; for ASCII
strings the values are the same.
"""
import collections
import logging

import numpy as np

logger = logging.getLogger(__name__)

# Large batches are processed in chunks of about this many sequence
# positions, to bound the memory used for temporary arrays.
_CHUNK_ELEMENTS = 1 << 22

# tokens_to_one_hot converts its tokens to indices in chunks of this many.
_INDEX_CHUNK_ELEMENTS = 1 << 16

__all__ = [
    "dinuc_shuffle",
    "dinuc_shuffle_batch",
    "string_to_char_array",
    "char_array_to_string",
    "one_hot_to_tokens",
    "tokens_to_one_hot",
]


# ---------------------------------------------------------------------------
# Conversions (same names as in deeplift 0.6.13; these work on NumPy 2)
# ---------------------------------------------------------------------------

def string_to_char_array(seq):
    """Return the Unicode code points of ``seq`` as a 1-D uint32 array.

    For ASCII strings these are the ASCII codes, e.g. "ACGT" becomes
    [65, 67, 71, 84].
    """
    return np.frombuffer(seq.encode("utf-32-le"), dtype="<u4").copy()


def char_array_to_string(arr):
    """Inverse of :func:`string_to_char_array`: code points to a string."""
    return np.ascontiguousarray(arr, dtype="<u4").tobytes().decode(
        "utf-32-le")


def one_hot_to_tokens(one_hot):
    """Convert an L x D one-hot array into an L-vector of ints in [0, D].

    Rows that are all zero (e.g. an N base) become the token D.  Assumes at
    most one nonzero entry per row.
    """
    one_hot = np.asarray(one_hot)
    tokens = np.full(one_hot.shape[0], one_hot.shape[1], dtype=np.intp)
    rows, cols = np.nonzero(one_hot)
    tokens[rows] = cols
    return tokens


def tokens_to_one_hot(tokens, one_hot_dim, dtype=np.float64):
    """Convert ints in [0, D] (any shape) to one-hot vectors of length D.

    The value D must be given as ``one_hot_dim``; the token D becomes an
    all-zero vector.  The result has shape ``tokens.shape + (D,)``.
    """
    tokens = np.asarray(tokens)
    if tokens.size and (tokens.min() < 0 or tokens.max() > one_hot_dim):
        raise ValueError("tokens must be in [0, %d]" % one_hot_dim)
    table = np.eye(one_hot_dim + 1, one_hot_dim, dtype=dtype)
    out = np.empty(tokens.shape + (one_hot_dim,), dtype=dtype)
    flat_tokens = tokens.reshape(-1)
    flat_out = out.reshape(-1, one_hot_dim)
    # Small chunks: their intp indices stay in the CPU cache.
    step = _INDEX_CHUNK_ELEMENTS
    for begin in range(0, flat_tokens.size, step):
        index = flat_tokens[begin:begin + step].astype(np.intp)
        table.take(index, axis=0, out=flat_out[begin:begin + step],
                   mode="clip")
    return out


# ---------------------------------------------------------------------------
# Input checking
# ---------------------------------------------------------------------------

def _check_num_shufs(num_shufs, allow_none=True):
    if num_shufs is None and allow_none:
        return None
    if isinstance(num_shufs, (bool, np.bool_)) or not isinstance(
            num_shufs, (int, np.integer)):
        raise ValueError(
            "num_shufs must be a positive integer%s, got %r"
            % (" or None" if allow_none else "", num_shufs))
    if num_shufs < 1:
        raise ValueError("num_shufs must be at least 1, got %d" % num_shufs)
    return int(num_shufs)


def _as_generator(rng):
    """Return a ``np.random.Generator`` drawing from ``rng``.

    ``rng`` may be None (fresh, unseeded randomness), a
    ``np.random.RandomState`` (a child generator is seeded from it, so a
    seeded RandomState gives reproducible results and is advanced by the
    call) or a ``np.random.Generator`` (used directly).
    """
    if rng is None:
        rng = np.random.RandomState()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.RandomState):
        return np.random.Generator(np.random.PCG64(_seed_words(rng)))
    raise TypeError(
        "rng must be a numpy.random.RandomState, a numpy.random.Generator "
        "or None, got %r" % type(rng).__name__)


def _seed_words(rng):
    """Four random words below 2**32 (uint64) from the RandomState ``rng``:
    ``rng.randint(0, 2 ** 32, size=4, dtype=np.uint64)``, which for
    MT19937 (RandomState's generator) is its next four raw 32-bit outputs,
    read directly (a few microseconds less per call)."""
    bit_generator = getattr(rng, "_bit_generator", None)
    if type(bit_generator) is np.random.MT19937:
        return bit_generator.random_raw(4)
    return rng.randint(0, 2 ** 32, size=4, dtype=np.uint64)


def _check_one_hot(arr, what):
    """Validate a (..., L, D) one-hot array and return its tokens (..., L)."""
    if arr.dtype == np.bool_:
        values_ok = True
    elif np.issubdtype(arr.dtype, np.number):
        values_ok = bool(np.all((arr == 0) | (arr == 1)))
    else:
        raise ValueError("%s must have a numeric or boolean dtype, got %s"
                         % (what, arr.dtype))
    if not values_ok:
        raise ValueError("%s must be one-hot encoded: entries must be 0 or 1"
                         % what)
    if arr.shape[-1] == 0:
        raise ValueError("%s must have at least one column (one-hot "
                         "dimension), got shape %s" % (what, arr.shape))
    dim = arr.shape[-1]
    flat = arr.reshape(-1, dim)
    if flat.dtype not in (np.float32, np.float64):
        flat = (flat != 0).astype(np.float32)
    # With entries known to be 0 or 1, these products are exact.
    row_sums = (flat @ np.ones(dim, dtype=flat.dtype)).reshape(arr.shape[:-1])
    if np.any(row_sums > 1):
        bad = np.argwhere(row_sums > 1)[0]
        raise ValueError(
            "%s must be one-hot encoded: row %s has %d nonzero entries (at "
            "most one is allowed; all-zero rows are treated as N)"
            % (what, tuple(int(i) for i in bad), int(row_sums[tuple(bad)])))
    tokens = (flat @ np.arange(dim, dtype=flat.dtype)).astype(np.intp)
    tokens = tokens.reshape(arr.shape[:-1])
    tokens[row_sums == 0] = dim
    return tokens


# ---------------------------------------------------------------------------
# Core: Eulerian-walk shuffles of token sequences
# ---------------------------------------------------------------------------

# Walks are advanced with NumPy, all walks together, when there are at least
# this many of them; fewer walks are followed one at a time with a loop that
# runs entirely inside C-implemented builtins (see _walk_python).
_NUMPY_WALK_MIN_WALKS = 48

# Candidate dtypes of the random sort keys of _shuffled_successors.
_KEY_DTYPES = (np.uint32, np.uint64)

# The sort keys are finished (masked, sorted, checked for ties, reduced to
# successors) in tiles of about this many bytes, which stay in the CPU cache
# from one of those passes to the next.
_TILE_BYTES = 1 << 19


def _small_int_dtype(max_value):
    for dtype in (np.int8, np.int16, np.int32):
        if max_value <= np.iinfo(dtype).max:
            return dtype
    return np.int64


def _random_bits(gen, shape, dtype):
    """Uniformly random unsigned integers of the given dtype and shape."""
    size = int(np.prod(shape))
    words = -(-size * np.dtype(dtype).itemsize // 8)
    raw = gen.bit_generator.random_raw(words)
    return raw.view(dtype)[:size].reshape(shape)


def _group_edges(tokens, num_tokens):
    """The edges (adjacent pairs) of each row of ``tokens``, grouped by
    source token.

    ``tokens``: (N, L) ints in [0, num_tokens).  Returns ``grouped_src`` and
    ``grouped_dst``, (N, L - 1): the edges, stably sorted by source (so in
    the order of the sequence within a group); ``pinned``, (N, L - 1): True
    for the last edge of each group; ``counts`` and ``starts``, (N,
    num_tokens): the size of each token's group and where it starts.
    """
    num_seqs, length = tokens.shape
    src = tokens[:, :-1]
    # Stable grouping by token (radix sort for 8- and 16-bit ints).
    order = np.argsort(src.astype(_small_int_dtype(num_tokens)), axis=1,
                       kind="stable")
    grouped_src = np.take_along_axis(src, order, axis=1)
    grouped_dst = np.take_along_axis(tokens[:, 1:], order, axis=1)
    pinned = np.ones((num_seqs, length - 1), dtype=bool)
    pinned[:, :-1] = grouped_src[:, :-1] != grouped_src[:, 1:]
    counts = np.bincount(
        (src + np.arange(num_seqs)[:, None] * num_tokens).reshape(-1),
        minlength=num_seqs * num_tokens).reshape(num_seqs, num_tokens)
    starts = np.zeros((num_seqs, num_tokens), dtype=np.intp)
    np.cumsum(counts[:, :-1], axis=1, out=starts[:, 1:])
    return grouped_src, grouped_dst, pinned, counts, starts


def _choose_key_dtype(counts, value_bits):
    """The smallest of _KEY_DTYPES whose random bits (all but
    ``value_bits`` + 1) make repeated ranks rare, and their number; (None,
    None) if none does."""
    # Probability of a repeated draw in a row: about
    # sum(counts**2) / 2**random_bits.
    return _key_dtype_for(int(counts.max()), float(np.max(np.sum(
        counts.astype(np.float64) ** 2, axis=1))), value_bits)


def _key_dtype_for(width, collision_scale, value_bits):
    """_choose_key_dtype given the longest list and the largest
    sum(counts**2) of a row."""
    for dtype in _KEY_DTYPES:
        random_bits = 8 * np.dtype(dtype).itemsize - value_bits - 1
        if (random_bits >= 16 and width < 2 ** random_bits
                and collision_scale / 2.0 ** random_bits < 0.02):
            return dtype, random_bits
    return None, None


def _tiles(num_seqs, num_shufs, rows_per_tile):
    """Split the (num_seqs, num_shufs) rows, in row-major order, into
    ``(n0, n1, s0, s1)`` blocks ``[n0:n1, s0:s1]`` of at most about
    ``rows_per_tile`` rows: whole sequences, or parts of one."""
    if rows_per_tile >= num_shufs:
        step = rows_per_tile // num_shufs
        for n0 in range(0, num_seqs, step):
            yield n0, min(n0 + step, num_seqs), 0, num_shufs
        return
    for n0 in range(num_seqs):
        for s0 in range(0, num_shufs, rows_per_tile):
            yield n0, n0 + 1, s0, min(s0 + rows_per_tile, num_shufs)


def _key_template(grouped_src, grouped_dst, pinned, counts, starts,
                  key_dtype, random_bits, value_bits):
    """The fixed parts of the sort keys of _shuffled_successors.

    Returns ``prefix`` and ``mask``, (N, 1, M) arrays: a row's keys are its
    random bits ``& mask | prefix``; ``offsets``, (N, num_tokens): where
    each token's block starts in a row; and ``(num_blocks, width)``, the
    blocks of a row (M == num_blocks * width).
    """
    num_seqs, num_edges = grouped_src.shape
    num_tokens = counts.shape[1]
    # Blocks for the tokens that have a list in some sequence.
    width = int(counts.max())
    active = np.flatnonzero(counts.max(axis=0) > 0)
    block = np.zeros(num_tokens, dtype=np.intp)
    block[active] = np.arange(active.size)
    row_len = active.size * width
    offsets = np.where(counts > 0, block * width, 0)

    top = 1 << random_bits
    position = np.arange(width, dtype=np.uint64)
    padding = ((np.uint64(top + 1) + position) << np.uint64(value_bits)
               | np.uint64((1 << value_bits) - 1)).astype(key_dtype)
    prefix = np.empty((num_seqs, 1, row_len), dtype=key_dtype)
    prefix[...] = np.tile(padding, active.size)
    mask = np.zeros((num_seqs, 1, row_len), dtype=key_dtype)
    rows = np.arange(num_seqs)[:, None]
    column = (block[grouped_src] * width + np.arange(num_edges)
              - np.take_along_axis(starts, grouped_src, axis=1))
    prefix[rows, 0, column] = np.where(
        pinned, key_dtype(top) << key_dtype(value_bits), key_dtype(0)
    ) | grouped_dst.astype(key_dtype)
    mask[rows, 0, column] = np.where(
        pinned, key_dtype(0), key_dtype((top - 1) << value_bits))
    return prefix, mask, offsets, (active.size, width)


def _finish_keys(keys, mask, prefix, blocks_shape, value_bits, succ_out,
                 tied_out):
    """Turn ``keys``, (n, s, M) C-contiguous random bits, into sort keys
    (``keys & mask | prefix``) and sort each of their blocks, in place.
    The successors, in their sorted order, go to ``succ_out``, (n, s, M);
    ``tied_out``, (n, s), tells the rows with two equal random ranks in a
    block."""
    value_mask = keys.dtype.type((1 << value_bits) - 1)
    keys &= mask
    keys |= prefix
    blocks = keys.reshape((-1,) + blocks_shape)  # a view: keys is contiguous
    blocks.sort(axis=-1)
    # Equal ranks: adjacent sorted keys that differ in the value bits only.
    tied = np.bitwise_xor(blocks[..., 1:], blocks[..., :-1]) <= value_mask
    np.any(tied.reshape(tied_out.shape + (-1,)), axis=-1, out=tied_out)
    np.bitwise_and(keys, value_mask, out=succ_out, casting="unsafe")


def _shuffled_successors(tokens, num_tokens, num_shufs, gen):
    """Draw the ordered out-edge lists of the walks of every shuffle.

    ``tokens``: (N, L) ints in [0, num_tokens), L >= 3.  Returns ``succ``,
    an (N, num_shufs, M) array of small ints, and ``offsets`` and
    ``counts``, (N, num_tokens) arrays.  Row (n, s) of ``succ`` holds, for
    each token t (starting at ``offsets[n, t]``), the successors of t in
    sequence n in the order in which shuffle s uses them: uniformly random,
    except that the successor of t's last occurrence in ``tokens[n, :-1]``
    stays last.  The list has ``counts[n, t]`` entries; other entries are
    padding.

    Each token's list gets a block of the longest list's length G, holding
    sort keys made of a "rank" in the high bits and the successor in the
    low bits (read back after sorting).  The ranks are random numbers below
    2**(R - 1) for the successors to shuffle, 2**(R - 1) for the pinned last
    successor and 2**(R - 1) + 1 + position for the padding, which therefore
    sorts last, in order.  Sorting short rows is fast (sorting networks for
    G <= 512 on x86-64).  Rows in which two random ranks of a list are equal
    are drawn again, so that the orders are exactly uniform.  The keys are
    finished in tiles that stay in the CPU cache (see _TILE_BYTES).
    """
    num_seqs = tokens.shape[0]
    grouped_src, grouped_dst, pinned, counts, starts = _group_edges(
        tokens, num_tokens)
    value_bits = max(1, int(num_tokens - 1).bit_length())
    key_dtype, random_bits = _choose_key_dtype(counts, value_bits)
    if key_dtype is None:
        return _shuffled_successors_permuted(
            grouped_dst, starts, counts, num_shufs, gen)
    prefix, mask, offsets, blocks_shape = _key_template(
        grouped_src, grouped_dst, pinned, counts, starts, key_dtype,
        random_bits, value_bits)
    row_len = prefix.shape[-1]

    keys = _random_bits(gen, (num_seqs, num_shufs, row_len), key_dtype)
    succ = np.empty(keys.shape, dtype=_small_int_dtype(num_tokens))
    repeated = np.empty((num_seqs, num_shufs), dtype=bool)
    rows_per_tile = max(1, _TILE_BYTES // keys[0, 0].nbytes)
    for n0, n1, s0, s1 in _tiles(num_seqs, num_shufs, rows_per_tile):
        _finish_keys(keys[n0:n1, s0:s1], mask[n0:n1], prefix[n0:n1],
                     blocks_shape, value_bits, succ[n0:n1, s0:s1],
                     repeated[n0:n1, s0:s1])
    while np.any(repeated):
        seq_idx, shuf_idx = np.nonzero(repeated)
        logger.debug("dinuc_shuffle: redrawing %d shuffle(s) with tied "
                     "random keys", seq_idx.size)
        keys = _random_bits(gen, (seq_idx.size, 1, row_len), key_dtype)
        new_succ = np.empty(keys.shape, dtype=succ.dtype)
        new_repeated = np.empty((seq_idx.size, 1), dtype=bool)
        _finish_keys(keys, mask[seq_idx], prefix[seq_idx], blocks_shape,
                     value_bits, new_succ, new_repeated)
        succ[seq_idx, shuf_idx] = new_succ[:, 0]
        repeated[seq_idx, shuf_idx] = new_repeated[:, 0]
    return succ, offsets, counts


def _shuffled_successors_permuted(grouped_dst, starts, counts, num_shufs,
                                  gen):
    """Slower fallback of _shuffled_successors for huge alphabets/lengths.

    Uses the unpadded layout: token t's list starts at ``starts[n, t]``.
    """
    num_seqs, num_edges = grouped_dst.shape
    succ = np.empty((num_seqs, num_shufs, num_edges),
                    dtype=_small_int_dtype(counts.shape[1]))
    succ[...] = grouped_dst[:, None, :]
    for n, t in zip(*np.nonzero(counts > 2)):
        start = starts[n, t]
        block = succ[n, :, start:start + counts[n, t] - 1]
        gen.permuted(block, axis=1, out=block)
    return succ, starts, counts


def _walk_numpy(succ, offsets, first, num_edges):
    """Follow many Eulerian walks at once, one position per step.

    ``succ``: (W, M) successor tokens, one row per walk, in one block per
    token starting at ``offsets[w, t]``; ``first``: (W,) first tokens;
    ``num_edges``: the number of steps E.  Returns the (W, E + 1) tokens
    visited.
    """
    num_walks, row_len = succ.shape
    num_tokens = offsets.shape[1]
    flat_succ = succ.reshape(-1)
    walk_base = np.arange(num_walks, dtype=np.intp) * num_tokens
    # Flat index into flat_succ of the next unused edge of (walk, token),
    # stored at walk * num_tokens + token.
    pointer = (offsets + (np.arange(num_walks, dtype=np.intp)
                          * row_len)[:, None]).reshape(-1)
    visited = np.empty((num_edges + 1, num_walks), dtype=succ.dtype)
    visited[0] = first
    state = np.empty(num_walks, dtype=np.intp)
    edge = np.empty(num_walks, dtype=np.intp)
    next_edge = np.empty(num_walks, dtype=np.intp)
    # Bound methods and positional arguments: the per-call overhead is a
    # good part of each step's cost.
    add, take_pointer, take_succ = np.add, pointer.take, flat_succ.take
    for j in range(num_edges):
        add(walk_base, visited[j], state)
        take_pointer(state, None, edge, "clip")
        add(edge, 1, next_edge)
        pointer[state] = next_edge
        take_succ(edge, None, visited[j + 1], "clip")
    return visited.T


def _walk_python(succ, offsets, counts, first, num_edges):
    """Same as _walk_numpy, following one walk at a time.

    ``counts``: (W, T) lengths of the out-edge lists.  For each walk, the
    loop ``token = next(out_edges[token])`` is run by chaining ``map`` over
    the buffer of visited tokens while it grows, so it never executes Python
    bytecode per step.  The chain stops when the walk reaches the final
    token, whose out-edge iterator is then exhausted.
    """
    num_walks, num_tokens = offsets.shape
    visited = np.empty((num_walks, num_edges + 1), dtype=succ.dtype)
    starts = offsets.tolist()
    ends = (offsets + counts).tolist()
    first = np.asarray(first).tolist()
    drain = collections.deque(maxlen=0).extend
    use_bytes = num_tokens <= 256
    if use_bytes:
        # bytes/bytearray hold the tokens compactly and iterate as ints.
        rows = [row.tobytes() for row in succ.astype(np.uint8)]
    else:
        rows = succ.tolist()
    for w, row in enumerate(rows):
        start, end = starts[w], ends[w]
        out_edges = [iter(row[start[t]:end[t]]) for t in range(num_tokens)]
        tokens = bytearray([first[w]]) if use_bytes else [first[w]]
        drain(map(tokens.append,
                  map(next, map(out_edges.__getitem__, tokens))))
        if len(tokens) != num_edges + 1:  # pragma: no cover - invariant
            raise RuntimeError("dinuc_shuffle: Eulerian walk ended early")
        if use_bytes:
            tokens = np.frombuffer(tokens, dtype=np.uint8)
        visited[w] = tokens
    return visited


# ---------------------------------------------------------------------------
# Compiled path (numba, optional): the same shuffles from the same random
# bits, without NumPy's per-call and per-step overhead
# ---------------------------------------------------------------------------

def _load_numba():
    """numba's ``njit``, or None when numba is not installed or
    DEEPLIFT_NO_NUMBA is set (then the NumPy path runs)."""
    import os
    if os.environ.get("DEEPLIFT_NO_NUMBA"):
        return None
    try:
        from numba import njit
    except ImportError:
        return None
    return njit


_COMPILED = {}


def _compiled_kernels():
    """The compiled (keys, walk, one_hot) kernels of
    _shuffle_rows_compiled, compiled on first use (and cached on disk by
    numba), or None without numba."""
    if "kernels" in _COMPILED:
        return _COMPILED["kernels"]
    njit = _load_numba()
    if njit is None:
        _COMPILED["kernels"] = None
        return None
    # the per-sequence kernels; the batch walk_kernel below shares their
    # advance_walks
    from deeplift import _dinuc_kernels

    def keys_kernel(tokens, keys, block, width, padding, rank_mask,
                    pinned_rank):
        """_key_template + the first half of _finish_keys, in place:
        ``keys`` (N, S, M) random bits become ``bits & mask | prefix``."""
        num_seqs, length = tokens.shape
        num_shufs, row_len = keys.shape[1], keys.shape[2]
        num_tokens = block.shape[0]
        prefix = np.empty(row_len, dtype=keys.dtype)
        mask = np.empty(row_len, dtype=keys.dtype)
        seen = np.empty(num_tokens, dtype=np.int64)
        last = np.empty(num_tokens, dtype=np.int64)
        for n in range(num_seqs):
            # padding sorts last, in order; each edge's successor in the
            # low bits; each token's last exit pinned after the ranks
            for pos in range(row_len):
                prefix[pos] = padding[pos % width]
                mask[pos] = 0
            for i in range(length - 1):
                last[tokens[n, i]] = i
            seen[:] = 0
            for i in range(length - 1):
                t = tokens[n, i]
                column = block[t] * width + seen[t]
                seen[t] += 1
                successor = keys.dtype.type(tokens[n, i + 1])
                if i == last[t]:
                    prefix[column] = pinned_rank | successor
                else:
                    prefix[column] = successor
                    mask[column] = rank_mask
            for s in range(num_shufs):
                for pos in range(row_len):
                    keys[n, s, pos] = (keys[n, s, pos] & mask[pos]) \
                        | prefix[pos]

    def walk_kernel(tokens, keys, block, width, value_mask, all_ones,
                    visited, tied):
        """The rest of _finish_keys (ties) and the walks, over keys whose
        blocks are sorted.  The S walks of a sequence advance together,
        one step each in turn: independent chains of dependent loads
        overlap in the processor."""
        num_seqs = tokens.shape[0]
        num_shufs, row_len = keys.shape[1], keys.shape[2]
        num_tokens = block.shape[0]
        # the next unused edge of (walk s, token t) at s * stride + t, as
        # an index into the flat successors
        stride = num_tokens
        pointer = np.empty(num_shufs * stride, dtype=np.int64)
        state = np.empty(num_shufs, dtype=np.int64)
        # the successors alone, in the tokens' small dtype: the walks'
        # random reads then stay in the first-level cache
        succ = np.empty(num_shufs * row_len, dtype=visited.dtype)
        num_blocks = row_len // width
        for n in range(num_seqs):
            flat = keys[n].reshape(-1)      # keys are C-contiguous
            out = visited[n]
            first = tokens[n, 0]
            # branch-free loops over flat rows (they run several times
            # faster than with 2-D indexing and a branch): the
            # successors, then the smallest difference of adjacent keys of
            # a block (ranks are equal where it lies in the value bits)
            for i in range(num_shufs * row_len):
                succ[i] = flat[i] & value_mask
            for s in range(num_shufs):
                base = s * row_len
                smallest = all_ones
                for b in range(num_blocks):
                    start = base + b * width
                    for pos in range(start + 1, start + width):
                        smallest = min(smallest, flat[pos] ^ flat[pos - 1])
                tied[n, s] = smallest <= value_mask
                for t in range(num_tokens):
                    pointer[s * stride + t] = base + block[t] * width
                state[s] = s * stride + first
                out[s, 0] = first
            _dinuc_kernels.advance_walks(pointer, state, succ, stride, out)

    def tokens_kernel(arr, tokens, counts):
        """_check_one_hot of one (L, D) array in one pass: ``tokens`` (L,)
        and ``counts`` (D + 1,) of the edges' sources filled; returns 0, or
        1 (an entry neither 0 nor 1) / 2 (a row with several ones), for
        which the caller raises _check_one_hot's error."""
        length, dim = arr.shape
        for i in range(length):
            token = dim
            hot = 0
            for d in range(dim):
                value = arr[i, d]
                if value == 1:
                    token = d
                    hot += 1
                elif value != 0:
                    return 1
            if hot > 1:
                return 2
            tokens[i] = token
            if i < length - 1:
                counts[token] += 1
        return 0

    def one_hot_kernel(tokens, out):
        """``out`` (..., L, D) zeros: 1 at each token below D."""
        flat = tokens.reshape(-1)
        dim = out.shape[-1]
        rows = out.reshape(-1, dim)
        for i in range(flat.shape[0]):
            if flat[i] < dim:
                rows[i, flat[i]] = 1

    compile_ = njit(cache=True, nogil=True)
    _COMPILED["kernels"] = (compile_(keys_kernel), compile_(walk_kernel),
                            compile_(one_hot_kernel),
                            compile_(tokens_kernel), _dinuc_kernels)
    return _COMPILED["kernels"]


def _key_dtype_of_counts(counts, value_bits):
    """_choose_key_dtype for the counts of one sequence (a list of ints),
    in plain Python: a per-sequence call pays no NumPy reductions."""
    return _key_dtype_for(max(counts), float(sum(c * c for c in counts)),
                          value_bits)


def _single_tokens_compiled(arr, kernels):
    """``(tokens, counts, count_list, value_bits, key_dtype, random_bits)``
    of one float (L, D) one-hot array for the compiled per-sequence path
    (validation and tokens in one compiled pass, no NumPy reductions), or
    None where that path does not apply (the general path then runs, and
    raises the errors of bad input), before any random number is drawn."""
    length, dim = arr.shape
    if length < 3 or dim == 0:
        return None
    tokens = np.empty(length, dtype=np.int64)
    counts = np.zeros(dim + 1, dtype=np.int64)
    if kernels[3](arr, tokens, counts):
        return None
    value_bits = max(1, int(dim).bit_length())
    count_list = counts.tolist()
    key_dtype, random_bits = _key_dtype_of_counts(count_list, value_bits)
    if key_dtype is None:
        return None
    return tokens, counts, count_list, value_bits, key_dtype, random_bits


def _shuffle_one_hot_single_compiled(arr, num_shufs, rng, kernels):
    """The (num_shufs, L, D) shuffles of one float (L, D) one-hot array
    through the compiled kernels, the per-sequence call's fast path; the
    same shuffles as the general path.  None where it does not apply."""
    prepared = _single_tokens_compiled(arr, kernels)
    if prepared is None:
        return None
    if rng is None:
        rng = np.random.RandomState()
    length, dim = arr.shape
    if not isinstance(rng, np.random.RandomState):
        # a Generator (or a bad rng, for which _as_generator raises)
        tokens, counts = prepared[:2]
        visited = _shuffle_rows_compiled(tokens[None], dim + 1, num_shufs,
                                         _as_generator(rng), kernels,
                                         counts=counts[None])
        if visited is None:
            return None
        result = np.zeros((num_shufs, length, dim), dtype=arr.dtype)
        kernels[2](visited[0], result)
        return result
    # Compiled calls that seed PCG64 from the four words _as_generator
    # would draw, then draw, sort and walk as _shuffle_rows_compiled.
    result = np.empty((num_shufs, length, dim), dtype=arr.dtype)
    _shuffle_one_compiled(prepared, _seed_words(rng)[None], result,
                          kernels[4])
    return result


def _single_shuffles_into(seq, count, rng, out):
    """``out`` (count, L, D) = ``[dinuc_shuffle(seq, rng=rng) for _ in
    range(count)]`` (the same shuffles, and ``rng`` advanced alike) in a
    few compiled calls, for the references of
    deeplift.util.get_shuffle_seq_ref_function; False (nothing drawn)
    where the compiled per-sequence path does not apply."""
    kernels = _compiled_kernels()
    if (kernels is None or not isinstance(seq, np.ndarray) or seq.ndim != 2
            or seq.dtype not in (np.float32, np.float64)
            or type(rng) is not np.random.RandomState
            or type(getattr(rng, "_bit_generator", None))
            is not np.random.MT19937
            or out.shape != (count,) + seq.shape):
        return False
    prepared = _single_tokens_compiled(seq, kernels)
    if prepared is None:
        return False
    # count calls' seed words: the MT19937 words they would read in turn
    seeds = rng._bit_generator.random_raw(4 * count).reshape(count, 4)
    _shuffle_one_compiled(prepared, seeds, out, kernels[4])
    return True


def _shuffle_one_compiled(prepared, seeds, out, kern):
    """``out`` (K * S, L, D): for each k, the S shuffles of one sequence
    that the general path draws from ``np.random.PCG64(seeds[k])``;
    ``prepared`` is _single_tokens_compiled's result and ``kern`` the
    module deeplift._dinuc_kernels."""
    tokens, counts, count_list, value_bits, key_dtype, random_bits = \
        prepared
    num_rows, length = out.shape[:2]
    width = max(count_list)
    row_len = width * (len(count_list) - count_list.count(0))
    keys = np.empty((num_rows, row_len), dtype=key_dtype)
    prefix = np.empty(row_len, dtype=key_dtype)
    mask = np.empty(row_len, dtype=key_dtype)
    words = np.empty((num_rows // seeds.shape[0] * row_len * keys.itemsize
                      + 7) // 8, dtype=np.uint64)
    states = np.empty(seeds.shape, dtype=np.uint64)
    block = np.empty(len(count_list), dtype=np.int64)
    kern.draw_keys(tokens, counts, value_bits, random_bits, seeds, states,
                   block, prefix, mask, keys, words)
    keys.reshape(-1, width).sort(axis=-1)   # NumPy's vectorised sort
    tied = np.empty(num_rows, dtype=np.bool_)
    while kern.find_ties(keys, width, value_bits, tied):
        logger.debug("dinuc_shuffle: redrawing %d shuffle(s) with tied "
                     "random keys", int(tied.sum()))
        kern.redraw_keys(states, prefix, mask, keys, words, tied)
        redrawn = keys[tied]
        redrawn.reshape(-1, width).sort(axis=-1)
        keys[tied] = redrawn
    visited = np.empty((num_rows, length),
                       dtype=np.int8 if len(count_list) <= 127
                       else _small_int_dtype(len(count_list)))
    kern.walk_one_hot(tokens, block, width, keys, value_bits, visited, out)


def _shuffle_rows_compiled(tokens, num_tokens, num_shufs, gen, kernels,
                           counts=None):
    """_shuffle_token_chunk's result through the compiled kernel, or None
    where the NumPy path's sort keys do not apply (huge alphabets or
    lengths: _shuffled_successors_permuted).

    The kernel consumes the very random bits that _shuffled_successors
    would (same dtype, same layout: one block of the longest list's length
    per token that occurs in the chunk), builds the same sort keys, sorts
    the same blocks and walks the same lists, so both paths give the same
    shuffles for the same ``gen`` state; rows with tied random ranks are
    redrawn in the same order too."""
    num_seqs, length = tokens.shape
    if counts is None:
        counts = np.bincount(
            (tokens[:, :-1] + np.arange(num_seqs)[:, None]
             * num_tokens).reshape(-1),
            minlength=num_seqs * num_tokens).reshape(num_seqs, num_tokens)
    value_bits = max(1, int(num_tokens - 1).bit_length())
    # one sequence (the per-sequence call): plain Python, no reductions
    key_dtype, random_bits = (
        _key_dtype_of_counts(counts[0].tolist(), value_bits) if num_seqs == 1
        else _choose_key_dtype(counts, value_bits))
    if key_dtype is None:
        return None
    width = int(counts.max())
    active = np.flatnonzero(counts.max(axis=0) > 0)
    block = np.zeros(num_tokens, dtype=np.int64)
    block[active] = np.arange(active.size)
    row_len = active.size * width
    top = 1 << random_bits
    # the constants of _key_template, in the key dtype
    padding = ((np.uint64(top + 1) + np.arange(width, dtype=np.uint64))
               << np.uint64(value_bits)
               | np.uint64((1 << value_bits) - 1)).astype(key_dtype)
    constants = (key_dtype((1 << value_bits) - 1),
                 key_dtype((top - 1) << value_bits),
                 key_dtype(top << value_bits),
                 key_dtype(np.iinfo(key_dtype).max))
    small = np.ascontiguousarray(tokens, dtype=np.int64)
    keys_kernel, walk_kernel = kernels[:2]

    def shuffle(seqs, keys):
        """The walks of ``seqs`` from the random bits ``keys``."""
        visited = np.empty(keys.shape[:2] + (length,),
                           dtype=_small_int_dtype(num_tokens))
        tied = np.empty(keys.shape[:2], dtype=np.bool_)
        keys_kernel(seqs, keys, block, width, padding, constants[1],
                    constants[2])
        keys.reshape(-1, width).sort(axis=-1)    # NumPy's vectorised sort
        walk_kernel(seqs, keys, block, width, constants[0], constants[3],
                    visited, tied)
        return visited, tied

    visited, tied = shuffle(small, _random_bits(
        gen, (num_seqs, num_shufs, row_len), key_dtype))
    while np.any(tied):
        seq_idx, shuf_idx = np.nonzero(tied)
        logger.debug("dinuc_shuffle: redrawing %d shuffle(s) with tied "
                     "random keys", seq_idx.size)
        new_visited, new_tied = shuffle(small[seq_idx], _random_bits(
            gen, (seq_idx.size, 1, row_len), key_dtype))
        visited[seq_idx, shuf_idx] = new_visited[:, 0]
        tied[seq_idx, shuf_idx] = new_tied[:, 0]
    return visited


def _shuffle_token_rows(tokens, num_tokens, num_shufs, gen):
    """Shuffle each row of an (N, L) token array; returns (N, S, L)."""
    num_seqs, length = tokens.shape
    if length < 3 or num_seqs == 0:
        # At most one dinucleotide: the only shuffle is the sequence itself.
        return np.broadcast_to(tokens[:, None, :],
                               (num_seqs, num_shufs, length))
    per_chunk = max(1, _CHUNK_ELEMENTS // (num_shufs * length))
    if per_chunk >= num_seqs:
        return _shuffle_token_chunk(tokens, num_tokens, num_shufs, gen)
    result = np.empty((num_seqs, num_shufs, length),
                      dtype=_small_int_dtype(num_tokens))
    for begin in range(0, num_seqs, per_chunk):
        result[begin:begin + per_chunk] = _shuffle_token_chunk(
            tokens[begin:begin + per_chunk], num_tokens, num_shufs, gen)
    return result


def _shuffle_token_chunk(tokens, num_tokens, num_shufs, gen):
    num_seqs, length = tokens.shape
    kernels = _compiled_kernels()
    if kernels is not None:
        visited = _shuffle_rows_compiled(tokens, num_tokens, num_shufs, gen,
                                         kernels)
        if visited is not None:
            return visited
    succ, offsets, counts = _shuffled_successors(tokens, num_tokens,
                                                 num_shufs, gen)
    succ = succ.reshape(num_seqs * num_shufs, -1)
    offsets = np.repeat(offsets, num_shufs, axis=0)
    first = np.repeat(tokens[:, 0], num_shufs)
    if succ.shape[0] >= _NUMPY_WALK_MIN_WALKS:
        visited = _walk_numpy(succ, offsets, first, length - 1)
    else:
        counts = np.repeat(counts, num_shufs, axis=0)
        visited = _walk_python(succ, offsets, counts, first, length - 1)
    return visited.reshape(num_seqs, num_shufs, length)


def _shuffle_one_hot(arr, num_shufs, rng, what):
    """Shuffles of an L x D (or of each of N) one-hot sequence(s): a
    num_shufs x L x D (N x num_shufs x L x D) array of ``arr``'s dtype.
    One-hot sequences of one call, and all their shuffles, are drawn and
    walked together."""
    kernels = _compiled_kernels()
    if kernels is not None and arr.ndim == 2 and arr.dtype in (
            np.float32, np.float64):
        result = _shuffle_one_hot_single_compiled(arr, num_shufs, rng,
                                                  kernels)
        if result is not None:
            return result
    tokens = _check_one_hot(arr, what)
    dim = arr.shape[-1]
    shuffled = _shuffle_token_rows(np.atleast_2d(tokens), dim + 1,
                                   num_shufs, _as_generator(rng))
    if kernels is not None and arr.dtype != np.bool_:
        result = np.zeros(shuffled.shape + (dim,), dtype=arr.dtype)
        kernels[2](np.ascontiguousarray(shuffled), result)
    else:
        result = tokens_to_one_hot(shuffled, dim, dtype=arr.dtype)
    return result.reshape(arr.shape[:-2] + result.shape[1:])


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------

def dinuc_shuffle(seq, num_shufs=None, rng=None):
    """Create shuffles of a sequence that preserve its dinucleotide counts.

    Arguments:
        seq: either a string of length L (any alphabet), or an L x D NumPy
            array of one-hot encodings (rows may be all zero, e.g. for N).
        num_shufs: the number of shuffles N to create; if None (the
            default), a single shuffle is created and returned without the
            leading N dimension.
        rng: a ``np.random.RandomState`` (or ``np.random.Generator``) to draw
            the shuffles from; None uses a fresh unseeded RandomState.

    Returns:
        For a string: a string (num_shufs=None) or a list of num_shufs
        strings.  For an array: an L x D array (num_shufs=None) or a
        num_shufs x L x D array, one-hot encoded with the dtype of ``seq``.

    Each shuffle has the same first (and last) character as ``seq`` and
    exactly the same number of occurrences of every pair of adjacent
    characters.  To shuffle many one-hot sequences of the same length, use
    :func:`dinuc_shuffle_batch`, which is much faster than a loop.
    """
    checked_num_shufs = _check_num_shufs(num_shufs)
    count = 1 if checked_num_shufs is None else checked_num_shufs

    if isinstance(seq, str):
        chars, tokens = np.unique(string_to_char_array(seq),
                                  return_inverse=True)
        tokens = tokens.reshape(1, -1).astype(np.intp)
        shuffled = _shuffle_token_rows(tokens, max(len(chars), 1), count,
                                       _as_generator(rng))[0]
        strings = [char_array_to_string(chars[row]) for row in shuffled]
        return strings if checked_num_shufs is not None else strings[0]

    if isinstance(seq, np.ndarray):
        if seq.ndim != 2:
            raise ValueError(
                "Expected a string or an L x D one-hot encoded array, got an "
                "array with shape %s (use dinuc_shuffle_batch for N x L x D "
                "arrays)" % (seq.shape,))
        result = _shuffle_one_hot(seq, count, rng, "seq")
        return result if checked_num_shufs is not None else result[0]

    raise ValueError("Expected a string or an L x D one-hot encoded NumPy "
                     "array, got %s" % type(seq).__name__)


def dinuc_shuffle_batch(seqs, num_shufs=1, rng=None):
    """Dinucleotide-shuffle many one-hot sequences of the same length.

    Arguments:
        seqs: an N x L x D one-hot array (rows may be all zero, e.g. for N).
        num_shufs: number of shuffles per sequence (at least 1).
        rng: a ``np.random.RandomState`` (or ``np.random.Generator``); None
            uses a fresh unseeded RandomState.

    Returns an N x num_shufs x L x D array with the dtype of ``seqs``;
    ``result[i]`` holds shuffles of ``seqs[i]`` with exactly its
    dinucleotide counts.  This is much faster than calling
    :func:`dinuc_shuffle` on each sequence because the shuffles of all
    sequences are drawn and walked together.
    """
    num_shufs = _check_num_shufs(num_shufs, allow_none=False)
    if not isinstance(seqs, np.ndarray):
        raise ValueError("seqs must be an N x L x D NumPy array, got %s"
                         % type(seqs).__name__)
    if seqs.ndim != 3:
        raise ValueError("seqs must be an N x L x D one-hot array, got shape "
                         "%s" % (seqs.shape,))
    return _shuffle_one_hot(seqs, num_shufs, rng, "seqs")
