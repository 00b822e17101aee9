"""Tests for deeplift.dinuc_shuffle."""
import collections
import itertools

import numpy as np
import pytest

import deeplift.dinuc_shuffle as ds
from deeplift.dinuc_shuffle import dinuc_shuffle, dinuc_shuffle_batch


def dinuc_counts(seq):
    """Counter of adjacent pairs of a string or of a one-hot array's rows."""
    if isinstance(seq, str):
        items = list(seq)
    else:
        items = [tuple(row) for row in np.asarray(seq).tolist()]
    return collections.Counter(zip(items[:-1], items[1:]))


def composition(seq):
    if isinstance(seq, str):
        return collections.Counter(seq)
    return collections.Counter(tuple(row) for row in np.asarray(seq).tolist())


def random_string(rng, length, alphabet="ACGT"):
    return "".join(rng.choice(list(alphabet), length))


def random_one_hot(rng, length, dim=4, n_frac=0.0, dtype=np.float64):
    tokens = rng.randint(0, dim, length)
    arr = np.eye(dim, dtype=dtype)[tokens]
    if n_frac:
        arr[rng.rand(length) < n_frac] = 0
    return arr


def assert_valid_shuffle(orig, shuf):
    assert len(shuf) == len(orig)
    assert dinuc_counts(shuf) == dinuc_counts(orig)
    assert composition(shuf) == composition(orig)
    if len(orig):
        if isinstance(orig, str):
            assert shuf[0] == orig[0] and shuf[-1] == orig[-1]
        else:
            np.testing.assert_array_equal(shuf[0], orig[0])
            np.testing.assert_array_equal(shuf[-1], orig[-1])


# ---------------------------------------------------------------------------
# Dinucleotide preservation
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("length", [1, 2, 3, 4, 5, 10, 37, 200, 1001])
def test_string_dinucleotides_preserved(length):
    for seed in range(15):
        rng = np.random.RandomState(seed)
        seq = random_string(rng, length)
        single = dinuc_shuffle(seq, rng=rng)
        assert isinstance(single, str)
        assert_valid_shuffle(seq, single)
        for shuf in dinuc_shuffle(seq, 7, rng):
            assert_valid_shuffle(seq, shuf)


@pytest.mark.parametrize("length", [1, 2, 3, 4, 7, 50, 999])
@pytest.mark.parametrize("n_frac", [0.0, 0.2])
def test_one_hot_dinucleotides_preserved(length, n_frac):
    for seed in range(10):
        rng = np.random.RandomState(seed)
        seq = random_one_hot(rng, length, n_frac=n_frac)
        single = dinuc_shuffle(seq, rng=rng)
        assert single.shape == seq.shape
        assert_valid_shuffle(seq, single)
        for shuf in dinuc_shuffle(seq, 5, rng):
            assert_valid_shuffle(seq, shuf)


def test_many_shuffles_use_vectorised_walk():
    # >= _NUMPY_WALK_MIN_WALKS walks go through the NumPy walk, fewer through
    # the pure-Python one; both must be valid and give identical results.
    rng = np.random.RandomState(3)
    seq = random_one_hot(rng, 300, n_frac=0.05)
    many = dinuc_shuffle(seq, 100, np.random.RandomState(11))
    assert many.shape == (100, 300, 4)
    for shuf in many:
        assert_valid_shuffle(seq, shuf)
    few = dinuc_shuffle(seq, 3, np.random.RandomState(11))
    np.testing.assert_array_equal(few, many[:3])


def test_other_alphabets_and_unicode():
    rng = np.random.RandomState(0)
    for alphabet in ["AB", "ACGTN", "abcdefghijklmnopqrstuvwxyz0123456789",
                     "\u03b1\u03b2\u03b3\U0001F600"]:
        seq = random_string(rng, 300, alphabet)
        for shuf in dinuc_shuffle(seq, 4, rng):
            assert_valid_shuffle(seq, shuf)
    # More than 256 distinct characters (wider token dtypes), with both the
    # one-walk-at-a-time and the vectorised walks.
    alphabet = "".join(chr(0x4E00 + i) for i in range(300))
    seq = random_string(rng, 3000, alphabet)
    for num_shufs in (3, 60):
        shufs = dinuc_shuffle(seq, num_shufs, rng)
        assert len(shufs) == num_shufs
        for shuf in shufs[:5]:
            assert_valid_shuffle(seq, shuf)


