"""Side-by-side benchmark harness (issue 6).

    python bench/run.py [--quick] [--skip-original] [--out bench/RESULTS.md]

Runs, in one process tree and one run, after a warm-up, the median of
several repetitions (the floor and this package's variants of a workload
round-robin, so that changes in machine load hit them alike; the original
in its own process, one per mode, with TensorFlow's default oneDNN
kernels like the other contenders) of:
  (a) a Basset-like CNN (1000 bp one-hot, 8 sigmoid tasks), 512 sequences,
      batch 128, GC reference: this package (Rescale, RevealCancel,
      DeepLIFT_GenomicsDefault, Gradient), the floor (TensorFlow's own
      gradient x input of the same Keras model in a tf.function) and the
      original deeplift 0.6.13 under tensorflow.compat.v1 (subprocess);
  (b) the same model, 32 sequences x 20 dinucleotide-shuffled references;
  (c) the real MNIST CNN of ../shared (1,000 digits), when present;
  (d) dinucleotide shuffles of 100 x 1000 bp x 20 (bench/bench_dinuc.py);
  (e) with ``--e-args``, many references on a ChromBPNet-shaped model
      (bench/bench_multiref.py; its section of the file is kept otherwise);
plus all-8-tasks vs one task, and a retracing check.  Writes a markdown
table with ratios to the floor to ``--out``.
"""
import argparse
import gzip
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from timing import cpu_name, median_time, round_robin, write_report

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.environ.get("DEEPLIFT_SHARED_DIR",
                        os.path.join(os.path.dirname(ROOT), "shared"))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("DEEPLIFT_NO_PROGRESS", "1")

import tensorflow as tf  # noqa: E402

from deeplift.scoring import FUSE_MIN_EXAMPLES  # noqa: E402

GC_REF = np.array([0.3, 0.2, 0.2, 0.3], dtype=np.float32)

# every timed run of time_side_by_side, by (workload label, contender)
ALL_TIMES = {}


def basset_keras_model_file(path):
    """Build the Basset-like CNN with tf_keras (Keras 2 HDF5 format, read
    by both this package and the original) and save it."""
    import tf_keras as k2
    k2.utils.set_random_seed(0)
    model = k2.Sequential([
        k2.layers.Conv1D(64, 19, activation="relu",
                         input_shape=(1000, 4)),
        k2.layers.MaxPooling1D(3),
        k2.layers.Conv1D(64, 11, activation="relu"),
        k2.layers.MaxPooling1D(4),
        k2.layers.Conv1D(64, 7, activation="relu"),
        k2.layers.MaxPooling1D(4),
        k2.layers.Flatten(),
        k2.layers.Dense(128, activation="relu"),
        k2.layers.Dense(128, activation="relu"),
        k2.layers.Dense(8),
        k2.layers.Activation("sigmoid"),
    ])
    model.save(path)
    return model


def random_onehot(n, length, seed=0):
    rng = np.random.RandomState(seed)
    idx = rng.randint(0, 4, size=(n, length))
    return np.eye(4, dtype=np.float32)[idx]


def grad_x_input_task0(pre):
    """TensorFlow's own gradient x input of output 0 of the tf_keras model
    ``pre``: a ``tf.function`` ``(x, ref) -> (N, L, D)``, x and ref
    (N, L, D) float32 (the profiles' floor)."""
    spec = tf.TensorSpec((None,) + tuple(pre.input_shape[1:]), tf.float32)

    @tf.function(input_signature=[spec, spec])
    def grad_times_input(x, ref):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = pre(x, training=False)[:, 0]
        return tape.gradient(out, x) * (x - ref)
    return grad_times_input


