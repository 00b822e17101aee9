"""Token models built like keras_hub's text backbones (BERT, GPT-2,
DistilBERT, ESM), in plain Keras with registered custom layers, so that
CI needs no keras_hub:

* ``PositionTable``: returns its position table broadcast to the input's
  shape (keras_hub's ``PositionEmbedding``): its traced output depends on
  the input's shape only and becomes a constant node;
* ``TokenAndPosition``: ``ops.take(table, ids)`` plus positions
  (``TokenAndPositionEmbedding``): the traced lookup with varying integer
  indices becomes an Embedding node;
* ``keras.ops.not_equal(ids, 0)`` in the functional graph feeding an
  attention mask (ESM): a node without attribution whose reference is its
  actual value.

Each model is converted and checked against independent truth, Keras
itself: forward == Keras; Gradient-mode multipliers at the embedding
output == ``tf.GradientTape`` of a Keras *tail* model (the same layers from
the embedded tokens and the ids to the output); Rescale and RevealCancel
contributions at the embedding output sum to ``tail(emb(x), ids) -
tail(emb(ref), ids)`` (the reference replaces the token embeddings only;
masks computed from the ids keep their values).  Bars: float64 1e-10 of
the output scale (the rules are exact, what is left is rounding); float32
1e-4 (the issue's bar: float32 rounding of ~1e-7 per op, accumulated over
the softmax and attention sums, stays orders below it).
:func:`deeplift.tokens.score_tokens` runs on each and its per-token scores
sum to the same difference.
"""
import numpy as np
import pytest
import tensorflow as tf
import keras
from keras import ops

from deeplift.conversion import kerasapi_conversion as kc
from deeplift.conversion.errors import UnsupportedLayerError
from deeplift.conversion.report import conversion_rows, keras_forward_check
from deeplift.layers import Embedding, ShapeConstant, Unattributed
from deeplift.layers.traced import LinearOp, TracedLayer
from deeplift.tokens import score_tokens, embedding_layer_of
from tests.layer_checks import restore_dtype_policy  # noqa: F401

T, VOCAB, H, N = 6, 11, 4, 4
#: summation bars, relative to the output scale (module docstring)
SUM_TOL = {"float32": 1e-4, "float64": 1e-10}
#: forward / gradient: the same ops re-run (float32 rounding ~1e-7)
FWD_TOL = {"float32": 1e-5, "float64": 1e-10}


@keras.saving.register_keras_serializable(package="deeplift_tests_text")
class PositionTable(keras.layers.Layer):
    """keras_hub's PositionEmbedding: the table's first L rows broadcast
    to the input's shape (a value that depends on the shape only)."""

    def __init__(self, length, **kwargs):
        super().__init__(**kwargs)
        self.length = length

    def build(self, shape):
        self.table = self.add_weight(shape=(self.length, shape[-1]),
                                     initializer="random_normal",
                                     name="table")

    def call(self, x):
        shape = ops.shape(x)
        return ops.broadcast_to(self.table[:shape[-2]], shape)

    def get_config(self):
        return dict(super().get_config(), length=self.length)


@keras.saving.register_keras_serializable(package="deeplift_tests_text")
class TokenAndPosition(keras.layers.Layer):
    """keras_hub's TokenAndPositionEmbedding: ``take(tokens, ids) +
    positions``."""

    def __init__(self, vocab, length, dim, **kwargs):
        super().__init__(**kwargs)
        self.vocab, self.length, self.dim = vocab, length, dim

    def build(self, shape):
        self.tokens = self.add_weight(shape=(self.vocab, self.dim),
                                      initializer="random_normal",
                                      name="tokens")
        self.positions = self.add_weight(shape=(self.length, self.dim),
                                         initializer="random_normal",
                                         name="positions")

    def call(self, ids):
        # as keras_hub: the positions broadcast to the embedded tokens'
        # shape (a value computed from the batch size)
        tokens = ops.take(self.tokens, ids, axis=0)
        return tokens + ops.broadcast_to(
            self.positions[:ops.shape(ids)[-1]], ops.shape(tokens))

    def get_config(self):
        return dict(super().get_config(), vocab=self.vocab,
                    length=self.length, dim=self.dim)


def _head(dtype):
    """The layers after the embedding, made once (model and tail share
    them)."""
    mix = keras.layers.Dense(5, activation="tanh", dtype=dtype, name="mix")
    flat = keras.layers.Flatten(dtype=dtype, name="flat")
    out = keras.layers.Dense(2, dtype=dtype, name="out")
    return lambda h: out(flat(mix(h)))