def test_single_character_and_empty_inputs():
    rng = np.random.RandomState(0)
    assert dinuc_shuffle("AAAAAA", rng=rng) == "AAAAAA"
    assert dinuc_shuffle("", rng=rng) == ""
    assert dinuc_shuffle("", 2, rng) == ["", ""]
    assert dinuc_shuffle("G", 3, rng) == ["G", "G", "G"]
    empty = np.zeros((0, 4))
    assert dinuc_shuffle(empty, 2, rng).shape == (2, 0, 4)


def test_all_n_rows():
    rng = np.random.RandomState(0)
    seq = np.zeros((20, 4))
    out = dinuc_shuffle(seq, 3, rng)
    assert out.shape == (3, 20, 4)
    assert not out.any()
    seq[5] = [0, 0, 1, 0]
    seq[12] = [1, 0, 0, 0]
    for shuf in dinuc_shuffle(seq, 10, rng):
        assert_valid_shuffle(seq, shuf)


def key_dtype_for(seq):
    """The sort-key dtype _shuffled_successors picks for a one-hot seq."""
    tokens = ds._check_one_hot(seq, "seq")[None]
    num_tokens = seq.shape[1] + 1
    counts = ds._group_edges(tokens, num_tokens)[3]
    value_bits = (num_tokens - 1).bit_length()
    return ds._choose_key_dtype(counts, value_bits)[0]


def test_large_alphabet_and_long_sequences():
    # 64-bit sort keys (long sequences) and a large alphabet.
    rng = np.random.RandomState(1)
    seq = random_one_hot(rng, 6000, dim=4)
    assert key_dtype_for(seq) == np.uint64
    for shuf in dinuc_shuffle(seq, 2, rng):
        assert_valid_shuffle(seq, shuf)
    seq = random_one_hot(rng, 500, dim=30, n_frac=0.1)
    assert key_dtype_for(seq) == np.uint32
    for shuf in dinuc_shuffle(seq, 2, rng):
        assert_valid_shuffle(seq, shuf)


def test_tiles_do_not_change_results(monkeypatch):
    # The sort keys are finished tile by tile (whole sequences, or parts of
    # one sequence's shuffles); tiling must not change the shuffles.
    rng = np.random.RandomState(6)
    seqs = np.stack([random_one_hot(rng, 150, n_frac=0.05)
                     for _ in range(5)])
    expected = dinuc_shuffle_batch(seqs, 7, np.random.RandomState(8))
    for tile_bytes in (1, 1000, 5000):
        monkeypatch.setattr(ds, "_TILE_BYTES", tile_bytes)
        np.testing.assert_array_equal(
            dinuc_shuffle_batch(seqs, 7, np.random.RandomState(8)),
            expected)


@pytest.mark.parametrize("num_shufs", [4, 60])
def test_permutation_fallback(monkeypatch, num_shufs):
    # Force the fallback used when sort keys would have too few random bits.
    monkeypatch.setattr(ds, "_KEY_DTYPES", ())
    rng = np.random.RandomState(2)
    seq = random_one_hot(rng, 200, n_frac=0.1)
    for shuf in dinuc_shuffle(seq, num_shufs, rng):
        assert_valid_shuffle(seq, shuf)


def test_tied_random_keys_are_redrawn(monkeypatch):
    real = ds._random_bits
    calls = []

    def first_call_all_zero(gen, shape, dtype):
        calls.append(shape)
        bits = real(gen, shape, dtype)
        if len(calls) == 1:
            bits[...] = 0
        return bits

    monkeypatch.setattr(ds, "_random_bits", first_call_all_zero)
    # the general path (the per-sequence compiled kernel draws its own
    # bits; test_per_sequence_kernel_redraws_ties covers its redraws)
    monkeypatch.setattr(ds, "_shuffle_one_hot_single_compiled",
                        lambda *args: None)
    rng = np.random.RandomState(0)
    seq = random_one_hot(rng, 100)
    out = dinuc_shuffle(seq, 3, rng)
    # One redraw of the three tied shuffles, whose new keys have no ties.
    assert calls[1:] == [(3, 1, calls[0][-1])]
    for shuf in out:
        assert_valid_shuffle(seq, shuf)