def floor_function(keras_model):
    """TensorFlow's own gradient x input of the pre-sigmoid output."""
    import tf_keras as k2
    pre = k2.Model(keras_model.inputs, keras_model.layers[-2].output)

    @tf.function(input_signature=[
        tf.TensorSpec((None,) + tuple(pre.input_shape[1:]), tf.float32),
        tf.TensorSpec((None,) + tuple(pre.input_shape[1:]), tf.float32),
        tf.TensorSpec((), tf.int32)])
    def grad_times_input(x, ref, task):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = tf.gather(pre(x, training=False), task, axis=1)
        return tape.gradient(out, x) * (x - ref)

    def run(x, ref, task, batch_size):
        parts = []
        for s in range(0, len(x), batch_size):
            r = ref if len(ref) == 1 else ref[s:s + batch_size]
            parts.append(grad_times_input(
                x[s:s + batch_size], np.broadcast_to(
                    r, x[s:s + batch_size].shape), task).numpy())
        return np.concatenate(parts)
    return run


def our_function(h5_file, mode, target_idx=-2):
    from deeplift.conversion import kerasapi_conversion as kc
    model = kc.convert_model_from_saved_files(h5_file,
                                              nonlinear_mxts_mode=mode,
                                              verbose=False)
    return model.get_target_contribs_func(find_scores_layer_idx=0,
                                          target_layer_idx=target_idx)


