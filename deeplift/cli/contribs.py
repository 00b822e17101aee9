"""``deeplift contribs``: contribution scores of DNA sequences."""
import json

import numpy as np

from deeplift.cli.common import (CLIError, METHOD_HELP, REFERENCE_HELP,
                                 _add_model_arguments, _atomic_write_npz,
                                 _check_file, _check_model_files,
                                 _check_writable, _layer_ref, _load_model,
                                 _modisco_paths, _parse_tasks)


def _read_sequences(args):
    from deeplift import genomics
    if args.fasta is not None:
        _check_file(args.fasta, "FASTA file")
        try:
            names, seqs = genomics.read_fasta(args.fasta)
        except ValueError as exc:
            raise CLIError(str(exc))
        bad = genomics.length_mismatch(seqs)
        if bad is not None:
            raise CLIError(
                "%s: sequences must all have the same length; %r has length "
                "%d but %r has length %d" % (args.fasta, names[0],
                                             len(seqs[0]), names[bad],
                                             len(seqs[bad])))
        return names, genomics.one_hot_encode(seqs)
    _check_file(args.npy, "input file")
    try:
        onehot = np.load(args.npy, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise CLIError("cannot read %s as a .npy array: %s" % (args.npy, exc))
    if isinstance(onehot, np.lib.npyio.NpzFile):
        raise CLIError("%s is an .npz archive; give a .npy file with one "
                       "(N, L, 4) array" % (args.npy,))
    if not (np.issubdtype(onehot.dtype, np.number) or onehot.dtype == bool):
        raise CLIError("%s holds a non-numeric array (dtype %s)"
                       % (args.npy, onehot.dtype))
    if onehot.ndim != 3 or onehot.shape[-1] != 4:
        hint = (" (it looks like (N, 4, L): transpose it to (N, L, 4))"
                if onehot.ndim == 3 and onehot.shape[1] == 4 else "")
        raise CLIError("%s has shape %s; expected one-hot sequences of shape "
                       "(N, L, 4)%s" % (args.npy, onehot.shape, hint))
    if not np.all(np.isfinite(onehot)):
        raise CLIError("%s contains NaN or infinite values" % (args.npy,))
    return [str(i) for i in range(len(onehot))], onehot.astype(np.float32)


def cmd_contribs(args):
    from deeplift import genomics
    _check_model_files(args)
    if args.batch_size < 1:
        raise CLIError("--batch-size must be at least 1")
    if args.ig_steps < 1:
        raise CLIError("--ig-steps must be at least 1")
    task = _parse_tasks(args.task)
    several = isinstance(task, list)
    try:
        method = genomics.normalize_method(args.method)
        ref_kind, ref_value = genomics.parse_reference(args.reference)
    except ValueError as exc:
        raise CLIError(str(exc))
    outputs = ([args.out] if args.format == "npz"
               else _modisco_paths(args.out, task if several else None))
    for path in outputs:
        _check_writable(path)
    names, onehot = _read_sequences(args)
    if len(onehot) == 0:
        raise CLIError("no sequences to score")

    model = _load_model(args, method)
    reference = ref_value if ref_kind == "array" else args.reference
    try:
        hyp, contribs = genomics.score_sequences(
            model, onehot, task_idx=task, method=method,
            reference=reference, seed=args.seed, batch_size=args.batch_size,
            find_scores_layer=args.find_scores_layer,
            target_layer=args.target_layer, progress=not args.quiet,
            ig_steps=args.ig_steps)
    except (ValueError, KeyError) as exc:
        raise CLIError(str(exc).strip("'\""))

    from deeplift import __version__ as version
    settings = {
        "deeplift_version": version, "model": args.model,
        "json": args.json, "yaml": args.yaml,
        "input": args.fasta if args.fasta is not None else args.npy,
        "num_sequences": int(onehot.shape[0]),
        "length": int(onehot.shape[1]), "task": task,
        "method": method, "reference": args.reference, "seed": args.seed,
        "batch_size": args.batch_size,
        "find_scores_layer": args.find_scores_layer,
        "target_layer": args.target_layer, "ig_steps": args.ig_steps,
        "format": args.format,
    }
    settings_json = np.array([json.dumps(settings, sort_keys=True)])
    if args.format == "npz":
        _atomic_write_npz([(args.out, {
            "onehot": onehot, "hypothetical": hyp, "contribs": contribs,
            "names": np.array(names, dtype=str),
            "settings": settings_json})])
        print("wrote %s: onehot, hypothetical, contribs (%s%d x %d x 4), "
              "names, settings" % (args.out, "%d tasks x " % len(task)
                                   if several else "", onehot.shape[0],
                                   onehot.shape[1]))
    else:
        ohe_path, shap_paths = outputs[0], outputs[1:]
        per_task = list(hyp) if several else [hyp]
        _atomic_write_npz(
            [(ohe_path, [np.ascontiguousarray(
                onehot.transpose(0, 2, 1), dtype=np.float32)])]
            + [(path, [np.ascontiguousarray(h.transpose(0, 2, 1),
                                            dtype=np.float32)])
               for path, h in zip(shap_paths, per_task)])
        print("wrote %s (one-hot) and %s (hypothetical contributions), "
              "arrays (%d, 4, %d) under 'arr_0'; run: modisco motifs -s %s "
              "-a %s -n 2000 -w %d" % (ohe_path, ", ".join(shap_paths),
                                       onehot.shape[0], onehot.shape[1],
                                       ohe_path, shap_paths[0],
                                       onehot.shape[1]))
    return 0



def add_parser(sub):
    """Add the ``contribs`` subcommand to the subparsers ``sub``."""
    contribs = sub.add_parser(
        "contribs", help="contribution scores of DNA sequences",
        description="Hypothetical and actual contribution scores of one-hot "
        "DNA sequences for one output of a Keras model. Writes an .npz file "
        "with 'onehot', 'hypothetical' and 'contribs' (N, L, 4; contribs = "
        "hypothetical * onehot), 'names' and 'settings' (a one-element "
        "array holding the settings as a JSON string). With --format "
        "modisco, writes instead OUT.ohe.npz (one-hot) and OUT.shap.npz "
        "(hypothetical contributions), each one (N, 4, L) float32 array "
        "under 'arr_0', the layout read by TF-MoDISco-lite's 'modisco "
        "motifs -s OUT.ohe.npz -a OUT.shap.npz -n MAX_SEQLETS -w L'. "
        "With several tasks (--task 0,2), one forward pass serves them all: "
        "'hypothetical' and 'contribs' get a leading task axis (T, N, L, 4), "
        "and --format modisco writes OUT.taskT.shap.npz per task next to "
        "OUT.ohe.npz. Output files are written atomically.")
    _add_model_arguments(contribs)
    inputs = contribs.add_mutually_exclusive_group(required=True)
    inputs.add_argument("--fasta", metavar="FILE",
                        help="sequences (equal length; .gz accepted; "
                        "lowercase accepted, N and other letters are "
                        "encoded as all-zero rows)")
    inputs.add_argument("--npy", metavar="FILE",
                        help="one-hot sequences, an (N, L, 4) array")
    contribs.add_argument("--task", default="0",
                          help="output unit of the target layer to explain, "
                          "or a comma-separated list of them, e.g. 0,2,5 "
                          "(default: %(default)s)")
    contribs.add_argument("--method", default="genomics_default",
                          help=METHOD_HELP)
    contribs.add_argument("--reference", default="dinuc-shuffle:20",
                          help=REFERENCE_HELP)
    contribs.add_argument("--seed", type=int, default=0,
                          help="seed of the shuffled references "
                          "(default: %(default)s)")
    contribs.add_argument("--batch-size", type=int, default=256,
                          help="(sequence, reference) pairs per batch "
                          "(default: %(default)s)")
    contribs.add_argument("--target-layer", type=_layer_ref, default=-2,
                          help="layer whose output is explained: index "
                          "(Sequential) or name (functional); default: the "
                          "layer before the final activation (-2)")
    contribs.add_argument("--find-scores-layer", type=_layer_ref, default=0,
                          help="layer whose scores are computed (default: "
                          "the input, 0)")
    contribs.add_argument("--ig-steps", type=int, default=20,
                          help="path points for integrated_gradients "
                          "(default: %(default)s)")
    contribs.add_argument("--out", required=True, metavar="FILE.npz",
                          help="output file")
    contribs.add_argument("--format", choices=("npz", "modisco"),
                          default="npz",
                          help="npz (default) or modisco (the OUT.ohe.npz / "
                          "OUT.shap.npz pair)")
    contribs.add_argument("--quiet", action="store_true",
                          help="no progress bar")
    contribs.set_defaults(func=cmd_contribs)