def test_last_edge_kept_last_for_each_character():
    # The algorithm keeps, for every character, the character following its
    # last occurrence (before the final position) the same.
    rng = np.random.RandomState(5)
    seq = random_string(rng, 60)

    def last_successors(s):
        return {c: s[s[:-1].rindex(c) + 1] for c in set(s[:-1])}

    for shuf in dinuc_shuffle(seq, 20, rng):
        assert last_successors(shuf) == last_successors(seq)


# ---------------------------------------------------------------------------
# Output types, randomness, reproducibility
# ---------------------------------------------------------------------------

def test_output_types_and_shapes():
    rng = np.random.RandomState(0)
    seq = random_one_hot(rng, 30, dtype=np.float32)
    assert dinuc_shuffle(seq, rng=rng).shape == (30, 4)
    out = dinuc_shuffle(seq, 6, rng)
    assert isinstance(out, np.ndarray)
    assert out.shape == (6, 30, 4) and out.dtype == np.float32
    bool_seq = seq.astype(bool)
    assert dinuc_shuffle(bool_seq, 2, rng).dtype == bool
    int_seq = seq.astype(np.int8)
    assert dinuc_shuffle(int_seq, rng=rng).dtype == np.int8
    strings = dinuc_shuffle("ACGTACGGT", 3, rng)
    assert isinstance(strings, list) and len(strings) == 3
    assert all(isinstance(s, str) for s in strings)
    assert isinstance(dinuc_shuffle(np.str_("ACGTTA"), rng=rng), str)
    assert len(dinuc_shuffle("ACGT", 1, rng)) == 1


def test_reproducible_with_seeded_random_state():
    seq_rng = np.random.RandomState(0)
    arr = random_one_hot(seq_rng, 500, n_frac=0.05)
    text = random_string(seq_rng, 500)
    np.testing.assert_array_equal(
        dinuc_shuffle(arr, 5, np.random.RandomState(42)),
        dinuc_shuffle(arr, 5, np.random.RandomState(42)))
    assert (dinuc_shuffle(text, 5, np.random.RandomState(42))
            == dinuc_shuffle(text, 5, np.random.RandomState(42)))
    np.testing.assert_array_equal(
        dinuc_shuffle(arr, 3, np.random.default_rng(7)),
        dinuc_shuffle(arr, 3, np.random.default_rng(7)))
    # The RandomState is advanced: consecutive calls differ.
    rng = np.random.RandomState(42)
    assert dinuc_shuffle(text, rng=rng) != dinuc_shuffle(text, rng=rng)


def test_different_seeds_and_shuffles_differ():
    seq = random_string(np.random.RandomState(0), 400)
    a = dinuc_shuffle(seq, 5, np.random.RandomState(1))
    b = dinuc_shuffle(seq, 5, np.random.RandomState(2))
    assert a != b
    assert len(set(a)) == 5
    assert seq not in a
    # A shuffle is far from the original (random-level identity ~1/4).
    identity = np.mean([x == y for x, y in zip(seq, a[0])])
    assert identity < 0.5


def test_unseeded_rng_gives_random_results():
    seq = random_string(np.random.RandomState(0), 300)
    assert dinuc_shuffle(seq) != dinuc_shuffle(seq)


def test_shuffles_are_uniform_over_valid_sequences():
    # Enumerate all sequences with the same first character, dinucleotide
    # counts and last successor of each character: the shuffles must be
    # exactly these, each about equally often.
    seq = "ABACABBACA"

    def invariants(s):
        last_successors = {c: s[s[:-1].rindex(c) + 1] for c in set(s[:-1])}
        return s[0], dinuc_counts(s), last_successors

    valid = {"".join(chars) for chars in itertools.product(
        sorted(set(seq)), repeat=len(seq))
        if invariants("".join(chars)) == invariants(seq)}
    assert len(valid) > 4
    num_shufs = 600 * len(valid)
    counts = collections.Counter(
        dinuc_shuffle(seq, num_shufs, np.random.RandomState(0)))
    assert set(counts) == valid
    expected = num_shufs / len(valid)
    chi2 = sum((n - expected) ** 2 / expected for n in counts.values())
    assert chi2 < 25  # p ~ 1e-4 for 5 degrees of freedom