def _randomize(model):
    rng = np.random.RandomState(1)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            layer.set_weights([rng.uniform(-1, 1, w.shape).astype(w.dtype)
                               for w in ws])


def position_model(dtype):
    """BERT / GPT-2 pattern: Embedding + PositionTable(embedded)."""
    keras.utils.set_random_seed(0)
    emb = keras.layers.Embedding(VOCAB, H, dtype=dtype, name="embed")
    pos = PositionTable(T, dtype=dtype, name="positions")
    add = keras.layers.Add(dtype=dtype, name="add")
    head = _head(dtype)

    def body(e, ids):
        return head(add([e, pos(e)]))
    return emb, body


def token_position_model(dtype):
    """DistilBERT pattern: one traced layer looks the ids up and adds
    positions; scored at its output."""
    keras.utils.set_random_seed(0)
    tp = TokenAndPosition(VOCAB, T, H, dtype=dtype, name="tok_pos")
    head = _head(dtype)

    def body(e, ids):
        return head(e)
    return tp, body


def masked_attention_model(dtype):
    """ESM pattern: ``not_equal(ids, 0)`` in the functional graph, the
    mask of a self-attention over the embedded tokens."""
    keras.utils.set_random_seed(0)
    emb = keras.layers.Embedding(VOCAB, H, dtype=dtype, name="embed")
    mha = keras.layers.MultiHeadAttention(2, 3, dtype=dtype, name="mha")
    head = _head(dtype)

    def body(e, ids):
        mask = ops.not_equal(ids, 0)
        pair = ops.logical_and(mask[:, None, :], mask[:, :, None])
        return head(mha(e, e, attention_mask=pair))
    return emb, body


MODELS = {"position": position_model, "token_position": token_position_model,
          "masked_attention": masked_attention_model}


def build(kind, dtype):
    """``(model, tail, embedding layer name)``: ``model`` ids -> output;
    ``tail`` (embedded, ids) -> output with the same layers."""
    keras.config.set_dtype_policy(dtype)
    emb, body = MODELS[kind](dtype)
    ids = keras.Input((T,), dtype="int32", name="ids")
    model = keras.Model(ids, body(emb(ids), ids))
    _randomize(model)
    e_in = keras.Input((T, H), dtype=dtype, name="embedded")
    ids2 = keras.Input((T,), dtype="int32", name="ids2")
    tail = keras.Model([e_in, ids2], body(e_in, ids2))
    return model, tail, emb


@pytest.fixture(scope="module")
def tokens():
    rng = np.random.RandomState(3)
    ids = rng.randint(2, VOCAB, (N, T)).astype("int32")
    ids[:, -2:] = 0          # padding (masked in masked_attention)
    ids[1, -3] = 0
    return ids


def _tail(tail, e, ids):
    """The tail model on embedded tokens ``e`` and ``ids``."""
    return tail([tf.convert_to_tensor(e), tf.convert_to_tensor(ids)])


def _convert(model, mode):
    return kc.convert_keras_model(
        model, nonlinear_mxts_mode=mode, verbose=False,
        maxpool_deeplift_mode="summation_to_delta")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_text_model_is_exact(kind, dtype, tokens):
    model, tail, emb = build(kind, dtype)
    ids = tokens
    ref_id = 1
    refs = np.full_like(ids, ref_id)
    e_x, e_ref = emb(ids).numpy(), emb(refs).numpy()
    expected = model(ids).numpy()
    # the scoring API computes in the dtype of the data it is given
    ids_f, refs_f = ids.astype(dtype), refs.astype(dtype)
    np.testing.assert_allclose(_tail(tail, e_x, ids).numpy(), expected,
                               rtol=1e-6, atol=1e-6)
    out_x = _tail(tail, e_x, ids).numpy()
    out_ref = _tail(tail, e_ref, ids).numpy()   # masks keep their values
    scale = np.abs(out_x).max() + np.abs(out_ref).max()
    fwd_tol, sum_tol = FWD_TOL[dtype], SUM_TOL[dtype]

    dl = _convert(model, "Gradient")
    # forward == Keras
    got = dl.prediction_function(dl.input_layers(), dl.output_layers()[0])(
        [ids_f], batch_size=N)
    np.testing.assert_allclose(got, expected, rtol=fwd_tol, atol=fwd_tol)
    # Gradient mode at the embedding output == the tape through the tail
    name = emb.name
    e_t = tf.constant(e_x)
    for task in range(2):
        with tf.GradientTape() as tape:
            tape.watch(e_t)
            total = tf.reduce_sum(_tail(tail, e_t, ids)[:, task])
        truth = tape.gradient(total, e_t).numpy()
        mult = dl.get_target_multipliers_func(
            find_scores_layer_name=name,
            pre_activation_target_layer_name=dl.output_layers()[0]
            .get_name())(task_idx=task, input_data_list=[ids_f],
                         input_references_list=[refs_f], batch_size=N)
        np.testing.assert_allclose(
            np.asarray(mult), truth, rtol=0,
            atol=fwd_tol * 10 * np.abs(truth).max())
    # Rescale and RevealCancel sum to the difference at the embedding
    for mode in ("Rescale", "RevealCancel"):
        dl = _convert(model, mode)
        target = dl.output_layers()[0].get_name()
        for task in range(2):
            contribs = np.asarray(dl.get_target_contribs_func(
                find_scores_layer_name=name,
                pre_activation_target_layer_name=target)(
                    task_idx=task, input_data_list=[ids_f],
                    input_references_list=[refs_f], batch_size=N))
            delta = out_x[:, task] - out_ref[:, task]
            np.testing.assert_allclose(
                contribs.reshape(N, -1).sum(1) / scale, delta / scale,
                rtol=0, atol=sum_tol, err_msg="%s task %d" % (mode, task))
        # the token front door: per-token scores, same sums
        result = score_tokens(dl, ids, reference=ref_id, task_idx=1)
        assert dl.layer(result.embedding_layer) is dl.layer(name)
        assert result.scores.shape == (N, T)
        np.testing.assert_allclose(
            result.scores.sum(1) / scale,
            (out_x[:, 1] - out_ref[:, 1]) / scale, rtol=0, atol=sum_tol)


