"""A shared (batch-1) reference through traced layers whose ops fold the
batch axis into another one (issue 18; scripts/RESULTS_zoo.md, "Causes"
item 4).

CREsted's MultiheadAttention reshapes (B, L, C) -> (B*L, C) for its
projections; a batch-1 reference folds into L rows while the input folds
into B*L, and ``act - ref`` cannot broadcast (so does ``keras.ops.matmul``
of a 3-d tensor by a kernel, in TensorFlow).  The traced layer now knows
(at trace time, by value) whether one of its nodes is not computed
example by example, and then broadcasts batch-1 references to the batch
at its entrance; every other layer keeps the batch-1 reference (except
after a layer whose output itself mixes the examples).

Checked on small registered custom layers (plain Keras): a shared batch-1
reference gives the scores of the same reference tiled per example, every
rule sums to the output difference (tests/tracing_checks.py), the
MultiRefScorer pairs path and the compiled ``get_target_contribs_func``
agree, and layers that do not fold keep the batch-1 reference.
"""
import numpy as np
import pytest
import tensorflow as tf
import keras

from deeplift.layers.traced import TracedLayer
from deeplift.multiref import MultiRefScorer
from tests.tracing_checks import (  # noqa: F401 (fixture)
    float32_policy, check_traced, convert, run_engine, contributions,
    set_policy, data, RESCALE, RC)

L, C, D, H = 5, 6, 4, 2
N = 4  # examples: neither 1 nor L, so a wrong fold cannot broadcast


@keras.saving.register_keras_serializable(package="batch_fold_test")
class FoldedDense(keras.layers.Layer):
    """(B, L, C) -> (B*L, C) -> tanh(matmul) -> (B, L, D)."""

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(C, D), name="kernel")

    def call(self, x):
        y = keras.ops.tanh(keras.ops.matmul(
            keras.ops.reshape(x, (-1, C)), self.kernel))
        return keras.ops.reshape(y, (-1, L, D))


@keras.saving.register_keras_serializable(package="batch_fold_test")
class FoldedAttention(keras.layers.Layer):
    """Self-attention written as CREsted's: projections on the folded
    (B*L, C) rows, heads split, softmax(q k^T) v, folded again for the
    output projection and a gelu (a nonlinear node on folded rows, where
    ``act - ref`` is taken)."""

    def build(self, input_shape):
        self.wq = self.add_weight(shape=(C, H * 2), name="wq")
        self.wk = self.add_weight(shape=(C, H * 2), name="wk")
        self.wv = self.add_weight(shape=(C, H * 2), name="wv")
        self.wo = self.add_weight(shape=(H * 2, C), name="wo")

    def call(self, x):
        rows = keras.ops.reshape(x, (-1, C))

        def heads(w):
            t = keras.ops.reshape(keras.ops.matmul(rows, w), (-1, L, H, 2))
            return keras.ops.transpose(t, (0, 2, 1, 3))
        q, k, v = heads(self.wq), heads(self.wk), heads(self.wv)
        att = keras.ops.softmax(keras.ops.einsum("bhld,bhmd->bhlm", q, k))
        out = keras.ops.transpose(keras.ops.einsum("bhlm,bhmd->bhld", att,
                                                   v), (0, 2, 1, 3))
        out = keras.ops.gelu(keras.ops.matmul(
            keras.ops.reshape(out, (-1, H * 2)), self.wo))
        return keras.ops.reshape(out, (-1, L, C))


@keras.saving.register_keras_serializable(package="batch_fold_test")
class BatchInMiddle(keras.layers.Layer):
    """(B, L, C) -> transpose (L, B, C) -> (L*B, C) rows -> tanh(matmul) ->
    (L, B, D) -> (B, L, D): the batch axis moved to the middle."""

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(C, D), name="kernel")

    def call(self, x):
        t = keras.ops.reshape(keras.ops.transpose(x, (1, 0, 2)), (-1, C))
        y = keras.ops.tanh(keras.ops.matmul(t, self.kernel))
        return keras.ops.transpose(keras.ops.reshape(y, (L, -1, D)),
                                   (1, 0, 2))


@keras.saving.register_keras_serializable(package="batch_fold_test")
class PerExample(keras.layers.Layer):
    """tanh(x W) * sigmoid(x): example by example (no fold; an einsum, as
    ``keras.ops.matmul`` of a 3-d tensor folds it to 2-d rows)."""

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(C, D), name="kernel")

    def call(self, x):
        return keras.ops.tanh(keras.ops.einsum("blc,cd->bld", x,
                                               self.kernel)) * \
            keras.ops.sigmoid(x[..., :D])