def test_numpy2_string_helpers():
    arr = ds.string_to_char_array("ACGT")
    np.testing.assert_array_equal(arr, [65, 67, 71, 84])
    assert ds.char_array_to_string(arr) == "ACGT"
    tokens = ds.one_hot_to_tokens(np.array([[0, 1, 0], [0, 0, 0], [1, 0, 0]]))
    np.testing.assert_array_equal(tokens, [1, 3, 0])
    np.testing.assert_array_equal(
        ds.tokens_to_one_hot(tokens, 3),
        [[0, 1, 0], [0, 0, 0], [1, 0, 0]])


# ---------------------------------------------------------------------------
# Batch API
# ---------------------------------------------------------------------------

def test_batch_shapes_and_validity():
    rng = np.random.RandomState(0)
    seqs = np.stack([random_one_hot(rng, 120, n_frac=0.05) for _ in range(7)])
    out = dinuc_shuffle_batch(seqs, 4, rng)
    assert out.shape == (7, 4, 120, 4) and out.dtype == seqs.dtype
    for i in range(7):
        for shuf in out[i]:
            assert_valid_shuffle(seqs[i], shuf)
    assert dinuc_shuffle_batch(seqs, rng=rng).shape == (7, 1, 120, 4)
    np.testing.assert_array_equal(
        dinuc_shuffle_batch(seqs, 3, np.random.RandomState(9)),
        dinuc_shuffle_batch(seqs, 3, np.random.RandomState(9)))


@pytest.mark.parametrize("length", [1, 2, 3])
def test_batch_short_sequences(length):
    rng = np.random.RandomState(0)
    seqs = np.stack([random_one_hot(rng, length) for _ in range(3)])
    out = dinuc_shuffle_batch(seqs, 2, rng)
    assert out.shape == (3, 2, length, 4)
    for i in range(3):
        for shuf in out[i]:
            assert_valid_shuffle(seqs[i], shuf)


def test_batch_matches_single_sequence_call():
    rng = np.random.RandomState(0)
    seq = random_one_hot(rng, 80)
    np.testing.assert_array_equal(
        dinuc_shuffle_batch(seq[None], 5, np.random.RandomState(3))[0],
        dinuc_shuffle(seq, 5, np.random.RandomState(3)))


# ---------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------

def test_bad_inputs():
    rng = np.random.RandomState(0)
    good = random_one_hot(rng, 10)
    with pytest.raises(ValueError, match="shape"):
        dinuc_shuffle(good[None], rng=rng)
    with pytest.raises(ValueError, match="shape"):
        dinuc_shuffle(good[:, 0], rng=rng)
    with pytest.raises(ValueError, match="Expected"):
        dinuc_shuffle(["A", "C"], rng=rng)
    with pytest.raises(ValueError, match="Expected"):
        dinuc_shuffle(123, rng=rng)
    two_hot = good.copy()
    two_hot[3] = [1, 1, 0, 0]
    with pytest.raises(ValueError, match="row"):
        dinuc_shuffle(two_hot, rng=rng)
    not_binary = good.copy()
    not_binary[2] *= 0.5
    with pytest.raises(ValueError, match="0 or 1"):
        dinuc_shuffle(not_binary, rng=rng)
    with pytest.raises(ValueError):
        dinuc_shuffle(good.astype(str), rng=rng)
    with pytest.raises(ValueError):
        dinuc_shuffle(np.zeros((5, 0)), rng=rng)
    for bad in [0, -1, 2.5, True]:
        with pytest.raises(ValueError, match="num_shufs"):
            dinuc_shuffle("ACGT", bad, rng)
        with pytest.raises(ValueError, match="num_shufs"):
            dinuc_shuffle_batch(good[None], bad, rng)
    with pytest.raises(TypeError, match="rng"):
        dinuc_shuffle("ACGT", 2, rng=1234)
    with pytest.raises(ValueError, match="N x L x D"):
        dinuc_shuffle_batch(good, 2, rng)
    with pytest.raises(ValueError, match="N x L x D"):
        dinuc_shuffle_batch(list(good), 2, rng)
    with pytest.raises(ValueError, match="row"):
        dinuc_shuffle_batch(two_hot[None], 2, rng)


