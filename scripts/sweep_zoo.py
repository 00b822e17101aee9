"""Sweep over third-party Keras 3 model zoos: keras_hub backbones (BERT,
DistilBERT, GPT-2, ViT, ESM) and every CREsted zoo model, each built from
arguments with tiny settings and random weights (no downloads), converted
by deeplift from memory and from a saved ``.keras`` (loaded with
``import_packages=["keras_hub"]`` / ``["crested"]``) and checked.

    PYTHONPATH=. python scripts/sweep_zoo.py [--models bert,legnet]
        [--out scripts/RESULTS_zoo.md] [--timeout 240]

Needs the ``zoo`` extra (``pip install -e .[zoo]``: keras-hub, crested).
Each model runs in a fresh process (``--one NAME``) under a time budget;
``--models`` reruns those and keeps the other rows of the last run (kept in
the JSON file beside the table).

Target: ``sum(w * output)`` per example, ``w`` a fixed random weighting of
the model's output: for the text backbones and ViT a ``Dense(2)`` on the
first token's (class token's) hidden state; CREsted models keep their own
heads and the target is their output (after its final activation).

Inputs: one-hot DNA (4 examples) against an all-0.25 reference for
CREsted; ViT: random images against a 0.3-scaled random reference; text:
token ids (4 sequences of 8, the last 2 positions padded) whose reference
replaces every token by token 1, scored at the token embedding's output
(``find_scores_layer``): the padding mask and segment ids keep their
values in the reference, so the embedding output carries the whole
difference (ESM computes its mask from the ids, ``token_ids != 0``: Keras'
reference output is then the model on the actual ids with the embedding's
output replaced by its output on the reference ids, the mask held, as
deeplift holds it).  keras_hub's ``ReversibleEmbedding`` is traced (its lookup
becomes deeplift's ``Embedding`` node).  The backbones' inputs have length
None; their layers are rewired on fixed-length inputs.

Checks, in float32 and (where the model builds in float64) float64:

* forward: max |deeplift - Keras| / max |Keras output| (Gradient-mode
  conversion), from memory and from ``.keras``;
* gradient: Gradient-mode multipliers at the scored layer against
  ``tf.GradientTape`` of the target, max error / max |gradient|; where
  that is over the bar in float64, deeplift's and the tape's gradients
  are both checked against finite differences (``_fd_errors``), since
  TensorFlow's own derivative of some ops (gelu's erf form) is off by
  ~6e-9;
* summation: Rescale and RevealCancel, max over examples of |sum of
  contributions - (target(x) - target(ref))| / output scale (max over the
  batch of |target(x)|, |target(ref)|); the issue's bar is 1e-4 in float32
  and 1e-10 in float64.  These use one reference per example; the column
  "shared ref" reruns Rescale with the one (batch-1) reference broadcast.

float64 runs set both the dtype policy and ``floatx`` (``keras.Input``
follows floatx: without it a "float64" model rounds its input to float32).
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from isolated import print_result, run_isolated  # scripts/isolated.py

REPO = Path(__file__).resolve().parents[1]

MODELS = ["bert", "distilbert", "gpt2", "vit", "esm",
          "basenji", "borzoi", "borzoi_prime", "deeptopic_cnn",
          "deeptopic_lstm", "dilated_cnn", "dilated_cnn_decoupled",
          "enformer", "legnet", "simple_convnet"]

#: the issue's bars (relative to the output scale)
TOL = {"float32": 1e-4, "float64": 1e-10}
#: forward / gradient bars: float32 ops re-run in another order of fusion
#: differ by rounding (~1e-6 relative); float64 by ~1e-14
TOL_FWD = {"float32": 1e-4, "float64": 1e-10}


# ---------------------------------------------------------------------------
# models (tiny, built from arguments)
# ---------------------------------------------------------------------------

SEQ_T = 8     # text length
N = 4         # examples


def _text(name, dtype):
    import numpy as np
    import keras
    import keras_hub
    m = keras_hub.models
    kw = dict(vocabulary_size=30, num_layers=1, num_heads=2, hidden_dim=8,
              intermediate_dim=16, max_sequence_length=SEQ_T, dtype=dtype)
    cls = {"bert": m.BertBackbone, "distilbert": m.DistilBertBackbone,
           "gpt2": m.GPT2Backbone, "esm": m.ESMBackbone}[name]
    backbone = cls(**kw)
    # the backbones' inputs have length None; the same layers rewired on
    # fixed-length inputs (deeplift traces a layer on its input shapes)
    fixed = {k: keras.Input(shape=(SEQ_T,), dtype="int32", name=k)
             for k in backbone.input}
    backbone = keras.models.clone_model(backbone, input_tensors=fixed,
                                        clone_function=lambda l: l)
    seq = backbone.outputs[1] if name == "bert" else backbone.output
    head = keras.layers.Dense(2, name="head", dtype=dtype)(seq[:, 0, :])
    model = keras.Model(backbone.inputs, head, name=name)
    rng = np.random.RandomState(0)
    ids = rng.randint(2, 30, size=(N, SEQ_T)).astype("int32")
    mask = np.ones((N, SEQ_T), "int32")
    mask[:, -2:] = 0
    if name == "esm":
        # ESM computes its mask as token_ids != pad_token_id (0): padded
        # positions; the mask keeps its value in the reference
        ids[:, -2:] = 0
    values, refs, attributed = [], [], []
    for inp in model.inputs:
        nm = inp.name
        if nm == "token_ids":
            values.append(ids)
            refs.append(np.ones_like(ids))   # token 1 everywhere
            attributed.append(True)
        elif nm == "padding_mask":
            values.append(mask)
            refs.append(mask)
            attributed.append(False)
        elif nm == "segment_ids":
            seg = np.zeros((N, SEQ_T), "int32")
            seg[:, SEQ_T // 2:] = 1
            values.append(seg)
            refs.append(seg)
            attributed.append(False)
        else:
            raise ValueError("unexpected input %s" % nm)
    emb = {"distilbert": "token_and_position_embedding"}.get(
        name, "token_embedding")
    # ReversibleEmbedding (a keras_hub subclass of Embedding) is traced
    # like any layer without a converter: its lookup becomes deeplift's
    # Embedding node (and a call with reverse=True would become the matmul
    # it is); no custom conversion is needed
    return dict(model=model, xs=values, refs=refs, attributed=attributed,
                scores_layer=emb, packages=["keras_hub"])


def _vit(dtype):
    import numpy as np
    import keras
    import keras_hub
    backbone = keras_hub.models.ViTBackbone(
        image_shape=(8, 8, 3), patch_size=4, num_layers=1, num_heads=2,
        hidden_dim=8, mlp_dim=16, dtype=dtype)
    # the backbone nested as one layer: Keras cannot reload a .keras of a
    # Functional made of the backbone's own layers (TypeError:
    # "Functional could not be deserialized properly"), it reloads this
    images = keras.Input((8, 8, 3), name="images", dtype=dtype)
    head = keras.layers.Dense(2, name="head", dtype=dtype)(
        backbone(images)[:, 0, :])
    model = keras.Model(images, head, name="vit")
    rng = np.random.RandomState(0)
    x = rng.randn(N, 8, 8, 3).astype(dtype)
    ref = (0.3 * rng.randn(1, 8, 8, 3)).astype(dtype)
    return dict(model=model, xs=[x], refs=[ref], attributed=[True],
                scores_layer=None, packages=["keras_hub"])


#: CREsted zoo: (function, seq_len, small settings); Borzoi's and
#: Enformer's filter counts must be multiples of 32 and 128
#: (exp_linspace_int), Enformer's filters / heads a multiple of 6 (relative
#: positional features)
CRESTED = {
    "basenji": ("basenji", 128, dict(first_filters=8, filters=8)),
    "borzoi": ("borzoi", 256, dict(
        num_conv_blocks=2, num_transformer_blocks=1,
        num_transformer_heads=2, target_length=8, start_filters=32,
        filters=32, pointwise_filters=32, unet_connections=[1, 2],
        unet_filters=32, transformer_dropout=0.0, pointwise_dropout=0.0)),
    "borzoi_prime": ("borzoi_prime", 256, dict(
        num_conv_blocks=2, num_transformer_blocks=1,
        num_transformer_heads=2, target_length=8, start_filters=32,
        filters=32, pointwise_filters=32, unet_connections=[1, 2],
        unet_filters=32, transformer_dropout=0.0, pointwise_dropout=0.0)),
    "deeptopic_cnn": ("deeptopic_cnn", 64, dict(
        filters=8, dense_out=8, first_kernel_size=5)),
    "deeptopic_lstm": ("deeptopic_lstm", 64, dict(
        filters=8, first_kernel_size=5, max_pool_size=4, max_pool_stride=2,
        dense_out=8, lstm_out=4)),
    "dilated_cnn": ("dilated_cnn", 64, dict(
        first_conv_filters=8, n_dil_layers=2, num_filters=8)),
    "dilated_cnn_decoupled": ("dilated_cnn_decoupled", 64, dict(
        first_conv_filters=8, n_dil_layers=2, num_filters=8)),
    "enformer": ("enformer", 256, dict(
        num_conv_blocks=2, num_transformer_blocks=1,
        num_transformer_heads=2, target_length=8, start_filters=128,
        filters=384, pointwise_filters=32, transformer_dropout=0.0,
        pointwise_dropout=0.0)),
    "legnet": ("legnet", 64, dict(
        stem_filters=8, tower_filters=(8, 8), pool_sizes=(2, 2))),
    "simple_convnet": ("simple_convnet", 128, dict(
        first_filters=8, filters=8, dense_size=8, bottleneck=4,
        first_pool_size=2)),
}


def _crested(name, dtype):
    import numpy as np
    import keras
    import crested
    fn, seq_len, kw = CRESTED[name]
    keras.config.set_dtype_policy(dtype)
    model = getattr(crested.tl.zoo, fn)(seq_len=seq_len, num_classes=3,
                                       **kw)
    rng = np.random.RandomState(0)
    x = np.eye(4, dtype=dtype)[rng.randint(0, 4, size=(N, seq_len))]
    ref = np.full((1, seq_len, 4), 0.25, dtype)
    return dict(model=model, xs=[x], refs=[ref], attributed=[True],
                scores_layer=None, packages=["crested"])


def build(name, dtype):
    import keras
    keras.config.set_dtype_policy(dtype)
    # keras.Input's dtype is floatx, not the policy's: without this a
    # "float64" model rounds its input to float32 (and the tape's gradient
    # at the input is float32)
    keras.config.set_floatx(dtype)
    keras.utils.set_random_seed(0)
    if name in ("bert", "distilbert", "gpt2", "esm"):
        spec = _text(name, dtype)
    elif name == "vit":
        spec = _vit(dtype)
    else:
        spec = _crested(name, dtype)
    _randomize(spec["model"])
    return spec


def _randomize(model):
    """Random normalization statistics and biases, so every parameter
    matters (Keras initialises biases and BN statistics to 0/1)."""
    import numpy as np
    rng = np.random.RandomState(1)
    for layer in model.layers if hasattr(model, "layers") else []:
        for v in layer.weights:
            name = v.path.split("/")[-1]
            shape = tuple(v.shape)
            if name in ("moving_variance",):
                v.assign(rng.uniform(0.5, 1.5, shape).astype(v.dtype))
            elif name in ("moving_mean", "bias", "beta"):
                v.assign(rng.uniform(-0.3, 0.3, shape).astype(v.dtype))
            elif name == "gamma":
                v.assign(rng.uniform(0.5, 1.5, shape).astype(v.dtype))


# ---------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------

def _keras_out(model, xs):
    import tensorflow as tf
    out = model([tf.constant(x) for x in xs] if len(xs) > 1
                else tf.constant(xs[0]), training=False)
    if isinstance(out, (list, tuple)):
        out = out[0]
    return out.numpy()


def _keras_ref_out(model, xs, refs, scores_layer):
    """Keras' output for the reference: the model on ``refs``; with a
    ``scores_layer`` (text models), the model on the actual inputs with that
    layer's output replaced by its output on the reference tokens, so that
    what the model computes from the token ids besides (ESM's padding mask
    ``token_ids != pad``) keeps its actual value, as in deeplift."""
    import tensorflow as tf
    if scores_layer is None:
        return _keras_out(model, refs)
    layer = model.get_layer(scores_layer)
    names = [i.name for i in model.inputs]
    ids = refs[names.index("token_ids")]
    held = layer(tf.constant(ids))

    def call(*a, **k):
        return held
    layer.call = call
    try:
        return _keras_out(model, xs)
    finally:
        del layer.call


def _keras_grad(model, xs, w, scores_layer):
    """d sum(w * out) / d (inputs, or the output of ``scores_layer``)."""
    import tensorflow as tf
    kin = [tf.constant(x) for x in xs]
    with tf.GradientTape() as tape:
        if scores_layer is None:
            for t in kin:
                tape.watch(t)
            watched = kin
        else:
            layer = model.get_layer(scores_layer)
            held = []
            orig = layer.call

            def call(*a, **k):
                out = orig(*a, **k)
                tape.watch(out)
                held.append(out)
                return out
            layer.call = call
            try:
                out = model(kin if len(kin) > 1 else kin[0], training=False)
            finally:
                del layer.call
            watched = held
        if scores_layer is None:
            out = model(kin if len(kin) > 1 else kin[0], training=False)
        if isinstance(out, (list, tuple)):
            out = out[0]
        total = tf.reduce_sum(w * out)
    grads = tape.gradient(total, watched,
                          unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return [g.numpy() for g in grads]


def _engine(dl, xs, refs, w):
    from deeplift.graph import sweep_model
    states, mxts = sweep_model(dl, xs, refs, w)
    return states, mxts, dl.input_layers(), dl.output_layers()[0]


def _contribs(states, mxts, layer):
    from deeplift.scoring import layer_output, CONTRIBS
    return layer_output(CONTRIBS, states[id(layer)],
                        mxts.get(id(layer))).numpy()


def _scored(dl, inputs, spec):
    """The deeplift layers whose contributions are the scores."""
    if spec["scores_layer"] is None:
        return [l for l, a in zip(inputs, spec["attributed"]) if a]
    return [dl.layer(spec["scores_layer"])]


def _convert(spec, mode, source, path):
    from deeplift.conversion import kerasapi_conversion as kc
    from deeplift.modes import NonlinearMxtsMode as M
    kw = dict(nonlinear_mxts_mode=mode, verbose=False,
              maxpool_deeplift_mode="gradient" if mode == M.Gradient
              else "summation_to_delta")
    if spec.get("custom"):
        kw["custom_conversion_funcs"] = spec["custom"]
    if source == "memory":
        return kc.convert_keras_model(spec["model"], **kw)
    return kc.convert_model_from_saved_files(
        path, import_packages=spec["packages"], **kw)


def _order_inputs(dl, spec):
    """xs / refs in the order of the deeplift model's input layers."""
    knames = [i._keras_history.operation.name for i in spec["model"].inputs]
    dnames = list(dl.get_input_layer_names())
    perm = []
    for dn in dnames:
        lay = dl.layer(dn)
        idx = next((i for i, kn in enumerate(knames)
                    if dl.layer(kn) is lay), None)
        if idx is None:
            raise ValueError("input %s has no Keras twin" % dn)
        perm.append(idx)
    return perm


