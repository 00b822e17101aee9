"""``deeplift demo``: compare attribution methods on simulated sequences
with the small model shipped in the package."""
import os
import time

import numpy as np

from deeplift import methods
from deeplift.cli.common import DEMO_MODEL, CLIError


def _label(name):
    method = methods.get(name)
    if method.ig_steps:
        return "%s (%d steps)" % (method.label, method.ig_steps)
    return method.label


#: (label, method, reference) of the rows of the demo's table; labels and
#: default IG steps from :mod:`deeplift.methods`
DEMO_METHODS = tuple((_label(name), name, reference) for name, reference in (
    ("gradient", "zeros"),
    ("integrated_gradients", "gc"),
    ("guided_backprop", "gc"),
    ("rescale", "gc"),
    ("revealcancel", "gc"),
    ("genomics_default", "gc"),
    ("genomics_default", "dinuc-shuffle:20"),
))


def _runs(mask):
    """(start, end) ranges where the bool vector ``mask`` is True."""
    padded = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def _plot_demo_logos(out_dir, task, idx, panels, mask):
    import matplotlib
    matplotlib.use("Agg")
    from deeplift.visualization import viz_sequence
    from deeplift.genomics import TASK_NAMES
    # mask: (3, L) motif positions of the tasks; 1 = GATA, 2 = TAL1
    highlight = {"gold": _runs(mask[1]), "deepskyblue": _runs(mask[2])}
    # one figure, one y-scale for every method, a legend of base colours
    path = os.path.join(out_dir, "demo_task%d_seq%d.png" % (task, idx))
    viz_sequence.plot_logos(
        [array for _, array in panels], titles=[t for t, _ in panels],
        highlight=highlight, subticks_frequency=10,
        suptitle="explaining task %d (%s) on simulated sequence %d; "
                 "boxes: embedded GATA (gold) and TAL1 (blue) motifs"
                 % (task, TASK_NAMES[task], idx),
        save_path=path, dpi=80)
    return path


