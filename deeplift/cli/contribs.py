"""``deeplift contribs``: contribution scores of DNA sequences."""
import json
import logging
import os
import sys

import numpy as np

from deeplift import methods
from deeplift.cli.common import (CLIError, METHOD_HELP, REFERENCE_HELP,
                                 _add_model_arguments, _atomic_write_npz,
                                 _check_file, _check_model_files,
                                 _check_parent, _check_writable, _cli_words,
                                 _layer_ref, _load_model,
                                 _modisco_paths, _parse_tasks)


MAXPOOL_MODES = ("summation_to_delta", "gradient")


def _input_source(args, length):
    """``(reader name, options)`` of the input the arguments name."""
    if args.genome is not None:
        return ("regions", {"genome": args.genome, "regions": args.regions,
                            "length": length, "center": args.center})
    if args.fasta is not None:
        return ("fasta", {"path": args.fasta})
    return ("npy", {"path": args.npy})


def _check_arguments(args):
    """Every check that needs neither TensorFlow nor the model: options,
    files, the output path.  Returns (method, task)."""
    from deeplift.genomics.references import parse_reference
    if args.regions is not None and args.genome is None:
        raise CLIError("--regions needs --genome GENOME.fa")
    if args.genome is not None and args.regions is None:
        raise CLIError("--genome needs --regions PEAKS.bed")
    if args.batch_size is not None and args.batch_size < 1:
        raise CLIError("--batch-size must be at least 1")
    if args.ig_steps < 1:
        raise CLIError("--ig-steps must be at least 1")
    if args.seed < 0:
        raise CLIError("--seed must be >= 0")
    if args.chunk_size < 1:
        raise CLIError("--chunk-size must be at least 1")
    if args.length is not None and args.length < 1:
        raise CLIError("--length must be at least 1")
    if args.workers is not None and args.workers < 1:
        raise CLIError("--workers must be at least 1")
    if args.worker_timeout < 0:
        raise CLIError("--worker-timeout must be >= 0 (0: wait forever)")
    if args.dashboard is not None and args.workers is None:
        raise CLIError("--dashboard goes with --workers (a running "
                       "cluster has its own)")
    if sum(x is not None for x in (args.workers, args.scheduler,
                                   args.scheduler_file)) > 1:
        raise CLIError("give only one of --workers, --scheduler and "
                       "--scheduler-file")
    task = _parse_tasks(args.task)
    given = args.target_layer is not None
    if not given:
        args.target_layer = -2
    if args.target is not None:
        if given:
            raise CLIError("give --target or --target-layer, not both")
        if args.target == "profile" and task != 0:
            raise CLIError("--target profile explains the whole profile; "
                           "--task does not apply")
        if args.target not in ("counts", "profile"):
            _track_target(args)       # checks the form
            if task != 0:
                raise CLIError("--target track:T explains one track summed "
                               "over its bins; --task does not apply")
            if args.target_convention is not None:
                raise CLIError("--target-convention goes with --target "
                               "profile")
    elif args.target_convention is not None:
        raise CLIError("--target-convention goes with --target profile")
    if args.bins is not None and not str(args.target).startswith("track:"):
        raise CLIError("--bins goes with --target track:T")
    try:
        method = methods.normalize(args.method)
        parse_reference(args.reference)
    except ValueError as exc:
        raise CLIError(str(exc).replace("unknown method", "unknown --method")
                       .replace("unknown reference", "unknown --reference"))
    if args.custom_conversions is not None and (
            args.custom_conversions.count(":") != 1
            or not all(args.custom_conversions.split(":"))):
        raise CLIError("--custom-conversions takes module:name, got %r"
                       % (args.custom_conversions,))
    _check_model_files(args)
    for option in ("fasta", "npy", "genome", "regions"):
        path = getattr(args, option)
        if path is not None:
            _check_file(path, "--%s file" % option)
    fmt = _format(args)
    if fmt == "zarr":
        _check_store_path(args.out, args.overwrite)
    else:
        if args.workers or args.scheduler or args.scheduler_file:
            raise CLIError("--workers / --scheduler write a chunked store: "
                           "give --out SCORES.zarr")
        several = isinstance(task, list)
        for path in ([args.out] if fmt == "npz" else
                     _modisco_paths(args.out, task if several else None)):
            _check_writable(path)
    return method, task


