"""A FLOP account of many-reference scoring (issue 20, item 1).

    python bench/flop_account.py [--workload chrombpnet|bpnet|attention]
        [--regions N] [--refs 10] [--filters 64] [--repeats 3] [--out FILE]

The model, counts head: ``tests.bpnet_net.chrombpnet_like`` (tf_keras,
converted from a saved .h5 file) for workload (e) (``chrombpnet``: 2114
bp, 8 dilated residual convolutions, 16 regions by default,
``bench/RESULTS_flops.md``) or issue 20's BPNet-like model (``bpnet``: 500
bp, 4 dilated residual convolutions, 64 regions by default,
``bench/RESULTS_flops_bpnet.md``); or ``tests.attention_net.attention_like``
(``attention``: Keras 3, 500 bp, a Conv1D stem, average pooling to 125
tokens, one transformer block whose MultiHeadAttention (4 heads x 16) is
traced, converted in memory; 64 regions by default,
``bench/RESULTS_flops_attention.md``).  ``--filters`` channels (the
attention model's width).  Analytic forward
FLOPs per example of the layers the counts head needs (bench/flops.py);
"useful work" per (sequence, reference) pair = the reference's forward
pass + the backward pass to the input (about the forward pass again: a
linear layer's transposed product costs what it does) + 1/K of the
sequence's forward pass, i.e. ``(2 + 1/K) * forward``.  For attention
the products of two varying tensors (``q k^T``, the weighted sum of the
values) have a backward pass to both factors, twice their forward FLOPs
``B``: the report's table keeps the ``(2 + 1/K) * forward`` convention (so
the workloads compare), and a second table gives the same rows with
``(2 + 1/K) * forward + B`` (gradient x input ``2 * forward + B``).
Timed in one
process, round-robin (bench/timing.py), median and range of ``--repeats``
after a warm-up, at the batch size this package chooses
(``deeplift.multiref.auto_batch_size``):

* TensorFlow's forward pass of the Keras model (the machine's rate);
* TensorFlow's gradient x (input - reference) (forward + backward);
* ``MultiRefScorer.run(x, refs, hypothetical=True)``, Rescale and
  DeepLIFT_GenomicsDefault, counts head, on ``--regions`` x ``--refs``
  (the default fusion: XLA-fused rule math from
  ``deeplift.scoring.FUSE_MIN_EXAMPLES`` pairs on), and Rescale with
  ``fuse=False``;
* ``genomics.score_sequences(..., reference="dinuc-shuffle:K",
  target="counts")``, Rescale: the genomics front end, its own shuffles
  drawn inside the timing (the attention model has one output, so its
  head is named ``target_layer="counts"``: ``target="counts"`` finds the
  counts head of a two-headed model by the outputs' shapes).

Reports GFLOP/s of each (useful FLOPs for the scorers) and the fraction of
the forward rate, with the load average before and after.
"""
import argparse
import os
import statistics
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("DEEPLIFT_NO_PROGRESS", "1")

import tensorflow as tf  # noqa: E402

from flops import model_flops, model_bilinear_flops  # noqa: E402
from timing import cpu_name, round_robin  # noqa: E402

def _tf_keras_workload(name, length, dilated, profile, regions, out):
    """A ChromBPNet-shaped tf_keras workload (tests.bpnet_net), converted
    from a saved .h5 file."""
    def build(filters):
        from tests.bpnet_net import chrombpnet_like
        return chrombpnet_like(length=length, filters=filters,
                               num_dilated=dilated, profile_length=profile)

    def describe(filters):
        return ("chrombpnet_like, %d bp, %d dilated convolutions, %d "
                "filters, counts head" % (length, dilated, filters))
    return dict(title="(e)" if name == "chrombpnet" else "BPNet-like",
                length=length, regions=regions, out=out, build=build,
                describe=describe, target="logcounts", output_index=1,
                convert=_convert_saved, score_target=dict(target="counts"),
                score_note="")


def _convert_saved(keras_model, mode):
    from deeplift.conversion import kerasapi_conversion as kc
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.h5")
        keras_model.save(path)
        return kc.convert_model_from_saved_files(
            path, nonlinear_mxts_mode=mode, verbose=False)


def _convert_live(keras_model, mode):
    from deeplift.conversion import kerasapi_conversion as kc
    return kc.convert_keras_model(keras_model, nonlinear_mxts_mode=mode,
                                  verbose=False)


