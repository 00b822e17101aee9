"""Op-level conversion benchmarks (README: "Models with layers deeplift has
no converter for (tracing)").

(a) A transformer block (MultiHeadAttention traced; LayerNormalization,
    residual adds, a gelu MLP, pooling and a Dense head native): DeepLIFT
    Rescale scores of one output over a batch, against TensorFlow's own
    gradient x input of the same Keras model on the same batch (a
    tf.function).  Target: <= 2x.
(b) A conv stack (Conv1D + ReLU, Conv1D + ReLU, MaxPooling1D, Dense)
    wrapped in a custom layer, so that it is traced, against the same
    stack converted natively: Rescale scores, same numbers.  Target:
    <= 1.2x.
(c) A small Enformer-style model (one-hot DNA; gelu conv stem and tower
    with attention pooling, a custom layer that is traced; a transformer
    block; a softplus pointwise head of 8 tracks x 32 bins), target one
    track summed over the central 8 bins, through
    ``genomics.score_sequences(..., target="track:2:central:8",
    reference="gc:0.5")`` (what ``deeplift contribs --target
    track:2:central:8`` runs): Rescale against gradient x input of the
    same target.  Target: <= 2x.

Every contender is called the way users call it:
``get_target_contribs_func(...)`` (a, b) or ``score_sequences`` (c) on
NumPy arrays, the floor a
``tf.function`` of the Keras model's gradient x (input - reference).
Timings: bench.timing.round_robin (interleaved), after one untimed
warm-up each (compilation); medians and the range over the runs.  ``python bench/bench_traced.py
[--quick]``; writes bench/RESULTS_traced.md.
"""
import argparse
import os
import statistics
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("DEEPLIFT_NO_PROGRESS", "1")

import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

from bench.timing import round_robin, write_report, cpu_name  # noqa: E402
from deeplift.conversion import kerasapi_conversion as kc  # noqa: E402