def check_source(spec, source, path, dtype):
    """The checks of the module docstring for one source; a dict."""
    import numpy as np
    from deeplift.modes import NonlinearMxtsMode as M
    from deeplift.conversion.report import traced_rows
    model, xs, refs = spec["model"], spec["xs"], spec["refs"]
    row = {}
    t0 = time.time()
    expected = _keras_out(model, xs)
    rng = np.random.RandomState(7)
    w = rng.randn(*((1,) + expected.shape[1:])).astype(dtype)
    n = len(xs[0])
    ref_full = [np.broadcast_to(r, x.shape) for x, r in zip(xs, refs)]
    ref_out = _keras_ref_out(model, xs, ref_full, spec["scores_layer"])
    delta = (w * (expected - ref_out)).reshape(n, -1).sum(1)
    scale = max(np.abs((w * expected).reshape(n, -1).sum(1)).max(),
                np.abs((w * ref_out).reshape(n, -1).sum(1)).max(), 1e-12)

    dl = _convert(spec, M.Gradient, source, path)
    row["traced"] = ["%s (%s): %s" % (nm, cls, "constant" if getattr(
        dl.layer(nm), "constant_output", False) else "%d ops" % k)
                     for nm, cls, k, _ in traced_rows(dl)]
    perm = _order_inputs(dl, spec)
    dxs = [xs[i] for i in perm]
    # references repeated to the batch (one per example); the shared
    # batch-1 reference is checked last (column "shared ref")
    drefs = [np.ascontiguousarray(ref_full[i]) for i in perm]
    states, mxts, inputs, target = _engine(dl, dxs, drefs, w)
    got = states[id(target)].act.numpy()
    row["forward"] = float(np.abs(got - expected).max()
                           / max(np.abs(expected).max(), 1e-12))
    kgrads = _keras_grad(model, xs, w, spec["scores_layer"])
    if spec["scores_layer"] is None:
        kgrads = [kgrads[i] for i in perm
                  if spec["attributed"][i]]
    errs = []
    for layer, g in zip(_scored(dl, inputs, spec), kgrads):
        pos_m, neg_m = mxts[id(layer)]
        gs = max(np.abs(g).max(), 1e-12)
        errs.append(max(np.abs(pos_m.numpy() - g).max(),
                        np.abs(neg_m.numpy() - g).max()) / gs)
    row["gradient"] = float(max(errs))
    if (row["gradient"] > TOL_FWD[dtype] * 10 and dtype == "float64"
            and spec["scores_layer"] is None and len(xs) == 1):
        # the tape is the truth only where TensorFlow's own derivatives are
        # exact; a third, independent one: finite differences
        layer = _scored(dl, inputs, spec)[0]
        row["gradient_fd"], row["tape_fd"] = _fd_errors(
            model, xs[0], w, mxts[id(layer)][0].numpy(), kgrads[0])
    for mode, key in ((M.Rescale, "rescale"), (M.RevealCancel, "revealcancel")):
        dl = _convert(spec, mode, source, path)
        states, mxts, inputs, target = _engine(dl, dxs, drefs, w)
        cs = [_contribs(states, mxts, l) for l in _scored(dl, inputs, spec)]
        total = sum(c.reshape(n, -1).sum(1) for c in cs)
        row[key] = float(np.abs(total - delta).max() / scale)
    try:
        # the column reruns Rescale (the loop's last model is RevealCancel's)
        dl = _convert(spec, M.Rescale, source, path)
        states, mxts, inputs, target = _engine(
            dl, dxs, [refs[i] for i in perm], w)
        cs = [_contribs(states, mxts, l) for l in _scored(dl, inputs, spec)]
        total = sum(c.reshape(n, -1).sum(1) for c in cs)
        row["shared_ref"] = float(np.abs(total - delta).max() / scale)
    except Exception as exc:
        row["shared_ref"] = "%s: %s" % (type(exc).__name__, " ".join(
            str(exc).split())[:300])
        row["shared_ref_where"] = _where(exc)
    row["seconds"] = round(time.time() - t0, 1)
    return row


