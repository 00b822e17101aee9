"""Single references at the floor (issue 20, item 3), first call included.

    python bench/bench_single_ref.py [--rounds 3] [--before-root DIR]
                                     [--out bench/RESULTS_single_ref.md]

Workload (a) of bench/run.py (the Basset-like CNN, 512 one-hot sequences of
1000 bp, one GC reference 0.3/0.2/0.2/0.3) on the paths users call, each
contender in a fresh Python process, as a user's script would run it:

* the floor: the tf_keras model loaded from its file and TensorFlow's
  gradient x input of the pre-sigmoid output in a ``tf.function``, batches
  of 128 (``bench/run.py``'s ``floor_function``);
* ``get_target_contribs_func`` (the 0.6.13 API) of the converted model,
  batches of 128, by default (fused from FUSE_MIN_EXAMPLES examples on, so
  fused here) and with ``fuse=False``;
* ``genomics.score_sequences(model, x, reference="gc:0.4")`` (its own
  automatic batch size), by default and with ``fuse=False``.

Each process gets an empty cache folder of its own (``DEEPLIFT_CACHE_DIR``:
no converted model, no XLA kernels on disk: a user's first run), except the
rows marked "XLA kernels on disk": their processes share one cache folder
filled by an untimed run of the same contender first, so their fused
kernels are loaded, not compiled (``deeplift.xla_cache``: every later run of
a user's script).  The table counts the XLA kernels each process wrote
(compiled, whether new or again).

Each process times: loading (the floor: ``load_model``; ours: the
conversion), the first call (which pays tracing, graph optimisation and any
XLA compilation) and the median of three more calls (steady state).  The
rounds run every contender once each in turn (interleaved), and the ratios
to the floor are taken within a round, then the median and range over the
rounds are reported.  ``--before-root``: also time the API's Rescale
default from another source tree (e.g. ``git archive <rev> | tar -x -C
DIR``), for before/after.  ``--fuse-min-elements N[,N...]`` instead sweeps
``deeplift.rules.ops.FUSE_MIN_ELEMENTS`` (the smallest layer whose rule
math is fused): the floor and ``get_target_contribs_func`` (Rescale,
GenomicsDefault; fused by default) with each threshold, no other rows.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def worker(args):
    """One contender in this (fresh) process: prints a JSON line."""
    sys.path.insert(0, HERE)
    sys.path.insert(0, args.root)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["DEEPLIFT_NO_PROGRESS"] = "1"
    process_start = time.time()
    start = time.perf_counter()
    import numpy as np
    import tensorflow as tf  # noqa: F401
    t_import = time.perf_counter() - start
    data = np.load(args.data)
    x, ref = data["x"], data["ref"]
    start = time.perf_counter()
    kind = args.worker.partition(":")[0]
    if kind == "floor":
        import tf_keras as k2
        from run import floor_function
        floor = floor_function(k2.models.load_model(args.h5, compile=False))

        def call():
            return floor(x, ref, 0, 128)
    else:
        call = contender_call(args.worker, args.h5, x, ref)
    t_load = time.perf_counter() - start
    times, cpu = [], []
    for _ in range(4):
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    import deeplift
    written = _xla_kernels_written_since(process_start)
    if not deeplift.__file__.startswith(os.path.abspath(args.root)):
        raise RuntimeError("deeplift was imported from %s, not from %s"
                           % (deeplift.__file__, args.root))
    print(json.dumps({"import": t_import, "load": t_load,
                      "first": times[0],
                      "steady": statistics.median(times[1:]),
                      "first_cpu": cpu[0],
                      "steady_cpu": statistics.median(cpu[1:]),
                      "xla_written": written}))


def _xla_kernels_written_since(when):
    """How many XLA kernels of the cache folder (DEEPLIFT_CACHE_DIR) were
    written at or after ``when`` (seconds since the epoch): a kernel
    compiled again is written again, so 0 means every one was loaded."""
    folder = os.path.join(os.environ.get("DEEPLIFT_CACHE_DIR", ""), "xla")
    return sum(os.stat(os.path.join(root, name)).st_mtime >= when
               for root, _, names in os.walk(folder) for name in names
               if name.endswith(".pb"))


CONTENDERS = [
    ("floor", "floor: TF gradient x input (tf_keras model, tf.function)"),
    ("api:Rescale,default", "get_target_contribs_func, Rescale"),
    ("api:DeepLIFT_GenomicsDefault,default",
     "get_target_contribs_func, DeepLIFT_GenomicsDefault"),
    ("api:Rescale,unfused", "get_target_contribs_func, Rescale, fuse=False"),
    ("api:DeepLIFT_GenomicsDefault,unfused",
     "get_target_contribs_func, DeepLIFT_GenomicsDefault, fuse=False"),
    ("seq:Rescale,default", "genomics.score_sequences, Rescale"),
    ("seq:DeepLIFT_GenomicsDefault,default",
     "genomics.score_sequences, DeepLIFT_GenomicsDefault"),
    ("seq:Rescale,unfused", "genomics.score_sequences, Rescale, fuse=False"),
    ("seq:DeepLIFT_GenomicsDefault,unfused",
     "genomics.score_sequences, DeepLIFT_GenomicsDefault, fuse=False"),
]
#: contenders run again with XLA's kernels on disk from an earlier run
WARM = ["api:Rescale,default", "api:DeepLIFT_GenomicsDefault,default",
        "seq:Rescale,default", "seq:DeepLIFT_GenomicsDefault,default"]
WARM_SUFFIX = ", XLA kernels on disk"


#: a contender's fuse setting -> the ``fuse=`` argument it passes
FUSE = {"default": None, "unfused": False}


def contender_call(name, h5, x, ref):
    """A call of our contender ``name`` (``"api:<mode>,<fuse>"`` or
    ``"seq:<mode>,<fuse>"``, see CONTENDERS) on the one-hot ``x`` and the
    reference ``ref``, the model converted from ``h5`` here (its load
    time)."""
    from deeplift import genomics
    from deeplift.conversion import kerasapi_conversion as kc
    kind, _, rest = name.partition(":")
    mode, fuse, *threshold = rest.split(",")
    fuse = FUSE[fuse]
    if threshold:                # "fme=N": the --fuse-min-elements sweep
        from deeplift.rules import ops
        ops.FUSE_MIN_ELEMENTS = int(threshold[0].split("=")[1])
    model = kc.convert_model_from_saved_files(h5, nonlinear_mxts_mode=mode,
                                              verbose=False)
    if kind == "api":
        func = model.get_target_contribs_func(find_scores_layer_idx=0,
                                              target_layer_idx=-2)
        return lambda: func(task_idx=0, input_data_list=[x],
                            input_references_list=[ref], batch_size=128,
                            progress_update=None, fuse=fuse)
    return lambda: genomics.score_sequences(
        model, x, task_idx=0, method=None, reference="gc:0.4",
        progress=False, fuse=fuse)[1]


def run_one(name, root, h5, data, cache=None):
    """Contender ``name`` in a fresh process with the cache folder
    ``cache`` (None: an empty one of its own); returns its JSON line."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name,
           "--root", root, "--h5", h5, "--data", data]
    env = dict(os.environ, DEEPLIFT_CACHE_DIR=cache or tempfile.mkdtemp())
    env.pop("TF_XLA_FLAGS", None)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError("%s failed:\n%s" % (name, proc.stderr[-3000:]))
    return json.loads(lines[-1])


