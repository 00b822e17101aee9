"""The original DeepLIFT genomics notebook as a script.

A Keras 2 model trained on simulated sequences (GATA_disc1 and TAL1_known1
motifs; task 0: both motifs present, task 1: GATA, task 2: TAL1) is
converted with several ``nonlinear_mxts_mode`` settings and used to score
sequences with:

* the original API (``get_target_contribs_func``,
  ``util.get_integrated_gradients_function``,
  ``util.get_shuffle_seq_ref_function``,
  ``util.get_hypothetical_contribs_func_onehot``) and the background
  reference A/C/G/T = 0.3/0.2/0.2/0.3 of the notebook;
* :func:`deeplift.genomics.score_sequences` with 10 dinucleotide-shuffled
  references per sequence (and its hypothetical contributions).

For every method it prints how well the scores find the embedded motifs
(per-position AUROC of |contribution| against the motif positions given in
the data file, averaged over the positive sequences of each task) and the
run time, checks that the original API and ``score_sequences`` agree, and
writes sequence logos and the scores to ``--out``::

    python examples/genomics/genomics_example.py --n 200 --out genomics_out

By default the model and the data are the shared fixtures
(``../shared/fixtures`` next to the repository).
"""
import argparse
import functools
import gzip
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(os.path.dirname(REPO), "shared", "fixtures")
DEFAULT_JSON = os.path.join(
    FIXTURES, "keras2_real",
    "keras2_conv1d_record_5_model_PQzyq_modelJson.json")
DEFAULT_WEIGHTS = os.path.join(
    FIXTURES, "keras2_real",
    "keras2_conv1d_record_5_model_PQzyq_modelWeights.h5")
DEFAULT_DATA = os.path.join(FIXTURES, "genomics_sim",
                            "sequences.simdata.gz")
TASK_MOTIFS = {0: ("GATA_disc1", "TAL1_known1"), 1: ("GATA_disc1",),
               2: ("TAL1_known1",)}
TASK_NAMES = ("GATA+TAL1", "GATA", "TAL1")


def read_simdata(path, n=None):
    """Sequences, labels (N, 3) and per-task motif masks (N, 3, L) of a
    simdna-style file (seqName, sequence, embeddings, task1..3)."""
    import numpy as np
    opener = gzip.open if path.endswith(".gz") else open
    names, seqs, labels, embeddings = [], [], [], []
    with opener(path, "rt") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        num_tasks = len(header) - 3
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 3 + num_tasks:
                continue
            names.append(fields[0])
            seqs.append(fields[1])
            embeddings.append(fields[2])
            labels.append([int(v) for v in fields[3:3 + num_tasks]])
    labels = np.array(labels)
    length = len(seqs[0])
    mask = np.zeros((len(seqs), num_tasks, length), dtype=bool)
    for i, text in enumerate(embeddings):
        for item in filter(None, text.split(",")):
            # pos-<start>_<MOTIF>-<bases>
            pos, rest = item.split("_", 1)
            motif, bases = rest.rsplit("-", 1)
            start = int(pos.split("-")[1])
            for task, motifs in TASK_MOTIFS.items():
                if motif in motifs and task < num_tasks:
                    mask[i, task, start:start + len(bases)] = True
    return names, seqs, labels, mask


