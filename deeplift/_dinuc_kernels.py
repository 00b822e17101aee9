"""Compiled (numba) kernel of the per-sequence dinucleotide shuffle.

Imported only by :mod:`deeplift.dinuc_shuffle`, and only when numba is
available.  :func:`draw_keys`, :func:`find_ties`, :func:`redraw_keys` and
:func:`walk_one_hot` (with NumPy's vectorised sort of the keys' blocks
between them) do a whole ``dinuc_shuffle(seq, num_shufs, rng)`` call on one
sequence after its tokens are known: they seed
NumPy's PCG64 exactly as ``np.random.PCG64(seed)`` does (SeedSequence of the
four words drawn from the caller's RandomState), draws the same raw words
``random_raw`` would, and builds, sorts and walks the same sort keys as the
NumPy path of :mod:`deeplift.dinuc_shuffle`, so both give the same shuffles
for the same RandomState.  Doing the seeding, the draws and the output in
one compiled call removes the fixed cost of a dozen NumPy calls and of
constructing a Generator, which dominate a call for one shuffle.
:func:`advance_walks`, the walks' inner loop, serves the batch kernel of
:mod:`deeplift.dinuc_shuffle` too.
"""
import numpy as np
from numba import njit

_MASK32 = np.uint64(0xFFFFFFFF)
# numpy/random/bit_generator.pyx (SeedSequence)
_INIT_A = np.uint64(0x43b0d7e5)
_MULT_A = np.uint64(0x931e8875)
_INIT_B = np.uint64(0x8b51f9dd)
_MULT_B = np.uint64(0x58f38ded)
_MIX_MULT_L = np.uint64(0xca01f9dd)
_MIX_MULT_R = np.uint64(0x4973f715)
_XSHIFT = np.uint64(16)
# PCG64's default 128-bit multiplier (high and low 64 bits)
_PCG_MULT_HI = np.uint64(0x2360ED051FC65DA4)
_PCG_MULT_LO = np.uint64(0x4385DF649FCCF645)
_U32 = np.uint64(32)
_ONE = np.uint64(1)


@njit(cache=True, nogil=True, inline="always")
def _mul64(a, b):
    """The 128-bit product of two uint64: (high, low)."""
    a0, a1 = a & _MASK32, a >> _U32
    b0, b1 = b & _MASK32, b >> _U32
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> _U32) + (p01 & _MASK32) + (p10 & _MASK32)
    return (p11 + (p01 >> _U32) + (p10 >> _U32) + (mid >> _U32),
            (p00 & _MASK32) | (mid << _U32))


@njit(cache=True, nogil=True, inline="always")
def _pcg_step(state):
    """One step of the 128-bit LCG; ``state`` is [hi, lo, inc_hi, inc_lo]."""
    hi, lo = _mul64(state[1], _PCG_MULT_LO)
    hi = hi + state[1] * _PCG_MULT_HI + state[0] * _PCG_MULT_LO
    new_lo = lo + state[3]
    carry = _ONE if new_lo < lo else np.uint64(0)
    state[0] = hi + state[2] + carry
    state[1] = new_lo


@njit(cache=True, nogil=True)
def _hashmix(value, hash_const):
    value = value ^ hash_const[0]
    hash_const[0] = (hash_const[0] * _MULT_A) & _MASK32
    value = (value * hash_const[0]) & _MASK32
    return value ^ (value >> _XSHIFT)


@njit(cache=True, nogil=True)
def _mix(x, y):
    result = (_MIX_MULT_L * x - _MIX_MULT_R * y) & _MASK32
    return result ^ (result >> _XSHIFT)