def _format(args):
    if args.format is not None:
        if args.format == "zarr" and not args.out.rstrip("/").endswith(
                ".zarr"):
            raise CLIError("--format zarr needs --out ending in .zarr")
        return args.format
    return "zarr" if args.out.rstrip("/").endswith(".zarr") else "npz"


def _check_store_path(path, overwrite):
    from deeplift.genomics.store import LOCK_NAME, is_store
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise CLIError("--out %s exists and is not a directory" % (path,))
        if set(os.listdir(path)) - {LOCK_NAME} and not is_store(path):
            raise CLIError("--out %s exists and is not a deeplift score "
                           "store; choose another --out" % (path,))
    _check_parent(path)


def _conversion_options(args):
    options = {"maxpool_deeplift_mode": args.maxpool_mode}
    if args.trust_model:
        options["trust_model"] = True
    if args.import_packages:
        options["import_packages"] = tuple(args.import_packages)
    if args.custom_conversions is not None:
        options["custom_conversion_funcs"] = args.custom_conversions
    return options


def _track_target(args):
    """The target string of ``--target track:T`` and ``--bins``
    (``"track:T"`` or ``"track:T:central:K"``)."""
    from deeplift.targets import parse_bins, parse_track_target
    target = args.target
    if not str(target).startswith("track:"):
        raise CLIError("--target must be counts, profile or track:T (T a "
                       "track index), got %r" % (target,))
    try:
        parse_track_target(target)
        if len(target.split(":")) != 2:
            raise ValueError("--target takes track:T; give the bins with "
                             "--bins central:K")
        central = parse_bins(args.bins)
    except ValueError as exc:
        raise CLIError(str(exc).replace("bins must", "--bins must")
                       .replace("a track target is", "--target takes"))
    return target if central is None else "%s:central:%d" % (target,
                                                              central)


def _target_options(args):
    """``target`` / ``target_convention`` keywords for the scoring code."""
    if args.target is None:
        return {}
    if args.target not in ("counts", "profile"):
        return {"target": _track_target(args), "target_convention": "shap"}
    return {"target": args.target,
            "target_convention": args.target_convention or "shap"}


def _model_length(model):
    shape = model.input_layer().get_shape()
    if len(shape) != 3 or shape[-1] != 4:
        raise CLIError("the model's input has shape %s, not (None, L, 4) "
                       "one-hot DNA" % (tuple(shape),))
    return shape[1]


def _length(args, model):
    """The sequence length: the model's, checked against --length."""
    length = _model_length(model)
    if args.length is not None and length is not None \
            and args.length != length:
        raise CLIError("--length %d differs from the model's input length "
                       "%d" % (args.length, length))
    length = length if length is not None else args.length
    if length is None and args.genome is not None:
        raise CLIError("the model's input length is not fixed; give "
                       "--length")
    return length


def _open_input(args, length):
    from deeplift.genomics.sources import open_source
    kind, options = _input_source(args, length)
    try:
        source = open_source(kind, **options)
    except ValueError as exc:
        raise CLIError(str(exc))
    if source.num == 0:
        raise CLIError("every region runs off its chromosome"
                       if kind == "regions" else "no sequences to score")
    return kind, options, source


def _report_dropped(source):
    """Say on stderr how many regions were left out (after scoring, so
    that an error stays the only line)."""
    if source.kind == "regions":
        dropped = int((~source.all_regions.kept).sum())
        if dropped:
            sys.stderr.write(
                "deeplift: %d of %d regions run off their chromosome and "
                "are left out (kept=False in the region table)\n"
                % (dropped, len(source.all_regions)))


def _settings(args, method, task, num, length, fmt):
    from deeplift import __version__ as version
    return {
        "deeplift_version": version, "model": args.model,
        "json": args.json, "yaml": args.yaml,
        "input": (args.fasta if args.fasta is not None else
                  args.npy if args.npy is not None else args.regions),
        "genome": args.genome, "center": args.center,
        "num_sequences": int(num), "length": int(length), "task": task,
        "method": method, "reference": args.reference, "seed": args.seed,
        "batch_size": args.batch_size,
        "find_scores_layer": args.find_scores_layer,
        "target_layer": args.target_layer, "ig_steps": args.ig_steps,
        "maxpool_mode": args.maxpool_mode,
        "target": args.target, "target_convention": args.target_convention,
        "bins": args.bins,
        "custom_conversions": args.custom_conversions,
        "format": fmt,
    }


