"""Workload (e): many references on a ChromBPNet-shaped model (issue 13).

    python bench/bench_multiref.py [--regions 256] [--refs 20]
        [--filters 64 (512 with a GPU)] [--repeats 3] [--peer-regions 8] [--no-peers]
        [--no-memory] [--quick] [--out bench/RESULTS.md]

The model: ``tests.bpnet_net.chrombpnet_like`` (2114 bp one-hot input,
Conv1D(21) then 8 dilated residual Conv1D(3) blocks with Cropping1D + Add,
profile head Conv1D(75) -> 1000 logits, counts head GlobalAvgPool ->
Dense(1)), random weights, ``--filters`` channels (64 on CPU; ChromBPNet's
is 512).  ``--regions`` random one-hot regions, each with ``--refs``
dinucleotide shuffles (``dinuc_shuffle_batch``), the same (region,
reference) pairs for every contender.

Timed round-robin in one process (bench/timing.py), median of
``--repeats`` after a warm-up:
  * the floor: TensorFlow's gradient x (input - reference) of the Keras
    model over the same pairs, in a ``tf.function`` (batches of the size
    this package chooses, ``deeplift.multiref.auto_batch_size``: smaller
    batches were faster for both), for the counts head and for the
    profile scalar ``sum(stop_gradient(softmax(l) - 1/L) * l)``;
  * this package, ``MultiRefScorer.run(..., hypothetical=True)`` with its
    default batch size and the XLA fusion that its default chooses for the
    issue's 256 x 20 pairs (also when fewer regions are timed): Rescale and
    DeepLIFT_GenomicsDefault on the counts
    head, Rescale on the profile target (``deeplift.targets.profile_target``,
    shap's convention).
Then a batch-size sweep of this package (Rescale, counts) and, on the first
``--peer-regions`` regions only (they are slow; pairs/s does not depend on
the number of regions), each peer that is installed: shap DeepExplainer as
ChromBPNet runs it (bench/shap_worker.py, tf_keras graph mode, counts and
profile), tangermeme ``deep_lift_shap`` and captum ``DeepLiftShap`` on a
PyTorch twin (counts; bench/chrombpnet_twin.py).  Agreement: the largest
difference of the mean hypothetical contributions (captum: of the mean
contributions) from ours on the same regions, relative to the largest of
ours.  Last, peak memory (ru_maxrss of a fresh process) of this package on
256 and 4096 regions with streamed references (``ref_fn``), a fixed batch
size, 2 shuffles each and 8 filters (the quantity is its growth with the
number of regions).

Writes its section of ``--out`` (between the workload (e) markers; the
rest of the file is kept) and prints it.
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("DEEPLIFT_NO_PROGRESS", "1")

import tensorflow as tf  # noqa: E402

from deeplift.scoring import FUSE_MIN_EXAMPLES  # noqa: E402

from timing import cpu_name, round_robin  # noqa: E402

BEGIN = "<!-- BEGIN workload e (bench/bench_multiref.py) -->"
END = "<!-- END workload e -->"
LENGTH = 2114


def load():
    """The 1-minute load average (other processes compete for the CPUs
    when it exceeds the CPU count)."""
    return os.getloadavg()[0]


def make_model(tmp, filters, seed=0):
    from tests.bpnet_net import chrombpnet_like
    model = chrombpnet_like(length=LENGTH, filters=filters, seed=seed)
    path = os.path.join(tmp, "chrombpnet_like_%d.h5" % filters)
    model.save(path)
    return model, path


def floor_functions(keras_model, batch):
    """TF gradient x (input - reference) over pairs, for the counts head
    and the profile scalar (weights fixed at softmax(l(x)) - 1/L)."""
    spec = tf.TensorSpec((None, LENGTH, 4), tf.float32)

    @tf.function(input_signature=[spec, spec])
    def counts(x, ref):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = keras_model(x, training=False)[1][:, 0]
        return tape.gradient(out, x) * (x - ref)

    @tf.function(input_signature=[spec, spec])
    def profile(x, ref):
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = keras_model(x, training=False)[0]
            length = tf.cast(tf.shape(logits)[1], logits.dtype)
            w = tf.stop_gradient(tf.nn.softmax(logits, axis=1)
                                 - 1.0 / length)
            out = tf.reduce_sum(w * logits, axis=1)
        return tape.gradient(out, x) * (x - ref)

    def over_pairs(fn, x, refs):
        k = refs.shape[1]
        flat = refs.reshape((-1,) + x.shape[1:])

        def run():
            for s in range(0, len(flat), batch):
                ii = np.arange(s, min(s + batch, len(flat))) // k
                fn(x[ii], flat[s:s + batch]).numpy()
        return run
    return counts, profile, over_pairs


def our_scorers(path):
    from deeplift.conversion import kerasapi_conversion as kc
    from deeplift.multiref import MultiRefScorer
    models = {mode: kc.convert_model_from_saved_files(
        path, nonlinear_mxts_mode=mode, verbose=False)
        for mode in ("Rescale", "DeepLIFT_GenomicsDefault")}
    return {
        ("Rescale", "counts"): MultiRefScorer(models["Rescale"],
                                              target_layer="logcounts"),
        ("DeepLIFT_GenomicsDefault", "counts"): MultiRefScorer(
            models["DeepLIFT_GenomicsDefault"], target_layer="logcounts"),
        ("Rescale", "profile"): MultiRefScorer(
            models["Rescale"], target_layer="profile_logits"),
    }


def run_ours(scorer, target, x, refs, batch_size=None, fuse=None):
    from deeplift.targets import profile_target
    kwargs = dict(hypothetical=True, progress=False, fuse=fuse)
    if batch_size is not None:
        kwargs["batch_size"] = batch_size
    if target == "profile":
        kwargs["target_weights"] = profile_target("shap")
    else:
        kwargs["task_idx"] = 0
    return scorer.run(x, refs, **kwargs)


def relative_difference(theirs, ours):
    scale = float(np.abs(ours).max())
    return float(np.abs(theirs - ours).max()) / scale, scale


def shap_peer(path, x, refs, repeats, tmp):
    data = os.path.join(tmp, "peer_data.npz")
    out = os.path.join(tmp, "shap_out.npz")
    np.savez(data, x=x, refs=refs)
    proc = subprocess.run([sys.executable, os.path.join(HERE,
                                                        "shap_worker.py"),
                           path, data, out, "counts,profile", str(repeats)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return None, (proc.stderr.strip().splitlines() or ["failed"])[-1]
    return dict(np.load(out)), None


def torch_peers(keras_model, x, refs, repeats):
    """tangermeme deep_lift_shap and captum DeepLiftShap on the counts
    twin: {name: (seconds of each timed run, mean hypothetical or contributions (N, L, 4),
    what)}, and notes on what is missing."""
    import warnings
    results, notes = {}, []
    try:
        import torch
    except ImportError:
        return results, ["torch not installed (pip install .[peers]): no "
                         "tangermeme or captum rows"]
    from chrombpnet_twin import build_twin
    twin = build_twin(keras_model, "counts")
    tx = torch.from_numpy(np.ascontiguousarray(np.transpose(x, (0, 2, 1))))
    trefs = torch.from_numpy(np.ascontiguousarray(
        np.transpose(refs, (0, 1, 3, 2))))
    with torch.no_grad():
        got = twin(tx[:2]).numpy()[:, 0]
    expected = keras_model(x[:2], training=False)[1].numpy()[:, 0]
    if np.abs(got - expected).max() > 1e-4 * max(1, np.abs(expected).max()):
        return results, ["the PyTorch twin differs from the Keras model "
                         "(%g): no torch peers" % np.abs(got - expected).max()]
    try:
        import tangermeme
        from tangermeme.deep_lift_shap import deep_lift_shap
    except ImportError:
        notes.append("tangermeme not installed: no tangermeme row")
    else:
        def tm():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return deep_lift_shap(twin, tx, target=0, batch_size=20,
                                      references=trefs, hypothetical=True,
                                      device="cpu", verbose=False)
        out = tm().detach().numpy().transpose(0, 2, 1)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            tm()
            times.append(time.perf_counter() - start)
        results["tangermeme %s deep_lift_shap" % tangermeme.__version__] = (
            times, out, "hypothetical")
    try:
        import captum
        from captum.attr import DeepLiftShap
    except ImportError:
        notes.append("captum not installed: no captum row")
    else:
        explainer = DeepLiftShap(twin)

        def cap():
            parts = []
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for i in range(len(tx)):
                    parts.append(explainer.attribute(
                        tx[i:i + 1].clone().requires_grad_(),
                        baselines=trefs[i], target=0).detach())
            return torch.cat(parts).numpy().transpose(0, 2, 1)
        out = cap()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            cap()
            times.append(time.perf_counter() - start)
        results["captum %s DeepLiftShap" % captum.__version__] = (
            times, out, "contributions")
    results_threads = "torch threads: %d" % torch.get_num_threads()
    notes.append(results_threads)
    return results, notes


MEMORY_CHILD = r"""
import os, resource, sys, numpy as np
sys.path.insert(0, %(root)r)
os.environ["DEEPLIFT_NO_PROGRESS"] = "1"
from deeplift.conversion import kerasapi_conversion as kc
from deeplift.dinuc_shuffle import dinuc_shuffle
from deeplift.multiref import MultiRefScorer
from tests.bpnet_net import random_onehot
n = %(regions)d
model = kc.convert_model_from_saved_files(%(path)r,
    nonlinear_mxts_mode="Rescale", verbose=False)
