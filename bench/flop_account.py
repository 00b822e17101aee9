"""A FLOP account of many-reference scoring (issue 20, item 1).

    python bench/flop_account.py [--workload chrombpnet|bpnet] [--regions N]
        [--refs 10] [--filters 64] [--repeats 3] [--out FILE]

The model: ``tests.bpnet_net.chrombpnet_like``, counts head: workload (e)
(``chrombpnet``: 2114 bp, 8 dilated residual convolutions, 16 regions by
default, ``bench/RESULTS_flops.md``) or issue 20's BPNet-like model
(``bpnet``: 500 bp, 4 dilated residual convolutions, 64 regions by
default, ``bench/RESULTS_flops_bpnet.md``), ``--filters`` channels.  Analytic forward
FLOPs per example of the layers the counts head needs (bench/flops.py);
"useful work" per (sequence, reference) pair = the reference's forward
pass + the backward pass to the input (about the forward pass again: a
linear layer's transposed product costs what it does) + 1/K of the
sequence's forward pass, i.e. ``(2 + 1/K) * forward``.  Timed in one
process, round-robin (bench/timing.py), median and range of ``--repeats``
after a warm-up, at the batch size this package chooses
(``deeplift.multiref.auto_batch_size``):

* TensorFlow's forward pass of the Keras model (the machine's rate);
* TensorFlow's gradient x (input - reference) (forward + backward);
* ``MultiRefScorer.run(x, refs, hypothetical=True)``, Rescale and
  DeepLIFT_GenomicsDefault, counts head, on ``--regions`` x ``--refs``;
* ``genomics.score_sequences(..., reference="dinuc-shuffle:K",
  target="counts")``, Rescale: the genomics front end, its own shuffles
  drawn inside the timing.

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

from flops import model_flops  # noqa: E402
from timing import cpu_name, round_robin  # noqa: E402

#: workload: (input length, dilated convolutions, profile length, default
#: regions, default output file)
WORKLOADS = {"chrombpnet": (2114, 8, 1000, 16, "RESULTS_flops.md"),
             "bpnet": (500, 4, 200, 64, "RESULTS_flops_bpnet.md")}


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
    length, dilated, profile, regions, out = WORKLOADS[args.workload]
    args.regions = args.regions or regions
    args.out = args.out or os.path.join(HERE, out)
    load_before = os.getloadavg()
    from tests.bpnet_net import chrombpnet_like, random_onehot
    from deeplift.conversion import kerasapi_conversion as kc
    from deeplift.dinuc_shuffle import dinuc_shuffle_batch
    from deeplift.multiref import MultiRefScorer, auto_batch_size
    keras_model = chrombpnet_like(length=length, filters=args.filters,
                                  num_dilated=dilated,
                                  profile_length=profile)
    per_layer = model_flops(keras_model, "logcounts")
    forward = sum(per_layer.values())
    k = args.refs
    useful = (2 + 1.0 / k) * forward
    x = random_onehot(args.regions, length)
    refs = dinuc_shuffle_batch(x, k, np.random.RandomState(0))  # N,K,L,4
    pairs = args.regions * k
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.h5")
        keras_model.save(path)
        scorers = {mode: MultiRefScorer(kc.convert_model_from_saved_files(
            path, nonlinear_mxts_mode=mode, verbose=False),
            target_layer="logcounts")
            for mode in ("Rescale", "DeepLIFT_GenomicsDefault")}
    batch = auto_batch_size(scorers["Rescale"].scorer)
    spec = tf.TensorSpec((None, length, 4), tf.float32)

    @tf.function(input_signature=[spec])
    def fwd(inp):
        return keras_model(inp, training=False)[1]

    @tf.function(input_signature=[spec, spec])
    def grad_x_input(inp, ref):
        with tf.GradientTape() as tape:
            tape.watch(inp)
            out = keras_model(inp, training=False)[1][:, 0]
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

    def ours(mode):
        return lambda: scorers[mode].run(x, refs, task_idx=0,
                                         hypothetical=True, progress=False)
    from deeplift import genomics
    models = {mode: scorer.model for mode, scorer in scorers.items()}

    def user_path(mode):
        # the genomics front end: its own dinucleotide shuffles (same
        # count, so the same FLOPs), the counts head found by its shape
        return lambda: genomics.score_sequences(
            models[mode], x, method=None, reference="dinuc-shuffle:%d" % k,
            target="counts", progress=False)
    stages = {"TF forward (the machine's rate)": (run_fwd, forward),
              "TF gradient x input": (run_grad, 2 * forward),
              "ours, Rescale, counts": (ours("Rescale"), useful),
              "ours, GenomicsDefault, counts":
                  (ours("DeepLIFT_GenomicsDefault"), useful),
              "ours, Rescale, counts, genomics.score_sequences (shuffles "
              "included)": (user_path("Rescale"), useful)}
    times = round_robin([fn for fn, _ in stages.values()], args.repeats)
    load_after = os.getloadavg()
    rate = {}
    lines = [
        "# FLOP account, workload %s (bench/flop_account.py --workload %s)"
        % ("(e)" if args.workload == "chrombpnet" else "BPNet-like",
           args.workload), "",
        "CPU: %s, %d cores shared with other jobs (load average 1/5/15 min "
        "%s before, %s after); TensorFlow %s. chrombpnet_like, %d bp, %d "
        "dilated convolutions, %d filters, "
        "counts head: %.1f MFLOP forward per example (bench/flops.py); "
        "%d regions x %d dinucleotide shuffles = %d pairs, batch %d; useful "
        "work per pair (2 + 1/K) x forward = %.1f MFLOP. Median (range) of "
        "%d interleaved runs." % (
            cpu_name(), os.cpu_count(),
            "/".join("%.1f" % v for v in load_before),
            "/".join("%.1f" % v for v in load_after), tf.__version__,
            length, dilated, args.filters, forward / 1e6, args.regions, k, pairs, batch,
            useful / 1e6, args.repeats), "",
        "| what | FLOP per pair (M) | seconds | GFLOP/s | fraction of the "
        "forward rate |", "|---|---|---|---|---|"]
    for (name, (_, flop)), (wall, _) in zip(stages.items(), times):
        med = statistics.median(wall)
        rate[name] = pairs * flop / med / 1e9
        lines.append("| %s | %.1f | %.2f (%.2f-%.2f) | %.1f | %.2f |" % (
            name, flop / 1e6, med, min(wall), max(wall), rate[name],
            rate[name] / rate["TF forward (the machine's rate)"]))
    lines += ["", "Layers (forward MFLOP per example): " + ", ".join(
        "%s %.1f" % (n, f / 1e6) for n, f in sorted(
            per_layer.items(), key=lambda t: -t[1]) if f), ""]
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