def fmt(values, digits=3):
    return "%.*f (%.*f-%.*f)" % (digits, statistics.median(values), digits,
                                 min(values), digits, max(values))


def steady_in_one_process(h5, data, rounds):
    """Steady-state calls of the floor and of our public paths (the
    contenders of CONTENDERS) in this one process,
    interleaved for ``rounds`` rounds after a warm-up call each: what a
    fresh process per contender cannot show, since two fresh processes
    doing the same work differ by up to 20% here.  Returns
    ``{label: [(wall, cpu), ...]}``."""
    import numpy as np
    import tf_keras as k2
    from run import floor_function
    arrays = np.load(data)
    x, ref = arrays["x"], arrays["ref"]
    floor = floor_function(k2.models.load_model(h5, compile=False))
    calls = {CONTENDERS[0][1]: lambda: floor(x, ref, 0, 128)}
    for name, label in CONTENDERS[1:]:
        calls[label] = contender_call(name, h5, x, ref)
    for call in calls.values():
        call()
    times = {label: [] for label in calls}
    for _ in range(rounds):
        for label, call in calls.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            call()
            times[label].append((time.perf_counter() - start,
                                 time.process_time() - start_cpu))
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--before-root", default=None)
    parser.add_argument("--before-label", default="before")
    parser.add_argument("--out",
                        default=os.path.join(HERE, "RESULTS_single_ref.md"))
    parser.add_argument("--steady-rounds", type=int, default=7,
                        help="rounds of the steady state in one process "
                        "(0: skip)")
    parser.add_argument("--fuse-min-elements", default=None,
                        metavar="N[,N...]",
                        help="sweep FUSE_MIN_ELEMENTS instead (see above)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--root", default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--h5", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)

    sys.path.insert(0, HERE)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    from run import (basset_keras_model_file, random_onehot, GC_REF,
                     machine_description)
    from timing import write_report
    tmp = tempfile.mkdtemp()
    h5, data = os.path.join(tmp, "basset.h5"), os.path.join(tmp, "x.npz")
    basset_keras_model_file(h5)
    np.savez(data, x=random_onehot(args.n, 1000),
             ref=GC_REF[None, None, :] * np.ones((1, 1000, 4), np.float32))
    warm = os.path.join(tmp, "warm-cache")
    if args.fuse_min_elements:
        contenders = [CONTENDERS[0] + (ROOT,)] + [
            ("api:%s,default,fme=%d" % (mode, n),
             "get_target_contribs_func, %s, FUSE_MIN_ELEMENTS=%d" % (mode, n),
             ROOT)
            for n in map(int, args.fuse_min_elements.split(","))
            for mode in ("Rescale", "DeepLIFT_GenomicsDefault")]
        args.steady_rounds = 0
    else:
        contenders = [(name, label, ROOT) for name, label in CONTENDERS]
        labels = dict(CONTENDERS)
        contenders += [(name, labels[name] + WARM_SUFFIX, ROOT)
                       for name in WARM]
        for name in WARM:            # fills the shared folder (untimed)
            run_one(name, ROOT, h5, data, warm)
    if args.before_root:
        contenders.insert(1, ("api:Rescale,default", "get_target_contribs_"
                              "func, Rescale (%s)" % args.before_label,
                              os.path.abspath(args.before_root)))
        contenders.insert(2, ("api:DeepLIFT_GenomicsDefault,default",
                              "get_target_contribs_func, DeepLIFT_Genomics"
                              "Default (%s)" % args.before_label,
                              os.path.abspath(args.before_root)))
        contenders.append(("seq:DeepLIFT_GenomicsDefault,default",
                           "genomics.score_sequences, DeepLIFT_Genomics"
                           "Default (%s)" % args.before_label,
                           os.path.abspath(args.before_root)))
    loads = [os.getloadavg()]
    runs = {label: [] for _, label, _ in contenders}
    for r in range(args.rounds):
        # rotate the order so that no contender always runs first
        order = contenders[r % len(contenders):] + \
            contenders[:r % len(contenders)]
        for name, label, root in order:
            runs[label].append(run_one(
                name, root, h5, data,
                warm if label.endswith(WARM_SUFFIX) else None))
        loads.append(os.getloadavg())
    floor = runs[CONTENDERS[0][1]]
    lines = [
        "# Single reference on the paths users call, first call included "
        "(bench/bench_single_ref.py)",
        "",
        "Written by `python bench/bench_single_ref.py --rounds %d%s%s`."
        % (args.rounds, " --before-root DIR --before-label %r"
           % args.before_label if args.before_root else "",
           " --fuse-min-elements %s" % args.fuse_min_elements
           if args.fuse_min_elements else ""),
        "",
        "- %s" % machine_description(),
        "- Basset-like CNN (bench/run.py), %d x 1000 bp, one GC reference; "
        "each contender in a fresh process per round, %d interleaved rounds "
        "(order rotated each round); seconds: median (range) over the "
        "rounds; ratios to the floor taken within a round." % (
            args.n, args.rounds),
        "- 1-minute load average (2 CPUs) before and after each round: %s"
        % ", ".join("%.1f" % l[0] for l in loads),
        "",
        "Wall-clock seconds:",
        "",
        "| contender | load / convert | first call | steady call | first "
        "call / floor's | steady / floor's | first call + load / floor's "
        "| XLA kernels written |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, label, _ in contenders:
        rs = runs[label]
        first = [r["first"] / f["first"] for r, f in zip(rs, floor)]
        steady = [r["steady"] / f["steady"] for r, f in zip(rs, floor)]
        total = [(r["first"] + r["load"]) / (f["first"] + f["load"])
                 for r, f in zip(rs, floor)]
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            label, fmt([r["load"] for r in rs]),
            fmt([r["first"] for r in rs]), fmt([r["steady"] for r in rs]),
            fmt(first, 2), fmt(steady, 2), fmt(total, 2),
            ", ".join(str(r.get("xla_written", "-")) for r in rs)))
    lines += [
        "",
        "CPU seconds of the process (all its threads; what the call costs "
        "the machine, less sensitive than wall time to the other jobs' "
        "load):",
        "",
        "| contender | first call | steady call | first call / floor's | "
        "steady / floor's |",
        "|---|---|---|---|---|"]
    for _, label, _ in contenders:
        rs = runs[label]
        lines.append("| %s | %s | %s | %s | %s |" % (
            label, fmt([r["first_cpu"] for r in rs]),
            fmt([r["steady_cpu"] for r in rs]),
            fmt([r["first_cpu"] / f["first_cpu"]
                 for r, f in zip(rs, floor)], 2),
            fmt([r["steady_cpu"] / f["steady_cpu"]
                 for r, f in zip(rs, floor)], 2)))
    lines += ["", "TensorFlow import per process: %s s." % fmt(
        [r["import"] for rs in runs.values() for r in rs], 1)]
    if args.steady_rounds:
        steady = steady_in_one_process(h5, data, args.steady_rounds)
        base = steady[CONTENDERS[0][1]]
        lines += [
            "", "## Steady state in one process", "",
            "The same calls in one process (the batches of the table "
            "above), %d interleaved rounds after a warm-up call each; ratios "
            "to the floor within a round. 1-minute load average after: "
            "%.1f." % (args.steady_rounds, os.getloadavg()[0]), "",
            "| contender | wall seconds | CPU seconds | wall / floor's | CPU "
            "/ floor's |", "|---|---|---|---|---|"]
        for label, rs in steady.items():
            lines.append("| %s | %s | %s | %s | %s |" % (
                label, fmt([r[0] for r in rs]), fmt([r[1] for r in rs]),
                fmt([r[0] / f[0] for r, f in zip(rs, base)], 2),
                fmt([r[1] / f[1] for r, f in zip(rs, base)], 2)))
    write_report(args.out, lines)


if __name__ == "__main__":
    main()