def transformer_block(seq, dim, heads):
    keras.utils.set_random_seed(0)
    inp = keras.Input((seq, dim))
    a = keras.layers.MultiHeadAttention(num_heads=heads,
                                        key_dim=dim // heads)(inp, inp)
    h = keras.layers.LayerNormalization()(keras.layers.Add()([inp, a]))
    f = keras.layers.Dense(2 * dim, activation="gelu")(h)
    f = keras.layers.Dense(dim)(f)
    h = keras.layers.LayerNormalization()(keras.layers.Add()([h, f]))
    out = keras.layers.Dense(4)(keras.layers.GlobalAveragePooling1D()(h))
    return keras.Model(inp, out)


class ConvStack(keras.layers.Layer):
    """A custom layer (no converter: traced) holding a conv stack."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.c1 = keras.layers.Conv1D(64, 11, padding="same",
                                      activation="relu")
        self.c2 = keras.layers.Conv1D(64, 7, padding="same",
                                      activation="relu")
        self.pool = keras.layers.MaxPooling1D(4)

    def call(self, x):
        return self.pool(self.c2(self.c1(x)))


@keras.saving.register_keras_serializable(package="bench")
class AttentionPool1D(keras.layers.Layer):
    """Enformer's attention pooling: softmax-weighted sums over windows of
    ``pool`` positions, weights from a bias-free pointwise projection."""

    def __init__(self, pool=2, **kwargs):
        super().__init__(**kwargs)
        self.pool = pool

    def build(self, shape):
        self.logit = keras.layers.Dense(shape[-1], use_bias=False)
        self.logit.build(shape)

    def call(self, x):
        length, channels = x.shape[1], x.shape[2]
        shape = (-1, length // self.pool, self.pool, channels)
        weights = keras.ops.softmax(
            keras.ops.reshape(self.logit(x), shape), axis=2)
        return keras.ops.sum(keras.ops.reshape(x, shape) * weights, axis=2)

    def get_config(self):
        return dict(super().get_config(), pool=self.pool)


def enformer_style(length, tracks=8, bins=32):
    keras.utils.set_random_seed(0)
    inp = keras.Input((length, 4))
    h = keras.layers.Conv1D(48, 15, padding="same", activation="gelu")(inp)
    h = AttentionPool1D(2)(h)
    for filters in (56, 64):
        h = keras.layers.Conv1D(filters, 5, padding="same",
                                activation="gelu")(h)
        h = AttentionPool1D(2)(h)
    a = keras.layers.LayerNormalization()(h)
    a = keras.layers.MultiHeadAttention(num_heads=4, key_dim=16)(a, a)
    h = keras.layers.Add()([h, a])
    f = keras.layers.LayerNormalization()(h)
    f = keras.layers.Dense(128, activation="relu")(f)
    h = keras.layers.Add()([h, keras.layers.Dense(64)(f)])
    crop = (h.shape[1] - bins) // 2
    h = keras.layers.Cropping1D(crop)(h)
    logits = keras.layers.Conv1D(tracks, 1)(h)
    out = keras.layers.Activation("softplus")(logits)
    return keras.Model(inp, out), keras.Model(inp, logits)


def conv_models(length):
    keras.utils.set_random_seed(0)
    inp = keras.Input((length, 4))
    stack = ConvStack()
    dense = keras.layers.Dense(3)
    traced = keras.Model(inp, dense(keras.layers.Flatten()(stack(inp))))
    native = keras.Sequential([keras.Input((length, 4)), stack.c1,
                               stack.c2, stack.pool,
                               keras.layers.Flatten(), dense])
    return traced, native


def contribs_call(kmodel, x, ref, batch_size, task=0, target_weights=None):
    dl = kc.convert_keras_model(kmodel, nonlinear_mxts_mode="Rescale",
                                verbose=False)
    names = dl.get_input_layer_names() if hasattr(
        dl, "get_input_layer_names") else None
    if names is not None:
        target = dl.output_layers()[0].get_name()
        func = dl.get_target_contribs_func(
            find_scores_layer_name=names[0],
            pre_activation_target_layer_name=target)
    else:
        func = dl.get_target_contribs_func(find_scores_layer_idx=0,
                                           target_layer_idx=-1)
    return lambda: func(task_idx=task, input_data_list=[x],
                        input_references_list=[ref], batch_size=batch_size,
                        progress_update=None, target_weights=target_weights)


def gradient_times_input(kmodel, x, ref, batch_size, task=0,
                         target_weights=None):
    """The floor: gradient x (input - reference) of output ``task`` (or of
    ``sum(target_weights * output)``), a tf.function over batches."""
    shape = (None,) + tuple(x.shape[1:])

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32),
                                  tf.TensorSpec(shape, tf.float32)])
    def step(xb, rb):
        with tf.GradientTape() as tape:
            tape.watch(xb)
            out = kmodel(xb, training=False)
            out = (out[:, task] if target_weights is None
                   else tf.reduce_sum(out * target_weights))
        return tape.gradient(out, xb) * (xb - rb)

    def run():
        parts = []
        for s in range(0, len(x), batch_size):
            xb = x[s:s + batch_size]
            parts.append(step(xb, np.broadcast_to(ref, xb.shape)).numpy())
        return np.concatenate(parts)
    return run


def timings(funcs, rounds):
    """Per function: (median, min, max) of its wall times over
    ``rounds`` interleaved rounds."""
    times = round_robin(funcs, rounds)
    return [(statistics.median(wall), min(wall), max(wall))
            for wall, _ in times]


def table(rounds, rows):
    """Markdown rows ``(name, (median, low, high))``, the first row the
    baseline of the ratios (ratio of medians; range: the ratios of the
    extremes, low/high and high/low)."""
    base = rows[0][1]
    lines = ["| | seconds (median of %d) | range | ratio of medians | "
             "ratio range |" % rounds, "|---|---|---|---|---|"]
    for name, (med, low, high) in rows:
        lines.append("| %s | %.3f | %.3f-%.3f | %.2f | %.2f-%.2f |" % (
            name, med, low, high, med / base[0], low / base[2],
            high / base[1]))
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes, few rounds (a smoke test)")
    parser.add_argument("--out", default=os.path.join(HERE,
                                                      "RESULTS_traced.md"))
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else 7
    n, batch = (32, 16) if args.quick else (256, 64)
    seq, dim, heads = (16, 32, 4) if args.quick else (64, 64, 4)
    length = 200 if args.quick else 1000
    rng = np.random.RandomState(0)
    lines = ["# Op-level conversion benchmarks (bench/bench_traced.py)", "",
             "Machine: %s, %d CPUs visible, load average %s at the start; "
             "TensorFlow %s, Keras %s%s." % (
                 cpu_name(), os.cpu_count(),
                 " ".join("%.1f" % v for v in os.getloadavg()),
                 tf.__version__, keras.__version__,
                 ", --quick" if args.quick else ""), ""]

    # (a) transformer block
    kmodel = transformer_block(seq, dim, heads)
    x = rng.randn(n, seq, dim).astype(np.float32)
    ref = np.zeros((1, seq, dim), np.float32)
    ours = contribs_call(kmodel, x, ref, batch)
    floor = gradient_times_input(kmodel, x, ref, batch)
    c = ours()
    delta = (kmodel(x).numpy() - kmodel(ref).numpy())[:, 0]
    gap = np.max(np.abs(c.reshape(n, -1).sum(1) - delta))
    t_ours, t_floor = timings([ours, floor], rounds)
    lines += ["## (a) Transformer block, Rescale vs gradient x input", "",
              "%d sequences of %d x %d, %d heads, batch %d; "
              "MultiHeadAttention traced." % (n, seq, dim, heads, batch), ""]
    lines += table(rounds, [("TF gradient x input (tf.function)", t_floor),
                            ("deeplift Rescale", t_ours)])
    lines += ["", "Largest summation gap (float32): %.2e on outputs of "
              "scale %.2e." % (gap, np.max(np.abs(delta))), ""]

    # (b) conv stack traced vs native
    traced, native = conv_models(length)
    x = np.eye(4, dtype=np.float32)[rng.randint(0, 4, (n, length))]
    ref = np.full((1, length, 4), 0.25, np.float32)
    call_traced = contribs_call(traced, x, ref, batch)
    call_native = contribs_call(native, x, ref, batch)
    diff = np.max(np.abs(call_traced() - call_native()))
    t_traced, t_native = timings([call_traced, call_native], rounds)
    lines += ["## (b) Conv stack: traced vs native conversion", "",
              "%d one-hot sequences of length %d, Conv1D(64, 11) + ReLU, "
              "Conv1D(64, 7) + ReLU, MaxPooling1D(4), Dense(3); batch %d."
              % (n, length, batch), ""]
    lines += table(rounds, [("native conversion", t_native),
                            ("traced (custom layer)", t_traced)])
    lines += ["", "Largest difference between the two conversions' "
              "scores: %.2e." % diff, ""]
    # (c) Enformer-style model, one track over the central bins
    elength = 256 if args.quick else 1024
    # a track target explains the output before its final activation
    # (deeplift.genomics.models._track_output), so the floor and the
    # target difference use the logits model
    kmodel, logits_model = enformer_style(elength)
    x = np.eye(4, dtype=np.float32)[rng.randint(0, 4, (n, elength))]
    ref = np.full((1, elength, 4), 0.25, np.float32)
    out_shape = tuple(kmodel.output.shape[1:])
    weights = np.zeros((1,) + out_shape, np.float32)
    centre = out_shape[0] // 2
    weights[0, centre - 4:centre + 4, 2] = 1.0
    from deeplift.genomics import score_sequences
    dl = kc.convert_keras_model(kmodel, nonlinear_mxts_mode="Rescale",
                                verbose=False)

    def ours():
        return score_sequences(dl, x, method="rescale", reference="gc:0.5",
                               target="track:2:central:8", batch_size=batch,
                               progress=False)[1]
    floor = gradient_times_input(logits_model, x, ref, batch,
                                 target_weights=weights)
    c = ours()
    delta = (np.sum(logits_model(x).numpy() * weights, axis=(1, 2))
             - np.sum(logits_model(ref).numpy() * weights, axis=(1, 2)))
    gap = np.max(np.abs(c.reshape(n, -1).sum(1) - delta))
    t_ours, t_floor = timings([ours, floor], rounds)
    lines += ["## (c) Enformer-style model, Rescale vs gradient x input", "",
              "%d one-hot sequences of length %d; gelu Conv1D stem and "
              "tower with 3 attention poolings (a custom layer: traced), a "
              "transformer block (MultiHeadAttention, 4 heads), softplus "
              "head of %d bins x %d tracks; target track 2 summed over the "
              "central 8 bins; batch %d." % (n, elength, out_shape[0],
                                             out_shape[1], batch), ""]
    lines += table(rounds, [("TF gradient x input (tf.function)", t_floor),
                            ("deeplift Rescale", t_ours)])
    lines += ["", "Largest summation gap (float32): %.2e on a target "
              "difference of scale %.2e." % (gap, np.max(np.abs(delta))),
              ""]
    lines += ["Load average at the end: %s." % " ".join(
        "%.1f" % v for v in os.getloadavg())]
    write_report(args.out, lines)


if __name__ == "__main__":
    main()
