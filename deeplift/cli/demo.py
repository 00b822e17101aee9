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


def _windows(mask, task, scores=None, pad=3, most=2):
    """Up to ``most`` (start, end) windows around the embedded motifs the
    task depends on (task 0: one GATA and one TAL1 instance; task 1: GATA;
    task 2: TAL1), widened by ``pad`` bases, overlaps merged, in position
    order.  The instances with the largest sum of ``|scores|`` (an (L, 4)
    array) are chosen; without ``scores``, the first ones."""
    length = mask.shape[1]
    kinds = [1, 2] if task == 0 else [task]

    def ranked(runs):
        if scores is None:
            return runs
        weight = np.abs(np.asarray(scores)).sum(axis=-1)
        return sorted(runs, key=lambda r: -weight[r[0]:r[1]].sum())
    runs = [r for kind in kinds for r in ranked(_runs(mask[kind]))[
        :1 if task == 0 else most]]
    spans = sorted((max(0, s - pad), min(length, e + pad)) for s, e in runs)
    merged = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged[:most]


#: under the logos: why each row has its own scale
LOGO_NOTE = ("Each row has its own y-scale (shared by its line and its "
             "windows): the methods' scores differ in size (gradient x input "
             "is not a difference from a reference and does not add up to the "
             "output's change; DeepLIFT's contributions do), and the shapes "
             "are what compare.")


def _plot_demo_logos(out_dir, task, idx, panels, mask):
    import matplotlib
    matplotlib.use("Agg")
    from deeplift.visualization import viz_sequence
    from deeplift.genomics import TASK_NAMES
    # mask: (3, L) motif positions of the tasks; 1 = GATA, 2 = TAL1
    highlight = {"gold": _runs(mask[1]), "deepskyblue": _runs(mask[2])}
    # the motif instances DeepLIFT (dinucleotide-shuffled references, the
    # fourth row) credits most
    windows = _windows(mask, task, scores=panels[3][1])
    path = os.path.join(out_dir, "demo_task%d_seq%d.png" % (task, idx))
    viz_sequence.plot_logo_windows(
        [array for _, array, _ in panels], windows,
        titles=[t for t, _, _ in panels],
        tracks=[None if hyp else array.sum(-1) for _, array, hyp in panels],
        highlight=highlight,
        window_titles=["positions %d-%d" % (s, e - 1) for s, e in windows],
        suptitle="explaining task %d (%s) on simulated sequence %d\n"
                 "left: the whole sequence (shaded: embedded GATA gold, "
                 "TAL1 blue); right: motif windows as logos"
                 % (task, TASK_NAMES[task], idx),
        note=LOGO_NOTE, save_path=path, dpi=90)
    return path


#: printed under the table: what the AUROC measures, and what it does not
TABLE_NOTE = (
    "Why another method can score higher than DeepLIFT here: this AUROC only "
    "asks whether |score| is larger on the embedded motif's bases than on "
    "the other bases.  On this small model, whose first-layer filters match "
    "the motifs, any method that follows the filters that fire (gradients, "
    "guided backprop) ranks motif bases well.  It does not reward what "
    "DeepLIFT adds in the paper: contributions that add up to the change of "
    "the output from the reference (gradient x input and guided backprop do "
    "not), credit that does not vanish when a unit saturates, and "
    "RevealCancel's separation of positive and negative terms.  Rows that "
    "differ by less than about twice their +- are not distinguished by "
    "these sequences.")


def _auroc_and_se(contribs, mask):
    """(mean, standard error) over sequences of
    :func:`deeplift.genomics.motif_mask_auroc`'s per-sequence AUROCs (the
    mean is its value)."""
    from deeplift import genomics
    values = np.array([genomics.motif_mask_auroc(c[None], m[None])
                       for c, m in zip(contribs, mask)])
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0
    return float(values.mean()), float(se)


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
            aurocs.append(_auroc_and_se(contribs, mask[pos, task]))
            logos[(label, reference, task)] = (contribs[example[task]],
                                               hyp[example[task]])
        rows.append((label, reference, aurocs, time.time() - t0))

    names = ["AUROC t%d %s" % (t, genomics.TASK_NAMES[t])
             for t in range(num_tasks)]
    header = ["method", "reference"] + names + ["time (s)"]
    table = [[r[0], r[1]] + ["%.3f +- %.3f" % a for a in r[2]]
             + ["%.1f" % r[3]] for r in rows]
    widths = [max(len(x[c]) for x in table + [header])
              for c in range(len(header))]
    print()
    print("How well each method's scores find the embedded motifs "
          "(per-position AUROC of |contribution| against the motif "
          "positions, mean +- standard error over the positive sequences "
          "of each task):")
    for row in [header, ["-" * w for w in widths]] + table:
        print("  ".join(("%-*s" if c < 2 else "%*s") % (widths[c], row[c])
                        for c in range(len(row))).rstrip())
    print("gc: each sequence's base composition at every position; time: "
          "scoring of the positives of all tasks, with the model's "
          "conversion and compilation for the first row of a method")
    print(TABLE_NOTE)
    with open(os.path.join(out_dir, "demo_results.tsv"), "w") as handle:
        handle.write("\t".join(header + ["SE " + n for n in names]) + "\n")
        for r in rows:
            handle.write("\t".join(
                [r[0], r[1]] + ["%.4f" % a[0] for a in r[2]]
                + ["%.1f" % r[3]] + ["%.4f" % a[1] for a in r[2]]) + "\n")

    written = []
    for task in range(num_tasks if can_draw else 0):
        idx = int(positives[task][example[task]])
        panels = [
            ("gradient x input (reference zeros): contributions",
             logos[("gradient x input", "zeros", task)][0], False),
            ("guided backprop x input (reference gc): contributions",
             logos[("guided backprop x input", "gc", task)][0], False),
            ("DeepLIFT genomics default, reference gc: contributions",
             logos[("DeepLIFT genomics default", "gc", task)][0], False),
            ("DeepLIFT genomics default, 20 dinucleotide-shuffled "
             "references: contributions",
             logos[("DeepLIFT genomics default", "dinuc-shuffle:20",
                    task)][0], False),
            ("... and its hypothetical contributions (every base at every "
             "position)",
             logos[("DeepLIFT genomics default", "dinuc-shuffle:20",
                    task)][1], True),
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