def _fd_errors(model, x, w, grad, tape_grad, directions=3, h=1e-3):
    """Errors of two gradients of ``f(x) = sum(w * model(x))`` (float64)
    against central finite differences along ``directions`` random unit
    directions ``v`` (Richardson-extrapolated: ``(4 D(h/2) - D(h)) / 3``
    with ``D(h) = (f(x + h v) - f(x - h v)) / 2h``, error O(h^4) plus
    rounding ~1e-16 / h, about 1e-13 for a smooth model).  Returns
    ``(max |<grad, v> - fd| / s, max |<tape_grad, v> - fd| / s)`` with
    ``s`` the largest ``sum(|grad * v|)``: relative to the size of the
    directional derivative's terms.  Meaningful for smooth models only (a
    ReLU kink within h of x breaks the difference quotient)."""
    import numpy as np

    def f(z):
        out = model(z, training=False)
        if isinstance(out, (list, tuple)):
            out = out[0]
        return (np.asarray(out, np.float64) * w).reshape(len(z), -1).sum(1)

    rng = np.random.RandomState(2)
    errs, tape_errs, scale = [], [], 1e-300
    for _ in range(directions):
        v = rng.randn(*x.shape)
        v /= np.sqrt((v.reshape(len(x), -1) ** 2).sum(1)).reshape(
            (-1,) + (1,) * (x.ndim - 1))

        def quotient(step):
            return (f(x + step * v) - f(x - step * v)) / (2 * step)
        fd = (4 * quotient(h / 2) - quotient(h)) / 3
        dot = lambda g: (g * v).reshape(len(x), -1).sum(1)  # noqa: E731
        scale = max(scale, np.abs(grad * v).reshape(len(x), -1)
                    .sum(1).max())
        errs.append(np.abs(dot(grad) - fd).max())
        tape_errs.append(np.abs(dot(tape_grad) - fd).max())
    return float(max(errs) / scale), float(max(tape_errs) / scale)