def balanced_subset(labels, n, seed=0):
    """Indices of ``n`` sequences with positives of every task."""
    import numpy as np
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(labels))
    groups = {}
    for i in order:
        groups.setdefault(tuple(labels[i]), []).append(i)
    keys = sorted(groups)
    chosen = []
    while len(chosen) < min(n, len(labels)):
        for key in keys:
            if groups[key] and len(chosen) < n:
                chosen.append(groups[key].pop())
    return np.array(sorted(chosen))


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", default=DEFAULT_JSON,
                        help="model architecture JSON")
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS,
                        help="model weights HDF5")
    parser.add_argument("--data", default=DEFAULT_DATA,
                        help="simulated data (simdna format)")
    parser.add_argument("--n", type=int, default=200,
                        help="number of sequences (balanced over classes)")
    parser.add_argument("--num-refs", type=int, default=10,
                        help="dinucleotide-shuffled references per sequence")
    parser.add_argument("--num-logos", type=int, default=2,
                        help="sequences per task to draw")
    parser.add_argument("--out", default="genomics_example_out",
                        help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for path in (args.json, args.weights, args.data):
        if not os.path.exists(path):
            sys.exit("genomics_example: %s does not exist (the defaults are "
                     "the shared fixtures in %s)" % (path, FIXTURES))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    import numpy as np
    import matplotlib
    matplotlib.use("Agg")
    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")   # retracing notes: one per model
    from deeplift import genomics, util
    from deeplift.conversion import kerasapi_conversion as kc
    from deeplift.dinuc_shuffle import dinuc_shuffle
    from deeplift.layers import NonlinearMxtsMode
    from deeplift.visualization import viz_sequence

    os.makedirs(args.out, exist_ok=True)
    names, seqs, labels, mask = read_simdata(args.data)
    keep = balanced_subset(labels, args.n, args.seed)
    seqs = [seqs[i] for i in keep]
    names = [names[i] for i in keep]
    labels, mask = labels[keep], mask[keep]
    onehot = genomics.one_hot_encode(seqs)
    num_tasks = labels.shape[1]
    print("%d sequences from %s; positives per task: %s"
          % (len(seqs), os.path.basename(args.data),
             ", ".join("%d (%s) %d" % (t, TASK_NAMES[t], labels[:, t].sum())
                       for t in range(num_tasks))))

    # the notebook's background reference
    background = np.array([0.3, 0.2, 0.2, 0.3], dtype=np.float32)
    ref = np.broadcast_to(background, onehot.shape)

    # each model is converted, and each function compiled, once
    @functools.lru_cache(maxsize=None)
    def convert(mode):
        return kc.convert_model_from_saved_files(
            args.weights, json_file=args.json, nonlinear_mxts_mode=mode,
            verbose=False)

    @functools.lru_cache(maxsize=None)
    def contribs_func(mode):
        return convert(mode).get_target_contribs_func(
            find_scores_layer_idx=0, target_layer_idx=-2)

    # each method: a function (task, X) -> per-base scores (N, L, 4)
    def with_background(func):
        return lambda task, x: func(
            task_idx=task, input_data_list=[x],
            input_references_list=[ref[:len(x)]], batch_size=200,
            progress_update=None)

    def integrated_gradients(steps):
        grad_model = convert(NonlinearMxtsMode.Gradient)
        ig = util.get_integrated_gradients_function(
            grad_model.get_target_multipliers_func(
                find_scores_layer_idx=0, target_layer_idx=-2), steps)
        return lambda task, x: ig(task_idx=task, input_data_list=[x],
                                  input_references_list=[ref[:len(x)]],
                                  batch_size=200)

    def shuffled(func):
        shuffled_func = util.get_shuffle_seq_ref_function(
            score_computation_function=func, shuffle_func=dinuc_shuffle)
        return lambda task, x: shuffled_func(
            task_idx=task, input_data_sequences=x,
            num_refs_per_seq=args.num_refs, batch_size=200, seed=args.seed,
            progress_update=None)

    NM = NonlinearMxtsMode
    methods = [
        ("grad x input", "background", lambda: with_background(
            contribs_func(NM.Gradient))),
        ("guided backprop x input", "background", lambda: with_background(
            contribs_func(NM.GuidedBackprop))),
        ("integrated gradients (10)", "background",
         lambda: integrated_gradients(10)),
        ("DeepLIFT Rescale", "background", lambda: with_background(
            contribs_func(NM.Rescale))),
        ("DeepLIFT RevealCancel", "background", lambda: with_background(
            contribs_func(NM.RevealCancel))),
        ("DeepLIFT genomics default", "background", lambda: with_background(
            contribs_func(NM.DeepLIFT_GenomicsDefault))),
        ("DeepLIFT genomics default", "%d dinuc shuffles" % args.num_refs,
         lambda: shuffled(contribs_func(NM.DeepLIFT_GenomicsDefault))),
    ]

    rows, kept = [], {}
    for label, ref_name, make in methods:
        t0 = time.time()
        score = make()
        aurocs = []
        for task in range(num_tasks):
            pos = np.flatnonzero(labels[:, task])
            scores = np.asarray(score(task, onehot[pos]))
            aurocs.append(genomics.motif_mask_auroc(scores,
                                                    mask[pos, task]))
            kept[(label, ref_name, task)] = scores
        rows.append((label, ref_name, aurocs, time.time() - t0))

    # score_sequences: shuffled references and hypothetical contributions,
    # and a check that it agrees with the original API
    t0 = time.time()
    model = convert(NonlinearMxtsMode.DeepLIFT_GenomicsDefault)
    hyps, aurocs, max_diff = {}, [], 0.0
    for task in range(num_tasks):
        pos = np.flatnonzero(labels[:, task])
        hyp, contribs = genomics.score_sequences(
            model, onehot[pos], task_idx=task,
            reference="dinuc-shuffle:%d" % args.num_refs, seed=args.seed,
            progress=False)
        hyps[task] = hyp
        kept[("score_sequences", "shuffled", task)] = contribs
        aurocs.append(genomics.motif_mask_auroc(contribs, mask[pos, task]))
        _, same = genomics.score_sequences(
            model, onehot[pos], task_idx=task, reference=background,
            progress=False)
        # the original API splits a position's contribution over the four
        # channels ((x - ref) * multiplier); score_sequences puts it all on
        # the observed base: compare the totals per position
        original = kept[("DeepLIFT genomics default", "background", task)]
        max_diff = max(max_diff, float(np.max(np.abs(
            same.sum(-1) - original.sum(-1)))))
    rows.append(("score_sequences (genomics default)",
                 "%d dinuc shuffles" % args.num_refs, aurocs,
                 time.time() - t0))

    header = (["method", "reference"]
              + ["AUROC t%d %s" % (t, TASK_NAMES[t])
                 for t in range(num_tasks)] + ["time (s)"])
    table = [[r[0], r[1]] + ["%.3f" % a for a in r[2]] + ["%.1f" % r[3]]
             for r in rows]
    widths = [max(len(x[c]) for x in table + [header])
              for c in range(len(header))]
    lines = ["  ".join(("%-*s" if c < 2 else "%*s") % (widths[c], row[c])
                       for c in range(len(row))).rstrip()
             for row in [header, ["-" * w for w in widths]] + table]
    print("\n".join(lines))
    print("original API vs score_sequences (genomics default, background "
          "reference): max abs difference of the per-position totals %.2g"
          % max_diff)
    with open(os.path.join(args.out, "results.tsv"), "w") as handle:
        handle.write("\t".join(header) + "\n")
        for row in table:
            handle.write("\t".join(row) + "\n")

    # logos: the first sequences of each task
    written = 0
    for task in range(num_tasks):
        pos = np.flatnonzero(labels[:, task])
        for j in range(min(args.num_logos, len(pos))):
            i = pos[j]
            spans = {}
            for color, t in (("gold", 1), ("deepskyblue", 2)):
                m = np.concatenate([[0], mask[i, t].astype(int), [0]])
                edges = np.flatnonzero(np.diff(m))
                spans[color] = list(zip(edges[0::2], edges[1::2]))
            for tag, array in (
                    ("contribs", kept[("score_sequences", "shuffled",
                                       task)][j]),
                    ("hypothetical", hyps[task][j]),
                    ("gradxinput", kept[("grad x input", "background",
                                         task)][j])):
                viz_sequence.plot_weights(
                    array, subticks_frequency=10, highlight=spans,
                    title="task %d (%s), %s: %s" % (task, TASK_NAMES[task],
                                                    names[i], tag),
                    save_path=os.path.join(
                        args.out, "task%d_%s_%s.png" % (task, names[i], tag)))
                written += 1
    np.savez(os.path.join(args.out, "scores.npz"), onehot=onehot,
             labels=labels, names=np.array(names),
             **{"hypothetical_task%d" % t: h for t, h in hyps.items()})
    print("wrote %s, scores.npz and %d logos to %s"
          % ("results.tsv", written, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