def test_batch_in_chunks(monkeypatch):
    monkeypatch.setattr(ds, "_CHUNK_ELEMENTS", 500)
    rng = np.random.RandomState(4)
    seqs = np.stack([random_one_hot(rng, 90, n_frac=0.05) for _ in range(9)])
    out = dinuc_shuffle_batch(seqs, 3, rng)
    assert out.shape == (9, 3, 90, 4)
    for i in range(9):
        for shuf in out[i]:
            assert_valid_shuffle(seqs[i], shuf)
    with pytest.raises(ValueError, match="tokens"):
        ds.tokens_to_one_hot(np.array([0, 5]), 4)


# ---------------------------------------------------------------------------
# The compiled (numba) path gives the NumPy path's shuffles, bit for bit
# ---------------------------------------------------------------------------

def _both_paths(monkeypatch, fn):
    """``fn()`` with the compiled kernels, then with the NumPy path."""
    pytest.importorskip("numba")
    monkeypatch.delenv("DEEPLIFT_NO_NUMBA", raising=False)
    monkeypatch.setattr(ds, "_COMPILED", {})
    assert ds._compiled_kernels() is not None
    compiled = fn()
    monkeypatch.setattr(ds, "_COMPILED", {"kernels": None})
    return compiled, fn()


@pytest.mark.parametrize("length, n_frac, num_shufs", [
    (3, 0.0, 5), (4, 0.0, 1), (37, 0.2, 7), (200, 0.05, 20),
    (1000, 0.0, 20), (1000, 0.01, 60)])
def test_compiled_path_equals_numpy_path(monkeypatch, length, n_frac,
                                         num_shufs):
    rng = np.random.RandomState(length)
    seqs = np.stack([random_one_hot(rng, length, n_frac=n_frac)
                     for _ in range(6)])

    def run():
        r = np.random.RandomState(11)
        per_call = [dinuc_shuffle(s, num_shufs, r) for s in seqs]
        return np.stack(per_call), dinuc_shuffle_batch(seqs, num_shufs, r)

    (c_single, c_batch), (n_single, n_batch) = _both_paths(monkeypatch, run)
    np.testing.assert_array_equal(c_single, n_single)
    np.testing.assert_array_equal(c_batch, n_batch)
    assert c_single.dtype == n_single.dtype == seqs.dtype
    for shuf in c_batch[0]:
        assert_valid_shuffle(seqs[0], shuf)


def test_compiled_path_equals_numpy_path_strings_chunks_and_ties(
        monkeypatch):
    rng = np.random.RandomState(3)
    text = random_string(rng, 300, alphabet="ACGTN")
    seqs = np.stack([random_one_hot(rng, 150) for _ in range(9)])
    real = ds._random_bits

    def run():
        calls = []

        def first_call_all_zero(gen, shape, dtype):
            calls.append(shape)
            bits = real(gen, shape, dtype)
            if len(calls) == 1:
                bits[...] = 0      # every shuffle tied: all redrawn
            return bits

        with monkeypatch.context() as m:
            m.setattr(ds, "_random_bits", first_call_all_zero)
            m.setattr(ds, "_shuffle_one_hot_single_compiled",
                      lambda *args: None)
            tied = dinuc_shuffle(seqs[0], 4, np.random.RandomState(1))
        with monkeypatch.context() as m:
            m.setattr(ds, "_CHUNK_ELEMENTS", 1000)   # several chunks
            chunked = dinuc_shuffle_batch(seqs, 3, np.random.RandomState(2))
        strings = dinuc_shuffle(text, 5, np.random.RandomState(4))
        return tied, chunked, strings, calls

    compiled, numpy_path = _both_paths(monkeypatch, run)
    for a, b in zip(compiled[:2], numpy_path[:2]):
        np.testing.assert_array_equal(a, b)
    assert compiled[2] == numpy_path[2]
    assert compiled[3] == numpy_path[3] and len(compiled[3]) == 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_per_sequence_fast_path_equals_numpy_path(monkeypatch, dtype):
    """dinuc_shuffle(seq, k, rng) on one float (L, D) array takes the
    compiled single-sequence path (validation and tokens in one compiled
    pass); it gives the NumPy path's shuffles, keeps the dtype, and bad
    input still gets the general path's errors."""
    rng = np.random.RandomState(5)
    seqs = [random_one_hot(rng, 500, n_frac=0.02).astype(dtype)
            for _ in range(4)]
    used = []
    real = ds._shuffle_one_hot_single_compiled

    def spy(*args):
        result = real(*args)
        used.append(result is not None)
        return result

    def run():
        r = np.random.RandomState(9)
        with monkeypatch.context() as m:
            m.setattr(ds, "_shuffle_one_hot_single_compiled", spy)
            return np.stack([dinuc_shuffle(s, 6, r) for s in seqs])

    compiled, numpy_path = _both_paths(monkeypatch, run)
    assert used == [True] * 4              # the fast path ran (numba)
    np.testing.assert_array_equal(compiled, numpy_path)
    assert compiled.dtype == dtype
    monkeypatch.setattr(ds, "_COMPILED", {})
    bad = seqs[0].copy()
    bad[3, :2] = 1
    with pytest.raises(ValueError, match=r"row \(3,\) has 2 nonzero"):
        dinuc_shuffle(bad, 2, np.random.RandomState(0))
    bad = seqs[0].copy()
    bad[7, 0] = 0.5
    with pytest.raises(ValueError, match="entries must be 0 or 1"):
        dinuc_shuffle(bad, 2, np.random.RandomState(0))
    bad[7, 0] = np.nan
    with pytest.raises(ValueError, match="entries must be 0 or 1"):
        dinuc_shuffle(bad, 2, np.random.RandomState(0))


