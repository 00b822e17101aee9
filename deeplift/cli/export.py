"""``deeplift export STORE``: a complete score store as ChromBPNet's h5
(+ BED), TF-MoDISco-lite's .npz pair or a bigWig track."""
import os

from deeplift.cli.common import CLIError, _check_writable


def cmd_export(args):
    from deeplift.genomics import exports
    from deeplift.genomics.store import ScoreStore, StoreError
    jobs = [("h5", args.h5, {"bed": args.bed}),
            ("modisco", args.modisco, {"window": args.window}),
            ("bigwig", args.bigwig, {})]
    jobs = [job for job in jobs if job[1] is not None]
    if not jobs:
        raise CLIError("choose at least one of --h5, --modisco and --bigwig")
    if args.bed is not None and args.h5 is None:
        raise CLIError("--bed goes with --h5")
    if args.window is not None and args.modisco is None:
        raise CLIError("--window goes with --modisco")
    for fmt, path, _ in jobs:
        targets = ([path + suffix for suffix in (".ohe.npz", ".shap.npz")]
                   if fmt == "modisco" else [path])
        for target in targets:
            _check_writable(target, "--" + fmt)
    if args.bed is not None:
        _check_writable(args.bed, "--bed")
    try:
        store = ScoreStore.open(args.store)
        written = []
        for fmt, path, options in jobs:
            written += exports.export(store, fmt, path, task=args.task,
                                      **options)
    except (StoreError, exports.ExportError) as exc:
        raise CLIError(str(exc))
    print("wrote %s" % ", ".join(os.fspath(p) for p in written))
    return 0


def add_parser(sub):
    """Add the ``export`` subcommand to the subparsers ``sub``."""
    export = sub.add_parser(
        "export", help="write a score store as h5, modisco .npz or bigWig",
        description="Export a complete chunked score store (deeplift "
        "contribs --out SCORES.zarr), reading each chunk once. Files get "
        "the permissions of an ordinary new file (the umask) and appear "
        "only when complete.")
    export.add_argument("store", metavar="SCORES.zarr")
    export.add_argument("--h5", metavar="FILE.h5",
                        help="ChromBPNet's layout: raw/seq (N, 4, L) int8, "
                        "shap/seq (hypothetical) and projected_shap/seq "
                        "float32, plus the interpreted regions as BED")
    export.add_argument("--bed", metavar="FILE.bed",
                        help="where --h5 writes the interpreted regions, "
                        "narrowPeak in row order with the peak names of the "
                        "regions file (default: "
                        "FILE.interpreted_regions.bed)")
    export.add_argument("--modisco", metavar="PREFIX",
                        help="PREFIX.ohe.npz and PREFIX.shap.npz (arr_0, "
                        "(N, 4, W)) for modisco motifs -s ... -a ...")
    export.add_argument("--window", type=int, default=None,
                        help="--modisco: keep the central W bases "
                        "(default: all)")
    export.add_argument("--bigwig", metavar="FILE.bw",
                        help="projected contributions summed over the four "
                        "bases, one value per base (genomic regions only); "
                        "where windows overlap, each base takes the value of "
                        "the window whose centre is nearer (a tie: the one "
                        "starting first; a window with the same centre as "
                        "an earlier one adds nothing)")
    export.add_argument("--task", type=int, default=None,
                        help="the task to export from a several-task store")
    export.set_defaults(func=cmd_export)