def _attention_workload():
    """tests.attention_net.attention_like (Keras 3; MultiHeadAttention is
    traced from the live layer, so it is converted in memory)."""
    length, pool, heads, key_dim = 500, 4, 4, 16

    def build(filters):
        from tests.attention_net import attention_like
        return attention_like(length=length, filters=filters, pool=pool,
                              heads=heads, key_dim=key_dim)

    def describe(filters):
        return ("attention_like, %d bp, Conv1D(%d, 21) stem, "
                "AveragePooling1D(%d) to %d tokens, one post-norm "
                "transformer block (MultiHeadAttention %d heads x key_dim "
                "%d, traced; LayerNormalization; ReLU MLP %d-%d), counts "
                "head" % (length, filters, pool, length // pool, heads,
                          key_dim, 2 * filters, filters))
    return dict(title="attention", length=length, regions=64,
                out="RESULTS_flops_attention.md", build=build,
                describe=describe, target="counts", output_index=None,
                convert=_convert_live,
                score_target=dict(target_layer="counts"),
                score_note=(
                    "The genomics row names the head by its layer, "
                    "target_layer=\"counts\": target=\"counts\" resolves "
                    "the counts head of a two-headed (profile + counts) "
                    "model by the outputs' shapes, and this model has one "
                    "output."))


#: workload name -> its description: title, input length, default
#: regions, default output file, ``build(filters)`` -> Keras model,
#: ``describe(filters)``, the target layer, the index of the target's
#: output (None: the model's one output), ``convert(model, mode)`` ->
#: deeplift model, the ``score_sequences`` target arguments and a note
WORKLOADS = {"chrombpnet": _tf_keras_workload(
                 "chrombpnet", 2114, 8, 1000, 16, "RESULTS_flops.md"),
             "bpnet": _tf_keras_workload(
                 "bpnet", 500, 4, 200, 64, "RESULTS_flops_bpnet.md"),
             "attention": _attention_workload()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workload", choices=sorted(WORKLOADS),
                        default="chrombpnet")
    parser.add_argument("--regions", type=int, default=None)
    parser.add_argument("--refs", type=int, default=10)
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    work = WORKLOADS[args.workload]
    length = work["length"]
    args.regions = args.regions or work["regions"]
    args.out = args.out or os.path.join(HERE, work["out"])
    load_before = os.getloadavg()
    from tests.bpnet_net import random_onehot
    from deeplift.dinuc_shuffle import dinuc_shuffle_batch
    from deeplift.multiref import MultiRefScorer, auto_batch_size
    keras_model = work["build"](args.filters)
    target = work["target"]
    per_layer = model_flops(keras_model, target)
    forward = sum(per_layer.values())
    bilinear = model_bilinear_flops(keras_model, target)
    k = args.refs
    useful = (2 + 1.0 / k) * forward
    x = random_onehot(args.regions, length)
    refs = dinuc_shuffle_batch(x, k, np.random.RandomState(0))  # N,K,L,4
    pairs = args.regions * k
    scorers = {mode: MultiRefScorer(work["convert"](keras_model, mode),
                                    target_layer=target)
               for mode in ("Rescale", "DeepLIFT_GenomicsDefault")}
    batch = auto_batch_size(scorers["Rescale"].scorer)
    spec = tf.TensorSpec((None, length, 4), tf.float32)
    index = work["output_index"]

    def target_output(inp):
        out = keras_model(inp, training=False)
        return out if index is None else out[index]

    @tf.function(input_signature=[spec])
    def fwd(inp):
        return target_output(inp)

    @tf.function(input_signature=[spec, spec])
    def grad_x_input(inp, ref):
        with tf.GradientTape() as tape:
            tape.watch(inp)
            out = target_output(inp)[:, 0]
        return tape.gradient(out, inp) * (inp - ref)

    flat = refs.reshape((-1, length, 4))
    owner = np.arange(pairs) // k
    batches = [(x[owner[s:s + batch]], flat[s:s + batch])
               for s in range(0, pairs, batch)]

    def run_fwd():
        for _, r in batches:
            fwd(r).numpy()

    def run_grad():
        for a, r in batches:
            grad_x_input(a, r).numpy()

    def ours(mode, fuse=None):
        return lambda: scorers[mode].run(x, refs, task_idx=0,
                                         hypothetical=True, progress=False,
                                         fuse=fuse)
    from deeplift import genomics
    models = {mode: scorer.model for mode, scorer in scorers.items()}

    def user_path(mode):
        # the genomics front end: its own dinucleotide shuffles (same
        # count, so the same FLOPs), the counts head found by its shape
        # (or named by its layer: work["score_target"])
        return lambda: genomics.score_sequences(
            models[mode], x, method=None, reference="dinuc-shuffle:%d" % k,
            progress=False, **work["score_target"])
    # per stage: (function, FLOP per pair, FLOP per pair with a bilinear
    # product's backward counted at 2x its forward)
    useful_b = useful + bilinear
    stages = {"TF forward (the machine's rate)": (run_fwd, forward, forward),
              "TF gradient x input": (run_grad, 2 * forward,
                                      2 * forward + bilinear),
              "ours, Rescale, counts": (ours("Rescale"), useful, useful_b),
              "ours, GenomicsDefault, counts":
                  (ours("DeepLIFT_GenomicsDefault"), useful, useful_b),
              "ours, Rescale, counts, genomics.score_sequences (shuffles "
              "included)": (user_path("Rescale"), useful, useful_b),
              "ours, Rescale, counts, fuse=False": (
                  ours("Rescale", False), useful, useful_b)}
    times = round_robin([fn for fn, _, _ in stages.values()],
                        args.repeats)
    load_after = os.getloadavg()
    rate = {}
    lines = [
        "# FLOP account, workload %s (bench/flop_account.py --workload %s)"
        % (work["title"], args.workload), "",
        "CPU: %s, %d cores shared with other jobs (load average 1/5/15 min "
        "%s before, %s after); TensorFlow %s. %s: %.1f MFLOP forward per "
        "example (bench/flops.py); "
        "%d regions x %d dinucleotide shuffles = %d pairs, batch %d; useful "
        "work per pair (2 + 1/K) x forward = %.1f MFLOP. Median (range) of "
        "%d interleaved runs." % (
            cpu_name(), os.cpu_count(),
            "/".join("%.1f" % v for v in load_before),
            "/".join("%.1f" % v for v in load_after), tf.__version__,
            work["describe"](args.filters), forward / 1e6, args.regions, k,
            pairs, batch,
            useful / 1e6, args.repeats), "",
        "| what | FLOP per pair (M) | seconds | GFLOP/s | fraction of the "
        "forward rate |", "|---|---|---|---|---|"]
    for (name, (_, flop, _)), (wall, _) in zip(stages.items(), times):
        med = statistics.median(wall)
        rate[name] = pairs * flop / med / 1e9
        lines.append("| %s | %.1f | %.2f (%.2f-%.2f) | %.1f | %.2f |" % (
            name, flop / 1e6, med, min(wall), max(wall), rate[name],
            rate[name] / rate["TF forward (the machine's rate)"]))
    lines += ["", "Layers (forward MFLOP per example): " + ", ".join(
        "%s %.1f" % (n, f / 1e6) for n, f in sorted(
            per_layer.items(), key=lambda t: -t[1]) if f), ""]
    if bilinear:
        lines += _bilinear_lines(stages, rate, bilinear, k, keras_model)
    if work["score_note"]:
        lines += [work["score_note"], ""]
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))