def test_constant_layer_is_a_constant_node(tokens):
    """PositionTable becomes a ShapeConstant, reported as a constant; its
    value is Keras' (the table broadcast to the batch)."""
    model, _, _ = build("position", "float64")
    dl = _convert(model, "Rescale")
    node = dl.layer("positions")
    assert isinstance(node, ShapeConstant)
    assert node.keras_class == "PositionTable"
    detail = [r[4] for r in conversion_rows(dl)
              if r[1] == node.get_name()][0]
    assert "constant" in detail and "PositionTable" in detail
    layer = model.get_layer("positions")
    want = np.broadcast_to(layer.table.numpy(), (N, T, H))
    got = dl.prediction_function(dl.input_layers(), node)(
        [tokens.astype("float64")], batch_size=N)
    np.testing.assert_array_equal(got, want)


def test_traced_lookup_is_an_embedding_node(tokens):
    """TokenAndPosition: the traced GatherV2 with varying integer indices
    is an Embedding node (Keras' negative-index fix before it is a node
    without attribution); score_tokens scores at the traced layer, and a
    reference of zeros is the zero token vector plus the positions."""
    model, tail, tp = build("token_position", "float64")
    dl = _convert(model, "Rescale")
    layer = dl.layer("tok_pos")
    assert isinstance(layer, TracedLayer)
    inner = layer.inner_layers()
    assert sum(isinstance(l, Embedding) for l in inner) == 1
    assert any(isinstance(l, Unattributed) for l in inner)
    # the positions are broadcast to the batch (a node that reads the batch
    # size), as in keras_hub
    assert any(getattr(getattr(l, "call", None), "batch_index", None)
               is not None for l in inner)
    assert embedding_layer_of(dl)[0] is layer
    result = score_tokens(dl, tokens, reference="zeros", task_idx=0)
    e_zero = np.broadcast_to(tp.positions.numpy(), (N, T, H))
    delta = _tail(tail, tp(tokens), tokens).numpy()[:, 0] - \
        _tail(tail, tf.constant(e_zero), tokens).numpy()[:, 0]
    np.testing.assert_allclose(result.scores.sum(1), delta, rtol=0,
                               atol=1e-10)


def test_mask_from_ids_holds_its_value(tokens):
    """not_equal(ids, 0) becomes an Unattributed node: its reference is its
    actual value, even where the reference token differs (0 vs 1)."""
    model, _, _ = build("masked_attention", "float64")
    dl = _convert(model, "Rescale")
    nodes = [l for l in dl.all_layers() if isinstance(l, Unattributed)]
    assert sorted(n.op for n in nodes) == ["LogicalAnd", "NotEqual"]
    from deeplift.graph import topological_order, forward_sweep
    order = topological_order(nodes)
    states = forward_sweep(order, {dl.input_layers()[0]: tf.constant(
        tokens)}, {dl.input_layers()[0]: tf.constant(
            np.ones_like(tokens))})
    mask = states[id([n for n in nodes if n.op == "NotEqual"][0])]
    np.testing.assert_array_equal(mask.act.numpy(), tokens != 0)
    np.testing.assert_array_equal(mask.ref.numpy(), tokens != 0)
    rows = {r[1]: r[4] for r in conversion_rows(dl)}
    assert "no attribution" in rows[nodes[0].get_name()]
    # deeplift convert's forward check feeds integer inputs 0/1 (token ids
    # and masks), not uniform floats
    (_, diff, _), = keras_forward_check(dl, model)
    # (the check feeds float32 data, so deeplift runs in float32 against a
    # float64 Keras model: float32 rounding, ~1e-7)
    assert diff < 1e-5