def _where(exc):
    """``file:line (function)`` of the innermost deeplift frame of
    ``exc``'s traceback."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if "/deeplift/" in f.filename]
    if not frames:
        return ""
    f = frames[-1]
    return "%s:%d (%s)" % (f.filename.split("/deeplift/", 1)[1], f.lineno,
                           f.name)


def run_one(name):
    """All checks of one model; a JSON-able dict."""
    import numpy as np
    import keras
    result = {"model": name, "runs": {}}
    for dtype in ("float32", "float64"):
        t0 = time.time()
        try:
            spec = build(name, dtype)
        except Exception as exc:
            lines = [l.strip() for l in str(exc).splitlines() if l.strip()]
            result["runs"][dtype] = {"build": "%s: %s" % (
                type(exc).__name__, " | ".join(lines[:4])[:600])}
            continue
        runs = {"params": int(sum(np.prod(v.shape)
                                  for v in spec["model"].weights))}
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "%s.keras" % name)
            for source in ("memory", "keras"):
                try:
                    if source == "keras":
                        spec["model"].save(path)
                    runs[source] = check_source(spec, source, path, dtype)
                except Exception as exc:
                    msg = str(exc).strip().split(
                        "To convert such a class yourself")[0].splitlines()
                    runs[source] = {"error": "%s: %s" % (
                        type(exc).__name__, " | ".join(
                            l.strip() for l in msg[:16])[:1500]),
                        "where": _where(exc)}
        runs["seconds"] = round(time.time() - t0, 1)
        result["runs"][dtype] = runs
        keras.config.set_dtype_policy("float32")
        keras.config.set_floatx("float32")
    run64 = result["runs"].get("float64", {})
    if "build" in run64 or all("error" in run64.get(source, {})
                               for source in ("memory", "keras")):
        try:
            result["runs"]["engine64"] = engine64(name)
        except Exception as exc:
            result["runs"]["engine64"] = {"error": "%s: %s" % (
                type(exc).__name__, " ".join(str(exc).split())[:300])}
    return result


def engine64(name):
    """Where Keras cannot run a model in float64: deeplift's conversion of
    the float32 model run in float64 (the engine casts the weights to the
    inputs' dtype), one reference per example; Rescale and RevealCancel
    summation error against the engine's own float64 target difference,
    over the largest |target| on the inputs and references, as the other
    checks (float64 rounding separates rule errors from
    float32 noise).  A dict ``mode -> error``."""
    import numpy as np
    from deeplift.modes import NonlinearMxtsMode as M
    spec = build(name, "float32")
    xs = [x.astype(np.float64) for x in spec["xs"]]
    refs = [np.ascontiguousarray(np.broadcast_to(r, x.shape), np.float64)
            for x, r in zip(xs, spec["refs"])]
    perm = _order_inputs(_convert(spec, M.Rescale, "memory", None), spec)
    xs, refs = [xs[i] for i in perm], [refs[i] for i in perm]
    w = np.random.RandomState(7).randn(
        *((1,) + _keras_out(spec["model"], spec["xs"]).shape[1:]))
    out = {}
    for mode, key in ((M.Rescale, "rescale"),
                      (M.RevealCancel, "revealcancel")):
        dl = _convert(spec, mode, "memory", None)
        states, mxts, inputs, target = _engine(dl, xs, refs, w)
        state = states[id(target)]
        n = len(xs[0])
        delta = (w * (state.act - state.ref).numpy()).reshape(n, -1).sum(1)
        scale = max(np.abs((w * state.act.numpy()).reshape(n, -1).sum(1))
                    .max(), np.abs((w * state.ref.numpy()).reshape(n, -1)
                                   .sum(1)).max(), 1e-12)
        cs = [_contribs(states, mxts, l) for l in _scored(dl, inputs, spec)]
        total = sum(c.reshape(n, -1).sum(1) for c in cs)
        out[key] = float(np.abs(total - delta).max() / scale)
    return out


# ---------------------------------------------------------------------------
# table
# ---------------------------------------------------------------------------

#: the hand-written analysis after this line of the results file is kept
#: when the table is rewritten
NOTES_MARKER = "<!-- causes (written by hand; kept by sweep_zoo.py) -->"


def _fmt(v):
    return "%.1e" % v if isinstance(v, float) else str(v)


def _gradient_cell(r):
    """The gradient column: the error against the tape, and where it is
    over the bar in float64, both gradients' errors against finite
    differences."""
    if "gradient_fd" not in r:
        return _fmt(r["gradient"])
    return "%s (FD: deeplift %s, tape %s)" % (
        _fmt(r["gradient"]), _fmt(r["gradient_fd"]), _fmt(r["tape_fd"]))


def _verdict(r, dtype):
    if "error" in r:
        return "FAIL"
    gradient_ok = r["gradient"] <= TOL_FWD[dtype] * 10 or (
        # the tape is off, deeplift is not (finite differences)
        r.get("gradient_fd", 1.0) <= TOL_FWD[dtype] * 10
        < r.get("tape_fd", 0.0))
    ok = (r["forward"] <= TOL_FWD[dtype] and gradient_ok
          and r["rescale"] <= TOL[dtype]
          and r["revealcancel"] <= TOL[dtype])
    return "ok" if ok else "over bar"


def table(results):
    lines = [
        "# Zoo sweep (`scripts/sweep_zoo.py`)", "",
        "keras_hub %s, crested %s, tensorflow %s, keras %s. Tiny models "
        "built from arguments, random weights; checks as in the script's "
        "docstring (forward and gradient: max error / max |value|; "
        "summation: max |sum of contributions - delta| / output scale). "
        "Bars: float32 forward 1e-4, gradient 1e-3, summation 1e-4; "
        "float64 forward 1e-10, gradient 1e-9, summation 1e-10. Where a "
        "float64 gradient is over its bar against the tape, both gradients "
        "are also checked against finite differences (the cell's FD "
        "values; the row is ok when deeplift is within the bar there and "
        "the tape is not)." % (
            results.get("versions", {}).get("keras_hub"),
            results.get("versions", {}).get("crested"),
            results.get("versions", {}).get("tensorflow"),
            results.get("versions", {}).get("keras")), "",
        "| model | dtype | source | result | forward | gradient | Rescale "
        "| RevealCancel | shared ref | s |",
        "|---|---|---|---|---|---|---|---|---|---|"]
    errors, traced = collections.OrderedDict(), []

    def fail(name, where, text):
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)   # terminal colours
        errors.setdefault((name, text), []).append(where)
    for name in MODELS:
        res = results["models"].get(name)
        if res is None:
            lines.append("| %s | | | not run | | | | | | |" % name)
            continue
        if "error" in res:
            lines.append("| %s | | | FAIL (%s) | | | | | | |" % (
                name, res["error"][:80]))
            fail(name, "all", res["error"])
            continue
        for dtype, runs in res["runs"].items():
            if dtype == "engine64":   # its own table below
                continue
            if "build" in runs:
                lines.append("| %s | %s | | does not build | | | | | | |" % (
                    name, dtype))
                fail(name, dtype, "does not build in Keras: `%s`" % runs[
                    "build"].replace("`", "'"))
                continue
            for source in ("memory", "keras"):
                r = runs.get(source, {})
                if "error" in r:
                    lines.append("| %s | %s | %s | FAIL | | | | | | |" % (
                        name, dtype, source))
                    fail(name, "%s %s" % (dtype, source), "`%s`%s" % (
                        r["error"].replace("`", "'"),
                        " (raised in deeplift/%s)" % r["where"]
                        if r.get("where") else " (raised outside deeplift)"))
                    continue
                shared = r.get("shared_ref")
                if isinstance(shared, str):
                    fail(name, "%s %s" % (dtype, source),
                         "shared batch-1 reference: `%s` (raised in "
                         "deeplift/%s)" % (shared, r.get("shared_ref_where")))
                    shared = "FAIL"
                lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s "
                             "| %s |"
                             % (name, dtype, source, _verdict(r, dtype),
                                _fmt(r["forward"]), _gradient_cell(r),
                                _fmt(r["rescale"]), _fmt(r["revealcancel"]),
                                _fmt(shared), r["seconds"]))
                if dtype == "float32" and source == "memory" and r["traced"]:
                    traced.append("- **%s**: %s" % (name, "; ".join(
                        r["traced"])))
    engine_rows = [(name, results["models"][name]["runs"]["engine64"])
                   for name in MODELS if "engine64" in results["models"].get(
                       name, {}).get("runs", {})]
    if engine_rows:
        lines += ["", "## float64 on deeplift's graph where Keras cannot run "
                  "the model in float64", "",
                  "deeplift's conversion of the float32 model run in float64 "
                  "(weights cast), one reference per example: summation "
                  "error over the output scale (bar 1e-10).", "",
                  "| model | Rescale | RevealCancel |", "|---|---|---|"]
        for name, r in engine_rows:
            lines.append("| %s | %s | %s |" % (
                name, _fmt(r.get("rescale", r.get("error"))),
                _fmt(r.get("revealcancel", ""))))
    lines += ["", "## Failures (exact errors)", ""] + (
        ["- **%s** (%s): %s" % (name, ", ".join(where), text)
         for (name, text), where in errors.items()] or ["none"])
    lines += ["", "## Traced layers (float32, from memory)", ""] + (
        traced or ["none"])
    return "\n".join(lines) + "\n"


def _write(path, results):
    """The table, then the hand-written notes kept from the old file."""
    out = Path(path)
    notes = "\n"
    if out.exists() and NOTES_MARKER in out.read_text():
        notes = out.read_text().split(NOTES_MARKER, 1)[1]
    out.write_text(table(results) + "\n" + NOTES_MARKER + notes)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--out", default=str(REPO / "scripts" / "RESULTS_zoo.md"))
    p.add_argument("--timeout", type=int, default=240,
                   help="seconds per model (its own process)")
    p.add_argument("--table-only", action="store_true",
                   help="rewrite the table from the JSON file; run nothing")
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        os.environ.setdefault("DEEPLIFT_NO_PROGRESS", "1")
        sys.path.insert(0, str(REPO))
        print_result(run_one(args.one))
        return 0
    json_path = Path(args.out).with_suffix(".json")
    results = {"models": {}}
    if json_path.exists():
        results = json.loads(json_path.read_text())
    import importlib.metadata as md
    results["versions"] = {k: md.version(d) for k, d in (
        ("keras_hub", "keras-hub"), ("crested", "crested"),
        ("tensorflow", "tensorflow"), ("keras", "keras"))}
    names = [] if args.table_only else args.models.split(",")
    if args.table_only:
        _write(args.out, results)
    for name in names:
        t0 = time.time()
        try:
            res, proc = run_isolated(__file__, name, args.timeout)
            if res is None:
                res = {"model": name, "error": "process failed: " + " | ".join(
                    proc.stderr.strip().splitlines()[-3:])}
        except subprocess.TimeoutExpired:
            res = {"model": name, "error": "over the %d s budget"
                   % args.timeout}
        res["wall"] = round(time.time() - t0, 1)
        results["models"][name] = res
        print(name, json.dumps(res)[:400], flush=True)
        json_path.write_text(json.dumps(results, indent=1))
        _write(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