scorer = MultiRefScorer(model, target_layer="logcounts")
x = np.zeros((n, %(length)d, 4), np.float32)
for s in range(0, n, 256):
    x[s:s + 256] = random_onehot(min(256, n - s), %(length)d, seed=s)
def status(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
ref_fn = lambda seq, k, rng: dinuc_shuffle(seq, num_shufs=k, rng=rng)
# warm-up: one full batch with the same settings, so that the one-off
# tracing and XLA compilation of this batch shape (about 85 MiB with
# fuse=True) is in the RSS before the timed call, as in a long job
scorer.run(x[:%(batch)d // 2], ref_fn, num_refs=2, batch_size=%(batch)d,
           hypothetical=True, progress=False, fuse=%(fuse)s)
base = status("VmRSS")
with open("/proc/self/clear_refs", "w") as fh:    # restart VmHWM (peak)
    fh.write("5")
r = scorer.run(x, ref_fn, num_refs=2, batch_size=%(batch)d,
               hypothetical=True, progress=False, fuse=%(fuse)s)
peak = status("VmHWM")
print("MEMORY", base, peak, x.nbytes, r.contribs.nbytes * 2)
"""


def memory_rows(tmp, batch=40):
    """Peak RSS of a fresh process scoring 256 and 4096 regions, with the
    rules' XLA fusion on and off (fixed for both sizes: by default it
    switches on from FUSE_MIN_EXAMPLES pairs, and its one-off compilation
    memory would otherwise count as growth with the number of regions)."""
    _, path = make_model(tmp, 8)
    rows = []
    for fuse, regions in [(f, r) for f in (True, False) for r in (256, 4096)]:
        code = MEMORY_CHILD % dict(root=ROOT, regions=regions, path=path,
                                   length=LENGTH, batch=batch, fuse=fuse)
        proc = subprocess.run([sys.executable, "-c", code],
                              capture_output=True, text=True)
        line = [l for l in proc.stdout.splitlines()
                if l.startswith("MEMORY")]
        if proc.returncode != 0 or not line:
            rows.append((fuse, regions, None, proc.stderr.strip()[-200:]))
            continue
        base, peak, inputs, outputs = (int(v) for v in line[0].split()[1:])
        rows.append((fuse, regions, (base, peak, inputs, outputs), None))
    return rows, batch


def machine():
    cpu = cpu_name()
    gpus = tf.config.list_physical_devices("GPU")
    import keras
    return ("%s, %d logical CPUs; GPU: %s; Python %s, TensorFlow %s, Keras "
            "%s, NumPy %s; TF threads intra %d / inter %d (0 = all cores)"
            % (cpu, os.cpu_count(), [g.name for g in gpus] or "none",
               platform.python_version(), tf.__version__, keras.__version__,
               np.__version__,
               tf.config.threading.get_intra_op_parallelism_threads(),
               tf.config.threading.get_inter_op_parallelism_threads()))


def write_section(path, lines):
    text = "\n".join([BEGIN] + lines + [END]) + "\n"
    old = open(path).read() if os.path.exists(path) else ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        new = head + text + ("\n" + tail if tail else "")
    else:
        new = old + ("\n" if old and not old.endswith("\n\n") else "") + text
    with open(path, "w") as fh:
        fh.write(new)
    sys.stdout.write(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=256)
    parser.add_argument("--refs", type=int, default=20)
    parser.add_argument("--filters", type=int, default=None,
                        help="channels of the model (default: 512, the "
                        "published ChromBPNet size, where a GPU is visible; "
                        "64 on CPU)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer-regions", type=int, default=8)
    parser.add_argument("--sweep-regions", type=int, default=8)
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes (a smoke run)")
    parser.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    args = parser.parse_args(argv)
    if args.filters is None:
        args.filters = 512 if tf.config.list_physical_devices("GPU") else 64
    if args.quick:
        args.regions, args.peer_regions, args.sweep_regions = 4, 2, 2
        args.repeats = 1
    from deeplift.dinuc_shuffle import dinuc_shuffle_batch
    from tests.bpnet_net import random_onehot
    tmp = tempfile.mkdtemp()
    loads = [load()]
    keras_model, path = make_model(tmp, args.filters)
    x = random_onehot(args.regions, LENGTH, seed=1)
    refs = dinuc_shuffle_batch(x, args.refs, rng=np.random.RandomState(0)
                               ).astype(np.float32)
    pairs = args.regions * args.refs
    scorers = our_scorers(path)
    from deeplift.multiref import auto_batch_size
    from deeplift.scoring import should_fuse
    # the default for the 256 x 20 pairs, also on a smaller run
    fuse = should_fuse(None, max(pairs, 256 * 20))
    batch = auto_batch_size(scorers[("Rescale", "counts")].scorer)
    counts_fn, profile_fn, over_pairs = floor_functions(keras_model, batch)
    stages = {
        "floor: TF gradient x input, counts head":
            over_pairs(counts_fn, x, refs),
        "floor: TF gradient x input, profile scalar (weights fixed)":
            over_pairs(profile_fn, x, refs),
    }
    for (mode, target), scorer in scorers.items():
        name = "deeplift %s, %s" % (mode, "counts head" if target == "counts"
                                    else "profile target (shap convention)")
        stages[name] = (lambda scorer=scorer, target=target:
                        run_ours(scorer, target, x, refs, fuse=fuse))
    names = list(stages)
    times = round_robin([stages[n] for n in names], args.repeats)
    loads.append(load())
    wall = {n: w for n, (w, _) in zip(names, times)}
    med = {n: statistics.median(w) for n, w in wall.items()}
    floor_counts, floor_profile = names[0], names[1]

    lines = ["## (e) ChromBPNet-shaped model, many references (issue 13)", "",
             "Written by `python bench/bench_multiref.py %s`." % " ".join(
                 argv if argv is not None else sys.argv[1:]), "",
             "- Machine: " + machine(),
             "- Model: 2114 bp, %d filters, 8 dilated residual layers, "
             "profile (1000 logits) and counts heads; %d regions x %d "
             "dinucleotide shuffles = %d (region, reference) pairs; this "
             "package at its default (automatic) batch size, %d pairs, "
             "and the XLA fusion its default gives 256 x 20 pairs (fuse=%s; "
             "on from %d pairs); the floor in batches of the same size"
             % (args.filters, args.regions, args.refs, pairs, batch, fuse,
                FUSE_MIN_EXAMPLES),
             "- Median of %d round-robin runs after a warm-up; brackets: "
             "all runs" % args.repeats, ""]
    lines += ["| contender | seconds | pairs/s | ratio to its floor |",
              "|---|---|---|---|"]
    for n in names:
        floor = floor_profile if "profile" in n else floor_counts
        lines.append("| %s | %.2f [%s] | %.1f | %.2f |" % (
            n, med[n], ", ".join("%.2f" % t for t in wall[n]),
            pairs / med[n], med[n] / med[floor]))
    ours_counts = med["deeplift Rescale, counts head"]
    ours_profile = med["deeplift Rescale, profile target (shap convention)"]

    # batch-size sweep
    sweep_x, sweep_refs = x[:args.sweep_regions], refs[:args.sweep_regions]
    sizes = tuple(sorted(set((5, 10, 20, 40, 80, 256, batch))))
    scorer = scorers[("Rescale", "counts")]
    sweep = round_robin([
        (lambda b=b: run_ours(scorer, "counts", sweep_x, sweep_refs,
                              batch_size=b, fuse=True))
        for b in sizes], args.repeats)
    sweep_pairs = len(sweep_x) * args.refs
    lines += ["", "Batch size (pairs per compiled call), Rescale counts, "
              "fuse=True, %d regions x %d (automatic choice: %d): "
              % (len(sweep_x), args.refs, batch)
              + "; ".join("%d: %.1f pairs/s" % (
                  b, sweep_pairs / statistics.median(w))
                  for b, (w, _) in zip(sizes, sweep))]
    loads.append(load())

    notes = []
    if not args.no_peers:
        px, prefs = x[:args.peer_regions], refs[:args.peer_regions]
        peer_pairs = len(px) * args.refs
        ours_peer = {t: run_ours(scorers[("Rescale", t)], t, px, prefs,
                                 fuse=fuse)
                     for t in ("counts", "profile")}
        peer_rows = []
        res, err = shap_peer(path, px, prefs, max(1, args.repeats - 1), tmp)
        if err:
            notes.append("shap DeepExplainer could not run: %s" % err)
        else:
            for t, ours_t in (("counts", ours_counts),
                              ("profile", ours_profile)):
                runs = [float(r) for r in res["seconds_" + t]]
                secs = statistics.median(runs)
                diff, scale = relative_difference(
                    res["hypothetical_" + t],
                    ours_peer[t].hypothetical_contribs)
                peer_rows.append((
                    "shap %s DeepExplainer (tf_keras %s, graph mode), %s" % (
                        res["shap_version"], res["tf_keras_version"],
                        "counts head" if t == "counts"
                        else "profile target"),
                    secs, runs, peer_pairs / secs, (pairs / ours_t)
                    / (peer_pairs / secs), diff, "hypothetical"))
        tres, tnotes = torch_peers(keras_model, px, prefs,
                                   max(1, args.repeats - 1))
        notes += tnotes
        for name, (runs, out, what) in tres.items():
            secs = statistics.median(runs)
            ours = (ours_peer["counts"].hypothetical_contribs
                    if what == "hypothetical" else ours_peer["counts"].contribs)
            diff, _ = relative_difference(out, ours)
            peer_rows.append((name + ", counts head", secs, runs,
                              peer_pairs / secs,
                              (pairs / ours_counts) / (peer_pairs / secs),
                              diff, what))
        loads.append(load())
        lines += ["", "Peers on the first %d regions (%d pairs; the same "
                  "references):" % (len(px), peer_pairs), "",
                  "| peer | seconds | pairs/s | deeplift Rescale's pairs/s "
                  "/ theirs | max abs difference / max abs of ours |",
                  "|---|---|---|---|---|"]
        for name, secs, runs, rate, speedup, diff, what in peer_rows:
            lines.append("| %s | %.2f [%s] | %.1f | %.1fx | %.2g (%s) |" % (
                name, secs, ", ".join("%.2f" % r for r in runs), rate,
                speedup, diff,
                "mean hypothetical contributions" if what == "hypothetical"
                else "mean contributions"))
    if not args.no_memory:
        rows, batch = memory_rows(tmp)
        loads.append(load())
        lines += ["", "Peak memory, streamed references (ref_fn, 2 shuffles "
                  "per region), batch %d, 8 filters, fresh process after a "
                  "warm-up batch with the same settings; growth = peak RSS "
                  "while scoring - RSS before the call - the call's results:"
                  % batch, "",
                  "| fuse | regions | peak RSS | above the RSS before the "
                  "call | results (returned) | growth besides the results "
                  "| the (N, K, L, 4) references would be |",
                  "|---|---|---|---|---|---|---|"]
        for fuse, regions, vals, err in rows:
            if vals is None:
                lines.append("| %s | %d | failed (%s) | | | | |"
                             % (fuse, regions, err))
                continue
            base, peak, inputs, outputs = vals
            lines.append(
                "| %s | %d | %.0f MiB | %.0f MiB | %.0f MiB | %.0f MiB | "
                "%.0f MiB |" % (
                    fuse, regions, peak / 1024.0, (peak - base) / 1024.0,
                    outputs / 2.0 ** 20,
                    (peak - base) / 1024.0 - outputs / 2.0 ** 20,
                    2 * inputs / 2.0 ** 20))
    lines += ["", "- 1-minute load average during the run: %s (2 CPUs)"
              % ", ".join("%.1f" % l for l in loads)]
    lines += ["- " + n for n in notes]
    write_section(args.out, lines)


if __name__ == "__main__":
    main()