def cmd_contribs(args):
    method, task = _check_arguments(args)
    fmt = _format(args)
    # the store this run resumes, opened once: its oneDNN setting for the
    # workers started now, its batch size and fusion decision for the plan
    resumed = (_resumed_store(args.out, args.overwrite) if fmt == "zarr"
               else None)
    _prestart_workers(args, fmt, resumed)
    model = _load_model(args, method, **_conversion_options(args))
    length = _length(args, model)
    kind, options, source = _open_input(args, length)
    if source.length != length and length is not None:
        raise CLIError("the sequences have length %d but the model expects "
                       "length %d" % (source.length, length))
    length = source.length
    settings = _settings(args, method, task, source.num, length, fmt)
    if fmt == "zarr":
        return _contribs_to_store(args, model, method, task, kind, options,
                                  source, settings, resumed)
    return _contribs_to_npz(args, model, method, task, source, settings, fmt)


def _contribs_to_npz(args, model, method, task, source, settings, fmt):
    from deeplift import genomics
    several = isinstance(task, list)
    onehot = source.onehot(0, source.num)
    names = (source.names if source.names is not None else
             ["%s:%d-%d" % (source.table.chrom_names[c], s, e) for c, s, e in
              zip(source.table.chrom, source.table.start, source.table.end)])
    try:
        hyp, contribs = genomics.score_sequences(
            model, onehot, task_idx=task, method=method,
            reference=args.reference, seed=args.seed,
            batch_size=args.batch_size,
            find_scores_layer=args.find_scores_layer,
            target_layer=args.target_layer, progress=not args.quiet,
            ig_steps=args.ig_steps, **_target_options(args))
    except (ValueError, KeyError) as exc:
        raise CLIError(_cli_words(str(exc).strip("'\"")))
    _report_dropped(source)
    _warn_on_deltas(model, method, args, source)
    settings_json = np.array([json.dumps(settings, sort_keys=True)])
    if fmt == "npz":
        _atomic_write_npz([(args.out, {
            "onehot": onehot, "hypothetical": hyp, "contribs": contribs,
            "names": np.array(names, dtype=str),
            "settings": settings_json})])
        print("wrote %s: onehot, hypothetical, contribs (%s%d x %d x 4), "
              "names, settings" % (args.out, "%d tasks x " % len(task)
                                   if several else "", onehot.shape[0],
                                   onehot.shape[1]))
        return 0
    outputs = _modisco_paths(args.out, task if several else None)
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


#: the CLI warns when a convergence delta exceeds this fraction of the
#: scale of the contributions (mean over sequences of sum |contribution|)
DELTA_WARNING = 1e-3
#: sequences the convergence check scores
DELTA_CHECK_SEQUENCES = 4


def _warn_on_deltas(model, method, args, source):
    """For a DeepLIFT method, score the first few sequences again with
    their references and warn on stderr when summation-to-delta fails
    noticeably (e.g. max pooling in ``gradient`` mode); gradient methods
    are not expected to sum to the output difference and are not
    checked."""
    if methods.get(method).family != methods.DEEPLIFT:
        return
    from deeplift.genomics.scoring import ScoringPlan
    num = min(DELTA_CHECK_SEQUENCES, source.num)
    onehot = source.onehot(0, num)
    task = _parse_tasks(args.task)
    plan = ScoringPlan(model, method, source.num, source.length,
                       task[0] if isinstance(task, list) else task,
                       args.reference, args.seed, args.batch_size, None,
                       False, args.find_scores_layer, args.target_layer,
                       **_target_options(args))
    result = plan.scorer.run(onehot, plan.refs.references(onehot, 0),
                             task_idx=plan.task_idx,
                             target_weights=plan.target_weights,
                             batch_size=args.batch_size, return_deltas=True,
                             progress=False)
    scale = float(np.mean(np.abs(result.contribs).sum(axis=(1, 2))))
    worst = float(np.max(np.abs(result.deltas)))
    if worst > DELTA_WARNING * max(scale, 1e-12):
        sys.stderr.write(
            "deeplift: warning: contributions do not add up to the output "
            "difference (largest convergence delta %.3g, %.1f%% of the "
            "contribution scale, on the first %d sequences)%s\n"
            % (worst, 100 * worst / max(scale, 1e-12), num,
               "; --maxpool-mode summation_to_delta keeps it"
               if args.maxpool_mode == "gradient" else ""))