def test_per_sequence_kernel_redraws_ties(monkeypatch, caplog):
    """The per-sequence compiled kernel (PCG64 seeded and drawn inside it)
    redraws rows with tied random ranks exactly as the NumPy path does.
    Ties happen naturally here: five tokens (N rows included) of about 1000
    edges each keep 32-bit keys with 28 random bits, so about 1% of the
    rows have two equal ranks; the rows of keys have an odd length, so a
    redrawn row's keys start inside a 64-bit word.  A second case has
    64-bit keys (a longer sequence)."""
    import logging
    rng = np.random.RandomState(22)
    tokens = rng.randint(0, 5, 5006)
    seq = np.eye(5, 4)[tokens]
    counts = np.bincount(tokens[:-1], minlength=5)
    assert counts.max() % 2 == 1        # odd rows of keys
    assert ds._key_dtype_of_counts(counts.tolist(), 3)[0] == np.uint32
    long_seq = random_one_hot(rng, 30000, n_frac=0.01)
    long_counts = np.bincount(ds.one_hot_to_tokens(long_seq)[:-1],
                              minlength=5)
    assert ds._key_dtype_of_counts(long_counts.tolist(), 3)[0] == np.uint64

    def run():
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger=ds.__name__):
            r = np.random.RandomState(3)
            tied = dinuc_shuffle(seq, 300, r)
            messages = [rec.getMessage() for rec in caplog.records]
            return tied, dinuc_shuffle(long_seq, 2, r), messages

    compiled, numpy_path = _both_paths(monkeypatch, run)
    np.testing.assert_array_equal(compiled[0], numpy_path[0])
    np.testing.assert_array_equal(compiled[1], numpy_path[1])
    assert any("redrawing" in m for m in compiled[2])     # ties were hit
    for shuf in compiled[0][:3]:
        assert_valid_shuffle(seq, shuf)
    assert_valid_shuffle(long_seq, compiled[1][0])


def test_pcg64_kernel_equals_numpy():
    """The compiled PCG64 (SeedSequence seeding and XSL-RR draws) gives
    np.random.PCG64's state and raw words for the same four seed words."""
    pytest.importorskip("numba")
    from deeplift import _dinuc_kernels as kern
    rng = np.random.RandomState(0)
    seeds = [np.zeros(4, np.uint64), np.full(4, 2 ** 32 - 1, np.uint64)] + [
        rng.randint(0, 2 ** 32, size=4, dtype=np.uint64) for _ in range(50)]
    for seed in seeds:
        state = np.empty(4, dtype=np.uint64)
        kern.pcg64_seed(seed, state)
        reference = np.random.PCG64(seed)
        expected = reference.state["state"]
        assert (int(state[0]) << 64 | int(state[1])) == expected["state"]
        assert (int(state[2]) << 64 | int(state[3])) == expected["inc"]
        words = np.empty(37, dtype=np.uint64)
        kern.pcg64_raw(state, words)
        np.testing.assert_array_equal(words, reference.random_raw(37))