@keras.saving.register_keras_serializable(package="batch_fold_test")
class CumsumOverBatch(keras.layers.Layer):
    """An op that mixes the examples without changing any shape (cumsum
    over the batch axis), then a nonlinearity (whose reference matters):
    found by value, not by shape."""

    def call(self, x):
        return keras.ops.tanh(tf.cumsum(x, axis=0) * 0.5 + x)


LAYERS = {"folded_dense": FoldedDense, "folded_attention": FoldedAttention,
          "batch_in_middle": BatchInMiddle, "per_example": PerExample,
          "cumsum_over_batch": CumsumOverBatch}
#: the layers with an inner node not computed example by example (the
#: first three are example by example as a whole: their folds are undone)
FOLDING = ("folded_dense", "folded_attention", "batch_in_middle",
           "cumsum_over_batch")


def model(name, dtype):
    set_policy(dtype)
    keras.utils.set_random_seed(0)
    inp = keras.Input((L, C), dtype=dtype)
    y = keras.layers.Dense(C, activation="relu")(inp)
    y = LAYERS[name]()(y)
    y = keras.layers.Dense(3)(keras.layers.Flatten()(y))
    return keras.Model(inp, y)


def _traced(dl):
    return [l for l in dl.all_layers() if isinstance(l, TracedLayer)]


def _scores(dl, x, ref, w):
    states, mxts, inputs, target = run_engine(dl, [x], [ref], w)
    return contributions(states, mxts, inputs[0]), states


@pytest.mark.parametrize("name", sorted(set(LAYERS) -
                                         {"cumsum_over_batch"}))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shared_reference_sums_to_delta(name, dtype):
    """Forward == Keras, Gradient == the tape, Rescale and RevealCancel
    sum to the difference example by example with a batch-1 reference
    (tracing_checks' tolerances)."""
    kmodel = model(name, dtype)
    x, ref = data((L, C), dtype, n=N)
    assert ref.shape[0] == 1
    check_traced(kmodel, [x], [ref], modes=(RESCALE, RC))


@pytest.mark.parametrize("mode", [RESCALE, RC])
def test_batch_mixing_output_sums_to_delta(mode):
    """A layer whose output mixes the examples (cumsum over the batch):
    an input's scores then count its effect on the other examples'
    outputs too, so summation to delta holds over the whole batch: the
    sum of every score == the sum over examples of ``w * (out - out_ref)``
    with the reference tiled (float64: rounding only, 1e-10 of the
    scale)."""
    dtype = np.float64
    kmodel = model("cumsum_over_batch", dtype)
    x, ref = data((L, C), dtype, n=N)
    w = np.random.RandomState(3).randn(1, 3).astype(dtype)
    tiled = np.repeat(ref, N, axis=0)
    delta = np.sum(w * (kmodel(x).numpy() - kmodel(tiled).numpy()))
    scores, _ = _scores(convert(kmodel, mode), x, ref, w)
    scale = np.abs(scores).sum() + abs(delta)
    assert abs(scores.sum() - delta) / scale < 1e-10


# (dtype, mode, tolerance on the scores' scale).  The same values go
# through the same ops; only the layers outside the traced one run the
# reference at batch 1 instead of N, and a kernel may round differently
# at another batch size.  float64: 1e-12.  float32 Rescale: 1e-5.
# float32 RevealCancel is left out: its ratios (f(x0 + D+) - f(x0)) / D+
# amplify the reference's rounding by 1/D+, and with parts D+ near 1e-4
# the two roundings of the same reference differ by ~1e-3 of the scale,
# in a layer that does not fold as much as in one that does (0.8e-3 and
# 0.9e-3 here); its float32 exactness is test_shared_reference_sums_to_
# delta's.
EQUALITY = [(np.float64, RESCALE, 1e-12), (np.float64, RC, 1e-12),
            (np.float32, RESCALE, 1e-5)]


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("dtype,mode,tol", EQUALITY)
def test_shared_reference_equals_tiled(name, dtype, mode, tol):
    """The batch-1 reference gives the scores of that reference tiled to
    one per example (tolerances: EQUALITY)."""
    kmodel = model(name, dtype)
    x, ref = data((L, C), dtype, n=N)
    w = np.random.RandomState(3).randn(1, 3).astype(dtype)
    dl = convert(kmodel, mode)
    shared, states = _scores(dl, x, ref, w)
    tiled, _ = _scores(dl, x, np.repeat(ref, N, axis=0), w)
    scale = np.abs(tiled).max()
    np.testing.assert_allclose(shared / scale, tiled / scale, rtol=0,
                               atol=tol)
    # layers outside a folding traced layer keep the batch-1 reference
    # (the fast path), and so does a traced layer that does not fold;
    # after a layer whose output mixes the examples (cumsum over the
    # batch) the references have the batch size
    (traced,) = _traced(dl)
    assert traced.mixes_batch == (name in FOLDING)
    assert traced.full_batch_reference == (name == "cumsum_over_batch")
    order = dl.all_layers()
    after = order.index(traced)
    for i, layer in enumerate(order):
        s = states.get(id(layer))
        if s is not None and s.ref is not None:
            expected = N if traced.full_batch_reference and i >= after \
                else 1
            assert s.ref.shape[0] == expected, layer.get_name()
    inner = traced.inner_states(states[id(traced)])
    for s in inner.values():  # inside: references like the inputs
        if name in FOLDING:
            assert s.ref.shape == s.act.shape, s.layer.get_name()
        else:
            assert s.ref.shape[0] == 1, s.layer.get_name()