def _fingerprint(args, method, task, source, length, fmt, spec_fuse,
                 batch_size):
    from deeplift.genomics.jobs import model_key
    from deeplift.genomics.regions import file_digest
    fp = {"model_sha256": model_key(args.model, args.json, args.yaml),
          "method": method, "reference": args.reference, "seed": args.seed,
          "task": task, "target_layer": args.target_layer,
          "find_scores_layer": args.find_scores_layer,
          "length": int(length), "dtype": args.dtype,
          "chunk_size": args.chunk_size, "batch_size": batch_size,
          "maxpool_mode": args.maxpool_mode, "fuse": bool(spec_fuse),
          "custom_conversions": args.custom_conversions}
    fp.update(_target_options(args))
    if methods.get(method).family == methods.INTEGRATED_GRADIENTS:
        fp["ig_steps"] = args.ig_steps
    if args.reference.strip().lower().endswith(".npy"):
        fp["reference_sha256"] = file_digest(args.reference.strip())
    fp.update(source.fingerprint())
    return fp


def _resumed_store(path, overwrite):
    """The store at ``path`` that this run resumes (its ``kernels`` and
    ``fingerprint`` say what it was created with), or None (a new store,
    ``--overwrite``, or not one of ours)."""
    from deeplift.genomics.store import ScoreStore, StoreError, is_store
    if overwrite or not is_store(path):
        return None
    try:
        return ScoreStore.open(path)
    except StoreError:
        return None


def _prestart_workers(args, fmt, resumed):
    """With ``--workers`` (a ``fmt`` "zarr" store): start the fork server
    the local workers come from now, so that they import TensorFlow while
    this process reads the model (the oneDNN setting of the store
    ``resumed``, if any)."""
    if args.workers is None or fmt != "zarr":
        return
    from deeplift import distributed     # imports no Dask
    kernels = resumed.kernels if resumed is not None else None
    distributed.prestart_workers(bool(kernels.get("onednn")) if kernels
                                 else None)