def cmd_demo(args):
    from deeplift import genomics
    if args.n < 8:
        raise CLIError("--n must be at least 8")
    out_dir = args.out
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise CLIError("--out %s exists and is not a directory" % (out_dir,))
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise CLIError("cannot create directory %s: %s"
                       % (out_dir, exc.strerror or exc))
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise CLIError("directory %s is not writable" % (out_dir,))
    if not os.path.exists(DEMO_MODEL):
        raise CLIError("the demo model %s is missing from the installation"
                       % (DEMO_MODEL,))
    try:
        import matplotlib  # noqa: F401
        can_draw = True
    except ImportError:          # a plain pip install, without [viz]
        can_draw = False

    t_start = time.time()
    seqs, labels, mask = genomics.simulate_sequences(args.n, seed=args.seed)
    onehot = genomics.one_hot_encode(seqs)
    num_tasks = labels.shape[1]
    print("deeplift demo: %d simulated 200-bp sequences (seed %d) with GATA "
          "and TAL1 motifs; model %s" % (args.n, args.seed,
                                         os.path.basename(DEMO_MODEL)))
    print("tasks: " + ", ".join("%d = %s (%d positives)"
                                % (t, genomics.TASK_NAMES[t],
                                   labels[:, t].sum())
                                for t in range(num_tasks)))
    positives = [np.flatnonzero(labels[:, task]) for task in range(num_tasks)]
    example = []      # per task: the logo's sequence, an index in positives
    for task, pos in enumerate(positives):
        if len(pos) == 0:
            raise CLIError("no positive sequence for task %d; increase --n"
                           % task)
        # the logos show a sequence with only the task's own motif (GATA
        # for task 1, TAL1 for task 2) where there is one
        own = [j for j, i in enumerate(pos)
               if labels[i].sum() == 1 or task == 0]
        example.append(own[0] if own else 0)

    rows, logos, models = [], {}, {}
    for label, method, reference in DEMO_METHODS:
        t0 = time.time()
        if method not in models:
            models[method] = genomics.load_model(DEMO_MODEL, method=method)
        model = models[method]
        if not rows:
            predict = model.get_prediction_function(0, -1)
            pred = predict([onehot], batch_size=256)
            print("model AUROC on these sequences: " + ", ".join(
                "task %d %.3f" % (t, genomics.auroc(pred[:, t], labels[:, t]))
                for t in range(num_tasks)))
        aurocs = []
        for task, pos in enumerate(positives):
            hyp, contribs = genomics.score_sequences(
                model, onehot[pos], task_idx=task, method=method,
                reference=reference, seed=args.seed,
                progress=not args.quiet)
            aurocs.append(genomics.motif_mask_auroc(contribs,
                                                    mask[pos, task]))
            logos[(label, reference, task)] = (contribs[example[task]],
                                               hyp[example[task]])
        rows.append((label, reference, aurocs, time.time() - t0))

    header = ["method", "reference"] + [
        "AUROC t%d %s" % (t, genomics.TASK_NAMES[t])
        for t in range(num_tasks)] + ["time (s)"]
    table = [[r[0], r[1]] + ["%.3f" % a for a in r[2]] + ["%.1f" % r[3]]
             for r in rows]
    widths = [max(len(x[c]) for x in table + [header])
              for c in range(len(header))]
    print()
    print("How well each method's scores find the embedded motifs "
          "(per-position AUROC of |contribution| against the motif "
          "positions, averaged over the positive sequences of each task):")
    for row in [header, ["-" * w for w in widths]] + table:
        print("  ".join(("%-*s" if c < 2 else "%*s") % (widths[c], row[c])
                        for c in range(len(row))).rstrip())
    print("gc: each sequence's base composition at every position; time: "
          "scoring of the positives of all tasks, with the model's "
          "conversion and compilation for the first row of a method")
    with open(os.path.join(out_dir, "demo_results.tsv"), "w") as handle:
        handle.write("\t".join(header) + "\n")
        for row in table:
            handle.write("\t".join(row) + "\n")

    written = []
    for task in range(num_tasks if can_draw else 0):
        idx = int(positives[task][example[task]])
        panels = [
            ("gradient x input: contributions",
             logos[("gradient x input", "zeros", task)][0]),
            ("DeepLIFT genomics default, reference gc: contributions",
             logos[("DeepLIFT genomics default", "gc", task)][0]),
            ("DeepLIFT genomics default, 20 dinucleotide-shuffled "
             "references: contributions",
             logos[("DeepLIFT genomics default", "dinuc-shuffle:20",
                    task)][0]),
            ("... and hypothetical contributions (every base at every "
             "position)",
             logos[("DeepLIFT genomics default", "dinuc-shuffle:20",
                    task)][1]),
        ]
        written.append(_plot_demo_logos(out_dir, task, idx, panels,
                                        mask[idx]))
    print()
    if can_draw:
        print("wrote %s and %d sequence logos: %s"
              % (os.path.join(out_dir, "demo_results.tsv"), len(written),
                 ", ".join(os.path.basename(p) for p in written)))
    else:
        print("wrote %s; the sequence logos need matplotlib: pip install "
              "'deeplift[viz]' (or pip install matplotlib) and run the demo "
              "again" % os.path.join(out_dir, "demo_results.tsv"))
    print("total time %.1f s" % (time.time() - t_start))
    return 0



def add_parser(sub):
    """Add the ``demo`` subcommand to the subparsers ``sub``."""
    demo = sub.add_parser(
        "demo", help="compare attribution methods on simulated sequences "
        "with the model shipped in the package",
        description="Simulate sequences with GATA and TAL1 motifs, score "
        "them with the small genomics model shipped in the package using "
        "several methods, print how well each method finds the embedded "
        "motifs (and its run time) and write sequence logos. No downloads.")
    demo.add_argument("--out", default="deeplift_demo", metavar="DIR",
                      help="directory for the logos and the results table "
                      "(default: %(default)s)")
    demo.add_argument("--n", type=int, default=400,
                      help="number of simulated sequences "
                      "(default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0,
                      help="simulation and shuffling seed "
                      "(default: %(default)s)")
    demo.add_argument("--quiet", action="store_true",
                      help="no progress bars")
    demo.set_defaults(func=cmd_demo)