def run_original(h5_file, data_file, modes, batch_size, repeats, task,
                 target_idx=-2):
    """Time the original 0.6.13 in a subprocess; returns {mode: seconds}
    and its scores (for the equality check), or an error string."""
    out = tempfile.mktemp(suffix=".npz")
    cmd = [sys.executable, os.path.join(HERE, "original_worker.py"),
           h5_file, data_file, out, ",".join(modes), str(batch_size),
           str(repeats), str(task), str(target_idx)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return None, proc.stderr.strip().splitlines()[-1:] or ["failed"]
    result = dict(np.load(out, allow_pickle=True))
    os.remove(out)
    return result, None


def our_contenders(model_file, modes, x, ref, batch_size):
    """This package's contribs for each mode as zero-argument callables,
    with the default settings and, where it applies, with ``fuse=True``
    (the rules' elementwise math XLA-fused: the default only from
    FUSE_MIN_EXAMPLES examples per call on; its compilation falls in the
    warm-up, not in the timed runs).  Returns {(mode, fuse): (callable,
    contribs function)}."""
    contenders = {}
    for mode in modes:
        for fuse in (None, True):
            if fuse and (len(x) >= FUSE_MIN_EXAMPLES or mode == "Gradient"):
                continue
            func = our_function(model_file, mode)
            call = (lambda func=func, fuse=fuse: func(
                task_idx=0, input_data_list=[x], input_references_list=[ref],
                batch_size=batch_size, progress_update=None, fuse=fuse))
            contenders[(mode, fuse)] = (call, func)
    return contenders


def time_side_by_side(label, floor_label, floor_call, contenders, extra,
                      rows, args):
    """Time the floor, our contenders and ``extra`` ({row name: callable})
    round-robin (bench.timing.round_robin); add the rows.  Returns
    (floor seconds, {(mode, fuse): seconds}, {row name: seconds})."""
    stages = {"floor": floor_call}
    stages.update({key: call for key, (call, _) in contenders.items()})
    stages.update(extra)
    runs = dict(zip(stages, (wall for wall, _ in round_robin(
        list(stages.values()), args.repeats))))
    t = {name: statistics.median(wall) for name, wall in runs.items()}
    for name, wall in runs.items():
        ALL_TIMES[(label, name)] = wall

    def span(name):
        return (min(runs[name]), max(runs[name]))
    t_floor = t["floor"]
    rows.append((floor_label, "floor: TF grad x input", t_floor, 1.0,
                 span("floor")))
    for key in contenders:
        mode, fuse = key
        rows.append((label, "deeplift %s%s" % (mode, ", fuse=True" if fuse
                                               else ""),
                     t[key], t[key] / t_floor, span(key)))
    for name in extra:
        rows.append((label, name, t[name], t[name] / t_floor, span(name)))
    return (t_floor, {key: t[key] for key in contenders},
            {name: t[name] for name in extra})


def compare_with_original(label, model_file, x, ref, batch_size,
                          contenders, times, t_floor, rows, notes, args):
    """Time the original on the same data (one process per mode, after our
    contenders, with TensorFlow's default oneDNN kernels as ours) and
    compare scores with our default settings."""
    data_file = os.path.join(tempfile.mkdtemp(), "data.npz")
    np.savez(data_file, x=x, ref=np.broadcast_to(ref, x.shape))
    modes = [mode for (mode, fuse) in contenders if not fuse]
    for mode in modes:
        result, err = run_original(model_file, data_file, [mode],
                                   batch_size, args.repeats, 0)
        if err:
            notes.append("%s %s: original 0.6.13 could not run: %s"
                         % (label, mode, err))
            continue
        t = float(result["time_" + mode])
        runs = result["times_" + mode]
        ours = contenders[(mode, None)][0]()
        diff = np.abs(result["scores_" + mode] - ours)
        # ours again, right after the original's process, under the same
        # machine load (the load changes between the round-robin runs of
        # our contenders and the original's processes)
        ours_runs = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            contenders[(mode, None)][0]()
            ours_runs.append(time.perf_counter() - start)
        ours_t = statistics.median(ours_runs)
        rows.append((label, "original 0.6.13 " + mode, t, t / t_floor,
                     (float(runs.min()), float(runs.max()))))
        rows.append((label, "deeplift %s, right after the original's "
                     "process" % mode, ours_t, ours_t / t_floor,
                     (min(ours_runs), max(ours_runs))))
        fused = times.get((mode, True))
        notes.append("%s %s: deeplift is %.2fx faster than the original "
                     "(medians, ours timed right after the original; %.2fx "
                     "against ours in the round-robin%s; over the runs "
                     "%.1f-%.1fx: ours %.3f-%.3f s, the original %.3f-%.3f "
                     "s); max abs score diff %.2e (%d of %d values differ by "
                     "more than 1e-4)" % (
                         label, mode, t / ours_t, t / times[(mode, None)],
                         ", %.2fx with fuse=True" % (t / fused)
                         if fused else "",
                         runs.min() / max(ours_runs), runs.max()
                         / min(ours_runs), min(ours_runs), max(ours_runs),
                         runs.min(), runs.max(),
                         diff.max(), int((diff > 1e-4).sum()), diff.size))


def workload_a(args, rows, notes):
    from deeplift.layers import NonlinearMxtsMode as M
    tmp = tempfile.mkdtemp()
    h5 = os.path.join(tmp, "basset.h5")
    keras_model = basset_keras_model_file(h5)
    n = 128 if args.quick else 512
    x = random_onehot(n, 1000)
    ref = GC_REF[None, None, :] * np.ones((1, 1000, 4), np.float32)
    floor = floor_function(keras_model)
    contenders = our_contenders(h5, (M.Rescale, M.RevealCancel,
                                     M.DeepLIFT_GenomicsDefault, M.Gradient),
                                x, ref, 128)
    # all 8 tasks: eight calls, and one call with a task list
    func = our_function(h5, M.Rescale)
    extra = {
        "deeplift Rescale, all 8 tasks, 8 calls": lambda: [
            func(task_idx=t, input_data_list=[x], input_references_list=[ref],
                 batch_size=128, progress_update=None) for t in range(8)],
        "deeplift Rescale, all 8 tasks, one call (task_idx=[0..7])":
            lambda: func(task_idx=list(range(8)), input_data_list=[x],
                         input_references_list=[ref], batch_size=128,
                         progress_update=None),
    }
    t_floor, times, t_extra = time_side_by_side(
        "(a) Basset", "(a) Basset 512x1000bp, GC ref",
        lambda: floor(x, ref, 0, 128), contenders, extra, rows, args)
    notes.append("(a) traces of the default Rescale function after %d "
                 "calls: %d" % (args.repeats + 1, contenders[
                     (M.Rescale, None)][1].scorer.trace_count))
    one = times[(M.Rescale, None)]
    notes.append("(a) all 8 tasks / one task = %.2fx in one call "
                 "(task_idx=[0..7], one forward pass shared), %.2fx in 8 "
                 "calls" % (t_extra["deeplift Rescale, all 8 tasks, one call "
                                    "(task_idx=[0..7])"] / one,
                            t_extra["deeplift Rescale, all 8 tasks, 8 calls"]
                            / one))
    if not args.skip_original:
        compare_with_original("(a) Basset", h5, x, ref, 128, contenders,
                              times, t_floor, rows, notes, args)
    return h5, keras_model


def workload_b(args, rows, notes, h5):
    from deeplift.layers import NonlinearMxtsMode as M
    from deeplift.dinuc_shuffle import dinuc_shuffle
    n, k = (8, 20) if args.quick else (32, 20)
    x = random_onehot(n, 1000, seed=1)
    rng = np.random.RandomState(0)
    refs = np.stack([dinuc_shuffle(s, num_shufs=k, rng=rng) for s in x])
    pairs_x = np.repeat(x, k, axis=0)
    pairs_r = refs.reshape((-1,) + x.shape[1:]).astype(np.float32)
    func = our_function(h5, M.DeepLIFT_GenomicsDefault)
    t = median_time(lambda: func(task_idx=0, input_data_list=[pairs_x],
                                 input_references_list=[pairs_r],
                                 batch_size=128, progress_update=None),
                    args.repeats)
    rows.append(("(b) Basset %dx%d dinuc refs" % (n, k),
                 "deeplift GenomicsDefault", t, float("nan"), None))
    notes.append("(b) deeplift: %.0f (example, reference) pairs/s"
                 % (n * k / t))
    try:
        from peers import peer_pairs_per_second
        res = peer_pairs_per_second(h5, x, refs, batch_size=128,
                                    repeats=args.repeats, with_ours=False)
    except ImportError:
        notes.append("(b) captum not installed (pip install .[peers]): no "
                     "peer comparison in this run; tangermeme not tried")
        return
    for key, who in (("captum_deeplift_pairs_per_s",
                      "captum DeepLift (per-pair baselines)"),
                     ("captum_deepliftshap_pairs_per_s",
                      "captum DeepLiftShap (K baselines per example)")):
        rows.append(("(b) Basset %dx%d dinuc refs" % (n, k), who,
                     n * k / res[key], float("nan"), None))
        notes.append("(b) %s: %.0f pairs/s; deeplift is %.1fx faster"
                     % (who, res[key], (n * k / t) / res[key]))
    if "tangermeme_pairs_per_s" in res:
        who = "tangermeme %s deep_lift_shap (K references per example)" \
            % res["tangermeme_version"]
        rate = res["tangermeme_pairs_per_s"]
        rows.append(("(b) Basset %dx%d dinuc refs" % (n, k), who,
                     n * k / rate, float("nan"), None))
        notes.append("(b) %s: %.0f pairs/s; deeplift is %.1fx faster"
                     % (who, rate, (n * k / t) / rate))
        notes.append("(b) tangermeme vs captum DeepLiftShap, max abs "
                     "difference of the projected mean scores: %.3g (scores "
                     "up to %.3g); summation-to-delta error: tangermeme "
                     "%.3g, captum DeepLiftShap %.3g (max-pooling rules "
                     "differ)" % (res["max_abs_diff_tangermeme_captum"],
                                  res["max_abs_tangermeme"],
                                  res["convergence_delta_tangermeme"],
                                  res["convergence_delta_"
                                      "captum_deepliftshap"]))
    else:
        notes.append("(b) no tangermeme row in this run: %s (pip install "
                     "tangermeme)" % res.get("tangermeme_skipped",
                                             "tangermeme not installed"))


def workload_c(args, rows, notes):
    from deeplift.layers import NonlinearMxtsMode as M
    path = os.path.join(SHARED, "fixtures", "keras2_real",
                        "keras2_mnist_cnn_allconv.h5")
    images = os.path.join(SHARED, "fixtures", "mnist",
                          "t10k-images-idx3-ubyte.gz")
    if not (os.path.exists(path) and os.path.exists(images)):
        notes.append("(c) skipped: ../shared fixtures absent")
        return
    with gzip.open(images, "rb") as fh:
        data = np.frombuffer(fh.read(), np.uint8, offset=16)
    n = 200 if args.quick else 1000
    x = (data.reshape(-1, 28, 28, 1)[:n] / 255.0).astype(np.float32)
    ref = np.zeros((1, 28, 28, 1), np.float32)
    import tf_keras as k2
    keras_model = k2.models.load_model(path, compile=False)
    floor = floor_function(keras_model)
    contenders = our_contenders(path, (M.Rescale, M.RevealCancel,
                                       M.Gradient), x, ref, 100)
    t_floor, times, _ = time_side_by_side(
        "(c) MNIST", "(c) MNIST CNN 1000 digits",
        lambda: floor(x, ref, 0, 100), contenders, {}, rows, args)
    if not args.skip_original:
        compare_with_original("(c) MNIST", path, x, ref, 100, contenders,
                              times, t_floor, rows, notes, args)


def workload_d(args, notes):
    cmd = [sys.executable, os.path.join(HERE, "bench_dinuc.py")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    summary = [line for line in proc.stdout.splitlines()
               if line.startswith("SUMMARY:")]
    if proc.returncode != 0 or not summary:
        notes.append("(d) bench/bench_dinuc.py failed: %s" % (
            (proc.stderr.strip().splitlines() or ["no output"])[-1]))
        return
    notes.append("(d) dinucleotide shuffles, 100 x 1000 bp x 20 "
                 "(bench/bench_dinuc.py, details in bench/RESULTS_dinuc.md): "
                 + summary[-1][len("SUMMARY:"):].strip())


def machine_description():
    cpu = cpu_name()
    gpus = tf.config.list_physical_devices("GPU")
    return ("%s, %d cores; GPU: %s; Python %s, TensorFlow %s, NumPy %s"
            % (cpu, os.cpu_count(), [g.name for g in gpus] or "none",
               platform.python_version(), tf.__version__, np.__version__))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller workloads (a smoke run)")
    parser.add_argument("--skip-original", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    parser.add_argument("--e-args", default=None,
                        help="run workload (e) (bench/bench_multiref.py) "
                             "with these arguments, e.g. \"--regions 32\"; "
                             "without it, the (e) section already in --out "
                             "is kept")
    args = parser.parse_args(argv)
    from bench_multiref import BEGIN as E_BEGIN, END as E_END
    kept_e = ""
    if os.path.exists(args.out):
        old = open(args.out).read()
        if E_BEGIN in old and E_END in old:
            kept_e = E_BEGIN + old.split(E_BEGIN, 1)[1].split(E_END, 1)[0] \
                + E_END
    rows, notes = [], []
    h5, _ = workload_a(args, rows, notes)
    workload_b(args, rows, notes, h5)
    workload_c(args, rows, notes)
    workload_d(args, notes)
    lines = ["# Benchmark results", "",
             "Machine: " + machine_description(), "",
             "Median of %d runs after a warm-up%s. Ratio: time / the floor "
             "(TensorFlow's gradient x input of the same model)."
             % (args.repeats, " (--quick sizes)" if args.quick else ""), "",
             "| workload | contender | seconds (median) | range over the "
             "runs | ratio to floor |",
             "|---|---|---|---|---|"]
    for workload, who, t, ratio, span in rows:
        lines.append("| %s | %s | %.3f | %s | %s |" % (
            workload, who, t, "-" if span is None
            else "%.3f-%.3f" % span, "-" if ratio != ratio
            else "%.2f" % ratio))
    lines += ["", "## Notes", ""] + ["- " + n for n in notes]
    lines += ["", "Which targets of issues 6 and 13 these numbers meet, and "
              "why the others are not met (with the per-stage and per-op "
              "profile of bench/PROFILE.md): bench/NOTES.md."]
    if kept_e:
        lines += ["", kept_e]
    write_report(args.out, lines)
    if args.e_args is not None:
        subprocess.run([sys.executable, os.path.join(HERE,
                                                     "bench_multiref.py")]
                       + args.e_args.split() + ["--out", args.out],
                       check=True)


if __name__ == "__main__":
    main()