def _contribs_to_store(args, model, method, task, kind, options, source,
                       settings, resumed):
    from deeplift.genomics import store as store_module
    from deeplift.genomics.jobs import JobSpec, run_job
    from deeplift.genomics.scoring import ScoringPlan
    # a store resumed keeps the batch size chosen when it was created
    # (whatever this machine would choose) and its XLA-fusion decision
    # (derived from its size by a threshold that may differ between
    # versions; it also decides whether the job's last call is padded,
    # ScoringPlan.score, so the last rows' bytes follow it)
    stored = resumed.fingerprint if resumed is not None else {}
    batch_size = (args.batch_size if args.batch_size is not None
                  else stored.get("batch_size"))
    fuse = stored.get("fuse")
    try:
        plan = ScoringPlan(model, method, source.num, source.length, task,
                           args.reference, args.seed, batch_size,
                           args.ig_steps, fuse, args.find_scores_layer,
                           args.target_layer, **_target_options(args))
    except (ValueError, KeyError) as exc:
        raise CLIError(_cli_words(str(exc).strip("'\"")))
    # the batch size as resolved here (automatic: by this machine), so
    # that every worker and every resumed run uses the same one
    fingerprint = _fingerprint(args, method, task, source, source.length,
                               "zarr", plan.fuse, plan.requested_batch_size)
    settings = dict(settings, batch_size=plan.requested_batch_size)
    kernels = store_module.current_kernels()
    several = isinstance(task, list)
    spec = JobSpec(
        model=os.path.abspath(args.model), store=os.path.abspath(args.out),
        source=(kind, _absolute(options)), num=source.num,
        length=source.length, method=method,
        json_file=_abs_or_none(args.json), yaml_file=_abs_or_none(args.yaml),
        model_key=fingerprint["model_sha256"], task_idx=task,
        reference=args.reference, seed=args.seed,
        batch_size=plan.requested_batch_size, ig_steps=args.ig_steps,
        fuse=plan.fuse,
        find_scores_layer=args.find_scores_layer,
        target_layer=args.target_layer, **_target_options(args),
        conversion=_conversion_options(args))
    distributed_run = (args.workers is not None or args.scheduler is not None
                       or args.scheduler_file is not None)
    from deeplift.distributed import DistributedError
    lock = store_module.StoreLock(args.out, break_lock=args.break_lock)
    connection = None
    try:
        lock.acquire()
        if distributed_run:
            # before the store exists: an unreachable scheduler leaves none
            from deeplift import distributed
            # the client's warnings (a lost worker, rescheduled chunks)
            # are handled here; they are not for the console (after the
            # import, which sets distributed's configured levels)
            distributed._import_distributed()
            logging.getLogger("distributed").setLevel(logging.ERROR)
            connection = distributed.connect(
                args.workers, args.scheduler, args.scheduler_file,
                dashboard=args.dashboard,
                kernels=(resumed.kernels if resumed is not None else None)
                or kernels)
        store = store_module.prepare(
            args.out, fingerprint, overwrite=args.overwrite,
            kernels=kernels,
            allow_kernel_mismatch=args.allow_kernel_mismatch,
            settings=settings, num=source.num, length=source.length,
            chunk_size=args.chunk_size, tasks=task if several else None,
            dtype=args.dtype,
            regions=getattr(source, "all_regions", None),
            names=source.names if kind == "fasta" else None,
            chrom_sizes=(list(source.genome.sizes.items())
                         if kind == "regions" else None))
        pending = store.pending()
        done_before = store.num_chunks - len(pending)
        options = {}
        if connection is not None:
            options = {"connection": connection,
                       "worker_timeout": args.worker_timeout,
                       "kernels": store.kernels or kernels,
                       "allow_kernel_mismatch": args.allow_kernel_mismatch}
        run_job(spec, pending, model=model, progress=not args.quiet,
                **options)
    except (DistributedError, store_module.StoreError) as exc:
        raise CLIError(str(exc))
    finally:
        try:
            if connection is not None:
                connection.close()
        finally:
            lock.release()
    _report_dropped(source)
    if pending:
        _warn_on_deltas(model, method, args, source)
    print("wrote %s: %d chunks of %d rows (%d scored now, %d done before); "
          "deeplift status %s; deeplift export %s --h5/--modisco/--bigwig"
          % (args.out, store.num_chunks, args.chunk_size, len(pending),
             done_before, args.out, args.out))
    return 0


def _abs_or_none(path):
    return None if path is None else os.path.abspath(path)