@pytest.mark.parametrize("name", FOLDING[:3])
def test_multiref_pairs_and_compiled_function(name):
    """MultiRefScorer (examples gathered to (example, reference) pairs,
    K = 2 shared references) equals the mean of the single-reference
    scores; ``get_target_contribs_func`` with one batch-1 reference (the
    compiled path, batch axis unknown) equals the tiled reference.
    float64: rounding only, 1e-12 of the scores' scale."""
    dtype = np.float64
    kmodel = model(name, dtype)
    x, ref = data((L, C), dtype, n=N)
    refs = np.concatenate([ref, -ref[:, ::-1]], axis=0)  # (K=2, L, C)
    dl = convert(kmodel, RESCALE)
    w = np.zeros((1, 3), dtype)
    w[0, 1] = 1.0
    expected = np.mean([_scores(dl, x, np.repeat(r[None], N, axis=0), w)[0]
                        for r in refs], axis=0)
    scale = np.abs(expected).max()
    scorer = MultiRefScorer(dl, find_scores_layer=0, target_layer=-1)
    got = scorer.run(x, refs, task_idx=1, batch_size=3, progress=False)
    np.testing.assert_allclose(got / scale, expected / scale, rtol=0,
                               atol=1e-12)

    func = dl.get_target_contribs_func(find_scores_layer_idx=0,
                                       target_layer_idx=-1)
    one = func(task_idx=1, input_data_list=[x], batch_size=3,
               progress_update=None, input_references_list=[ref])
    tiled = _scores(dl, x, np.repeat(ref, N, axis=0), w)[0]
    np.testing.assert_allclose(np.asarray(one) / scale, tiled / scale,
                               rtol=0, atol=1e-12)


@keras.saving.register_keras_serializable(package="batch_fold_test")
class BatchInMiddleAnyLength(keras.layers.Layer):
    """(B, L, C) -> (L, B, C) -> tanh(einsum) -> (B, L, D), any L."""

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(C, D), name="kernel")

    def call(self, x):
        t = keras.ops.einsum("lbc,cd->lbd", keras.ops.transpose(
            x, (1, 0, 2)), self.kernel)
        return keras.ops.transpose(keras.ops.tanh(t), (1, 0, 2))


@pytest.mark.parametrize("cls,folds", [(PerExample, False),
                                       (BatchInMiddleAnyLength, True)])
def test_unknown_length(cls, folds):
    """Inputs of unknown length are checked at a small length: a layer
    computed example by example keeps the batch-1 reference, a folding
    one broadcasts it; shared == tiled (float64, 1e-12)."""
    dtype = np.float64
    set_policy(dtype)
    keras.utils.set_random_seed(0)
    inp = keras.Input((None, C), dtype=dtype)
    y = cls()(keras.layers.Dense(C, activation="relu")(inp))
    kmodel = keras.Model(inp, keras.layers.Dense(3)(
        keras.layers.GlobalAveragePooling1D()(y)))
    x, ref = data((L, C), dtype, n=N)
    w = np.random.RandomState(3).randn(1, 3)
    dl = convert(kmodel, RESCALE)
    (traced,) = _traced(dl)
    assert traced.mixes_batch == folds
    shared, _ = _scores(dl, x, ref, w)
    tiled, _ = _scores(dl, x, np.repeat(ref, N, axis=0), w)
    scale = np.abs(tiled).max()
    np.testing.assert_allclose(shared / scale, tiled / scale, rtol=0,
                               atol=1e-12)