def test_seed_words_equal_randint():
    """_seed_words reads MT19937's raw words: the same values, and the same
    state afterwards, as RandomState.randint(0, 2**32, 4, uint64)."""
    a, b = np.random.RandomState(5), np.random.RandomState(5)
    a.standard_normal()
    b.standard_normal()
    for _ in range(3):
        np.testing.assert_array_equal(
            ds._seed_words(a), b.randint(0, 2 ** 32, size=4, dtype=np.uint64))
    assert a.randint(0, 10 ** 9) == b.randint(0, 10 ** 9)


@pytest.mark.parametrize("dtype, extra_axis", [(np.float32, False),
                                                (np.float64, True)])
def test_shuffle_seq_ref_function_batches(dtype, extra_axis):
    """util.get_shuffle_seq_ref_function writes each reference straight
    into the batch: the score function gets each sequence repeated K times
    and the shuffles of one RandomState(seed) drawn in order (sequence-
    major), in the inputs' dtype and shape, as 0.6.13's list-then-stack."""
    from deeplift import util
    rng = np.random.RandomState(4)
    seqs = np.stack([random_one_hot(rng, 120, n_frac=0.05, dtype=dtype)
                     for _ in range(3)])
    if extra_axis:
        seqs = seqs[:, None]
    seen = {}

    def score(task_idx, input_data_list, input_references_list, batch_size,
              progress_update=None):
        seen["data"], seen["refs"] = input_data_list[0], \
            input_references_list[0]
        return input_data_list[0] - input_references_list[0]

    out = util.get_shuffle_seq_ref_function(score, dinuc_shuffle)(
        0, seqs, 4, 10, seed=7)
    r = np.random.RandomState(7)
    expected = np.stack([dinuc_shuffle(s.squeeze(), rng=r)
                         for s in seqs for _ in range(4)])
    assert seen["refs"].dtype == seen["data"].dtype == dtype
    assert seen["refs"].shape == seen["data"].shape == (12,) + seqs.shape[1:]
    np.testing.assert_array_equal(seen["refs"].reshape(expected.shape),
                                  expected)
    np.testing.assert_array_equal(seen["data"],
                                  np.repeat(seqs, 4, axis=0))
    np.testing.assert_allclose(
        out, seqs - expected.reshape((3, 4) + seqs.shape[1:]).mean(axis=1),
        rtol=0, atol=1e-6)  # float32 mean of 4 values: a few ulps


def test_single_shuffles_into_equals_calls(monkeypatch):
    """_single_shuffles_into (the wrapper's batched path) gives the shuffles
    of ``count`` dinuc_shuffle(seq, rng=rng) calls in turn and leaves rng
    where those calls leave it, ties included (a sequence whose 32-bit keys
    tie in about 1% of the rows, 300 calls)."""
    pytest.importorskip("numba")
    monkeypatch.delenv("DEEPLIFT_NO_NUMBA", raising=False)
    monkeypatch.setattr(ds, "_COMPILED", {})
    rng = np.random.RandomState(22)
    seq = np.eye(5, 4)[rng.randint(0, 5, 5006)]
    for s, count in ((seq, 300), (random_one_hot(rng, 200, dtype=np.float32),
                                  7)):
        a, b = np.random.RandomState(1), np.random.RandomState(1)
        out = np.empty((count,) + s.shape, dtype=s.dtype)
        assert ds._single_shuffles_into(s, count, a, out)
        np.testing.assert_array_equal(
            out, np.stack([dinuc_shuffle(s, rng=b) for _ in range(count)]))
        assert a.randint(0, 10 ** 9) == b.randint(0, 10 ** 9)
    # not applicable: nothing drawn
    a = np.random.RandomState(1)
    assert not ds._single_shuffles_into(seq[:2], 3, a, np.empty((3, 2, 4)))
    assert a.randint(0, 10 ** 9) == np.random.RandomState(1).randint(
        0, 10 ** 9)