def _absolute(options):
    return {k: (os.path.abspath(v) if k in ("genome", "regions", "path")
                else v) for k, v in options.items()}


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
    inputs.add_argument("--genome", metavar="GENOME.fa",
                        help="genome FASTA (plain or bgzip; the .fai index "
                        "is built next to it if missing), with --regions")
    contribs.add_argument("--regions", metavar="PEAKS.bed",
                          help="BED or narrowPeak file (.gz accepted) of "
                          "regions of --genome; each is centred (--center) "
                          "and cut to the model's input length; regions "
                          "running off a chromosome are left out and "
                          "counted on stderr")
    contribs.add_argument("--center", choices=("auto", "summit", "mid"),
                          default="auto",
                          help="centre of each region: the narrowPeak summit "
                          "(column 10), the midpoint, or auto (the summit "
                          "where there is one; default)")
    contribs.add_argument("--length", type=int, default=None,
                          help="sequence length; must equal the model's "
                          "input length (needed only when it is not fixed)")
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
    contribs.add_argument("--batch-size", type=int, default=None,
                          help="(sequence, reference) pairs per compiled "
                          "call (default: chosen for the machine, so that a "
                          "batch's largest activation is about 16 MiB on CPU; "
                          "256 on a GPU)")
    contribs.add_argument("--target", metavar="counts|profile|track:T",
                          help="for a two-headed BPNet / ChromBPNet-style "
                          "model: the counts head, or the profile head "
                          "through ChromBPNet's weighted, mean-normalised "
                          "logits sum(stop_grad(softmax(l) - 1/L) * l); the "
                          "heads are found by their output shapes. For a "
                          "multi-bin, multi-track model (Enformer, Borzoi: "
                          "output (N, bins, tracks)): track:T, track T of "
                          "the output summed over the bins of --bins")
    contribs.add_argument("--bins", metavar="all|central:K",
                          help="with --target track:T: sum over all bins "
                          "(default) or the central K bins")
    contribs.add_argument("--target-convention", choices=("shap", "fixed"),
                          help="--target profile: 'shap' (default; per-pair "
                          "weights 0.5 (w(x) + w(ref)) - 1/L, reproduces "
                          "ChromBPNet's DeepSHAP numbers) or 'fixed' "
                          "(weights softmax(l(x)) - 1/L)")
    contribs.add_argument("--target-layer", type=_layer_ref, default=None,
                          help="layer whose output is explained: index "
                          "(Sequential) or name (functional); default: the "
                          "layer before the final activation (-2)")
    contribs.add_argument("--find-scores-layer", type=_layer_ref, default=0,
                          help="layer whose scores are computed (default: "
                          "the input, 0)")
    contribs.add_argument("--ig-steps", type=int,
                          default=methods.get("integrated_gradients").ig_steps,
                          help="path points for integrated_gradients "
                          "(default: %(default)s)")
    contribs.add_argument("--maxpool-mode", choices=MAXPOOL_MODES,
                          default="summation_to_delta",
                          help="max pooling rule: summation_to_delta "
                          "(default: contributions add up to the output "
                          "difference) or gradient (0.6.13's default)")
    contribs.add_argument("--custom-conversions", metavar="MODULE:NAME",
                          help="conversions for Keras layers deeplift does "
                          "not know: a dict of Keras class names to "
                          "conversion functions, or a function returning "
                          "one (see custom_conversion_funcs)")
    contribs.add_argument("--trust-model", action="store_true",
                          help="let Keras load the model's Lambda layers, "
                          "whose Python code then runs (to trace them, e.g. "
                          "ChromBPNet's counts head): only for a file you "
                          "trust")
    contribs.add_argument("--out", required=True,
                          metavar="FILE.npz|SCORES.zarr",
                          help="output file, or a chunked Zarr store (a path "
                          "ending in .zarr) written as chunks complete and "
                          "resumed by the same command")
    contribs.add_argument("--format", choices=("npz", "modisco", "zarr"),
                          default=None,
                          help="npz, modisco (the OUT.ohe.npz / "
                          "OUT.shap.npz pair) or zarr; default: zarr for an "
                          "--out ending in .zarr, else npz")
    store = contribs.add_argument_group(
        "chunked store (--out SCORES.zarr)")
    store.add_argument("--chunk-size", type=int, default=256,
                       help="rows per chunk, the unit of work and of "
                       "resuming (default: %(default)s)")
    store.add_argument("--dtype", choices=("float32", "float16"),
                       default="float32",
                       help="dtype of the stored contributions "
                       "(default: %(default)s)")
    store.add_argument("--overwrite", action="store_true",
                       help="replace a store that holds another job")
    store.add_argument("--break-lock", action="store_true",
                       help="remove the lock of a run that is gone (a lock "
                       "left by a dead process of this host is removed "
                       "without it); a store in use by a live run is "
                       "otherwise refused")
    store.add_argument("--allow-kernel-mismatch", action="store_true",
                       help="resume a store scored with another TensorFlow "
                       "version or oneDNN setting (TF_ENABLE_ONEDNN_OPTS); "
                       "its chunks then round differently")
    dask = contribs.add_argument_group(
        "Dask distributed (pip install 'deeplift[distributed]')")
    dask.add_argument("--workers", type=int, default=None,
                      help="start a local cluster of N worker processes")
    dask.add_argument("--scheduler", metavar="ADDRESS",
                      help="join a running Dask scheduler, e.g. "
                      "tcp://host:8786")
    dask.add_argument("--scheduler-file", metavar="FILE",
                      help="join the Dask scheduler described by FILE "
                      "(dask scheduler --scheduler-file FILE)")
    dask.add_argument("--worker-timeout", type=float, metavar="SECONDS",
                      default=300,
                      help="give up (exit 2; done chunks are kept) when "
                      "the cluster has had no worker for this long "
                      "(default: %(default)s; 0: wait forever)")
    dask.add_argument("--dashboard", metavar="ADDRESS",
                      help="with --workers: serve Dask's dashboard at "
                      "ADDRESS, e.g. :8787 (default: none)")
    contribs.add_argument("--quiet", action="store_true",
                          help="no progress bar")
    contribs.set_defaults(func=cmd_contribs)