@njit(cache=True, nogil=True)
def pcg64_seed(entropy, state):
    """``state`` ([hi, lo, inc_hi, inc_lo], uint64) of
    ``np.random.PCG64(entropy)`` for four entropy words below 2**32 (each
    one 32-bit word of SeedSequence's entropy)."""
    hash_const = np.empty(1, dtype=np.uint64)
    hash_const[0] = _INIT_A
    pool = np.empty(4, dtype=np.uint64)
    for i in range(4):
        pool[i] = _hashmix(entropy[i] & _MASK32, hash_const)
    for i_src in range(4):
        for i_dst in range(4):
            if i_src != i_dst:
                pool[i_dst] = _mix(pool[i_dst],
                                   _hashmix(pool[i_src], hash_const))
    # generate_state(4, np.uint64): eight 32-bit words, little-endian pairs
    words = np.empty(4, dtype=np.uint64)
    mult = _INIT_B
    for i in range(8):
        value = pool[i % 4] ^ mult
        mult = (mult * _MULT_B) & _MASK32
        value = (value * mult) & _MASK32
        value ^= value >> _XSHIFT
        if i % 2 == 0:
            words[i // 2] = value
        else:
            words[i // 2] |= value << _U32
    # pcg64_set_seed: seed = words[0:2], sequence = words[2:4]
    state[2] = (words[2] << _ONE) | (words[3] >> np.uint64(63))
    state[3] = (words[3] << _ONE) | _ONE
    state[0] = np.uint64(0)
    state[1] = np.uint64(0)
    _pcg_step(state)
    lo = state[1] + words[1]
    carry = _ONE if lo < state[1] else np.uint64(0)
    state[0] = state[0] + words[0] + carry
    state[1] = lo
    _pcg_step(state)


@njit(cache=True, nogil=True)
def pcg64_raw(state, out):
    """Fill ``out`` (uint64) with the next raw words of the generator, as
    ``PCG64.random_raw`` does (XSL-RR output)."""
    for i in range(out.shape[0]):
        _pcg_step(state)
        value = state[0] ^ state[1]
        rot = state[0] >> np.uint64(58)
        out[i] = (value >> rot) | (value << ((np.uint64(64) - rot)
                                             & np.uint64(63)))


@njit(cache=True, nogil=True)
def _fill_keys(words, first_key, keys, row, mask, prefix):
    """Keys ``first_key ...`` of the words viewed as ``keys``' dtype
    (little-endian) into ``keys[row]``, as ``bits & mask | prefix``."""
    row_len = keys.shape[1]
    if keys.itemsize == 4:
        for j in range(row_len):
            index = first_key + j
            bits = (words[index >> 1] >> (_U32 * np.uint64(index & 1))) \
                & _MASK32
            keys[row, j] = keys.dtype.type(bits) & mask[j] | prefix[j]
    else:
        for j in range(row_len):
            keys[row, j] = keys.dtype.type(words[first_key + j]) \
                & mask[j] | prefix[j]


@njit(cache=True, nogil=True)
def draw_keys(tokens, counts, value_bits, random_bits, seeds, states, block,
              prefix, mask, keys, words):
    """The random sort keys of K dinuc_shuffle calls on the sequence
    ``tokens`` (L,) whose edges' sources have the ``counts`` (T,): seeds
    ``states[k]`` (4,) from the four words ``seeds[k]`` as
    ``np.random.PCG64(seeds[k])``; fills ``block`` (T,) (each token's block of
    a row, in blocks of the longest list's length G), the key template
    ``prefix`` and ``mask`` (M,) (_key_template's: padding sorts last, in
    order; each edge's successor in the low ``value_bits``; each token's
    last exit pinned above the ``random_bits`` ranks) and ``keys`` (K * S,
    M) with ``bits & mask | prefix``, call k's S rows drawn from
    ``states[k]`` as ``_random_bits(gen, (1, S, M), keys.dtype)`` would.
    ``words`` is uint64 scratch for at least S * M keys."""
    length = tokens.shape[0]
    num_calls = seeds.shape[0]
    num_shufs = keys.shape[0] // num_calls
    row_len = keys.shape[1]
    num_tokens = counts.shape[0]
    kt = keys.dtype.type
    width = 0
    num_active = 0
    for t in range(num_tokens):
        width = max(width, counts[t])
        block[t] = 0
        if counts[t] > 0:
            block[t] = num_active
            num_active += 1
    top = np.uint64(1) << np.uint64(random_bits)
    shift = np.uint64(value_bits)
    low = (np.uint64(1) << shift) - np.uint64(1)
    rank_mask = kt((top - np.uint64(1)) << shift)
    pinned_rank = kt(top << shift)
    for pos in range(row_len):
        # padding: ranks above the pinned rank, in order
        prefix[pos] = kt(((top + np.uint64(1) + np.uint64(pos % width))
                          << shift) | low)
        mask[pos] = 0
    last = np.empty(num_tokens, dtype=np.int64)
    seen = np.zeros(num_tokens, dtype=np.int64)
    for i in range(length - 1):
        last[tokens[i]] = i
    for i in range(length - 1):
        t = tokens[i]
        column = block[t] * width + seen[t]
        seen[t] += 1
        successor = kt(tokens[i + 1])
        if i == last[t]:
            prefix[column] = pinned_rank | successor
        else:
            prefix[column] = successor
            mask[column] = rank_mask
    num_words = (num_shufs * row_len * keys.itemsize + 7) // 8
    for k in range(num_calls):
        pcg64_seed(seeds[k], states[k])
        pcg64_raw(states[k], words[:num_words])
        for s in range(num_shufs):
            _fill_keys(words, s * row_len, keys, k * num_shufs + s, mask,
                       prefix)


@njit(cache=True, nogil=True)
def redraw_keys(states, prefix, mask, keys, words, tied):
    """New random keys for the rows of ``keys`` (K * S, M) where ``tied``:
    call k's tied rows, in order, from its generator ``states[k]`` (as the
    NumPy path's redraw, ``_random_bits(gen, (rows, 1, M), dtype)``)."""
    num_calls = states.shape[0]
    num_shufs = keys.shape[0] // num_calls
    row_len = keys.shape[1]
    for k in range(num_calls):
        first = k * num_shufs
        rows = 0
        for s in range(first, first + num_shufs):
            if tied[s]:
                rows += 1
        if rows == 0:
            continue
        num_words = (rows * row_len * keys.itemsize + 7) // 8
        pcg64_raw(states[k], words[:num_words])
        r = 0
        for s in range(first, first + num_shufs):
            if tied[s]:
                _fill_keys(words, r * row_len, keys, s, mask, prefix)
                r += 1


@njit(cache=True, nogil=True)
def find_ties(keys, width, value_bits, tied):
    """``tied`` (S,): the rows of ``keys`` (S, M), whose blocks of
    ``width`` are sorted, in which two random ranks of a block are equal
    (adjacent keys that differ in the low ``value_bits`` only); returns
    their number."""
    num_shufs, row_len = keys.shape
    value_mask = keys.dtype.type((1 << value_bits) - 1)
    count = 0
    for s in range(num_shufs):
        smallest = ~keys.dtype.type(0)
        for start in range(0, row_len, width):
            for pos in range(start + 1, start + width):
                smallest = min(smallest, keys[s, pos] ^ keys[s, pos - 1])
        tied[s] = smallest <= value_mask
        if tied[s]:
            count += 1
    return count


@njit(cache=True, nogil=True)
def advance_walks(pointer, walk_state, succ, stride, visited):
    """Steps 1 to L - 1 of the S walks, one step each in turn (independent
    chains of dependent loads overlap in the processor): ``visited``
    (S, L) gets the tokens, column 0 (the first token) already set;
    ``walk_state`` (S,) holds walk s's slot ``s * stride + token`` in
    ``pointer``, the index of its token's next unused edge in the flat
    successors ``succ``; both are advanced in place.

    deeplift.dinuc_shuffle's batch walk_kernel calls it too; numba's disk
    cache of that kernel does not see edits made here, so clear
    deeplift/__pycache__/*.nb? after editing it."""
    num_shufs, length = visited.shape
    for j in range(1, length):
        for s in range(num_shufs):
            slot = walk_state[s]
            edge = pointer[slot]
            pointer[slot] = edge + 1
            token = np.int64(succ[edge])
            walk_state[s] = s * stride + token
            visited[s, j] = token


@njit(cache=True, nogil=True)
def walk_one_hot(tokens, block, width, keys, value_bits, visited, out):
    """The walks of the S shuffles of ``tokens`` (L,) along the sorted
    ``keys`` (S, M) (advanced together: independent chains of dependent
    loads overlap in the processor), written one-hot to ``out`` (S, L, D),
    every entry; ``visited`` (S, L) is scratch."""
    length = tokens.shape[0]
    num_shufs, row_len = keys.shape
    num_tokens = block.shape[0]
    dim = out.shape[2]
    stride = num_tokens
    pointer = np.empty(num_shufs * stride, dtype=np.int64)
    walk_state = np.empty(num_shufs, dtype=np.int64)
    # the successors alone, in the tokens' small dtype: the walks' random
    # reads then stay in the first-level cache
    succ = np.empty(num_shufs * row_len, dtype=visited.dtype)
    first = tokens[0]
    value_mask = keys.dtype.type((1 << value_bits) - 1)
    for s in range(num_shufs):
        for j in range(row_len):
            succ[s * row_len + j] = keys[s, j] & value_mask
        for t in range(num_tokens):
            pointer[s * stride + t] = s * row_len + block[t] * width
        walk_state[s] = s * stride + first
        visited[s, 0] = first
    advance_walks(pointer, walk_state, succ, stride, visited)
    for s in range(num_shufs):
        for j in range(length):
            token = visited[s, j]
            for d in range(dim):
                out[s, j, d] = 1 if token == d else 0