def test_comparison_of_attributed_tensor_is_refused():
    """A comparison of a float tensor that carries attribution has no
    rule: one error naming the op (never a silent cut)."""
    keras.config.set_dtype_policy("float32")
    x = keras.Input((T, H), name="x")
    h = keras.layers.Dense(H, name="d")(x)
    gate = ops.cast(ops.greater(h, 0.0), "float32")
    model = keras.Model(x, keras.layers.Multiply()([h, gate]))
    with pytest.raises(UnsupportedLayerError, match="carries attribution"):
        _convert(model, "Rescale")


def test_lookup_with_attributed_indices_is_refused():
    """A traced gather whose indices come from a float input (they carry
    attribution) is refused, not converted as an embedding."""
    keras.config.set_dtype_policy("float32")

    class FloatIndexLookup(keras.layers.Layer):
        def build(self, shape):
            self.table = self.add_weight(shape=(VOCAB, H), name="t")

        def call(self, x):
            return ops.take(self.table, ops.cast(x, "int32"), axis=0)
    x = keras.Input((T,), name="x")
    model = keras.Model(x, keras.layers.Flatten()(FloatIndexLookup()(x)))
    with pytest.raises(UnsupportedLayerError, match="carry attribution"):
        _convert(model, "Rescale")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_integer_ids_read_for_their_batch_size(dtype, tokens):
    """int32 token ids given to the engine as they are (as keras_hub
    DistilBERT's ``token_ids`` in scripts/sweep_zoo.py): inside
    TokenAndPosition the lookup (an Embedding node) and the add of the
    positions broadcast to the batch (a LinearOp that reads the batch size
    from the ids port) both send zero multipliers to the int32 ids; they
    add up (a float zero there failed with int32 + float), the ids get
    int32 zeros, and the contributions equal those of the same ids given
    as floats and sum to Keras' difference."""
    from deeplift.graph import sweep_model
    from deeplift.scoring import CONTRIBS, layer_output
    model, tail, tp = build("token_position", dtype)
    refs = np.full_like(tokens, 1)
    e_x, e_ref = tp(tokens).numpy(), tp(refs).numpy()
    seed = np.random.RandomState(7).randn(1, 2).astype(dtype)
    delta = (seed * (_tail(tail, e_x, tokens).numpy()
                     - _tail(tail, e_ref, tokens).numpy())).sum(1)
    scale = np.abs(seed * _tail(tail, e_x, tokens).numpy()).sum(1).max()
    for mode in ("Gradient", "Rescale", "RevealCancel"):
        dl = _convert(model, mode)
        ids_in, layer = dl.input_layers()[0], dl.layer("tok_pos")
        # the path: a node of the traced layer reads the batch size from
        # its int32 ids port, next to the lookup of those ids
        inner = layer.inner_layers()
        batch_readers = [l for l in inner if getattr(
            getattr(l, "call", None), "batch_index", None) is not None]
        assert any(isinstance(l, LinearOp) for l in batch_readers), mode
        assert sum(isinstance(l, Embedding) for l in inner) == 1
        contribs = {}
        for ids, ref in ((tokens, refs), (tokens.astype(dtype),
                                          refs.astype(dtype))):
            states, mxts = sweep_model(dl, [ids], [ref], seed)
            pos, neg = mxts[id(ids_in)]
            assert pos.dtype == neg.dtype == ids.dtype
            assert pos.shape == neg.shape == ids.shape
            assert not np.any(pos.numpy()) and not np.any(neg.numpy())
            contribs[ids.dtype.name] = layer_output(
                CONTRIBS, states[id(layer)], mxts[id(layer)]).numpy()
        # the same ids as int32 or as floats: the same numbers
        np.testing.assert_array_equal(contribs["int32"], contribs[dtype])
        if mode != "Gradient":
            np.testing.assert_allclose(
                contribs["int32"].reshape(N, -1).sum(1) / scale,
                delta / scale, rtol=0, atol=SUM_TOL[dtype], err_msg=mode)