def _bilinear_lines(stages, rate, bilinear, k, keras_model):
    """The second convention for a model with attention: the backward pass
    of ``q k^T`` and of the weighted sum goes to both factors, 2x their
    forward FLOPs, so a backward pass costs ``forward + bilinear``; the
    rates and fractions of ``stages`` (``rate``: GFLOP/s by the first
    convention) rescaled to it."""
    from flops import attention_parts
    parts = ["%s: %s" % (layer.name, ", ".join(
        "%s %.2f" % (p, f / 1e6) for p, f in attention_parts(layer).items()))
        for layer in keras_model.layers
        if type(layer).__name__ == "MultiHeadAttention"]
    _, _, grad_b = stages["TF gradient x input"]
    _, useful, useful_b = stages["ours, Rescale, counts"]
    lines = ["Attention parts (forward MFLOP per example): %s." % "; ".join(
                 parts), "",
             "The table counts a backward pass as one forward pass (the "
             "(2 + 1/K) x forward convention of the other workloads). The "
             "products of two varying tensors (q k^T and the weighted sum, "
             "%.1f MFLOP forward per example) have a backward pass to both "
             "factors, 2x their forward; counting that, a backward pass is "
             "forward + %.1f MFLOP, TensorFlow's gradient x input %.1f "
             "MFLOP per pair and the useful work (2 + 1/K) x forward + "
             "bilinear = %.1f MFLOP per pair (%.2fx the table's, K = %d):"
             % (bilinear / 1e6, bilinear / 1e6, grad_b / 1e6,
                useful_b / 1e6, useful_b / useful, k), "",
             "| what | FLOP per pair (M), bilinear backward 2x | GFLOP/s | "
             "fraction of the forward rate |", "|---|---|---|---|"]
    base = rate["TF forward (the machine's rate)"]
    for name, (_, flop, flop_b) in stages.items():
        gflops = rate[name] * flop_b / flop
        lines.append("| %s | %.1f | %.1f | %.2f |" % (
            name, flop_b / 1e6, gflops, gflops / base))
    return lines + [""]


if __name__ == "__main__":
    main()
